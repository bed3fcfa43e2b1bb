"""Intake accepts the SLA service's AutoClosed only when the ticket has not moved since (real PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from intake import eventstore, handlers
from samples import ticket_body

pytestmark = pytest.mark.integration
SLA = Actor("sla", "system")


def waiting_ticket(conn, now):
    """A ticket an agent answered: version 2, waiting for the customer."""
    maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
    agent = handlers.authenticate(conn, "carlos@mesa.example", "mesa-demo")
    opened = handlers.open_ticket(conn, maria, ticket_body(), now)
    handlers.post_message(conn, agent, opened.data["number"], {"body": "¿Se resolvió con el ajuste?"}, now)
    return opened, maria


def decision(opened, based_on: int, now):
    """An AutoClosed as the SLA service emits it."""
    return new_event("AutoClosed", f"sla-{opened.stream_id}", 1, {
        "ticket_id": opened.stream_id, "number": opened.data["number"], "based_on_version": based_on,
        "due_at": now.isoformat()}, actor=SLA, occurred_at=now + timedelta(days=2))


def test_an_auto_close_based_on_the_current_version_closes_the_ticket(intake_db, now):
    with pg.connect(intake_db) as conn:
        opened, _ = waiting_ticket(conn, now)
        closed = handlers.accept_auto_close(conn, decision(opened, 2, now))
        assert closed.data == {"reason": "auto_closed", "based_on_version": 2}
        assert [e.type for e in eventstore.load_stream(conn, opened.stream_id)][-1] == "TicketClosed"
        assert handlers.accept_auto_close(conn, decision(opened, 2, now)) is None  # a duplicate changes nothing
        assert len(eventstore.load_stream(conn, opened.stream_id)) == 3


def test_a_customer_reply_after_the_decision_wins_and_the_ticket_stays_open(intake_db, now):
    with pg.connect(intake_db) as conn:
        opened, maria = waiting_ticket(conn, now)
        late = decision(opened, 2, now)
        handlers.post_message(conn, maria, opened.data["number"], {"body": "No, sigue duplicado."}, now)
        assert handlers.accept_auto_close(conn, late) is None
        stream = eventstore.load_stream(conn, opened.stream_id)
        assert [e.type for e in stream] == ["TicketOpened", "MessagePosted", "MessagePosted"]
        assert conn.execute("select status from tickets where ticket_id = %s",
                            (opened.stream_id,)).fetchone()["status"] == "open"
