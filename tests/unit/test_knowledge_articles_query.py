"""The knowledge base's pure read-side parts (query.articles): scope, words, tsquery building (issue 12)."""
from __future__ import annotations

import pytest

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.errors import RuleViolation
from query import articles


def _claims(role, desks):
    return Claims(user_id="u", role=role, organisation_id="org" if role == "customer" else None,
                  desks=tuple(desks), name="u", email="u@x.example")


def test_customers_read_published_articles_of_their_desks_agents_every_status_of_theirs_supervisors_all():
    assert articles.scope_of(_claims("customer", ["SOPORTE"])) == articles.Scope(("SOPORTE",), ("published",))
    assert articles.scope_of(_claims("agent", ["SOPORTE"])) == articles.Scope(
        ("SOPORTE",), ("draft", "published", "archived"))
    assert articles.scope_of(_claims("supervisor", ["SOPORTE"])).desks is None


def test_words_keep_letters_and_digits_only_so_no_tsquery_syntax_gets_through():
    assert articles.words_of("¿Conciliación & 'x' | !factura 2024? conciliación") == (
        "conciliación", "x", "factura", "2024")


def test_a_word_in_a_modules_synonym_group_also_matches_the_groups_other_words_in_that_module_only():
    lexemes = {"transferencia": {"transferent"}, "no": set(), "pago": {"pag"}, "traspaso": {"traspas"},
               "abono": {"abon"}}
    synonyms = {"BANCOS": {"PAYMENT": "pago transferencia abono"}, "SOCIOS": {"SHARE": "traspaso transferencia"},
                "NOMINA": {"BONUS": "bono recargo"}}
    plain, per_module = articles.tsqueries(("transferencia", "no"), lexemes, False, synonyms)
    assert plain == "('transferent')"
    assert per_module == {"BANCOS": "('abon' | 'pag' | 'transferent')", "SOCIOS": "('transferent' | 'traspas')"}


def test_words_are_anded_for_a_search_and_ored_for_suggestions_and_stop_words_drop_out():
    lexemes = {"cheque": {"chequ"}, "el": set(), "impresora": {"impresor"}}
    assert articles.tsqueries(("el", "cheque", "impresora"), lexemes, False, {})[0] == "('chequ') & ('impresor')"
    assert articles.tsqueries(("el", "cheque", "impresora"), lexemes, True, {})[0] == "('chequ') | ('impresor')"
    assert articles.tsqueries(("el",), lexemes, True, {}) == (None, {})


@pytest.mark.parametrize("args, field", [({"q": [""]}, "q"), ({"q": ["x" * 201]}, "q"), ({"q": ["a"], "x": ["1"]}, "x"),
                                         ({"q": ["a"], "status": ["secret"]}, "status")])
def test_a_bad_search_query_string_is_a_422_naming_the_parameter(args, field):
    with pytest.raises(RuleViolation) as refused:
        articles.parse_search(args)
    assert (refused.value.status, refused.value.field) == (422, field)


@pytest.mark.parametrize("ticket_minutes, now_minutes, state", [
    (None, 29, "pending"), (None, 30, "deflected"), (30, 40, "ticketed"), (31, 40, "deflected"), (31, 20, "pending")])
def test_an_attempt_is_ticketed_deflected_or_pending_by_its_30_minute_window(ticket_minutes, now_minutes, state):
    from datetime import datetime, timedelta, timezone
    first = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    ticket_at = first + timedelta(minutes=ticket_minutes) if ticket_minutes is not None else None
    assert articles.attempt_state(first, ticket_at, first + timedelta(minutes=now_minutes)) == state


def test_deflections_are_for_staff_of_their_desks_and_supervisors_of_all():
    assert articles.deflection_desks(_claims("agent", ["SOPORTE"]), {}) == ["SOPORTE"]
    assert articles.deflection_desks(_claims("supervisor", ["SOPORTE"]), {}) is None
    for who, args in ((_claims("customer", ["SOPORTE"]), {}), (_claims("agent", ["SOPORTE"]), {"desk": ["IMPLANTACIONES"]})):
        with pytest.raises(RuleViolation) as refused:
            articles.deflection_desks(who, args)
        assert refused.value.status == 403
