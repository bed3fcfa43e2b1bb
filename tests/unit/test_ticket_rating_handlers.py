"""The customer's verdict (issue 12): who may rate a ticket, when, and only once, through the
in-memory unit of work. The HTTP routes on PostgreSQL: tests/integration/test_ticket_rating_http.py."""
from __future__ import annotations

import pytest

from helpdesk_shared import lifecycle
from intake import handlers, unit_of_work
from intake.unit_of_work import VersionConflict
from samples import ticket_body
from test_intake_handlers_in_memory import NOW, refused, unchanged, w  # noqa: F401  (w: the fixture)


def _answered(w, customer=None) -> str:
    """A ticket of maria's (or `customer`'s) with an agent's answer: waiting for the customer."""
    number = w.open(customer or w.maria)
    handlers.post_message(w.uow, w.carlos, number, {"body": "Corregido el cargo doble."}, NOW)
    return number


def _solved(w) -> str:
    number = _answered(w)
    handlers.confirm_resolution(w.uow, w.maria, number, True, "", NOW)
    return number


def _ratings(w) -> list:
    return w.events("TicketRated")


def test_the_requester_rates_a_ticket_she_confirmed_solved_with_a_comment(w):
    number = _solved(w)
    event = handlers.rate_ticket(w.uow, w.maria, number, "good", "  Rápido y claro.  ", NOW)
    assert event.type == "TicketRated"
    assert event.data == {"rating": "good", "comment": "Rápido y claro.", "rated_by": "u-maria"}
    assert event.actor.id == "u-maria" and event.occurred_at == NOW
    assert w.uow.tickets.state(number).rated is True


def test_a_ticket_an_agent_closed_as_done_can_be_rated_bad_without_a_comment(w):
    number = _answered(w)
    handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW)
    event = handlers.rate_ticket(w.uow, w.maria, number, "bad", None, NOW)
    assert event.data == {"rating": "bad", "comment": None, "rated_by": "u-maria"}


def test_an_open_ticket_cannot_be_rated(w):
    number = _answered(w)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW),
              "RATING_NOT_CLOSED", field="rating", status=409)


@pytest.mark.parametrize("reason", ["needs_training"])
def test_a_ticket_closed_for_a_reason_that_is_not_solved_cannot_be_rated(w, reason):
    number = _answered(w)
    handlers.close_by_agent(w.uow, w.carlos, number, reason, "", NOW)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW),
              "RATING_NOT_SOLVED", field="rating", status=409)


def test_an_auto_closed_ticket_cannot_be_rated(w):
    number = _answered(w)
    state = w.uow.tickets.state(number)
    decision = handlers.new_event("AutoClosed", f"sla-{state.ticket_id}", 1,
                                  {"ticket_id": state.ticket_id, "number": number, "based_on_version": state.version,
                                   "due_at": NOW},
                                  actor=handlers.Actor(id="sla", role="system"), occurred_at=NOW)
    assert handlers.accept_auto_close(w.uow, decision) is not None
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW),
              "RATING_NOT_SOLVED", status=409)


def test_a_second_rating_is_refused_and_changes_nothing(w):
    number = _solved(w)
    handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.maria, number, "bad", "Cambié de opinión", NOW),
              "RATING_ALREADY_GIVEN", field="rating", status=409)
    assert [e.data["rating"] for e in _ratings(w)] == ["good"]


def test_a_rating_that_lost_a_race_is_retried_and_then_refused_as_already_given(w, monkeypatch):
    """Two clicks at once: both read the unrated snapshot; the second append conflicts on the
    stream's version, and its retry (unit_of_work.run) reads the ticket rated and refuses."""
    number = _solved(w)
    stale = w.uow.tickets.state(number)
    handlers.rate_ticket(w.uow, w.maria, number, "bad", None, NOW)  # the other click, first to commit
    real_state, reads = w.uow.tickets.state, []

    def state(n):
        reads.append(n)
        return stale if len(reads) == 1 else real_state(n)
    monkeypatch.setattr(w.uow.tickets, "state", state)
    refused(lambda: unit_of_work.run(w.uow.start, lambda uow: handlers.rate_ticket(uow, w.maria, number, "good",
                                                                                      None, NOW)),
            "RATING_ALREADY_GIVEN", status=409)
    assert len(reads) == 2
    assert [e.data["rating"] for e in _ratings(w)] == ["bad"]


def test_staff_cannot_rate_and_learn_nothing_about_the_ticket(w):
    number = _solved(w)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.carlos, number, "good", None, NOW), "FORBIDDEN", status=403)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.carlos, "SOP-999", "good", None, NOW), "FORBIDDEN",
              status=403)


def test_another_organisations_customer_gets_404_like_a_missing_ticket(w):
    from helpdesk_shared.errors import NotFound
    number = _solved(w)
    events = len(w.events())
    with pytest.raises(NotFound):
        handlers.rate_ticket(w.uow, w.ana, number, "bad", None, NOW)
    assert len(w.events()) == events


def test_a_colleague_of_the_requester_cannot_rate_it(w):
    number = _solved(w)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.jose, number, "good", None, NOW),
              "RATING_NOT_REQUESTER", status=403)


def test_the_ticket_summary_says_whether_it_was_rated_and_whether_the_caller_may_rate_it(w):
    number = _solved(w)
    before = handlers.ticket_summary(w.uow, w.maria, number)
    assert (before["rated"], before["may_rate"]) == (False, True)
    assert handlers.ticket_summary(w.uow, w.jose, number)["may_rate"] is False
    assert handlers.ticket_summary(w.uow, w.carlos, number)["may_rate"] is False
    handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW)
    after = handlers.ticket_summary(w.uow, w.maria, number)
    assert (after["rated"], after["may_rate"]) == (True, False)


def test_check_ratable_refuses_as_rating_would_without_writing(w):
    number = _solved(w)
    handlers.check_ratable(w.uow, w.maria, number)
    assert _ratings(w) == []
    handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW)
    refused(lambda: handlers.check_ratable(w.uow, w.maria, number), "RATING_ALREADY_GIVEN", status=409)


def test_the_fold_of_a_rated_ticket_knows_it_was_rated_and_stays_closed(w):
    number = _solved(w)
    handlers.rate_ticket(w.uow, w.maria, number, "good", None, NOW)
    state = lifecycle.fold(w.uow.streams.load(w.uow.tickets.state(number).ticket_id))
    assert state.rated is True and state.status == lifecycle.CLOSED


def test_a_duplicate_merged_into_another_ticket_cannot_be_rated(w):
    """Merged is not solved: the case goes on in the target, whose own close may be rated."""
    target = _answered(w)
    duplicate = w.open(w.maria, ticket_body(confirmed_different_case=True))
    handlers.merge_ticket(w.uow, w.carlos, duplicate, target, None, NOW)
    unchanged(w, lambda: handlers.rate_ticket(w.uow, w.maria, duplicate, "good", None, NOW),
              "RATING_NOT_SOLVED", status=409)
