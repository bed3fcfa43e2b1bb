"""The knowledge base's write side (intake.knowledge): lifecycle, who may write, bad input, through
the in-memory unit of work (issue 12)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.errors import RuleViolation
from helpdesk_shared.topics import KNOWLEDGE, TOPIC_OF_EVENT
from intake import knowledge
from intake.memory import InMemoryUnitOfWork

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


def _claims(user_id, role, desks, organisation_id=None):
    return Claims(user_id=user_id, role=role, organisation_id=organisation_id, desks=tuple(desks),
                  name=user_id, email=f"{user_id}@x.example")


CARLOS = _claims("carlos", "agent", ["SOPORTE"])
ELENA = _claims("elena", "agent", ["IMPLANTACIONES"])
SOFIA = _claims("sofia", "supervisor", ["IMPLANTACIONES"])
MARIA = _claims("maria", "customer", ["SOPORTE"], "club-caracas")
DRAFT = {"desk": "SOPORTE", "module": "bancos", "title_es": " Conciliar una cuenta ",
         "body_es": "1. Abra **Bancos**.", "title_en": None, "body_en": None}


def _run(uow, command):
    with uow:
        return command(uow)


def _drafted(uow) -> str:
    return _run(uow, lambda u: knowledge.draft(u, CARLOS, DRAFT, NOW))["article_id"]


def test_a_new_article_is_a_draft_at_version_1_on_its_own_stream_and_topic():
    uow = InMemoryUnitOfWork()
    answer = _run(uow, lambda u: knowledge.draft(u, CARLOS, DRAFT, NOW))
    assert answer == {"article_id": answer["article_id"], "desk": "SOPORTE", "module": "BANCOS",
                      "status": "draft", "version": 1}
    [event] = uow.streams.load(f"article-{answer['article_id']}")
    assert event.type == "ArticleDrafted" and TOPIC_OF_EVENT[event.type] == KNOWLEDGE
    assert event.data["title_es"] == "Conciliar una cuenta" and event.data["title_en"] == ""


def test_the_lifecycle_goes_draft_published_archived_and_an_archived_article_edited_is_a_draft_again():
    uow = InMemoryUnitOfWork()
    article_id = _drafted(uow)
    assert _run(uow, lambda u: knowledge.change_status(u, CARLOS, article_id, "publish", 1, NOW))["status"] == "published"
    edited = _run(uow, lambda u: knowledge.edit(u, CARLOS, article_id, {**DRAFT, "version": 2}, NOW))
    assert (edited["status"], edited["version"]) == ("published", 3)  # a typo fix does not unpublish
    assert _run(uow, lambda u: knowledge.change_status(u, SOFIA, article_id, "archive", 3, NOW))["status"] == "archived"
    again = _run(uow, lambda u: knowledge.edit(u, CARLOS, article_id, {**DRAFT, "version": 4}, NOW))
    assert (again["status"], again["version"]) == ("draft", 5)
    assert [e.type for e in uow.streams.load(f"article-{article_id}")] == [
        "ArticleDrafted", "ArticlePublished", "ArticleEdited", "ArticleArchived", "ArticleEdited"]


@pytest.mark.parametrize("status, action, after", [
    ("draft", "publish", "published"), ("published", "publish", None), ("archived", "archive", None),
    ("archived", "publish", "published"), ("draft", "archive", "archived"), ("archived", "edit", "draft")])
def test_next_status_follows_the_lifecycle_table(status, action, after):
    assert knowledge.next_status(status, action) == after


def test_publishing_a_published_article_is_a_409_that_changes_nothing():
    uow = InMemoryUnitOfWork()
    article_id = _drafted(uow)
    _run(uow, lambda u: knowledge.change_status(u, CARLOS, article_id, "publish", 1, NOW))
    with pytest.raises(RuleViolation) as refused:
        _run(uow, lambda u: knowledge.change_status(u, CARLOS, article_id, "publish", 2, NOW))
    assert (refused.value.status, refused.value.code) == (409, "ARTICLE_STATUS")
    assert uow.streams.version(f"article-{article_id}") == 2


def test_an_edit_against_an_old_version_is_a_409_naming_the_current_one():
    uow = InMemoryUnitOfWork()
    article_id = _drafted(uow)
    _run(uow, lambda u: knowledge.edit(u, CARLOS, article_id, {**DRAFT, "version": 1}, NOW))
    with pytest.raises(RuleViolation) as refused:
        _run(uow, lambda u: knowledge.edit(u, CARLOS, article_id, {**DRAFT, "version": 1}, NOW))
    assert (refused.value.status, refused.value.code, refused.value.field) == (409, "ARTICLE_CHANGED", "version")
    assert refused.value.extra == {"current": 2}


def test_customers_never_write_and_an_agent_of_another_desk_neither_creates_nor_finds_one():
    uow = InMemoryUnitOfWork()
    article_id = _drafted(uow)
    for who, command, status in [
            (MARIA, lambda u: knowledge.draft(u, MARIA, DRAFT, NOW), 403),
            (MARIA, lambda u: knowledge.change_status(u, MARIA, article_id, "publish", 1, NOW), 403),
            (ELENA, lambda u: knowledge.draft(u, ELENA, DRAFT, NOW), 403),
            (ELENA, lambda u: knowledge.change_status(u, ELENA, article_id, "publish", 1, NOW), 404)]:
        with pytest.raises(RuleViolation) as refused:
            _run(uow, command)
        assert refused.value.status == status, who
    # A supervisor of the other desk may (supervisors keep every desk's articles).
    assert _run(uow, lambda u: knowledge.change_status(u, SOFIA, article_id, "publish", 1, NOW))["status"] == "published"


@pytest.mark.parametrize("change, code, field", [
    ({"title_es": "  "}, "ARTICLE_SPANISH_REQUIRED", "title_es"),
    ({"body_es": ""}, "ARTICLE_SPANISH_REQUIRED", "body_es"),
    ({"module": "ALMACEN"}, "ARTICLE_UNKNOWN_MODULE", "module"),
    ({"module": "MIGRACION"}, "ARTICLE_UNKNOWN_MODULE", "module"),  # an IMPLANTACIONES module
])
def test_a_draft_without_its_spanish_text_or_with_a_module_of_no_desk_is_a_422_naming_the_field(change, code, field):
    uow = InMemoryUnitOfWork()
    with pytest.raises(RuleViolation) as refused:
        _run(uow, lambda u: knowledge.draft(u, CARLOS, {**DRAFT, **change}, NOW))
    assert (refused.value.status, refused.value.code, refused.value.field) == (422, code, field)
    assert refused.value.message.es and refused.value.message.en
    assert uow.streams.all() == []


def _published(uow) -> str:
    article_id = _drafted(uow)
    _run(uow, lambda u: knowledge.change_status(u, CARLOS, article_id, "publish", 1, NOW))
    return article_id


def test_a_customer_opening_a_suggested_article_is_recorded_on_the_attempts_own_stream():
    uow = InMemoryUnitOfWork()
    first, second = _published(uow), _published(uow)
    for article_id in (first, second):
        _run(uow, lambda u: knowledge.record_opened(u, MARIA, article_id, "att-1", NOW))
    opened = uow.streams.load("attempt-att-1")
    assert [(e.type, e.stream_version, e.data["article_id"]) for e in opened] == [
        ("ArticleSuggestionOpened", 1, first), ("ArticleSuggestionOpened", 2, second)]
    assert opened[0].data["organisation_id"] == "club-caracas" and TOPIC_OF_EVENT[opened[0].type] == KNOWLEDGE
    assert uow.streams.version(f"article-{first}") == 2  # an editor's version does not move


def test_a_draft_another_users_attempt_or_staff_are_not_recorded_as_suggestions_opened():
    uow = InMemoryUnitOfWork()
    draft, published = _drafted(uow), _published(uow)
    _run(uow, lambda u: knowledge.record_opened(u, MARIA, published, "att-2", NOW))
    jose = _claims("jose", "customer", ["SOPORTE"], "club-caracas")
    for who, article_id, attempt, status in [(MARIA, draft, "att-3", 404), (jose, published, "att-2", 404),
                                             (CARLOS, published, "att-4", 403)]:
        with pytest.raises(RuleViolation) as refused:
            _run(uow, lambda u: knowledge.record_opened(u, who, article_id, attempt, NOW))
        assert refused.value.status == status
    assert [e.stream_id for e in uow.streams.all() if e.type == "ArticleSuggestionOpened"] == ["attempt-att-2"]
