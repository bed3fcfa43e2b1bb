"""Assignment, "I have to leave" and closing by an agent, on real PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpdesk_shared import lifecycle, pg
from helpdesk_shared.errors import RuleViolation
from intake import eventstore, handlers
from samples import ticket_body

pytestmark = pytest.mark.integration


def people(conn):
    """María (customer), Carlos (SOPORTE agent) and Elena (IMPLANTACIONES agent)."""
    return [handlers.authenticate(conn, e, "mesa-demo")
            for e in ("maria@clubcaracas.com.ve", "carlos@mesa.example", "elena@mesa.example")]


def test_an_agent_takes_a_ticket_and_only_a_colleague_of_its_desk_can_be_given_it(intake_db, now):
    with pg.connect(intake_db) as conn:
        maria, carlos, elena = people(conn)
        number = handlers.open_ticket(conn, maria, ticket_body(), now).data["number"]
        taken = handlers.assign_ticket(conn, carlos, number, None, now)
        assert taken.data == {"agent_id": carlos.user_id, "assigned_by": carlos.user_id}
        with pytest.raises(RuleViolation) as wrong_desk:
            handlers.assign_ticket(conn, carlos, number, elena.user_id, now)
        assert wrong_desk.value.field == "agent_id"
        with pytest.raises(RuleViolation) as customer:
            handlers.assign_ticket(conn, maria, number, None, now)
        assert customer.value.status == 403


def test_the_customer_marks_himself_away_and_his_next_message_clears_it(intake_db, now):
    with pg.connect(intake_db) as conn:
        maria, carlos, _ = people(conn)
        opened = handlers.open_ticket(conn, maria, ticket_body(), now)
        number = opened.data["number"]
        handlers.mark_customer_away(conn, maria, number, {"back_at": datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc),
                                                          "note": "Vuelvo el lunes"}, now)
        assert lifecycle.fold(eventstore.load_stream(conn, opened.stream_id)).customer_away
        handlers.post_message(conn, maria, number, {"body": "Ya regresé, sigo atenta."}, now)
        assert not lifecycle.fold(eventstore.load_stream(conn, opened.stream_id)).customer_away
        with pytest.raises(RuleViolation):
            handlers.mark_customer_away(conn, carlos, number, {}, now)


def test_an_agent_closes_as_needs_training_and_the_ticket_takes_nothing_more(intake_db, now):
    with pg.connect(intake_db) as conn:
        maria, carlos, _ = people(conn)
        opened = handlers.open_ticket(conn, maria, ticket_body(), now)
        number = opened.data["number"]
        with pytest.raises(RuleViolation):
            handlers.close_by_agent(conn, carlos, number, "because", "", now)
        closed = handlers.close_by_agent(conn, carlos, number, "needs_training", "Usuarios sin inducción", now)
        assert closed.data["reason"] == "needs_training"
        for command in (lambda: handlers.post_message(conn, maria, number, {"body": "hola"}, now),
                        lambda: handlers.assign_ticket(conn, carlos, number, None, now),
                        lambda: handlers.close_by_agent(conn, carlos, number, "closed_by_agent", "", now)):
            with pytest.raises(RuleViolation) as refused:
                command()
            assert refused.value.code == "TICKET_CLOSED"
        assert conn.execute("select status from tickets where number = %s", (number,)).fetchone()["status"] == "closed"
