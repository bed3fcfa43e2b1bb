"""Intake's repositories in PostgreSQL and the unit of work over one connection (adapter).

Every SQL statement the command handlers need lives here (the event store's in `eventstore`,
which this calls). Advisory transaction locks (`pg_advisory_xact_lock`) serialise what a
unique index cannot, until the transaction ends:
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from helpdesk_shared import lifecycle
from helpdesk_shared.catalog import Desk
from helpdesk_shared.envelope import Envelope
from helpdesk_shared.lifecycle import TicketState

from . import catalog_store, eventstore, throttle, ticket_snapshot
from .domain import Announcement


_LOCK = "pg_advisory_xact_lock(hashtext(%s))"  # a transaction's lock of a name, released at its end
_ORGANISATION = ("id", "name", "tax_id", "desks")  # an organisation's row, as its repository gives it


def _lock(conn: psycopg.Connection, name: str) -> None:
    conn.execute(f"select {_LOCK}", (name,))


class PostgresStreams:
    """The events table, through `intake.eventstore` (which also queues each event for Kafka)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def append(self, events: list[Envelope], expected_version: int) -> None:
        eventstore.append(self.conn, events, expected_version)

    def load(self, stream_id: str) -> list[Envelope]:
        return eventstore.load_stream(self.conn, stream_id)

    def version(self, stream_id: str) -> int:
        return eventstore.stream_version(self.conn, stream_id)


class PostgresTickets:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def by_number(self, number: str) -> dict | None:
        return self.conn.execute("""select ticket_id, number, desk, organisation_id, module, case_summary,
                                           description, status, version
                                    from tickets where number = %s""", (number,)).fetchone()

    def add(self, row: dict) -> None:
        self.conn.execute(_TICKET_INSERT, tuple(row[c] for c in _TICKET_COLUMNS))

    def set_status(self, ticket_id: str, status: str, version: int) -> None:
        self.conn.execute("update tickets set status = %s, version = %s where ticket_id = %s",
                          (status, version, ticket_id))

    def lock(self, ticket_id: str) -> None:
        self.conn.execute("select 1 from tickets where ticket_id = %s for update", (ticket_id,))

    # One statement: what an opening checks first, and the lock rule 6 needs before it reads the open
    # cases (those follow in a statement of their own, whose snapshot is taken once the lock is held).
    # The lock is the organisation's desk, not its module: the module is known only once the subject is
    # parsed against the catalog read here. Openings of one organisation's desk are rarely concurrent.
    _OPENING = f"""select {', '.join('o.' + c for c in _ORGANISATION)}, c.modules, c.version,
                          {_LOCK} is null as lock_taken
                  from (values (1)) as one (x)
                  left join organisations o on o.id = %s
                  left join desk_catalogs c on c.desk = %s"""

    def prepare_opening(self, organisation_id: str, desk: Desk) -> tuple[dict | None, Desk]:
        row = self.conn.execute(self._OPENING, (f"opening/{organisation_id}/{desk.name}", organisation_id,
                                                desk.name)).fetchone()
        organisation = {k: row[k] for k in _ORGANISATION} if row["id"] is not None else None
        return organisation, catalog_store.of_row(desk, row)

    def open_cases(self, organisation_id: str, desk: str, module: str) -> list[dict]:
        return self.conn.execute(
            """select number, case_summary, description from tickets
               where organisation_id = %s and desk = %s and module = %s and status <> 'closed'
               order by number""", (organisation_id, desk, module)).fetchall()

    def next_number(self, desk: Desk) -> str:
        seq = self.conn.execute(f"select nextval('ticket_number_{desk.code.lower()}') as n").fetchone()["n"]
        return f"{desk.code}-{seq}"

    # The index row and the snapshot in one statement. The snapshot counts only at the index row's
    # version (which every append sets with it): a ticket written by code older than the snapshots
    # (a deploy that ran beside migration 0003) or with none is folded from its stream instead, once,
    # and the command's `record` brings its snapshot up to date.
    _STATE = """select t.ticket_id, t.version, s.version as snapshot_version, s.state
                from tickets t left join ticket_snapshots s on s.ticket_id = t.ticket_id"""

    def _state_of_row(self, row: dict | None) -> TicketState | None:
        if row is None:
            return None
        if row["snapshot_version"] == row["version"]:
            return ticket_snapshot.from_document(row["state"])
        return lifecycle.fold(eventstore.load_stream(self.conn, row["ticket_id"]))

    def state(self, number: str) -> TicketState | None:
        return self._state_of_row(self.conn.execute(self._STATE + " where t.number = %s", (number,)).fetchone())

    def state_of(self, ticket_id: str, for_update: bool = False) -> TicketState | None:
        return self._state_of_row(self.conn.execute(
            self._STATE + " where t.ticket_id = %s" + (" for update of t" if for_update else ""),
            (ticket_id,)).fetchone())

    def record(self, events: list[Envelope], expected_version: int, state: TicketState,
               new_ticket: dict | None = None) -> None:
        # One statement for the whole write (eventstore.append_in_one_statement): events, the index
        # row, the snapshot and the relay's wake-up. A snapshot never moves back (a late writer of an
        # older version). A conflict aborts the transaction: the command runs again in a new one.
        if new_ticket is not None:
            index = (_TICKET_INSERT, tuple(new_ticket[c] for c in _TICKET_COLUMNS))
        else:
            index = ("update tickets set status = %s, version = %s where ticket_id = %s",
                     (state.status, state.version, state.ticket_id))
        snapshot = (_SNAPSHOT_UPSERT + " where ticket_snapshots.version < excluded.version",
                    (state.ticket_id, state.version, Jsonb(ticket_snapshot.to_document(state))))
        eventstore.append_in_one_statement(self.conn, events, expected_version, also=(index, snapshot))


_TICKET_COLUMNS = ("ticket_id", "number", "desk", "organisation_id", "module", "case_summary", "description",
                   "status", "version")
_TICKET_INSERT = f"insert into tickets ({', '.join(_TICKET_COLUMNS)}) values ({', '.join(['%s'] * len(_TICKET_COLUMNS))})"
_SNAPSHOT_UPSERT = """insert into ticket_snapshots (ticket_id, version, state) values (%s, %s, %s)
                      on conflict (ticket_id) do update set version = excluded.version, state = excluded.state"""


def rebuild_snapshots(conn: psycopg.Connection, batch: int = 1000) -> int:
    """Fold every ticket's stream into its snapshot row (migration 0003, and any later one whose fold
    changed), in the caller's transaction; returns how many tickets. One ordered pass over the
    tickets' events through a server-side cursor, so memory holds one stream at a time."""
    rows, count, ticket_id, events = [], 0, None, []

    def flush_ticket() -> None:
        state = lifecycle.fold(events)
        if state is not None:
            rows.append((ticket_id, state.version, Jsonb(ticket_snapshot.to_document(state))))

    with conn.cursor(name="rebuild_snapshots") as cursor:
        cursor.execute(f"""select {eventstore.STREAM_COLUMNS} from events e
                           where e.stream_id in (select ticket_id from tickets)
                           order by e.stream_id, e.stream_version""")
        for row in cursor:
            if row["stream_id"] != ticket_id:
                if events:
                    flush_ticket()
                    count += 1
                ticket_id, events = row["stream_id"], []
            events.append(eventstore.event_of_row(row))
            if len(rows) >= batch:
                conn.cursor().executemany(_SNAPSHOT_UPSERT, rows)
                rows.clear()
        if events:
            flush_ticket()
            count += 1
    if rows:
        conn.cursor().executemany(_SNAPSHOT_UPSERT, rows)
    return count


class PostgresUsers:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, user_id: str, for_update: bool = False) -> dict | None:
        return self.conn.execute("select * from users where id = %s" + (" for update" if for_update else ""),
                                 (user_id,)).fetchone()

    def by_email(self, email: str) -> dict | None:
        return self.conn.execute("select * from users where email = %s", (email,)).fetchone()

    def lock_email(self, email: str) -> None:
        _lock(self.conn, f"access-request/{email}")

    def add(self, row: dict) -> None:
        self.conn.execute("""insert into users (id, email, name, role, organisation_id, desks, language, phone,
                                                password_hash)
                             values (%(id)s, %(email)s, %(name)s, %(role)s, %(organisation_id)s, %(desks)s,
                                     %(language)s, %(phone)s, %(password_hash)s)""", row)

    def set_password(self, user_id: str, password_hash: str, now: datetime) -> None:
        self.conn.execute("update users set password_hash = %s, password_set_at = %s where id = %s",
                          (password_hash, now, user_id))

    def revoke_tokens(self, user_id: str, now: datetime) -> None:
        self.conn.execute("select 1 from users where id = %s for update", (user_id,))
        self.conn.execute("update users set tokens_valid_after = greatest(tokens_valid_after, %s) where id = %s",
                          (now, user_id))

    def set_rights(self, user_id: str, disabled: bool, role: str, desks: list[str],
                   organisation_id: str | None) -> None:
        self.conn.execute("update users set disabled = %s, role = %s, desks = %s, organisation_id = %s where id = %s",
                          (disabled, role, desks, organisation_id, user_id))

    def of_organisations_and_staff(self, organisation_ids: list[str], desks: list[str]) -> list[dict]:
        return self.conn.execute("""select * from users
                                    where organisation_id = any(%s) or (role <> 'customer' and desks && %s::text[])
                                    order by lower(name), id""", (list(organisation_ids), list(desks))).fetchall()


class PostgresOrganisations:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, organisation_id: str) -> dict | None:
        return self.conn.execute(f"select {', '.join(_ORGANISATION)} from organisations where id = %s",
                                 (organisation_id,)).fetchone()

    def add(self, row: dict) -> None:
        self.conn.execute("insert into organisations (id, name, tax_id, desks) values (%(id)s, %(name)s, "
                          "%(tax_id)s, %(desks)s)", row)

    def lock_all(self) -> None:
        _lock(self.conn, "organisations")

    def taken(self, organisation_id: str, name: str) -> bool:
        return self.conn.execute("select 1 from organisations where id = %s or lower(name) = lower(%s)",
                                 (organisation_id, name)).fetchone() is not None

    def on_desks(self, desks: list[str]) -> list[dict]:
        return self.conn.execute("""select id, name, tax_id, desks from organisations where desks && %s::text[]
                                    order by lower(name), id""", (list(desks),)).fetchall()


class PostgresSpecialProcesses:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def add(self, organisation_id: str, announcement: Announcement) -> None:
        self.conn.execute("""insert into special_processes (announcement_id, organisation_id, starts_at, ends_at,
                                                            announced_at) values (%s, %s, %s, %s, %s)""",
                          (announcement.announcement_id, organisation_id, announcement.starts_at,
                           announcement.ends_at, announcement.announced_at))

    def of_organisation(self, organisation_id: str) -> list[Announcement]:
        rows = self.conn.execute("""select announcement_id, starts_at, ends_at, announced_at from special_processes
                                    where organisation_id = %s""", (organisation_id,)).fetchall()
        return [Announcement(**r) for r in rows]


class PostgresAccessRequests:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, request_id: str, for_update: bool = False) -> dict | None:
        return self.conn.execute("select * from access_requests where request_id = %s"
                                 + (" for update" if for_update else ""), (request_id,)).fetchone()

    def has_pending(self, email: str, since: datetime) -> bool:
        return self.conn.execute("select 1 from access_requests where email = %s and status = 'pending' "
                                 "and requested_at > %s", (email, since)).fetchone() is not None

    def pending(self, desks: list[str], since: datetime) -> list[dict]:
        return self.conn.execute("""select request_id, name, email, phone, organisation_name, desk, note, requested_at
                                    from access_requests
                                    where status = 'pending' and desk = any(%s) and requested_at > %s
                                    order by requested_at""", (list(desks), since)).fetchall()

    def add(self, row: dict) -> None:
        self.conn.execute("""insert into access_requests (request_id, name, email, phone, organisation_name, desk,
                                                          note, requested_at)
                             values (%(request_id)s, %(name)s, %(email)s, %(phone)s, %(organisation_name)s,
                                     %(desk)s, %(note)s, %(requested_at)s)""", row)

    _DECISION = ("status", "decided_by", "decided_at", "user_id", "reason")

    def decide(self, request_id: str, **columns) -> None:
        names = [c for c in self._DECISION if c in columns]  # fixed names: never the caller's text in SQL
        self.conn.execute(f"update access_requests set {', '.join(f'{c} = %s' for c in names)} where request_id = %s",
                          (*(columns[c] for c in names), request_id))


class PostgresUploads:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def hold_blob(self, sha256: str) -> None:
        _lock(self.conn, f"blob/{sha256}")

    def add(self, row: dict) -> None:
        self.conn.execute("""insert into uploads (upload_id, sha256, uploaded_by, organisation_id, name, size,
                                                  content_type, uploaded_at)
                             values (%(upload_id)s, %(sha256)s, %(uploaded_by)s, %(organisation_id)s, %(name)s,
                                     %(size)s, %(content_type)s, %(uploaded_at)s)""", row)

    def latest(self, user_id: str, *, upload_id: str | None = None, sha256: str | None = None) -> dict | None:
        column, value = ("sha256", sha256) if sha256 is not None else ("upload_id", upload_id)
        return self.conn.execute(f"""select upload_id, sha256, name, size, content_type from uploads
                                     where {column} = %s and uploaded_by = %s
                                     order by uploaded_at desc limit 1""", (value, user_id)).fetchone()

    def mark_attached(self, upload_id: str, now: datetime) -> None:
        self.conn.execute("update uploads set attached_at = coalesce(attached_at, %s) where upload_id = %s",
                          (now, upload_id))


class PostgresCatalogs:
    """The desks' module catalogs, through `intake.catalog_store`."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def current(self, desk: Desk) -> Desk:
        return catalog_store.current(self.conn, desk)

    def every_desk(self) -> list[Desk]:
        return catalog_store.every_desk(self.conn)

    def lock(self, desk_name: str) -> None:
        _lock(self.conn, f"catalog/{desk_name}")

    def save(self, desk: Desk) -> None:
        catalog_store.save(self.conn, desk)


class PostgresRulesPages:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, desk: str, language: str) -> dict | None:
        return self.conn.execute("select * from rules_pages where desk = %s and language = %s",
                                 (desk, language)).fetchone()

    def save(self, row: dict) -> None:
        self.conn.execute("""insert into rules_pages (desk, language, text, html, version, edited_by, edited_at)
                             values (%(desk)s, %(language)s, %(text)s, %(html)s, %(version)s, %(edited_by)s,
                                     %(edited_at)s)
                             on conflict (desk, language) do update set text = excluded.text, html = excluded.html,
                                 version = excluded.version, edited_by = excluded.edited_by,
                                 edited_at = excluded.edited_at""", row)


class PostgresCannedAnswers:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, desk: str, answer_id: str) -> dict | None:
        return self.conn.execute("select * from canned_answers where desk = %s and answer_id = %s",
                                 (desk, answer_id)).fetchone()

    def of_desk(self, desk: str) -> list[dict]:
        return self.conn.execute("select * from canned_answers where desk = %s order by lower(title), answer_id",
                                 (desk,)).fetchall()

    def save(self, row: dict) -> None:
        self.conn.execute("""insert into canned_answers (desk, answer_id, title, body, version, retired, edited_by,
                                                         edited_at)
                             values (%(desk)s, %(answer_id)s, %(title)s, %(body)s, %(version)s, %(retired)s,
                                     %(edited_by)s, %(edited_at)s)
                             on conflict (desk, answer_id) do update set title = excluded.title, body = excluded.body,
                                 version = excluded.version, retired = excluded.retired,
                                 edited_by = excluded.edited_by, edited_at = excluded.edited_at""", row)

    def count_use(self, desk: str, answer_id: str) -> None:
        self.conn.execute("update canned_answers set uses = uses + 1 where desk = %s and answer_id = %s",
                          (desk, answer_id))


class PostgresIdempotencyKeys:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def lock(self, user_id: str, key: str) -> None:
        _lock(self.conn, f"{user_id}/{key}")

    def get(self, user_id: str, key: str) -> dict | None:
        return self.conn.execute("""select status, body, endpoint, body_sha256 from idempotency_keys
                                    where user_id = %s and key = %s""", (user_id, key)).fetchone()

    def add(self, user_id: str, key: str, status: int, body: dict, endpoint: str, body_sha256: str | None) -> None:
        self.conn.execute("""insert into idempotency_keys (user_id, key, status, body, endpoint, body_sha256)
                             values (%s, %s, %s, %s, %s, %s)""",
                          (user_id, key, status, Jsonb(body), endpoint, body_sha256))


class PostgresRateLimits:
    """The rate_limit_hits table, through `intake.throttle`."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def check(self, limit: throttle.Limit, key: str, now: datetime) -> None:
        throttle.check(self.conn, limit, key, now)

    def hit(self, limit: throttle.Limit, key: str, now: datetime) -> None:
        throttle.hit(self.conn, limit, key, now)


class PostgresUnitOfWork:
    """Every repository over one connection: its transaction is the unit of work's."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.streams = PostgresStreams(conn)
        self.tickets = PostgresTickets(conn)
        self.users = PostgresUsers(conn)
        self.organisations = PostgresOrganisations(conn)
        self.special_processes = PostgresSpecialProcesses(conn)
        self.access_requests = PostgresAccessRequests(conn)
        self.uploads = PostgresUploads(conn)
        self.catalogs = PostgresCatalogs(conn)
        self.rules_pages = PostgresRulesPages(conn)
        self.canned_answers = PostgresCannedAnswers(conn)
        self.idempotency_keys = PostgresIdempotencyKeys(conn)
        self.rate_limits = PostgresRateLimits(conn)

    def commit(self) -> None:
        self.conn.commit()


def of(conn_or_uow) -> PostgresUnitOfWork:
    """A unit of work over a psycopg connection; a unit of work is returned as it is.

    Lets callers that hold a connection (the demo loader, admin commands, older tests) call
    the handlers, which take a unit of work."""
    return PostgresUnitOfWork(conn_or_uow) if isinstance(conn_or_uow, psycopg.Connection) else conn_or_uow


@contextmanager
def one_read(conn: psycopg.Connection) -> Iterator[PostgresUnitOfWork]:
    """A unit of work for a single read (a bearer token's revocation check) on a connection the
    caller holds: autocommit, so the statement is its own transaction, one round trip where BEGIN,
    the read and COMMIT took three. The connection is left out of autocommit, as commands expect it."""
    conn.autocommit = True
    try:
        yield PostgresUnitOfWork(conn)
    finally:
        if not conn.closed and not conn.broken:
            conn.autocommit = False


@contextmanager
def on_connection(conn: psycopg.Connection) -> Iterator[PostgresUnitOfWork]:
    """A unit of work on a connection the caller holds (an HTTP request's one connection): commits
    when the block ends and rolls back when it raises; giving the connection back is the caller's."""
    try:
        yield PostgresUnitOfWork(conn)
    except BaseException:
        if not conn.closed and not conn.broken:
            conn.rollback()
        raise
    conn.commit()


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[PostgresUnitOfWork]:
    """A unit of work on a pooled connection that commits when the block ends and rolls back when
    it raises (psycopg_pool's `connection()` does both): `start` for `unit_of_work.run`."""
    with pool.connection() as conn:
        yield PostgresUnitOfWork(conn)
