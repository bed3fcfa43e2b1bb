"""The SLA timer process with other writers of the same clocks at the same moment (issue 11, partitions
are the unit of scale), on real PostgreSQL: a supervisor's calendar change (the SLA API re-pins every
open ticket of the desk) while a consumer instance applies a TicketOpened, and two instances that both
believe they hold a partition for a moment (a rebalance) firing its due timers.

Each end state is compared with the one a single writer reaches applying the same facts one after
the other, in either order."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import TICKETS
from sla import store
from sla.calendars import DEFAULT_DOC
from sla.consumer import TimerService
from sla.due_watch import DueWatch

from instances import while_in_flight

from test_sla_store import AGENT, CUSTOMER, FRIDAY_10, THURSDAY_10, WEDNESDAY_NOON, queued, ticket

pytestmark = pytest.mark.integration

# Wednesday noon a supervisor closes Wednesday 25 and Thursday 26 November, from Thursday 00:00 (Caracas).
CLOSURES = {**DEFAULT_DOC, "closures": [{"date": "2026-11-25", "note": "Fumigación"},
                                        {"date": "2026-11-26", "note": "Inventario anual"}]}
THURSDAY_0 = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)
WEDNESDAY_14 = datetime(2026, 11, 25, 18, 0, tzinfo=timezone.utc)
# Opened Wednesday 14:00: 3 h on Wednesday (version 1), Thursday closed (version 2), Friday 09:00-14:00.
DUE_ON_BOTH_VERSIONS = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


@pytest.fixture
def sla_db(fresh_database) -> str:
    url = fresh_database("sla")
    store.migrate(url)
    return url


def timer_service() -> TimerService:
    """The consumer's batch applier without its Kafka loop (TimerService.apply_batch as the loop calls it)."""
    service = TimerService.__new__(TimerService)
    service.settings, service.watch = None, DueWatch()
    return service


def opened_wednesday_afternoon():
    from helpdesk_shared.envelope import new_event
    return new_event("TicketOpened", "t2", 1, ticket("t2").data, actor=CUSTOMER, occurred_at=WEDNESDAY_14)


def clocks_of(url: str, ticket_id: str) -> dict:
    with pg.connect(url) as conn:
        return conn.execute("select next_due, state->'calendar_versions' as versions from clocks where ticket_id = %s",
                            (ticket_id,)).fetchone()


@pytest.mark.parametrize("order", ["change first", "ticket first"])
def test_one_writer_applying_a_calendar_change_and_a_new_ticket_in_either_order_pins_the_ticket_to_both_versions(
        sla_db, order):
    def change():
        with pg.connect(sla_db) as conn:
            store.change_calendar(conn, "SOPORTE", CLOSURES, THURSDAY_0, AGENT, WEDNESDAY_NOON)

    def open_ticket():
        with pg.connect(sla_db) as conn:
            timer_service().apply_batch(conn, [Record(TICKETS, 0, 0, opened_wednesday_afternoon())])

    for step in ((change, open_ticket) if order == "change first" else (open_ticket, change)):
        step()
    assert clocks_of(sla_db, "t2") == {"next_due": DUE_ON_BOTH_VERSIONS, "versions": [1, 2]}


def test_a_ticket_opened_while_a_calendar_change_commits_is_pinned_to_the_new_version_too(sla_db):
    """Failed before the fix: the consumer read the calendars before its first write to `clocks`,
    the change (its table lock taken) re-pinned every open ticket but the one not inserted yet, and
    the consumer, let through at the change's commit, inserted it pinned to version 1 alone: due
    Thursday, a closed day, and no DeadlineMoved ever."""
    change, consumer = pg.connect(sla_db), pg.connect(sla_db)
    try:
        store.change_calendar(change, "SOPORTE", CLOSURES, THURSDAY_0, AGENT, WEDNESDAY_NOON)  # in flight

        def instance():
            timer_service().apply_batch(consumer, [Record(TICKETS, 0, 0, opened_wednesday_afternoon())])

        assert while_in_flight(sla_db, change, consumer, instance) == []
    finally:
        change.close()
        consumer.close()
    assert clocks_of(sla_db, "t2") == {"next_due": DUE_ON_BOTH_VERSIONS, "versions": [1, 2]}
    # The customer was quoted, or later told, the deadline on both versions.
    quoted = [e for e in queued(sla_db) if e.stream_id == "sla-t2" and e.type in ("DeadlineSet", "DeadlineMoved")]
    assert quoted[-1].data["due_at"] == DUE_ON_BOTH_VERSIONS.isoformat()


def test_two_instances_firing_the_same_partition_during_a_rebalance_fire_each_timer_once(sla_db):
    """Held before any change (the proof it does not happen): fire_due locks the rows it fires
    `for update skip locked`, so the second instance skips them while the first is in flight and,
    once it committed, finds them fired (next_due moved on). The loop fires only the partitions
    whose advisory lock it holds (helpdesk_shared.kafka), so this is the second line of defence."""
    with pg.connect(sla_db) as conn:
        timer_service().apply_batch(conn, [Record(TICKETS, 0, 0, ticket("t1")), Record(TICKETS, 0, 1, ticket("t3"))])
        settings = store.load_settings(conn)
    one, other = pg.connect(sla_db), pg.connect(sla_db)
    try:
        assert store.fire_due(one, settings, [0], THURSDAY_10, THURSDAY_10) == 2  # in flight
        fired_meanwhile: list[int] = []

        def instance():
            fired_meanwhile.append(store.fire_due(other, settings, [0], THURSDAY_10, THURSDAY_10))

        assert while_in_flight(sla_db, one, other, instance) == []
        assert store.fire_due(other, settings, [0], FRIDAY_10, FRIDAY_10) == 0
        other.commit()
    finally:
        one.close()
        other.close()
    assert fired_meanwhile == [0]
    overdue = [(e.stream_id, e.stream_version) for e in queued(sla_db) if e.type == "ResponseOverdue"]
    assert sorted(overdue) == [("sla-t1", 2), ("sla-t3", 2)]


def test_a_calendar_change_made_while_a_consumer_batch_is_in_flight_repins_the_ticket_it_opened(sla_db):
    """The other order (held before the fix too): the change waits for the batch, then re-pins its ticket."""
    consumer, change = pg.connect(sla_db), pg.connect(sla_db)
    try:
        timer_service().apply_batch(consumer, [Record(TICKETS, 0, 0, opened_wednesday_afternoon())])  # in flight

        def supervisor():
            store.change_calendar(change, "SOPORTE", CLOSURES, THURSDAY_0, AGENT, WEDNESDAY_NOON)

        assert while_in_flight(sla_db, consumer, change, supervisor) == []
    finally:
        consumer.close()
        change.close()
    assert clocks_of(sla_db, "t2") == {"next_due": DUE_ON_BOTH_VERSIONS, "versions": [1, 2]}
    moved = [e for e in queued(sla_db) if e.stream_id == "sla-t2" and e.type == "DeadlineMoved"]
    assert [e.data["due_at"] for e in moved] == [DUE_ON_BOTH_VERSIONS.isoformat()]


@pytest.mark.parametrize("what", ["calendar", "policy"])
def test_two_supervisors_saving_the_same_desks_calendar_or_policy_at_once_both_get_a_version(sla_db, what):
    """Failed before the fix: both read the same latest version, and the second to insert hit the
    primary key (desk, version), a 500 for a valid request."""
    from sla.policy import DEFAULT_POLICIES, policy_to_doc
    policy = policy_to_doc(DEFAULT_POLICIES["SOPORTE", "normal"])

    def save(conn) -> int:
        if what == "calendar":
            return store.change_calendar(conn, "SOPORTE", CLOSURES, THURSDAY_0, AGENT, WEDNESDAY_NOON)
        return store.change_policy(conn, "SOPORTE", "normal", policy, THURSDAY_0, AGENT, WEDNESDAY_NOON)

    one, other = pg.connect(sla_db), pg.connect(sla_db)
    versions: list[int] = []
    try:
        versions.append(save(one))  # in flight

        def second_supervisor():
            versions.append(save(other))

        assert while_in_flight(sla_db, one, other, second_supervisor) == []
    finally:
        one.close()
        other.close()
    assert versions == [2, 3]


def test_a_timer_check_running_while_a_calendar_change_moves_its_deadline_fires_nothing_early(sla_db):
    """Held before any change (the proof): the check's `for update` waits for the change's table
    lock and then reads (or re-checks) the clocks as the change left them, due Friday, not Thursday."""
    with pg.connect(sla_db) as conn:
        timer_service().apply_batch(conn, [Record(TICKETS, 0, 0, ticket("t1"))])  # due Thursday 10:00 on version 1
        settings = store.load_settings(conn)
    thursday_closed = {**DEFAULT_DOC, "closures": [{"date": "2026-11-26", "note": "Inventario anual"}]}
    change, timers_ = pg.connect(sla_db), pg.connect(sla_db)
    fired: list[int] = []
    try:
        store.change_calendar(change, "SOPORTE", thursday_closed, WEDNESDAY_NOON, AGENT, WEDNESDAY_NOON)  # in flight

        def check():
            fired.append(store.fire_due(timers_, settings, [0], THURSDAY_10, THURSDAY_10))

        assert while_in_flight(sla_db, change, timers_, check) == []
    finally:
        change.close()
        timers_.close()
    assert fired == [0]
    with pg.connect(sla_db) as conn:
        assert store.fire_due(conn, settings, [0], FRIDAY_10, FRIDAY_10) == 1
    assert [e.data["due_at"] for e in queued(sla_db) if e.type == "ResponseOverdue"] == [FRIDAY_10.isoformat()]
