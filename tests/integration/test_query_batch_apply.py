"""Query applies a polled batch set-based (issue 11): the read models a batch leaves are exactly those
of applying its events one by one, whatever the batch holds (several events of one ticket, relay
republishes, facts of another topic in between), and a redelivered batch changes nothing.

Property-style: random but valid event logs (seeded, so a failure is reproducible), applied once
as one event per batch and once in random slices, compared table by table on real PostgreSQL.
"""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg, revocations
from helpdesk_shared.envelope import SYSTEM, Actor, Envelope, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import TOPIC_OF_EVENT
from query import store

pytestmark = pytest.mark.integration

UTC = timezone.utc
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # Monday 09:00 in Caracas
SLA = Actor("sla", "system")
NOTIFIER = Actor("notifier", "system")
ORGS = ["club-caracas", "country-valencia"]
AGENTS = ["u-carlos", "u-elena"]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Life:
    """One ticket's random but valid life: its ticket stream, its SLA stream and its mails, each in order."""

    def __init__(self, rng: random.Random, i: int):
        self.rng, self.i = rng, i
        self.ticket_id, self.number = f"t-{i}", f"SOP-{i + 1}"
        self.org = ORGS[i % len(ORGS)]
        self.customer = Actor(f"u-{self.org}", "customer")
        self.at = START + timedelta(minutes=rng.randrange(0, 600))
        self.version = self.sla_version = 0
        self.ticket: list[Envelope] = []
        self.sla: list[Envelope] = []
        self.mails: list[Envelope] = []
        self.due: dict[str, datetime] = {}   # running deadlines by clock

    def _tick(self) -> datetime:
        self.at += timedelta(minutes=self.rng.randrange(1, 300))
        return self.at

    def _ticket(self, type_: str, data: dict, actor: Actor) -> Envelope:
        self.version += 1
        event = new_event(type_, self.ticket_id, self.version, data, actor=actor, occurred_at=self._tick())
        self.ticket.append(event)
        return event

    def _fact(self, type_: str, data: dict, cause: Envelope | None = None) -> Envelope:
        self.sla_version += 1
        event = new_event(type_, f"sla-{self.ticket_id}", self.sla_version, {"ticket_id": self.ticket_id, **data},
                          actor=SLA, occurred_at=cause.occurred_at if cause else self._tick(),
                          causation_id=cause.event_id if cause else None,
                          correlation_id=cause.correlation_id if cause else None)
        self.sla.append(event)
        return event

    def _set(self, clock: str, cause: Envelope, moved_from: datetime | None = None) -> None:
        due = cause.occurred_at + timedelta(hours=self.rng.choice([2, 8, 24]))
        data = {"clock": clock, "clock_type": self.rng.choice(["business", "24x7"]), "started_at": _iso(cause.occurred_at),
                "counts_from": _iso(cause.occurred_at), "due_at": _iso(due), "policy_version": 1,
                "calendar_version": self.rng.choice([1, 2]),
                "open_intervals": [[_iso(cause.occurred_at), _iso(due)]]}
        if clock == "auto_close":
            data["warning_at"] = _iso(due - timedelta(hours=1))
        if moved_from is None:
            self._fact("DeadlineSet", data, cause)
        else:
            self._fact("DeadlineMoved", {**data, "previous_due_at": _iso(moved_from),
                                         "reason": self.rng.choice(["calendar_changed", "policy_changed"])}, cause)
        self.due[clock] = due

    def _mail(self, cause: Envelope) -> None:
        if self.rng.random() < 0.5:
            data = {"cause_event_id": str(cause.event_id), "recipient": f"{self.org}@example.com",
                    "template": "agent_answered", "message_id": f"<{uuid.uuid4()}@mesa.example>",
                    "ticket_id": self.ticket_id}
            type_ = "NotificationSent"
        else:
            data = {"cause_event_id": str(cause.event_id), "recipient": "no-such-address", "template": "received",
                    "error": "550 unknown user", "permanent": True, "ticket_id": self.ticket_id}
            type_ = "NotificationFailed"
        self.mails.append(new_event(type_, f"mail-{uuid.uuid4()}", 1, data, actor=NOTIFIER,
                                    occurred_at=cause.occurred_at + timedelta(seconds=5)))

    def play(self) -> "Life":
        rng = self.rng
        opened = self._ticket("TicketOpened", {
            "ticket_id": self.ticket_id, "number": self.number, "desk": "SOPORTE", "organisation_id": self.org,
            "opened_by": self.customer.id, "module": rng.choice(["BANCOS", "NOMINA", "CXC"]),
            "case": f"caso {self.i}", "subject": f"Conciliación {self.i} no cuadra",
            "description": f"El lote {self.i} no cuadra.", "urgency": rng.choice(["normal", "platform_down"]),
            "out_of_hours_requested": rng.random() < 0.3,
            "contact": {"name": "Cliente", "email": f"{self.org}@example.com", "phone": "+58 212 555 0101"}},
            self.customer)
        self._set("first_response", opened)
        self._mail(opened)
        for _ in range(rng.randrange(0, 12)):
            step = rng.choice(["assign", "answer", "note", "reply", "away", "confirm", "overdue", "move", "bill"])
            if step == "bill":
                agent = Actor(rng.choice(AGENTS), "agent")
                self._ticket("BillableMarked", {"billable": rng.random() < 0.5, "note": "fuera de horario",
                                                "marked_by": agent.id}, agent)
            elif step == "assign":
                agent = rng.choice(AGENTS)
                self._ticket("TicketAssigned", {"agent_id": agent, "assigned_by": "u-rosa"}, Actor("u-rosa", "supervisor"))
            elif step in ("answer", "note"):
                agent = Actor(rng.choice(AGENTS), "agent")
                msg = self._ticket("MessagePosted", {
                    "message_id": str(uuid.uuid4()), "author_id": agent.id, "author_role": "agent",
                    "body": "Revisamos el lote.", "internal": step == "note",
                    "out_of_hours_requested": rng.random() < 0.1}, agent)
                if step == "answer":
                    for clock in [c for c in ("first_response", "next_response") if c in self.due]:
                        due = self.due.pop(clock)
                        self._fact("DeadlineMet", {
                            "clock": clock, "started_at": _iso(opened.occurred_at), "due_at": _iso(due),
                            "met_at": _iso(msg.occurred_at), "met_in_time": msg.occurred_at <= due,
                            "business_seconds": rng.randrange(0, 40_000), "outside_hours_seconds": rng.randrange(0, 900),
                            "answered_outside_hours": rng.random() < 0.3, "answered_by": agent.id,
                            "policy_version": 1, "calendar_version": 1}, msg)
                    self._fact("ClockPaused", {"at": _iso(msg.occurred_at), "reason": "waiting_customer"}, msg)
                    self._set("auto_close", msg)
                    self._mail(msg)
            elif step == "reply":
                msg = self._ticket("MessagePosted", {
                    "message_id": str(uuid.uuid4()), "author_id": self.customer.id, "author_role": "customer",
                    "body": "Sigue igual.", "internal": False, "out_of_hours_requested": rng.random() < 0.2},
                    self.customer)
                if "auto_close" in self.due:
                    due = self.due.pop("auto_close")
                    self._fact("DeadlineCleared", {"clock": "auto_close", "due_at": _iso(due),
                                                   "at": _iso(msg.occurred_at), "reason": "customer_replied"}, msg)
                if "next_response" not in self.due:
                    self._set("next_response", msg)
            elif step == "away":
                back = self.at + timedelta(days=rng.choice([1, 3]))
                self._ticket("CustomerAway", {"back_at": _iso(back) if rng.random() < 0.7 else None,
                                              "note": "de viaje"}, self.customer)
            elif step == "confirm":
                self._ticket("ResolutionConfirmed", {"solved": rng.random() < 0.3, "body": "gracias"}, self.customer)
            elif step == "overdue":
                for clock in [c for c in ("first_response", "next_response") if c in self.due]:
                    self._fact("ResponseOverdue", {"clock": clock, "due_at": _iso(self.due[clock]),
                                                   "policy_version": 1})
            elif step == "move" and self.due:
                clock = rng.choice(sorted(self.due))
                self._set(clock, self.ticket[-1], moved_from=self.due[clock])
        ending = rng.choice(["open", "closed", "auto"])
        if ending == "auto" and "auto_close" in self.due:
            warn = self._fact("AutoCloseWarning", {"closes_at": _iso(self.due["auto_close"]),
                                                   "based_on_version": self.version})
            decided = self._fact("AutoClosed", {"based_on_version": self.version,
                                                "due_at": _iso(self.due.pop("auto_close"))}, warn)
            closed = self._ticket("TicketClosed", {"reason": "auto_closed", "based_on_version": self.version},
                                  SYSTEM)
            self._mail(decided)
        elif ending != "open":
            closed = self._ticket("TicketClosed", {"reason": rng.choice(["closed_by_agent", "solved_by_customer"]),
                                                   "note": "listo", "based_on_version": self.version},
                                  Actor(rng.choice(AGENTS), "agent"))
        else:
            return self
        for clock, due in sorted(self.due.items()):
            self._fact("DeadlineCleared", {"clock": clock, "due_at": _iso(due), "at": _iso(closed.occurred_at),
                                           "reason": "closed"}, closed)
        self.due.clear()
        return self


def accounts(rng: random.Random) -> list[Envelope]:
    """The organisations and people the views name, with a change of rights and a revocation."""
    out = [new_event("OrganisationRegistered", f"organisation-{o}", 1,
                     {"organisation_id": o, "name": o.title(), "tax_id": None, "desks": ["SOPORTE"]},
                     actor=SYSTEM, occurred_at=START) for o in ORGS]
    out += [new_event("UserRegistered", f"user-{a}", 1,
                      {"user_id": a, "email": f"{a[2:]}@mesa.example", "name": a[2:].title(), "role": "agent",
                       "organisation_id": None, "desks": ["SOPORTE"], "language": "es", "phone": None},
                      actor=SYSTEM, occurred_at=START) for a in AGENTS]
    out.append(new_event("UserUpdated", f"user-{AGENTS[1]}", 2,
                         {"user_id": AGENTS[1], "role": "supervisor", "organisation_id": None,
                          "desks": ["SOPORTE", "IMPLANTACIONES"], "disabled": False, "changed_by": "u-rosa"},
                         actor=SYSTEM, occurred_at=START + timedelta(hours=rng.randrange(1, 9))))
    out.append(new_event("BearerTokensRevoked", f"user-{AGENTS[0]}", 2,
                         {"user_id": AGENTS[0], "valid_after": _iso(START + timedelta(hours=2)), "reason": "logout"},
                         actor=SYSTEM, occurred_at=START + timedelta(hours=2)))
    return out


def event_log(seed: int, tickets: int = 20) -> list[Envelope]:
    """A log as the consumer may read it: each stream in its order, the streams and topics interleaved at
    random, and some events published twice (a relay's republish), right after or much later."""
    rng = random.Random(seed)
    queues = [accounts(rng)]
    for i in range(tickets):
        life = Life(rng, i).play()
        queues += [life.ticket, life.sla, life.mails]
    queues = [q for q in queues if q]
    out: list[Envelope] = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop(0))
        if not q:
            queues.remove(q)
    for _ in range(len(out) // 10):
        k = rng.randrange(len(out))
        out.insert(rng.randrange(k + 1, len(out) + 1), out[k])
    return out


def records(events: list[Envelope]) -> list[Record]:
    """The events as polled records, each at its own offset."""
    return [Record(TOPIC_OF_EVENT[e.type], 0, n, e) for n, e in enumerate(events)]


def apply_in(url: str, batches: list[list[Record]]) -> None:
    """Apply each batch in its own transaction, as the consumer loop does."""
    with pg.connect(url) as conn:
        for batch in batches:
            with conn.transaction():
                store.apply_batch(conn, batch)


def slices(rng: random.Random, items: list) -> list[list]:
    """`items` cut at random into batches of 1 to 60."""
    out, k = [], 0
    while k < len(items):
        n = rng.randrange(1, 61)
        out.append(items[k:k + n])
        k += n
    return out


def tables(url: str, leave_out: frozenset[str] = frozenset()) -> dict[str, list]:
    """Every table of the read model, its rows as JSON text, sorted."""
    with pg.connect(url) as conn:
        names = [r["table_name"] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = current_schema() "
            "and table_type = 'BASE TABLE' and table_name not in ('schema_digests', 'schema_migrations') order by 1").fetchall()]
        return {name: sorted(r["row"] for r in conn.execute(f'select to_jsonb(t)::text as row from "{name}" t'))
                for name in names if name not in leave_out}


@pytest.fixture
def two_query_dbs(fresh_database):
    """Two empty query databases, migrated (as `mesa migrate query`)."""
    from query.app import migrate
    urls = [fresh_database("query"), fresh_database("query")]
    for url in urls:
        migrate(url)
    return urls


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_log_applied_in_random_batches_leaves_exactly_the_read_models_of_applying_it_one_event_at_a_time(
        two_query_dbs, seed):
    one_by_one, batched = two_query_dbs
    log = records(event_log(seed))
    assert {r.event.type for r in log} >= {"TicketOpened", "TicketAssigned", "MessagePosted", "TicketClosed",
                                           "BillableMarked", "DeadlineSet", "DeadlineMet", "ClockPaused",
                                           "NotificationSent"}
    apply_in(one_by_one, [[r] for r in log])
    apply_in(batched, slices(random.Random(seed), log))
    expected = tables(one_by_one)
    assert expected["tickets"] and expected["timeline"] and expected["deadlines"]
    assert tables(batched) == expected


def test_one_batch_holding_a_whole_ticket_life_equals_its_events_applied_one_by_one(two_query_dbs):
    one_by_one, batched = two_query_dbs
    log = records(event_log(seed=7, tickets=30))
    apply_in(one_by_one, [[r] for r in log])
    apply_in(batched, [log])
    assert tables(batched) == tables(one_by_one)


def test_a_batch_applies_its_sla_facts_to_the_deadlines_in_a_few_statements_whatever_their_number(two_query_dbs):
    """Issue 11: each fact cost four statements (its deadline_facts row, its ticket's status, its
    upsert, its ticket's queue place). A batch's facts now share three and keep their own upsert:
    the same read models as one by one (the tests above), for far fewer statements."""
    from unittest import mock
    from psycopg import Cursor
    one_by_one, batched = two_query_dbs
    log = records(event_log(seed=11, tickets=12))
    facts = [r for r in log if r.event.type in store.TICKET_FACTS]
    assert len(facts) > 24
    sent = []
    execute = Cursor.execute

    def counting(self, query, *args, **kwargs):
        sent.append(" ".join(str(query).split()))
        return execute(self, query, *args, **kwargs)

    apply_in(one_by_one, [[r] for r in log])
    with mock.patch.object(Cursor, "execute", counting):
        apply_in(batched, [log])
    assert tables(batched) == tables(one_by_one)
    assert len([q for q in sent if "into deadline_facts" in q]) == 1
    assert len([q for q in sent if "into queue_order (ticket_id, sort_due" in q]) == 1
    assert len([q for q in sent if q.startswith("select status from tickets") or "status = 'closed'" in q]) == 1
    upserts = [q for q in sent if "into deadlines" in q or q.startswith("update deadlines set running = false, sla")]
    assert len(upserts) <= len(facts)


def test_a_batch_counts_its_movements_and_its_events_in_one_statement_each_whatever_their_number(two_query_dbs):
    """Issue 11: the daily movements, the out-of-hours requests, the desk given to responses known
    before their ticket and the events counted per read model were each an executemany (a statement
    a row, in pipeline mode, whose bookkeeping costs more than it saves). Each is now one statement
    a batch, rows in key order as before (instances of the consumer add to the same rows)."""
    from unittest import mock
    from psycopg import Cursor
    one_by_one, batched = two_query_dbs
    log = records(event_log(seed=5, tickets=16))
    sent, many = [], []
    execute, executemany = Cursor.execute, Cursor.executemany

    def counting(self, query, *args, **kwargs):
        sent.append(" ".join(str(query).split()))
        return execute(self, query, *args, **kwargs)

    def counting_many(self, query, *args, **kwargs):
        many.append(" ".join(str(query).split()))
        return executemany(self, query, *args, **kwargs)

    apply_in(one_by_one, [[r] for r in log])
    with mock.patch.object(Cursor, "execute", counting), mock.patch.object(Cursor, "executemany", counting_many):
        apply_in(batched, [log])
    assert tables(batched) == tables(one_by_one)
    for table in ("report_daily", "report_ooh_requests", "report_responses set desk", "projection_stats"):
        assert not [q for q in many if table in q], table
    runs = len(list(store._runs(log)))
    assert len([q for q in sent if "into report_daily" in q]) <= runs
    assert len([q for q in sent if "projection_stats" in q]) == 1
    with pg.connect(batched) as conn:
        assert conn.execute("select count(*) as n from report_daily").fetchone()["n"] > 1


def test_a_batch_is_applied_without_array_parameters(two_query_dbs):
    """Issue 11: psycopg dumps an array parameter element by element in Python; the statements of
    a batch that took their rows as arrays (to unnest, or `= any(%s)`) cost ~100 µs more each than
    the same rows as a VALUES list or an IN list (measured with 5 rows of 4 columns: 149 against
    40 µs of client CPU). The read models are those of the events applied one by one; the only
    arrays left are values of an array column (a user's desks)."""
    from unittest import mock
    from psycopg.types import array
    one_by_one, batched = two_query_dbs
    log = records(event_log(seed=23, tickets=14))
    dumped = []
    apply_in(one_by_one, [[r] for r in log])
    patches = [mock.patch.object(cls, "dump", (lambda real: lambda self, obj: dumped.append(obj) or real(self, obj))
                                 (cls.dump)) for cls in (array.ListDumper, array.ListBinaryDumper)]
    with patches[0], patches[1]:
        apply_in(batched, [log[:len(log) // 2], log[len(log) // 2:]])
    assert tables(batched) == tables(one_by_one)
    assert all(set(d) <= {"SOPORTE", "IMPLANTACIONES"} for d in dumped), dumped  # the only arrays: users' desks column


def test_migration_0007_backfills_the_search_rows_the_applier_builds(query_db):
    # A database migrated before 0007 gets its ticket_search rows from the tickets and thread it
    # holds: the same vectors the applier grows message by message.
    import importlib
    log = records(event_log(seed=5))
    apply_in(query_db, slices(random.Random(5), log))
    built = tables(query_db)["ticket_search"]
    assert len(built) == len({r.event.stream_id for r in log if r.event.type == "TicketOpened"})
    rows = [json.loads(row) for row in built]
    assert any(r["staff"] != r["public"] for r in rows)                # an internal note folded into staff only
    assert any(":" in r["public"] and "B" in r["public"] for r in rows)  # public answers at weight B
    with pg.connect(query_db) as conn:
        conn.execute("delete from ticket_search")
        importlib.import_module("query.migrations.0007_ticket_search_vectors").upgrade(conn)
    assert tables(query_db)["ticket_search"] == built


def test_the_module_lexeme_a_vector_holds_is_the_one_a_search_asks_for(query_db):
    # Migration 0008: the vectors and the search take 'mod:<code>' from one SQL function; a code
    # with a quote or a backslash still makes a valid tsquery (never a syntax error).
    with pg.connect(query_db) as conn:
        def matches(vector_module: str, query_module: str) -> bool:
            return conn.execute("""select mesa_ticket_search('Asunto', 'Caso', 'Detalle', %s)
                                          @@ mesa_module_query(%s) as m""", (vector_module, query_module)).fetchone()["m"]
        assert matches("BANCOS", "BANCOS") and not matches("BANCOS", "NOMINA")
        assert matches("O'X\\Y", "O'X\\Y") and not matches("O'X\\Y", "O'X")
        # No typed word reaches it: the parser splits at ':' and lower-cases.
        assert not conn.execute("""select mesa_ticket_search('mod:BANCOS', '', '', 'NOMINA')
                                          @@ mesa_module_query('BANCOS') as m""").fetchone()["m"]


def test_a_redelivered_batch_changes_no_read_model_and_counts_its_events_as_skipped(query_db):
    with pg.connect(query_db) as conn:
        conn.execute(revocations.DDL)
    log = records(event_log(seed=11))
    apply_in(query_db, slices(random.Random(11), log))
    before = tables(query_db, leave_out=frozenset({"projection_stats"}))
    with pg.connect(query_db) as conn:
        skipped = conn.execute("select skipped from projection_stats where name = 'tickets'").fetchone()["skipped"]
    ticket_events = sum(1 for r in log if r.topic in ("helpdesk.tickets", "helpdesk.notifications"))
    apply_in(query_db, [log])
    apply_in(query_db, slices(random.Random(12), log))
    assert tables(query_db, leave_out=frozenset({"projection_stats"})) == before
    with pg.connect(query_db) as conn:
        again = conn.execute("select skipped from projection_stats where name = 'tickets'").fetchone()["skipped"]
    assert again - skipped == 2 * ticket_events


def test_a_poison_event_in_a_polled_batch_is_parked_and_the_rest_of_the_batch_applies(
        query_db, topic_prefix, kafka_bootstrap):
    from configs import query_config
    from helpdesk_shared import synthetic_log
    from helpdesk_shared.kafka import make_producer
    from helpdesk_shared.localstack import wait_until
    from helpdesk_shared.topics import TICKETS
    from query.consumer import build

    no_subject = synthetic_log.ticket(90, events=1)[0][2]
    del no_subject["data"]["subject"]
    not_an_urgency = synthetic_log.ticket(91, events=1)[0][2]
    not_an_urgency["data"]["urgency"] = "whenever"
    good = [*synthetic_log.accounts(), *synthetic_log.tickets(3), *synthetic_log.tickets(3, first=3)]
    poison = [(TICKETS, "ticket-90", synthetic_log.encode(no_subject)),
              (TICKETS, "ticket-91", synthetic_log.encode(not_an_urgency)), (TICKETS, "ticket-92", b"{not json")]
    producer = make_producer(kafka_bootstrap)
    for k, (topic, key, doc) in enumerate(good):
        producer.send(topic_prefix + topic, key=key, value=synthetic_log.encode(doc))
        if k == len(good) // 2:
            for topic_, key_, value in poison:
                producer.send(topic_prefix + topic_, key=key_, value=value)
    producer.flush()
    producer.close()

    loop = build(query_config(query_db, kafka_topic_prefix=topic_prefix))
    try:
        def all_read() -> bool:
            loop.poll_once()
            with pg.connect(query_db) as conn:
                return conn.execute("select count(*) as n from tickets where status = 'closed'").fetchone()["n"] == 6
        wait_until(all_read, 60, "the six good tickets closed")
    finally:
        loop.close()
    with pg.connect(query_db) as conn:
        parked = conn.execute("select key, error from consumer_dead_letters order by key").fetchall()
        numbers = [r["number"] for r in conn.execute("select number from tickets order by number").fetchall()]
    assert [bytes(p["key"]).decode() for p in parked] == ["ticket-90", "ticket-91", "ticket-92"]
    assert "subject" in parked[0]["error"] and "urgency" in parked[1]["error"]
    assert numbers == [f"SOP-{i}" for i in range(1, 7)]


def test_a_rebuild_fills_its_tables_before_indexing_them_and_swaps_in_every_index_the_schema_declares(
        query_db, topic_prefix, kafka_bootstrap):
    from helpdesk_shared import rebuild, synthetic_log
    from helpdesk_shared.kafka import make_producer
    from query.rebuild import read_model

    def indexes() -> list[tuple[str, str]]:
        with pg.connect(query_db) as conn:
            return [(r["indexname"], r["indexdef"]) for r in conn.execute(
                "select indexname, indexdef from pg_indexes where schemaname = current_schema() order by 1")]

    with pg.connect(query_db) as conn:
        conn.execute(revocations.DDL)
    declared = indexes()
    assert ("ticket_search_staff" in dict(declared)) and ("timeline_ticket" in dict(declared))
    producer = make_producer(kafka_bootstrap)
    for topic, key, doc in [*synthetic_log.accounts(), *synthetic_log.tickets(5)]:
        producer.send(topic_prefix + topic, key=key, value=synthetic_log.encode(doc))
    producer.flush()
    producer.close()
    model = read_model(topic_prefix)
    deferred = rebuild.create_scratch(query_db, model, "scratch_indexes", rebuild.live_schema(query_db))
    rebuild.drop_schema(query_db, "scratch_indexes")
    assert any("ticket_search_staff" in ddl for ddl in deferred)
    assert not any("_pkey" in ddl or "unique" in ddl.lower() for ddl in deferred)  # the replay needs those

    rebuild.rebuild(query_db, kafka_bootstrap, model)
    assert indexes() == declared
    with pg.connect(query_db) as conn:
        assert conn.execute("select count(*) as n from ticket_search where staff @@ to_tsquery('spanish', 'lote')"
                            ).fetchone()["n"] == 5
