"""Rule 8 on real PostgreSQL: the customer says solved (closed) or not solved (back to the agents)."""
from __future__ import annotations

import pytest

from helpdesk_shared import pg
from helpdesk_shared.errors import RuleViolation
from intake import eventstore, handlers
from samples import ticket_body

pytestmark = pytest.mark.integration


def answered_ticket(conn, now):
    """A ticket an agent answered; returns (number, ticket id, customer claims, agent claims)."""
    maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
    agent = handlers.authenticate(conn, "carlos@mesa.example", "mesa-demo")
    opened = handlers.open_ticket(conn, maria, ticket_body(), now)
    handlers.post_message(conn, agent, opened.data["number"], {"body": "Aplicamos el ajuste, ¿quedó bien?"}, now)
    return opened.data["number"], opened.stream_id, maria, agent


def test_solved_closes_the_ticket_as_solved_by_the_customer(intake_db, now):
    with pg.connect(intake_db) as conn:
        number, ticket_id, maria, _ = answered_ticket(conn, now)
        handlers.confirm_resolution(conn, maria, number, True, "", now)
        stream = eventstore.load_stream(conn, ticket_id)
        assert [e.type for e in stream][-2:] == ["ResolutionConfirmed", "TicketClosed"]
        assert stream[-1].data["reason"] == "solved_by_customer"
        with pytest.raises(RuleViolation) as refused:
            handlers.post_message(conn, maria, number, {"body": "otra cosa"}, now)
        assert (refused.value.code, refused.value.field) == ("TICKET_CLOSED", None)


def test_not_solved_needs_what_is_still_wrong_and_sends_the_ticket_back_to_the_agents(intake_db, now):
    with pg.connect(intake_db) as conn:
        number, ticket_id, maria, agent = answered_ticket(conn, now)
        with pytest.raises(RuleViolation) as refused:
            handlers.confirm_resolution(conn, maria, number, False, "  ", now)
        assert (refused.value.code, refused.value.field) == ("MESSAGE_BODY_REQUIRED", "body")
        handlers.confirm_resolution(conn, maria, number, False, "El cargo sigue duplicado.", now)
        assert conn.execute("select status from tickets where ticket_id = %s", (ticket_id,)).fetchone()["status"] \
            == "open"
        with pytest.raises(RuleViolation) as early:
            handlers.confirm_resolution(conn, maria, number, True, "", now)  # nobody answered since
        assert (early.value.code, early.value.field, early.value.status) == ("RESOLUTION_NOT_EXPECTED", "solved", 409)
        with pytest.raises(RuleViolation) as staff:
            handlers.confirm_resolution(conn, agent, number, True, "", now)
        assert (staff.value.code, staff.value.field, staff.value.status) == ("FORBIDDEN", "solved", 403)
