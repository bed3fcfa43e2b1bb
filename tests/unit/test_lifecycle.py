"""The ticket lifecycle as a fold over events (pure)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import lifecycle
from helpdesk_shared.envelope import Actor, new_event

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
FILE = {"sha256": "a" * 64, "name": "pantalla.png", "size": 1000, "content_type": "image/png"}


def opened():
    """A TicketOpened with one attachment."""
    return new_event("TicketOpened", "t1", 1, {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "organisation_id": "club-caracas",
        "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada", "subject": "BANCOS, Factura mal cargada",
        "description": "...", "urgency": "normal", "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"},
        "attachments": [FILE]}, actor=CUSTOMER, occurred_at=T0)


def message(version, actor, internal=False, attachments=()):
    """A MessagePosted by `actor`."""
    return new_event("MessagePosted", "t1", version, {
        "message_id": f"m{version}", "author_id": actor.id, "author_role": actor.role, "body": "texto",
        "internal": internal, "attachments": list(attachments)}, actor=actor,
        occurred_at=T0 + timedelta(minutes=version))


def test_a_new_ticket_is_open_and_owes_an_agent_answer():
    state = lifecycle.fold([opened()])
    assert (state.status, state.version, state.number) == (lifecycle.OPEN, 1, "SOP-1")
    assert state.attachment_bytes == 1000 and state.attachment_hashes == {"a" * 64}


def test_an_agent_answer_puts_the_ticket_waiting_for_the_customer_and_his_reply_reopens_it():
    waiting = lifecycle.fold([opened(), message(2, AGENT)])
    assert waiting.status == lifecycle.WAITING_CUSTOMER
    back = lifecycle.apply(waiting, message(3, CUSTOMER))
    assert back.status == lifecycle.OPEN and back.version == 3


def test_an_internal_note_changes_no_status():
    assert lifecycle.fold([opened(), message(2, AGENT, internal=True)]).status == lifecycle.OPEN


def test_the_customer_marked_away_is_cleared_by_his_next_message():
    away = new_event("CustomerAway", "t1", 3, {"note": "vuelvo el lunes"}, actor=CUSTOMER, occurred_at=T0)
    state = lifecycle.fold([opened(), message(2, AGENT), away])
    assert state.customer_away
    assert not lifecycle.apply(state, message(4, CUSTOMER)).customer_away


def test_not_solved_sends_the_ticket_back_to_the_agents_and_closed_is_final():
    not_solved = new_event("ResolutionConfirmed", "t1", 3, {"solved": False, "body": "sigue igual"},
                           actor=CUSTOMER, occurred_at=T0)
    state = lifecycle.fold([opened(), message(2, AGENT), not_solved])
    assert state.status == lifecycle.OPEN
    closed = lifecycle.apply(state, new_event("TicketClosed", "t1", 4, {"reason": "closed_by_agent"},
                                              actor=AGENT, occurred_at=T0))
    assert closed.is_closed and closed.close_reason == "closed_by_agent"


def test_attachments_of_messages_add_up_per_ticket():
    other = {**FILE, "sha256": "b" * 64, "size": 500}
    state = lifecycle.fold([opened(), message(2, CUSTOMER, attachments=[other])])
    assert state.attachment_bytes == 1500 and state.attachment_hashes == {"a" * 64, "b" * 64}


def test_the_statuses_are_the_words_stored_and_filtered_on():
    """The read model, the write side's SQL and the API's `status` filter use these exact words."""
    assert (lifecycle.OPEN, lifecycle.WAITING_CUSTOMER, lifecycle.CLOSED) == ("open", "waiting_customer", "closed")


def test_a_new_ticket_is_unassigned_present_not_closed_and_has_no_close_reason():
    state = lifecycle.fold([opened()])
    assert (state.assigned_to, state.customer_away, state.close_reason) == (None, False, None)
    assert state.is_closed is False


def test_a_supervisors_public_answer_also_waits_for_the_customer():
    supervisor = new_event("MessagePosted", "t1", 2, {
        "message_id": "m2", "author_id": "u-sup", "author_role": "supervisor", "body": "texto", "internal": False,
        "attachments": []}, actor=AGENT, occurred_at=T0)
    assert lifecycle.fold([opened(), supervisor]).status == lifecycle.WAITING_CUSTOMER


def test_an_assignment_names_the_agent_and_changes_no_status():
    assigned = new_event("TicketAssigned", "t1", 2, {"agent_id": "u-carlos", "assigned_by": "u-carlos"},
                         actor=AGENT, occurred_at=T0)
    state = lifecycle.fold([opened(), assigned])
    assert (state.assigned_to, state.status, state.version) == ("u-carlos", lifecycle.OPEN, 2)


def test_not_solved_also_clears_the_customer_away_mark():
    away = new_event("CustomerAway", "t1", 3, {"note": None}, actor=CUSTOMER, occurred_at=T0)
    not_solved = new_event("ResolutionConfirmed", "t1", 4, {"solved": False, "body": "sigue igual"},
                           actor=CUSTOMER, occurred_at=T0)
    state = lifecycle.fold([opened(), message(2, AGENT), away, not_solved])
    assert (state.status, state.customer_away) == (lifecycle.OPEN, False)


def test_solved_alone_changes_nothing_but_the_version_the_closing_event_closes():
    solved = new_event("ResolutionConfirmed", "t1", 3, {"solved": True, "body": None}, actor=CUSTOMER, occurred_at=T0)
    state = lifecycle.fold([opened(), message(2, AGENT), solved])
    assert (state.status, state.version) == (lifecycle.WAITING_CUSTOMER, 3)


def test_an_empty_stream_has_no_state_and_an_event_before_the_opening_is_a_bug():
    assert lifecycle.fold([]) is None
    with pytest.raises(AssertionError, match="^MessagePosted before TicketOpened in t1$"):
        lifecycle.apply(None, message(2, AGENT))


def test_a_state_is_a_value_that_cannot_be_changed_in_place():
    """Folds share states (the write side keeps the one it read): nobody may alter one."""
    state = lifecycle.fold([opened()])
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.status = lifecycle.CLOSED


def test_a_duplicate_merged_away_is_closed_with_reason_merged_and_names_its_target():
    merged = new_event("TicketClosed", "t1", 2, {"reason": "merged", "merged_into": "SOP-9",
                                                 "merged_into_ticket_id": "t9", "note": None},
                       actor=AGENT, occurred_at=T0 + timedelta(hours=1))
    state = lifecycle.fold([opened(), merged])
    assert (state.status, state.close_reason, state.merged_into) == (lifecycle.CLOSED, "merged", "SOP-9")
    assert lifecycle.status_set_by(merged) == lifecycle.CLOSED


def test_the_open_ticket_that_receives_a_duplicate_keeps_its_status_and_moves_its_version():
    received = new_event("TicketMergedInto", "t1", 3, {
        "source_ticket_id": "t2", "source_number": "SOP-2", "merged_by": AGENT.id, "note": None,
        "subject": "BANCOS, Factura", "description": "...", "opened_by": CUSTOMER.id, "opened_at": T0,
        "attachments": [], "messages": []}, actor=AGENT, occurred_at=T0 + timedelta(hours=1))
    state = lifecycle.fold([opened(), message(2, AGENT), received])
    assert (state.status, state.version, state.merged_into) == (lifecycle.WAITING_CUSTOMER, 3, None)
