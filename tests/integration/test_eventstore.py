"""The event store's guarantees on real PostgreSQL."""
from __future__ import annotations

import threading

import pytest

from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.errors import RuleViolation
from intake import eventstore, handlers
from samples import ticket_body

pytestmark = pytest.mark.integration


def customer(conn, email="maria@clubcaracas.com.ve") -> Claims:
    """The claims of a demo customer, as login would give them."""
    return handlers.authenticate(conn, email, "mesa-demo")


def counts(conn) -> tuple[int, int]:
    """(events, ticket index rows): the event store is the outbox too."""
    row = conn.execute("select (select count(*) from events) as e, (select count(*) from tickets) as t").fetchone()
    return row["e"], row["t"]


def test_two_writers_racing_on_one_ticket_version_exactly_one_wins(intake_db, now):
    with pg.connect(intake_db) as conn:
        opened = handlers.open_ticket(conn, customer(conn), ticket_body(), now)
    barrier = threading.Barrier(2)
    outcomes = []

    def writer(i: int) -> None:
        with pg.connect(intake_db) as conn:
            version = eventstore.stream_version(conn, opened.stream_id)
            event = new_event("MessagePosted", opened.stream_id, version + 1, {
                "message_id": f"m{i}", "author_id": "u", "author_role": "customer", "body": f"writer {i}",
                "internal": False}, actor=Actor("u", "customer"), occurred_at=now)
            barrier.wait()  # both read version 1 before either appends
            try:
                eventstore.append(conn, [event], expected_version=version)
                conn.commit()
                outcomes.append("won")
            except eventstore.VersionConflict:
                conn.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "won"]
    with pg.connect(intake_db) as conn:
        versions = [e.stream_version for e in eventstore.load_stream(conn, opened.stream_id)]
        queued = conn.execute("select count(*) as n from events where stream_id = %s and payload is not null",
                              (opened.stream_id,)).fetchone()["n"]
    assert versions == [1, 2]
    assert queued == 2  # each with the bytes the relay ships


@pytest.mark.parametrize("body, code, field", [
    (ticket_body(case="Urgente"), "R4_VAGUE_SUBJECT", "subject"),
    (ticket_body(module="PELUQUERIA"), "R4_UNKNOWN_MODULE", "subject"),
    ({**ticket_body(), "description": "no funciona"}, "R5_DESCRIPTION_THIN", "description"),
    ({**ticket_body(), "contact": {"name": "María"}}, "CONTACT_REQUIRED", "contact.email"),
    (ticket_body(urgency="nomina_atrasada"), "URGENT_NOT_ALLOWED", "urgency"),
    (ticket_body(urgency="announced_special_process"), "URGENT_NO_ANNOUNCEMENT", "urgency"),
    (ticket_body(previous_ticket="SOP-999"), "PREVIOUS_TICKET_INVALID", "previous_ticket"),
    (ticket_body(attachments=["0" * 64]), "ATTACHMENT_UNKNOWN", "attachments"),
])
def test_a_refused_opening_stores_nothing(intake_db, now, body, code, field):
    with pg.connect(intake_db) as conn:
        before = counts(conn)
        with pytest.raises(RuleViolation) as refused:
            handlers.open_ticket(conn, customer(conn), body, now)
        conn.rollback()
        assert (refused.value.code, refused.value.field) == (code, field)
        assert counts(conn) == before


def test_the_same_case_opened_twice_answers_409_with_the_open_ticket_number(intake_db, now):
    with pg.connect(intake_db) as conn:
        first = handlers.open_ticket(conn, customer(conn), ticket_body(), now)
        conn.commit()
        before = counts(conn)
        other_user = customer(conn, "jose@clubcaracas.com.ve")  # same organisation, another person
        with pytest.raises(RuleViolation) as refused:
            handlers.open_ticket(conn, other_user, ticket_body("factura mal cargada en banco Mercantil"), now)
        conn.rollback()
        assert (refused.value.code, refused.value.field, refused.value.status) == ("R6_DUPLICATE_OPEN_CASE", "subject", 409)
        assert refused.value.extra["ticket"] == first.data["number"]
        assert first.data["number"] in refused.value.message.es
        assert counts(conn) == before
        confirmed = handlers.open_ticket(conn, other_user, ticket_body(
            "factura mal cargada en banco Mercantil", confirmed_different_case=True), now)
        assert confirmed.data["number"] != first.data["number"]


def test_another_organisation_may_open_the_same_case(intake_db, now):
    with pg.connect(intake_db) as conn:
        handlers.open_ticket(conn, customer(conn), ticket_body(), now)
        ana = customer(conn, "ana@countryvalencia.com.ve")
        other = handlers.open_ticket(conn, ana, ticket_body(contact={**ticket_body()["contact"],
                                                                     "email": "ana@countryvalencia.com.ve"}), now)
        assert other.data["organisation_id"] == "country-valencia"


def test_a_closed_ticket_refuses_messages_and_can_be_quoted_as_previous(intake_db, now):
    with pg.connect(intake_db) as conn:
        maria = customer(conn)
        opened = handlers.open_ticket(conn, maria, ticket_body(), now)
        closing = new_event("TicketClosed", opened.stream_id, 2, {"reason": "closed_by_agent"},
                            actor=Actor("agent", "agent"), occurred_at=now)
        eventstore.append(conn, [closing], expected_version=1)
        conn.execute("update tickets set status = 'closed', version = 2 where ticket_id = %s", (opened.stream_id,))
        before = counts(conn)
        with pytest.raises(RuleViolation) as refused:
            handlers.post_message(conn, maria, opened.data["number"], {"body": "sigue fallando"}, now)
        assert (refused.value.code, refused.value.field, refused.value.status) == ("TICKET_CLOSED", None, 409)
        assert opened.data["number"] in refused.value.message.es and opened.data["number"] in refused.value.message.en
        assert counts(conn) == before
        reopened = handlers.open_ticket(conn, maria, ticket_body(previous_ticket=opened.data["number"]), now)
        assert reopened.data["previous_ticket"] == opened.data["number"]


def test_urgent_for_an_announced_special_process_only_inside_its_window(intake_db, now):
    from datetime import timedelta
    with pg.connect(intake_db) as conn:
        maria = customer(conn)
        announced_at = now - timedelta(days=3)
        handlers.announce_special_process(conn, maria, {
            "kind": "carnetizacion", "description": "Carnetización anual de socios",
            "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=2)},
            announced_at)
        urgent = handlers.open_ticket(conn, maria, ticket_body(
            "Impresora de carnets no imprime la foto del socio", module="CARNETIZACION",
            urgency="announced_special_process"), now)
        assert urgent.data["urgency"] == "announced_special_process"
        assert urgent.data["special_process_id"]
        with pytest.raises(RuleViolation) as refused:
            handlers.open_ticket(conn, maria, ticket_body(
                "Lector de huellas no registra la entrada del socio", module="CARNETIZACION",
                urgency="announced_special_process"), now + timedelta(days=3))
        assert (refused.value.code, refused.value.field) == ("URGENT_NO_ANNOUNCEMENT", "urgency")
