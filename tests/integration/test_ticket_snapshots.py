"""Issue 11, no stream reload per command: each ticket keeps a snapshot row (its folded state and
stream version) written in the same transaction as its events, and a ticket command reads that
row, not the stream. Proven on PostgreSQL and, where the contract is the repository's, on the
in-memory unit of work the handlers' unit tests run on."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from psycopg.types.json import Jsonb

from helpdesk_shared import lifecycle, migrations, pg
from helpdesk_shared.envelope import SYSTEM, UndecodableEvent, new_event
from intake import app as intake_app
from intake import domain, eventstore, handlers, postgres_uow, ticket_snapshot, unit_of_work
from intake.memory import InMemoryUnitOfWork
from intake.migrations import DIRECTORY
from intake.unit_of_work import VersionConflict
from samples import ticket_body

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Caracas


@pytest.fixture(params=["memory", "postgres"])
def start(request):
    """`start()` of a unit of work: in memory, or on a fresh, migrated intake database."""
    if request.param == "memory":
        yield InMemoryUnitOfWork().start
        return
    url = request.getfixturevalue("fresh_database")("intake")
    intake_app.migrate(url)
    pool = pg.make_pool(url, min_size=1, max_size=2)
    yield lambda: postgres_uow.transaction(pool)
    pool.close()


class People:
    """A club on SOPORTE with two customers, an agent and a supervisor, registered through the handlers."""

    def __init__(self, start):
        self.start = start

        def register(uow):
            handlers.register_organisation(uow, name="Club Caracas", desks=["SOPORTE"], organisation_id="club",
                                           now=NOW, actor=SYSTEM)
            ids = {}
            for name, role, organisation_id in (("maria", "customer", "club"), ("jose", "customer", "club"),
                                                ("carlos", "agent", None), ("rosa", "supervisor", None)):
                ids[name] = handlers.register_user(uow, email=f"{name}@example.com", name=name.title(), role=role,
                                                   password="contraseña larga", desks=["SOPORTE"], now=NOW,
                                                   actor=SYSTEM, organisation_id=organisation_id)
            return {name: domain.claims_of_row(uow.users.get(i)) for name, i in ids.items()}
        self.claims = self.run(register)

    def __getattr__(self, name: str):
        return self.claims[name]

    def run(self, command):
        return unit_of_work.run(self.start, command)


def _cheap_hasher():
    from argon2 import PasswordHasher
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def people(start, monkeypatch):
    """The people, with intake's password hasher made cheap (these tests are not about passwords)."""
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    return People(start)


def _stored_snapshots(uow) -> dict[str, tuple[int, lifecycle.TicketState]]:
    """Every snapshot as stored (not through `tickets.state`, which folds the stream when it must)."""
    if isinstance(uow, InMemoryUnitOfWork):
        rows = [{"ticket_id": k, **v} for k, v in uow.tickets.snapshots.items()]
    else:
        rows = uow.conn.execute("select ticket_id, version, state from ticket_snapshots").fetchall()
    return {r["ticket_id"]: (r["version"], ticket_snapshot.from_document(r["state"])) for r in rows}


def _ticket_ids(uow, numbers) -> dict[str, str]:
    return {n: uow.tickets.by_number(n)["ticket_id"] for n in numbers}


def _a_mix_of_commands(p: People) -> list[str]:
    """Every command that appends to a ticket: open (with an attachment), messages both ways and an
    internal note, assign, away, billable, "not solved" then "solved", a close by the agent, an
    auto-close refused (stale) and one accepted."""
    upload = p.run(lambda uow: handlers.record_upload(uow, p.maria, sha256="ab" * 32, name="captura.png",
                                                      size=2048, content_type="image/png", now=NOW))["upload_id"]
    cases = ["Factura mal cargada en el banco Mercantil", "Nómina quincenal calcula mal el bono nocturno",
             "Reporte de cuentas por cobrar sale vacío", "Inventario del bar no descuenta las ventas"]
    modules = ["BANCOS", "NOMINA", "CXC", "INVENTARIO"]
    numbers = []
    for i, (case, module) in enumerate(zip(cases, modules)):
        extra = {"attachments": [upload]} if i == 0 else {}
        numbers.append(p.run(lambda uow: handlers.open_ticket(uow, p.maria, ticket_body(case, module, **extra),
                                                              NOW).data["number"]))
    a, b, c, d = numbers
    later = NOW + timedelta(minutes=5)
    p.run(lambda uow: handlers.assign_ticket(uow, p.carlos, a, None, later))
    p.run(lambda uow: handlers.post_message(uow, p.carlos, a, {"body": "Nota interna", "internal": True}, later))
    p.run(lambda uow: handlers.post_message(uow, p.carlos, a, {"body": "¿Puede enviar el comprobante?"}, later))
    p.run(lambda uow: handlers.mark_customer_away(uow, p.maria, a, {"note": "De viaje"}, later))
    p.run(lambda uow: handlers.post_message(uow, p.jose, a, {"body": "Aquí está", "attachments": []}, later))
    p.run(lambda uow: handlers.post_message(uow, p.carlos, a, {"body": "Corregido"}, later))
    p.run(lambda uow: handlers.confirm_resolution(uow, p.maria, a, False, "Sigue igual", later))
    p.run(lambda uow: handlers.post_message(uow, p.carlos, a, {"body": "Ahora sí"}, later))
    p.run(lambda uow: handlers.confirm_resolution(uow, p.maria, a, True, "", later))
    p.run(lambda uow: handlers.mark_billable(uow, p.rosa, a, True, "Fuera del contrato", later))
    p.run(lambda uow: handlers.assign_ticket(uow, p.rosa, b, p.carlos.user_id, later))
    p.run(lambda uow: handlers.close_by_agent(uow, p.carlos, b, "needs_training", "Curso ofrecido", later))
    p.run(lambda uow: handlers.post_message(uow, p.carlos, c, {"body": "¿Sigue ocurriendo?"}, later))
    ticket_c = p.run(lambda uow: _ticket_ids(uow, [c]))[c]

    def decision(version: int):
        return new_event("AutoClosed", f"sla-{ticket_c}", 1, {"ticket_id": ticket_c, "number": c,
                                                             "based_on_version": version,
                                                             "due_at": NOW.isoformat()},
                         actor=SYSTEM, occurred_at=NOW + timedelta(days=2))
    assert p.run(lambda uow: handlers.accept_auto_close(uow, decision(1))) is None
    assert p.run(lambda uow: handlers.accept_auto_close(uow, decision(2))) is not None
    assert d  # d stays as opened: a snapshot of a single event
    return numbers


def test_every_ticket_snapshot_is_the_fold_of_its_stream_after_a_mix_of_commands(start, people):
    numbers = _a_mix_of_commands(people)
    with start() as uow:
        ids = _ticket_ids(uow, numbers)
        stored = _stored_snapshots(uow)
        assert sorted(stored) == sorted(ids.values())
        for number, ticket_id in ids.items():
            folded = lifecycle.fold(uow.streams.load(ticket_id))
            version, state = stored[ticket_id]
            assert (version, state) == (folded.version, folded), number
            assert uow.tickets.by_number(number)["version"] == version  # so `state` reads the snapshot
            assert uow.tickets.state(number) == folded
        a, b, c, d = (stored[ids[n]][1] for n in numbers)
        # The mix went where it says (else the comparison above would compare little).
        assert (a.status, a.close_reason, a.billable, a.attachment_bytes, a.version) == \
            ("closed", "solved_by_customer", True, 2048, 12)
        assert (b.status, b.close_reason, b.assigned_to) == ("closed", "needs_training", people.carlos.user_id)
        assert (c.status, c.close_reason, d.status, d.version) == ("closed", "auto_closed", "open", 1)


def test_a_snapshot_behind_its_ticket_row_is_not_used_and_the_next_command_brings_it_up_to_date(start, people):
    number = people.run(lambda uow: handlers.open_ticket(uow, people.maria, ticket_body(), NOW).data["number"])
    people.run(lambda uow: handlers.assign_ticket(uow, people.carlos, number, None, NOW))
    with start() as uow:
        # As a writer older than the snapshots would leave it: an event appended, the row's version moved.
        ticket_id = uow.tickets.by_number(number)["ticket_id"]
        away = new_event("CustomerAway", ticket_id, 3, {"back_at": None, "note": None},
                         actor=handlers._actor(people.maria), occurred_at=NOW)
        uow.streams.append([away], expected_version=2)
        uow.tickets.set_status(ticket_id, "open", 3)
    with start() as uow:
        assert _stored_snapshots(uow)[ticket_id][0] == 2
        assert uow.tickets.state(number).customer_away  # folded from the stream, not the stale snapshot
    people.run(lambda uow: handlers.post_message(uow, people.carlos, number, {"body": "Hola"}, NOW))
    with start() as uow:
        version, state = _stored_snapshots(uow)[ticket_id]
        assert (version, state) == (4, lifecycle.fold(uow.streams.load(ticket_id)))
        assert state.customer_away and state.status == "waiting_customer"


# ---------------------------------------------------------------- PostgreSQL only

@pytest.fixture
def pool(fresh_database):
    url = fresh_database("intake")
    intake_app.migrate(url)
    pool = pg.make_pool(url, min_size=2, max_size=3)
    yield pool
    pool.close()


def test_a_ticket_command_reads_its_snapshot_row_and_never_its_events(pool, monkeypatch):
    """The ticket's stored events are made unreadable (their bytes replaced by garbage; row-level
    security cannot hide them, the test role is a superuser): a command that loaded the stream
    would fail to decode it; one that reads the snapshot goes on. The bytes are put back after."""
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    people = People(lambda: postgres_uow.transaction(pool))
    number = people.run(lambda uow: handlers.open_ticket(uow, people.maria, ticket_body(), NOW).data["number"])
    people.run(lambda uow: handlers.post_message(uow, people.carlos, number, {"body": "¿Cuál factura?"}, NOW))
    with pool.connection() as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        kept = conn.execute("select event_id, payload from events where stream_id = %s", (ticket_id,)).fetchall()
        conn.execute("update events set payload = 'not an envelope'::bytea where stream_id = %s", (ticket_id,))
    with pool.connection() as conn, pytest.raises(UndecodableEvent):
        eventstore.load_stream(conn, ticket_id)  # the spoiling works: a reload would fail

    later = NOW + timedelta(minutes=1)
    people.run(lambda uow: handlers.post_message(uow, people.maria, number, {"body": "La 1234"}, later))
    people.run(lambda uow: handlers.assign_ticket(uow, people.carlos, number, None, later))
    people.run(lambda uow: handlers.mark_billable(uow, people.rosa, number, False, None, later))
    closed = people.run(lambda uow: handlers.close_by_agent(uow, people.carlos, number, "closed_by_agent", "", later))
    assert closed.stream_version == 6

    with pool.connection() as conn:
        conn.cursor().executemany("update events set payload = %s where event_id = %s",
                                  [(r["payload"], r["event_id"]) for r in kept])
        events = eventstore.load_stream(conn, ticket_id)
        stored = conn.execute("select version, state from ticket_snapshots where ticket_id = %s",
                              (ticket_id,)).fetchone()
    assert [e.stream_version for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.type for e in events][2:] == ["MessagePosted", "TicketAssigned", "BillableMarked", "TicketClosed"]
    assert (stored["version"], ticket_snapshot.from_document(stored["state"])) == (6, lifecycle.fold(events))


def test_a_ticket_command_writes_its_events_index_row_snapshot_and_wake_up_in_one_statement(pool, monkeypatch):
    """Issue 11: `record` sent a savepoint, the events, NOTIFY, the index row, the snapshot and the
    release (six statements, pipelined); each statement costs the client and the server. It is one
    statement now, whatever the number of events, and what it stores is what the six stored: the
    events in order with one relay_xid, the index row, the snapshot of their fold, the wake-up."""
    from unittest import mock
    from psycopg import Cursor, _connection_base
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    people = People(lambda: postgres_uow.transaction(pool))
    sent, recording = [], [False]
    execute, executemany, command = Cursor.execute, Cursor.executemany, _connection_base.BaseConnection._exec_command
    record = postgres_uow.PostgresTickets.record

    def recorded(self, *args, **kwargs):
        recording[0] = True
        try:
            return record(self, *args, **kwargs)
        finally:
            recording[0] = False

    def spy(kind, real):
        def call(self, query, *args, **kwargs):
            if recording[0]:
                sent.append((kind, str(query)[:60]))
            return real(self, query, *args, **kwargs)
        return call

    with pool.connection() as conn:
        conn.execute("listen outbox")
        conn.commit()
        with mock.patch.object(postgres_uow.PostgresTickets, "record", recorded), \
                mock.patch.object(Cursor, "execute", spy("execute", execute)), \
                mock.patch.object(Cursor, "executemany", spy("executemany", executemany)), \
                mock.patch.object(_connection_base.BaseConnection, "_exec_command", spy("command", command)):
            number = people.run(lambda uow: handlers.open_ticket(uow, people.maria, ticket_body(), NOW).data["number"])
            assert [kind for kind, _ in sent] == ["execute"], sent
            people.run(lambda uow: handlers.post_message(uow, people.carlos, number, {"body": "¿Cuál factura?"}, NOW))
            assert [kind for kind, _ in sent] == ["execute"] * 2, sent
            events = people.run(lambda uow: handlers.confirm_resolution(uow, people.maria, number, True, "", NOW))
            assert len(events) == 2 and [kind for kind, _ in sent] == ["execute"] * 3, sent
        woken = list(conn.notifies(timeout=5, stop_after=1))
        assert woken and woken[0].channel == "outbox"
        ticket_id = conn.execute("select ticket_id, status, version from tickets where number = %s",
                                 (number,)).fetchone()
        rows = conn.execute("select stream_version, relay_xid::text as xid from events where stream_id = %s "
                            "order by stream_version", (ticket_id["ticket_id"],)).fetchall()
        stream = eventstore.load_stream(conn, ticket_id["ticket_id"])
        stored = conn.execute("select version, state from ticket_snapshots where ticket_id = %s",
                              (ticket_id["ticket_id"],)).fetchone()
    assert [r["stream_version"] for r in rows] == [1, 2, 3, 4]
    assert rows[2]["xid"] == rows[3]["xid"]  # the two events of one command: one transaction, one relay_xid
    assert [e.type for e in stream][2:] == ["ResolutionConfirmed", "TicketClosed"]
    assert (ticket_id["status"], ticket_id["version"]) == ("closed", 4)
    assert (stored["version"], ticket_snapshot.from_document(stored["state"])) == (4, lifecycle.fold(stream))


def test_a_conflicting_ticket_write_stores_none_of_its_statements(pool, monkeypatch):
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    people = People(lambda: postgres_uow.transaction(pool))
    number = people.run(lambda uow: handlers.open_ticket(uow, people.maria, ticket_body(), NOW).data["number"])
    with postgres_uow.transaction(pool) as uow:
        state = uow.tickets.state(number)
    people.run(lambda uow: handlers.post_message(uow, people.carlos, number, {"body": "Primero"}, NOW))
    stale = new_event("TicketAssigned", state.ticket_id, 2, {"agent_id": "x", "assigned_by": "x"},
                      actor=SYSTEM, occurred_at=NOW)
    with pytest.raises(VersionConflict):
        with postgres_uow.transaction(pool) as uow:
            uow.tickets.record([stale], 1, lifecycle.apply(state, stale))
    with pool.connection() as conn:
        row = conn.execute("select t.version, s.version as snapshot from tickets t join ticket_snapshots s "
                           "using (ticket_id) where t.number = %s", (number,)).fetchone()
        types = [r["type"] for r in conn.execute("select type from events where stream_id = %s order by "
                                                 "stream_version", (state.ticket_id,)).fetchall()]
    assert (row["version"], row["snapshot"], types) == (2, 2, ["TicketOpened", "MessagePosted"])


def test_two_concurrent_commands_on_one_ticket_cannot_both_append_the_same_version(pool, monkeypatch):
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    people = People(lambda: postgres_uow.transaction(pool))
    number = people.run(lambda uow: handlers.open_ticket(uow, people.maria, ticket_body(), NOW).data["number"])
    both_read = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def command(name: str, user, body: str) -> None:
        # Each on its own connection and transaction; both read the snapshot (version 1) before
        # either writes, so both build version 2.
        try:
            with postgres_uow.transaction(pool) as uow:
                read = uow.tickets.state

                def state_then_wait(n):
                    state = read(n)
                    both_read.wait()
                    return state
                uow.tickets.state = state_then_wait
                outcomes[name] = handlers.post_message(uow, user, number, {"body": body}, NOW).stream_version
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test asserts
            outcomes[name] = exc

    threads = [threading.Thread(target=command, args=("agent", people.carlos, "Revisamos")),
               threading.Thread(target=command, args=("customer", people.maria, "Sigue igual"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    won = [v for v in outcomes.values() if v == 2]
    lost = [v for v in outcomes.values() if isinstance(v, VersionConflict)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    with pool.connection() as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        events = eventstore.load_stream(conn, ticket_id)
        stored = conn.execute("select version, state from ticket_snapshots where ticket_id = %s",
                              (ticket_id,)).fetchone()
    assert [e.stream_version for e in events] == [1, 2]
    assert (stored["version"], ticket_snapshot.from_document(stored["state"])) == (2, lifecycle.fold(events))
    # The loser, run again as the API runs it (unit_of_work.run), applies on the winner's state.
    loser = people.carlos if isinstance(outcomes["agent"], VersionConflict) else people.maria
    again = people.run(lambda uow: handlers.post_message(uow, loser, number, {"body": "otra vez"}, NOW))
    assert again.stream_version == 3


def test_migration_0003_folds_every_existing_ticket_stream_into_its_snapshot(fresh_database, monkeypatch):
    monkeypatch.setattr(handlers, "_hasher", _cheap_hasher())
    url = fresh_database("intake")
    intake_app.migrate(url)
    pool = pg.make_pool(url, min_size=1, max_size=2)
    try:
        numbers = _a_mix_of_commands(People(lambda: postgres_uow.transaction(pool)))
    finally:
        pool.close()
    with pg.connect(url) as conn:
        # A ticket stored before events carried their bytes (migration 0002) is read from its columns.
        old = conn.execute("select ticket_id from tickets where number = %s", (numbers[1],)).fetchone()["ticket_id"]
        for event in eventstore.load_stream(conn, old):
            conn.execute("update events set payload = null, actor = %s, data = %s where event_id = %s",
                         (Jsonb({"id": event.actor.id, "role": event.actor.role}), Jsonb(event.data),
                          event.event_id))
        # The database as it was at 0002: no snapshots.
        conn.execute("drop table ticket_snapshots")
        conn.execute("delete from schema_migrations where version = 3")
    assert migrations.migrate(url, DIRECTORY) == [3]
    with pg.connect(url) as conn:
        stored = {r["ticket_id"]: r for r in conn.execute("select * from ticket_snapshots")}
        tickets = conn.execute("select ticket_id, version from tickets").fetchall()
        assert sorted(stored) == sorted(t["ticket_id"] for t in tickets) and len(tickets) == 4
        for ticket in tickets:
            folded = lifecycle.fold(eventstore.load_stream(conn, ticket["ticket_id"]))
            row = stored[ticket["ticket_id"]]
            assert (row["version"], ticket_snapshot.from_document(row["state"])) == \
                (ticket["version"], folded)

