"""PostgreSQL adapters (psycopg 3): connections, pools, schema files, consumer offsets."""
from __future__ import annotations

import functools
import hashlib
import json
import select
from pathlib import Path
from typing import Sequence

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

OFFSETS_DDL = """
create table if not exists consumer_offsets (
    consumer    text   not null,
    topic       text   not null,
    partition   int    not null,
    next_offset bigint not null,
    primary key (consumer, topic, partition)
);
-- Messages a consumer could not read (not an envelope of ours), kept whole and skipped.
create table if not exists consumer_dead_letters (
    consumer   text        not null,
    topic      text        not null,
    partition  int         not null,
    "offset"   bigint      not null,
    key        bytea,
    value      bytea,
    error      text        not null,
    parked_at  timestamptz not null default now(),
    primary key (consumer, topic, partition, "offset")
);
-- Bumped by whoever moves a consumer's stored offsets under it (`mesa rebuild`, `mesa replay`):
-- the running loop reads it at the start of every batch and, when it changed, seeks to the
-- stored offsets instead of going on from its position in memory.
create table if not exists consumer_generations (
    consumer   text   primary key,
    generation bigint not null
);
-- Events applied per consumer and type, counted in each batch's transaction (so a batch rolled
-- back counts nothing): /metrics reads it as mesa_events_applied_total.
create table if not exists consumer_events_applied (
    consumer text   not null,
    type     text   not null,
    applied  bigint not null,
    primary key (consumer, type)
);
"""


def _json_dumps(value) -> bytes | str:
    """JSON for psycopg's Json/Jsonb parameters: orjson (C), or the standard library for what orjson
    refuses (an integer past 64 bits). jsonb keeps the value, not the text, so both store the same."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)


def _json_loads(data: bytes | str):
    """psycopg's reading of json and jsonb: orjson, or the standard library for what orjson refuses."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


# Issue 11: the standard library's encoder was a fifth of what psycopg spent dumping parameters.
set_json_dumps(_json_dumps)
set_json_loads(_json_loads)


def execute(conn: psycopg.Connection, query: str, params: Sequence = ()) -> psycopg.Cursor:
    """`conn.execute(query, params)` for a statement of many parameters, `%s` its only placeholders.

    psycopg parses a query's placeholders with a regex tokenizer in Python and caches the result
    only for statements of at most 50 parameters; a VALUES list of a batch's rows has more, and was
    parsed again each time (7 % of the notifier consumer's CPU, issue 11). Here the `%s` become
    `$1, $2, ...` by splitting the text, and a RawCursor sends it as it is."""
    return psycopg.RawCursor(conn, row_factory=conn.row_factory).execute(_numbered(query), params)


def _numbered(query: str) -> str:
    if len(query) <= 8192:
        return _numbered_cached(query)
    return _numbering(query)


@functools.lru_cache(maxsize=512)
def _numbered_cached(query: str) -> str:
    return _numbering(query)


def _numbering(query: str) -> str:
    parts = query.split("%s")
    if any("%" in part for part in parts):
        raise ValueError("pg.execute takes %s placeholders only (no %(name)s, %b, %t or %%)")
    numbered = [None] * (2 * len(parts) - 1)
    numbered[::2] = parts
    numbered[1::2] = [f"${i}" for i in range(1, len(parts))]
    return "".join(numbered)


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection whose rows are dicts."""
    return psycopg.connect(url, autocommit=autocommit, row_factory=dict_row)


def check_if_the_server_spoke(conn: psycopg.Connection) -> None:
    """The pool's check of a connection it lends: a round trip only when the server sent something
    while the connection sat idle in the pool.

    After PostgreSQL restarts every pooled connection is dead, and without a check each one failed
    a request before the pool noticed. A server ending a connection says so (a FATAL message, then
    end of file) and the socket turns readable; a healthy idle connection has nothing to read. So
    a select() with no timeout (microseconds) stands for the round trip (~70 us of CPU on each
    side) on every borrow, two per intake request (issue 11). Anything readable (a notice, a
    parameter change) gets the full check; a socket that cannot be polled fails it."""
    try:
        spoke = bool(select.select([conn.pgconn.socket], [], [], 0)[0])
    except (OSError, ValueError, psycopg.OperationalError):
        spoke = True
    if spoke:
        ConnectionPool.check_connection(conn)


def make_pool(url: str, min_size: int = 2, max_size: int = 8, timeout: float = 5.0) -> ConnectionPool:
    """A pool for an HTTP app, opened now (it does not wait for the database to answer).

    Each connection is checked when borrowed (check_if_the_server_spoke), so a restart of
    PostgreSQL fails no request once it is back. A request waits at most `timeout` seconds
    for a connection; then PoolTimeout, which the HTTP layer answers with 503.
    """
    return ConnectionPool(url, min_size=min_size, max_size=max_size, open=True, timeout=timeout,
                          check=check_if_the_server_spoke, kwargs={"row_factory": dict_row})


def apply_schema(url: str, *ddl: Path | str) -> None:
    """Apply idempotent DDL (files, or SQL text) in order, once per version of that DDL.

    A process restarted next to running ones must not re-run "create index if not exists":
    it still takes a ShareLock on the table and can deadlock with their writes. So the
    digest of the DDL applied is remembered, and an unchanged schema is not touched again.
    """
    texts = [OFFSETS_DDL] + [item.read_text() if isinstance(item, Path) else item for item in ddl]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    with connect(url) as conn:
        # pg_advisory_xact_lock serialises concurrent first runs, which otherwise can fail
        # on the catalog's unique indexes (PostgreSQL bug #16165 family).
        conn.execute("select pg_advisory_xact_lock(727374)")
        conn.execute("create table if not exists schema_digests (digest text primary key, applied_at timestamptz "
                     "not null default now())")
        if conn.execute("select 1 from schema_digests where digest = %s", (digest,)).fetchone():
            return
        for text in texts:
            conn.execute(text)
        conn.execute("insert into schema_digests (digest) values (%s)", (digest,))


def load_offsets(conn: psycopg.Connection, consumer: str) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition), as stored with the last applied batch."""
    rows = conn.execute("select topic, partition, next_offset from consumer_offsets where consumer = %s",
                        (consumer,)).fetchall()
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


def lock_offsets(conn: psycopg.Connection, consumer: str, partitions: list[tuple[str, int]]
                 ) -> dict[tuple[str, int], int]:
    """The stored next offsets of `partitions`, their rows locked until the transaction ends."""
    if not partitions:
        return {}
    rows = execute(conn, f"""select topic, partition, next_offset from consumer_offsets
                             where consumer = %s and (topic, partition) in ({values_list(partitions, ("text", "int"))})
                             for update""",
                   [consumer, *(v for partition in partitions for v in partition)]).fetchall()
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


def park_messages(conn: psycopg.Connection, consumer: str, parked: list[tuple]) -> None:
    """Keep undecodable messages `(topic, partition, offset, key, value, error)`; call in the batch's transaction."""
    conn.cursor().executemany(
        """insert into consumer_dead_letters (consumer, topic, partition, "offset", key, value, error)
           values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing""",
        [(consumer, *row) for row in parked])


def count_applied(conn: psycopg.Connection, consumer: str, types: list[str]) -> None:
    """Add one per event type of a batch to `consumer_events_applied`; call in the batch's transaction."""
    counts: dict[str, int] = {}
    for t in types:
        counts[t] = counts.get(t, 0) + 1
    # One statement, rows in the types' order (instances of one consumer add to the same rows): executemany
    # ran a statement a type in pipeline mode, whose bookkeeping costs more than it saves. A batch holds a
    # few types.
    rows = [(consumer, t, n) for t, n in sorted(counts.items())]
    if rows:
        execute(conn, f"""insert into consumer_events_applied (consumer, type, applied) values {values_list(rows)}
                         on conflict (consumer, type) do update
                         set applied = consumer_events_applied.applied + excluded.applied""",
                     [v for row in rows for v in row])


def save_offsets(conn: psycopg.Connection, consumer: str, offsets: dict[tuple[str, int], int]) -> None:
    """Store next offsets; call inside the transaction that applied the batch (one statement, in key order)."""
    rows = [(consumer, t, p, o) for (t, p), o in sorted(offsets.items())]
    if rows:
        execute(conn, f"""insert into consumer_offsets (consumer, topic, partition, next_offset) values {values_list(rows)}
                         on conflict (consumer, topic, partition) do update set next_offset = excluded.next_offset""",
                     [v for row in rows for v in row])


def values_list(rows: list[tuple], types: Sequence[str] | None = None) -> str:
    """The placeholders of a VALUES list for `rows` (all of one width): "(%s, %s), (%s, %s)";
    with `types`, the first row's are cast ("(%s::text, %s::timestamptz), (%s, %s)"), which types
    the list's columns where no INSERT target does (a NULL alone would be text).

    One statement of a few rows costs psycopg less than executemany (a statement a row, in pipeline
    mode) or the same rows as arrays to unnest (dumped element by element in Python): issue 11."""
    row = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    if types is None:
        return ", ".join([row] * len(rows))
    first = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    return ", ".join([first] + [row] * (len(rows) - 1))


def lock_keys(conn: psycopg.Connection, namespace: str, keys: Sequence[str]) -> None:
    """Hold a transaction-level advisory lock for each key (at least one) of `namespace`, taken in
    one statement and in one order (the keys' hashes), so two transactions locking overlapping keys
    wait for each other and never deadlock. `namespace` is a literal of the caller, never input."""
    execute(conn, f"""select pg_advisory_xact_lock(hashtext('{namespace}'), k)
                      from (select distinct hashtext(t) as k from (values {values_list([(k,) for k in keys])})
                            as v (t) order by k) as keys""", keys)


def in_list(values: Sequence) -> str:
    """The placeholders of an IN list for `values` (at least one): "%s, %s, %s". An IN list costs
    psycopg less than the same values as an array for `= any(%s)` (issue 11, see values_list)."""
    if not values:
        raise ValueError("an IN list needs at least one value")
    return ", ".join(["%s"] * len(values))


def load_generation(conn: psycopg.Connection, consumer: str, share: bool = False) -> int:
    """The consumer's offsets generation (0 when never moved); `share` holds a FOR SHARE row lock.

    The lock is what makes a move atomic for a running loop: a batch holds it from its first
    statement to its commit, and `bump_generation` waits for that batch and holds back the next.
    """
    row = conn.execute("select generation from consumer_generations where consumer = %s"
                       + (" for share" if share else ""), (consumer,)).fetchone()
    return row["generation"] if row else 0


def ensure_generation(conn: psycopg.Connection, consumer: str) -> None:
    """Create the consumer's generation row (at 0) so that its batches start locking it."""
    conn.execute("insert into consumer_generations (consumer, generation) values (%s, 0) on conflict do nothing",
                 (consumer,))


def bump_generation(conn: psycopg.Connection, consumer: str) -> int:
    """Tell the consumer its stored offsets moved; waits for its batch in flight. Returns the new generation."""
    return conn.execute("""insert into consumer_generations (consumer, generation) values (%s, 1)
                           on conflict (consumer) do update set generation = consumer_generations.generation + 1
                           returning generation""", (consumer,)).fetchone()["generation"]
