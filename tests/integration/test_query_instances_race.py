"""Two query consumer instances (issue 11, partitions are the unit of scale) on real PostgreSQL.

A ticket's events (helpdesk.tickets, key = the ticket) and its SLA facts (helpdesk.sla, key =
sla-<ticket>) usually sit on partitions held by different instances, so their batches run at the
same time, each in its own READ COMMITTED transaction. Where one topic's applier reads what the
other's writes (a DeadlineSet reads whether the ticket is closed; a TicketClosed stops the running
deadlines; a response fact reads the ticket's desk, a TicketOpened gives it to the facts that came
first), neither sees the other's uncommitted rows. Each test here applies two instances' batches
with one left open while the other runs, commits them, and compares every table with one instance
applying the same batches one after the other. The last three make two batches take the same hot
rows in crossing orders, which PostgreSQL ends by aborting one of them (a deadlock: the loop backs
off, reconnects and applies the batch again).
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import SYSTEM, Actor, Envelope, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.topics import TOPIC_OF_EVENT
from query import queue_store, store
from query.app import migrate

from instances import waiting_on_a_lock, while_in_flight
import test_query_batch_apply

pytestmark = pytest.mark.integration

UTC = timezone.utc
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # Monday 09:00 in Caracas
SLA = Actor("sla", "system")
AGENT = Actor("u-carlos", "agent")
CUSTOMER = Actor("u-maria", "customer")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Ticket:
    """One ticket's two streams (its events and its SLA facts), each numbered in order."""

    def __init__(self, n: int):
        self.id, self.number = f"t-{n}", f"SOP-{n}"
        self.version = self.sla_version = 0

    def event(self, type_: str, data: dict, actor: Actor, minutes: int) -> Envelope:
        self.version += 1
        return new_event(type_, self.id, self.version, data, actor=actor, occurred_at=START + timedelta(minutes=minutes))

    def fact(self, type_: str, data: dict, minutes: int) -> Envelope:
        self.sla_version += 1
        return new_event(type_, f"sla-{self.id}", self.sla_version, {"ticket_id": self.id, **data}, actor=SLA,
                         occurred_at=START + timedelta(minutes=minutes))

    def opened(self, organisation: str = "club-caracas") -> Envelope:
        return self.event("TicketOpened", {
            "ticket_id": self.id, "number": self.number, "desk": "SOPORTE", "organisation_id": organisation,
            "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "caso", "subject": "Conciliación no cuadra",
            "description": "El lote no cuadra.", "urgency": "normal", "out_of_hours_requested": False,
            "contact": {"name": "María", "email": "maria@clubcaracas.com.ve", "phone": "+58 212 555 0101"}},
            CUSTOMER, 0)

    def answered(self, minutes: int) -> Envelope:
        return self.event("MessagePosted", {"message_id": str(uuid.uuid4()), "author_id": AGENT.id,
                                            "author_role": "agent", "body": "Revisamos el lote.", "internal": False,
                                            "out_of_hours_requested": False}, AGENT, minutes)

    def replied(self, minutes: int) -> Envelope:
        return self.event("MessagePosted", {"message_id": str(uuid.uuid4()), "author_id": CUSTOMER.id,
                                            "author_role": "customer", "body": "Sigue igual.", "internal": False,
                                            "out_of_hours_requested": False}, CUSTOMER, minutes)

    def closed(self, minutes: int) -> Envelope:
        return self.event("TicketClosed", {"reason": "closed_by_agent", "note": "listo",
                                           "based_on_version": self.version}, AGENT, minutes)

    def deadline_set(self, clock: str, minutes: int, hours: int) -> Envelope:
        at, due = START + timedelta(minutes=minutes), START + timedelta(minutes=minutes, hours=hours)
        data = {"clock": clock, "clock_type": "business", "started_at": _iso(at), "counts_from": _iso(at),
                "due_at": _iso(due), "policy_version": 1, "calendar_version": 1, "open_intervals": [[_iso(at), _iso(due)]]}
        if clock == "auto_close":
            data["warning_at"] = _iso(due - timedelta(hours=1))
        return self.fact("DeadlineSet", data, minutes)

    def overdue(self, clock: str, due_minutes: int) -> Envelope:
        return self.fact("ResponseOverdue", {"clock": clock, "due_at": _iso(START + timedelta(minutes=due_minutes)),
                                             "policy_version": 1}, due_minutes)

    def met(self, clock: str, due_minutes: int, minutes: int) -> Envelope:
        return self.fact("DeadlineMet", {
            "clock": clock, "started_at": _iso(START), "due_at": _iso(START + timedelta(minutes=due_minutes)),
            "met_at": _iso(START + timedelta(minutes=minutes)), "met_in_time": minutes <= due_minutes,
            "business_seconds": minutes * 60, "outside_hours_seconds": 0, "answered_outside_hours": False,
            "answered_by": AGENT.id, "policy_version": 1, "calendar_version": 1}, minutes)

    def cleared(self, clock: str, due_minutes: int, minutes: int) -> Envelope:
        return self.fact("DeadlineCleared", {"clock": clock, "due_at": _iso(START + timedelta(minutes=due_minutes)),
                                             "at": _iso(START + timedelta(minutes=minutes)),
                                             "reason": "customer_replied"}, minutes)

    def paused(self, minutes: int) -> Envelope:
        return self.fact("ClockPaused", {"at": _iso(START + timedelta(minutes=minutes)), "reason": "waiting_customer"},
                         minutes)


def tables(url: str) -> dict[str, list]:
    """Every table's rows (test_query_batch_apply.tables), but when the migrations ran."""
    return test_query_batch_apply.tables(url, leave_out=frozenset({"schema_migrations"}))


def batch(*events: Envelope) -> list[Record]:
    return [Record(TOPIC_OF_EVENT[e.type], 0, n, e) for n, e in enumerate(events)]


def commit(url: str, *batches: list[Record]) -> None:
    """One instance applying the batches one after the other, each in its own transaction."""
    with pg.connect(url) as conn:
        for records in batches:
            with conn.transaction():
                store.apply_batch(conn, records)


def at_once(url: str, first: list[Record], second: list[Record]) -> None:
    """Instance one applies `first` and holds its transaction open; instance two applies `second`
    meanwhile (a thread) and commits; when two has finished or waits for one's locks, one commits."""
    one, other = pg.connect(url), pg.connect(url)
    try:
        store.apply_batch(one, first)  # instance one's batch, in flight
        assert while_in_flight(url, one, other, lambda: store.apply_batch(other, second)) == []
    finally:
        one.close()
        other.close()


def crossing(url: str, ones: list[Record], twos: list[Record], halfway: threading.Event, go_on: threading.Event,
             what: str, pausing=lambda conn: conn) -> None:
    """Instance one (thread "one") applies `ones` and stops halfway (sets `halfway`, waits for `go_on`:
    through `pausing(conn)`, a PausingConnection, or a patched function); instance two applies `twos`
    meanwhile; once two waits for a lock or is done, one goes on. Both batches must commit: a
    deadlock PostgreSQL broke is an error here."""
    one, two = pg.connect(url), pg.connect(url)
    errors: list[BaseException] = []

    def instance(conn, records, raw):
        try:
            store.apply_batch(conn, records)
            raw.commit()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
            raw.rollback()

    threads = [threading.Thread(target=instance, args=(pausing(one), ones, one), name="one"),
               threading.Thread(target=instance, args=(two, twos, two), name="two")]
    try:
        threads[0].start()
        wait_until(halfway.is_set, 30, what)
        threads[1].start()
        wait_until(lambda: waiting_on_a_lock(url, two.info.backend_pid) or not threads[1].is_alive(), 30,
                   "instance two waiting or done")
        go_on.set()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        go_on.set()
        one.close()
        two.close()
    assert errors == []


@pytest.fixture
def two_dbs(fresh_database) -> tuple[str, str]:
    """Two migrated query databases: one for the two instances, one for a single instance."""
    urls = fresh_database("query"), fresh_database("query")
    for url in urls:
        migrate(url)
    return urls


@pytest.mark.parametrize("first", ["tickets", "sla"])
def test_a_ticket_closed_while_another_instance_sets_its_next_deadline_keeps_no_clock_running(two_dbs, first):
    """The customer replied (the SLA cleared the auto-close clock); the agent closes the ticket
    (helpdesk.tickets) while the other instance applies the SLA's next-response DeadlineSet of the
    reply. One instance never leaves a running clock on a closed ticket: the DeadlineSet applied
    after the close reads it closed, or the close stops the clock the DeadlineSet started. Two
    instances must not either (before the fix, each missed the other's uncommitted row: the clock
    ran on the closed ticket and the queue kept its due time until the SLA's DeadlineCleared came)."""
    shared, single = two_dbs
    t = Ticket(1)
    setup = batch(t.opened(), t.deadline_set("first_response", 0, 4), t.answered(30),
                  t.met("first_response", 240, 30), t.paused(30), t.deadline_set("auto_close", 30, 72),
                  t.replied(60), t.cleared("auto_close", 30 + 72 * 60, 60))
    batches = {"tickets": batch(t.closed(61)), "sla": batch(t.deadline_set("next_response", 60, 8))}
    second = "sla" if first == "tickets" else "tickets"
    for url in (shared, single):
        commit(url, setup)
    at_once(shared, batches[first], batches[second])
    commit(single, batches[first], batches[second])

    with pg.connect(shared) as conn:
        running = conn.execute("select clock from deadlines where running").fetchall()
        order = conn.execute("select open, sort_due = 'infinity' as last from queue_order").fetchone()
    assert running == [] and order == {"open": False, "last": True}, (running, order)
    assert tables(shared) == tables(single)


@pytest.mark.parametrize("first", ["tickets", "sla"])
def test_response_facts_applied_while_another_instance_opens_their_ticket_count_under_its_desk(two_dbs, first):
    """In a catch-up (a backlog, a restart) the facts of a ticket's first response (set, overdue,
    met) may be applied while the other instance applies its TicketOpened: the response must end
    with the ticket's desk, module and organisation, and be counted in the compliance reports, as
    when one instance applies both. (This one held before the fix too, by accident: both batches
    write the ticket's queue_order row, whose lock made the second wait; the tickets' lock now makes
    it wait on purpose.)"""
    shared, single = two_dbs
    t = Ticket(2)
    batches = {"tickets": batch(t.opened(), t.answered(300)),
               "sla": batch(t.deadline_set("first_response", 0, 4), t.overdue("first_response", 240),
                            t.met("first_response", 240, 300))}
    second = "sla" if first == "tickets" else "tickets"
    at_once(shared, batches[first], batches[second])
    commit(single, batches[first], batches[second])

    with pg.connect(shared) as conn:
        responses = conn.execute("select desk, module, organisation_id from report_responses").fetchall()
        counted = conn.execute("select coalesce(sum(n), 0) as n from report_compliance_hours").fetchone()["n"]
    assert responses == [{"desk": "SOPORTE", "module": "BANCOS", "organisation_id": "club-caracas"}]
    assert counted == 1
    assert tables(shared) == tables(single)


def test_two_instances_closing_and_timing_the_same_tickets_in_opposite_orders_do_not_deadlock(
        two_dbs, monkeypatch):
    """Instance one applies the SLA facts of tickets 4 and 3 (in its partitions' order); instance two
    closes tickets 3 and 4 in one batch. Before the fix, one held ticket 4's queue row and waited for
    ticket 3's, the other the reverse: PostgreSQL aborted one batch as a deadlock (the loop backs off,
    reconnects and applies it again: correct, but CPU and time lost under load, issue 11)."""
    shared, single = two_dbs
    t3, t4 = Ticket(3), Ticket(4)
    setup = batch(t3.opened(), t4.opened(), t3.deadline_set("first_response", 0, 4),
                  t4.deadline_set("first_response", 0, 4))
    for url in (shared, single):
        commit(url, setup)
    facts = batch(t4.deadline_set("next_response", 20, 8), t3.deadline_set("next_response", 20, 8))
    closes = batch(t3.closed(40), t4.closed(40))

    # Instance one stops between its two facts (after ticket 4's deadline row) until instance two is under way.
    halfway, go_on = threading.Event(), threading.Event()
    apply_fact = queue_store._apply_sla_fact

    def apply_then_pause(conn, record, closed):
        apply_fact(conn, record, closed)
        if record.event.data["ticket_id"] == t4.id and threading.current_thread().name == "one":
            halfway.set()
            assert go_on.wait(30)

    monkeypatch.setattr(queue_store, "_apply_sla_fact", apply_then_pause)
    crossing(shared, facts, closes, halfway, go_on, "instance one between its two facts")
    commit(single, facts, closes)
    assert tables(shared) == tables(single)


class PausingConnection:
    """An instance's connection that stops after its first statement containing `after` until `go_on`."""

    def __init__(self, conn, after: str, halfway: threading.Event, go_on: threading.Event):
        self._conn, self._after, self._halfway, self._go_on = conn, after, halfway, go_on

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def execute(self, query, *args, **kwargs):
        result = self._conn.execute(query, *args, **kwargs)
        if self._after in str(query) and not self._halfway.is_set():
            self._halfway.set()
            assert self._go_on.wait(30)
        return result


def test_two_instances_recording_responses_of_other_tickets_in_crossing_hours_do_not_deadlock(two_dbs):
    """Both instances hold helpdesk.sla partitions: instance one records the first responses of
    tickets 5 (answered within the hour) and 6 (in the third hour), instance two those of tickets 7
    (third hour) and 8 (first hour). Each response adds to the compliance counts of its hour (rows
    kept by report_responses' trigger, locked till commit). Before the fix one took hour 0 then
    wanted hour 2, the other the reverse: PostgreSQL aborted one batch as a deadlock."""
    shared, single = two_dbs
    t5, t6, t7, t8 = (Ticket(n) for n in (5, 6, 7, 8))
    setup = batch(*(t.opened() for t in (t5, t6, t7, t8)),
                  *(t.deadline_set("first_response", 0, 4) for t in (t5, t6, t7, t8)))
    for url in (shared, single):
        commit(url, setup)
    ones = batch(t5.met("first_response", 240, 30), t6.met("first_response", 240, 150))
    twos = batch(t7.met("first_response", 240, 150), t8.met("first_response", 240, 30))

    halfway, go_on = threading.Event(), threading.Event()
    crossing(shared, ones, twos, halfway, go_on, "instance one between its two responses",
             pausing=lambda conn: PausingConnection(conn, "into report_responses", halfway, go_on))
    commit(single, ones, twos)
    assert tables(shared) == tables(single)


def registered(organisation: str) -> Envelope:
    return new_event("OrganisationRegistered", f"organisation-{organisation}", 1,
                     {"organisation_id": organisation, "name": organisation.title(), "tax_id": None,
                      "desks": ["SOPORTE"]}, actor=SYSTEM, occurred_at=START)


def test_two_instances_counting_openings_of_two_organisations_in_crossing_orders_do_not_deadlock(two_dbs):
    """A polled batch holds records of several partitions, so of one topic in several runs (here
    tickets, accounts, tickets). Each instance counts the day's openings per organisation
    (report_daily, rows locked till commit): instance one Club Caracas's then Country Valencia's,
    instance two the reverse. Before the fix each run counted its own openings, in two statements:
    one held Club Caracas's row and waited for Country Valencia's, the other the reverse, and
    PostgreSQL aborted one batch as a deadlock."""
    shared, single = two_dbs
    t10, t11, t12, t13 = (Ticket(n) for n in (10, 11, 12, 13))
    ones = batch(t10.opened("club-caracas"), registered("club-caracas"), t11.opened("country-valencia"))
    twos = batch(t12.opened("country-valencia"), registered("country-valencia"), t13.opened("club-caracas"))

    halfway, go_on = threading.Event(), threading.Event()
    crossing(shared, ones, twos, halfway, go_on, "instance one in its batch's accounts",
             pausing=lambda conn: PausingConnection(conn, "into organisations", halfway, go_on))
    commit(single, ones, twos)
    assert tables(shared) == tables(single)
