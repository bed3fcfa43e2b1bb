"""Intake's consumer of the SLA's decisions with other writers of the same ticket at the same moment
(issue 11, partitions are the unit of scale), on real PostgreSQL: the same AutoClosed applied by two
instances at once (a rebalance hands its partition over while the old owner's batch is in flight, and
the new owner reads it again), and a customer's reply through the HTTP command racing the close.

The consumer loop already keeps two instances from applying one partition at once (its advisory
lock per partition and the compare-and-set of the stored offsets, helpdesk_shared.kafka): the first
test shows the applier alone would still close the ticket once if that guard ever let a record
through twice. An AutoClosed is keyed by sla-<ticket>, so one partition carries every decision on a ticket and two
instances never hold two tickets' decisions in crossing orders: no deadlock between instances to
show. Each end state below is compared with the one reached applying the same writes one after the
other. These tests held before any change: they are the proof that these races do not happen."""
from __future__ import annotations

import pytest

from helpdesk_shared import pg
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import SLA
from intake import eventstore, handlers, sla_consumer
from intake.unit_of_work import VersionConflict

from instances import while_in_flight
from test_auto_close import decision, waiting_ticket

pytestmark = pytest.mark.integration


def ticket_row(url: str, ticket_id: str) -> dict:
    with pg.connect(url) as conn:
        return conn.execute("""select t.status, t.version, s.version as snapshot_version, s.state->>'status' as state
                               from tickets t join ticket_snapshots s using (ticket_id) where ticket_id = %s""",
                            (ticket_id,)).fetchone()


def stream_types(url: str, ticket_id: str) -> list[str]:
    with pg.connect(url) as conn:
        return [e.type for e in eventstore.load_stream(conn, ticket_id)]


def test_the_same_auto_close_applied_by_two_instances_at_once_closes_the_ticket_once(intake_db, now):
    with pg.connect(intake_db) as conn:
        opened, _ = waiting_ticket(conn, now)
    batch = [Record(SLA, 3, 7, decision(opened, 2, now))]
    one, other = pg.connect(intake_db), pg.connect(intake_db)
    try:
        sla_consumer.apply_batch(one, batch)  # the old owner's batch, in flight
        errors = while_in_flight(intake_db, one, other, lambda: sla_consumer.apply_batch(other, batch))
    finally:
        one.close()
        other.close()
    assert not errors, errors
    assert stream_types(intake_db, opened.stream_id) == ["TicketOpened", "MessagePosted", "TicketClosed"]
    assert ticket_row(intake_db, opened.stream_id) == {"status": "closed", "version": 3, "snapshot_version": 3,
                                                        "state": "closed"}


def test_a_customer_reply_committing_while_the_auto_close_is_applied_keeps_the_ticket_open(intake_db, now):
    with pg.connect(intake_db) as conn:
        opened, maria = waiting_ticket(conn, now)
    customer, consumer = pg.connect(intake_db), pg.connect(intake_db)
    try:
        handlers.post_message(customer, maria, opened.data["number"], {"body": "No, sigue duplicado."}, now)
        errors = while_in_flight(intake_db, customer, consumer, lambda: sla_consumer.apply_batch(
            consumer, [Record(SLA, 3, 7, decision(opened, 2, now))]))
    finally:
        customer.close()
        consumer.close()
    assert not errors, errors
    # As if applied one after the other: the reply first, then the decision refused (the ticket moved on).
    assert stream_types(intake_db, opened.stream_id) == ["TicketOpened", "MessagePosted", "MessagePosted"]
    assert ticket_row(intake_db, opened.stream_id) == {"status": "open", "version": 3, "snapshot_version": 3,
                                                        "state": "open"}


def test_a_customer_reply_sent_while_the_auto_close_is_in_flight_is_refused_and_the_ticket_closes_once(
        intake_db, now):
    with pg.connect(intake_db) as conn:
        opened, maria = waiting_ticket(conn, now)
    consumer, customer = pg.connect(intake_db), pg.connect(intake_db)
    try:
        sla_consumer.apply_batch(consumer, [Record(SLA, 3, 7, decision(opened, 2, now))])  # in flight
        errors = while_in_flight(intake_db, consumer, customer, lambda: handlers.post_message(
            customer, maria, opened.data["number"], {"body": "No, sigue duplicado."}, now))
    finally:
        consumer.close()
        customer.close()
    # The reply read version 2 and appended version 3 after the close took it: refused (409, the
    # customer's retry then meets the closed ticket), as it would be after the close.
    assert [type(e) for e in errors] == [VersionConflict]
    assert stream_types(intake_db, opened.stream_id) == ["TicketOpened", "MessagePosted", "TicketClosed"]
    assert ticket_row(intake_db, opened.stream_id) == {"status": "closed", "version": 3, "snapshot_version": 3,
                                                        "state": "closed"}
