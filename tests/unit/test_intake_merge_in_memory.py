"""Issue 12, merge (rule 6 after the fact): every refusal and permission of `handlers.merge_ticket`
through the in-memory unit of work. The SQL behind it: tests/integration/test_intake_merge_sql.py."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk_shared import lifecycle
from helpdesk_shared.errors import NotFound, RuleViolation
from intake import handlers
from samples import ticket_body
from test_intake_handlers_in_memory import NOW, World, w  # noqa: F401  (w: the fixture)

LATER = NOW + timedelta(hours=2)


def _pair(w: World, user=None, body=None):
    """An open ticket and, filed later by the same organisation, its duplicate (confirmed as another case
    by the customer, which is how duplicates get past rule 6 in the first place)."""
    user = user or w.maria
    target = w.open(user, body)
    duplicate = w.open(user, {**(body or ticket_body()), "confirmed_different_case": True}, NOW + timedelta(minutes=5))
    return duplicate, target


def test_an_agent_of_the_desk_merges_a_duplicate_which_closes_as_merged_naming_its_target(w):
    duplicate, target = _pair(w)
    handlers.post_message(w.uow, w.maria, duplicate, {"body": "Adjunto la captura", "attachments": [w.upload(w.maria)]},
                          NOW + timedelta(minutes=10))
    closed, received = handlers.merge_ticket(w.uow, w.carlos, duplicate, target, "mismo caso", LATER)
    assert closed.type == "TicketClosed" and closed.data["reason"] == "merged"
    assert closed.data["merged_into"] == target and closed.stream_version == 3
    assert received.type == "TicketMergedInto" and received.data["source_number"] == duplicate
    assert received.causation_id == closed.event_id and received.correlation_id == closed.correlation_id
    assert [m["body"] for m in received.data["messages"]] == ["Adjunto la captura"]
    assert received.data["messages"][0]["attachments"][0]["name"] == "captura.png"
    state = w.uow.tickets.state(duplicate)
    assert (state.status, state.close_reason, state.merged_into) == (lifecycle.CLOSED, "merged", target)
    assert w.uow.tickets.state(target).status == lifecycle.OPEN
    assert w.uow.tickets.state(target).version == 2
    assert w.uow.tickets.by_number(duplicate)["status"] == "closed"


def test_the_merged_duplicates_attachment_can_be_downloaded_from_the_target(w):
    duplicate, target = _pair(w)
    upload = w.upload(w.maria, sha256="c" * 64)
    handlers.post_message(w.uow, w.maria, duplicate, {"body": "captura", "attachments": [upload]}, LATER)
    handlers.merge_ticket(w.uow, w.carlos, duplicate, target, None, LATER)
    assert handlers.attachment_for_download(w.uow, w.maria, target, "c" * 64)["name"] == "captura.png"


def test_a_supervisor_of_the_desk_may_merge(w):
    duplicate, target = _pair(w)
    closed, _ = handlers.merge_ticket(w.uow, w.rosa, duplicate, target.lower(), None, LATER)
    assert closed.data["merged_into"] == target


def _refused(w, user, duplicate, target) -> RuleViolation:
    before = len(w.events())
    with pytest.raises(RuleViolation) as refused:
        handlers.merge_ticket(w.uow, user, duplicate, target, None, LATER)
    assert len(w.events()) == before  # a refusal changes nothing
    return refused.value


def test_a_customer_may_not_merge_even_his_own_tickets(w):
    duplicate, target = _pair(w)
    refused = _refused(w, w.maria, duplicate, target)
    assert (refused.status, refused.code) == (403, "FORBIDDEN")


def test_an_agent_of_another_desk_does_not_see_the_duplicate(w):
    duplicate, target = _pair(w)
    refused = _refused(w, w.elena, duplicate, target)
    assert isinstance(refused, NotFound) and refused.status == 404


def test_a_target_of_another_desk_answers_like_a_missing_one(w):
    duplicate, _ = _pair(w)
    other_desk = w.open(w.luis, ticket_body(desk="IMPLANTACIONES"))
    hidden = _refused(w, w.carlos, duplicate, other_desk)
    missing = _refused(w, w.carlos, duplicate, "SOP-999")
    assert (hidden.status, hidden.code, hidden.field) == (404, "MERGE_TARGET_NOT_FOUND", "target")
    assert (missing.status, missing.code, missing.field) == (404, "MERGE_TARGET_NOT_FOUND", "target")
    assert hidden.message.es.startswith("No existe el ticket")


def test_never_across_organisations(w):
    duplicate, _ = _pair(w)
    other_organisation = w.open(w.peter)
    refused = _refused(w, w.carlos, duplicate, other_organisation)
    assert (refused.status, refused.code, refused.field) == (422, "MERGE_ACROSS_ORGANISATIONS", "target")
    assert refused.message.es and refused.message.en


def test_never_across_desks_of_one_organisation(w):
    duplicate = w.open(w.ana)
    other_desk = w.open(w.ana, ticket_body(desk="IMPLANTACIONES"))
    refused = _refused(w, w.rosa, duplicate, other_desk)
    assert (refused.status, refused.code) == (422, "MERGE_ACROSS_DESKS")


def test_a_ticket_is_not_merged_into_itself(w):
    duplicate, _ = _pair(w)
    refused = _refused(w, w.carlos, duplicate, duplicate)
    assert (refused.status, refused.code) == (422, "MERGE_INTO_ITSELF")


def test_the_target_must_be_open(w):
    duplicate, target = _pair(w)
    handlers.close_by_agent(w.uow, w.carlos, target, "closed_by_agent", "", LATER)
    refused = _refused(w, w.carlos, duplicate, target)
    assert (refused.status, refused.code, refused.field) == (409, "MERGE_TARGET_CLOSED", "target")


def test_a_duplicate_already_merged_or_closed_is_not_merged_again(w):
    duplicate, target = _pair(w)
    third = w.open(w.maria, {**ticket_body(), "confirmed_different_case": True}, LATER)
    handlers.merge_ticket(w.uow, w.carlos, duplicate, target, None, LATER)
    refused = _refused(w, w.carlos, duplicate, third)
    assert (refused.status, refused.code) == (409, "MERGE_SOURCE_CLOSED")


def test_a_closed_duplicate_cannot_take_messages_and_says_so(w):
    duplicate, target = _pair(w)
    handlers.merge_ticket(w.uow, w.carlos, duplicate, target, None, LATER)
    with pytest.raises(RuleViolation) as refused:
        handlers.post_message(w.uow, w.maria, duplicate, {"body": "hola"}, LATER)
    assert refused.value.code == "TICKET_CLOSED"
