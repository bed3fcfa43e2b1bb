"""The ticket lifecycle as a fold over events (pure)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

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
