"""Rebuilding a consumer's read model from the log, beside the live one, and swapping it in (adapter).

The read model is everything its DDL creates. A rebuild applies that DDL in a scratch
PostgreSQL schema (search_path = scratch, live: new tables land in the scratch schema, shared
objects such as text search configurations are found in the live one), replays the topics
from their first offset into it with the consumer's own `handle_batch` (its offsets stored in
the scratch schema with each batch, as the live loop does), and when it has caught up swaps
the schemas' tables in one short transaction:

1. bump the consumer's generation (pg.bump_generation): the live loop holds that row FOR
   SHARE through each batch, so this waits for its batch in flight and holds back the next;
2. apply what arrived meanwhile;
3. move each live table to a retired schema and each rebuilt one into the live schema
   (ALTER ... SET SCHEMA: indexes, constraints and owned sequences move with their table);
4. merge what must survive from the retired tables (`ReadModel.merges`), store the
   rebuilt offsets as the consumer's, drop the retired and scratch schemas; commit.

The live loop's next batch sees the new generation and seeks to the rebuilt offsets. The
API's readers wait only for step 3 (ACCESS EXCLUSIVE locks, milliseconds); their prepared
statements are re-planned against the moved tables by PostgreSQL's plan cache.

`check` replays into a scratch schema the same way, up to exactly the offsets the live
consumer stored in a REPEATABLE READ snapshot, and compares the two table by table.
"""
from __future__ import annotations

import gc
import logging
import queue
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
from kafka import KafkaConsumer, TopicPartition
from psycopg import sql
from psycopg.conninfo import make_conninfo

from . import pg
from .envelope import UndecodableEvent, from_json_bytes
from .kafka import RECONNECT, HandleBatch, Record, wait_for_topics
from .table_diff import RowDifference, TableSum, differing_tables, row_differences

log = logging.getLogger(__name__)

# Tables of the consumer loop itself, never part of a read model nor compared.
BOOKKEEPING = frozenset({"consumer_offsets", "consumer_dead_letters", "consumer_generations",
                         "consumer_events_applied", "schema_digests"})
# A column filled by the database when the row is written says when it was applied, not what
# the events said: the rebuilt value always differs, so `check` leaves such columns out.
_WRITE_TIME_DEFAULTS = ("now()", "clock_timestamp()", "current_timestamp", "transaction_timestamp()",
                        "statement_timestamp()", "nextval(", "gen_random_uuid()", "random()")
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence", "f": "foreign table"}

# How long one try to lock the live tables waits (see _lock_live_tables).
LOCK_WAIT = "200ms"

Progress = Callable[[int, int], None]  # (events applied in this phase, events this phase must apply)


@dataclass(frozen=True)
class ReadModel:
    """What a consumer's read model is rebuilt from and how it is compared."""

    consumer: str  # its name in consumer_offsets
    topics: list[str]  # as the consumer reads them (KAFKA_TOPIC_PREFIX applied)
    ddl: tuple  # Paths or SQL texts, applied in order: the read model is everything they create
    handle_batch: HandleBatch
    ignored_tables: frozenset[str] = frozenset()  # the model's own bookkeeping (e.g. counters)
    # table -> SQL run after the swap with {live} and {retired} schema identifiers, merging rows
    # the log may no longer hold from the retired table into the rebuilt one.
    merges: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The consumer's name as part of a schema name."""
        return "".join(c if c.isalnum() else "_" for c in self.consumer.lower())


def ddl_texts(ddl) -> list[str]:
    """The SQL of each item (a Path, a text, or a list of those)."""
    items = ddl if isinstance(ddl, (list, tuple)) else (ddl,)
    texts = []
    for item in items:
        if isinstance(item, (list, tuple)):
            texts += ddl_texts(item)
        else:
            texts.append(item.read_text() if isinstance(item, Path) else item)
    return texts


def live_schema(url: str) -> str:
    """The schema the services' connections create and read their tables in."""
    with pg.connect(url) as conn:
        return conn.execute("select current_schema() as s").fetchone()["s"]


def scoped_url(url: str, schema: str, live: str) -> str:
    """A connection string whose sessions find `schema`'s tables first, then the live schema's."""
    return make_conninfo(url, options=f"-c search_path={schema},{live}")


def create_scratch(url: str, model: ReadModel, schema: str, live: str) -> list[str]:
    """A fresh schema holding the model's empty tables and the loop's offsets table, without their
    secondary indexes: returns the statements that build those (`build_indexes`, after the replay).

    Filling a table and then indexing it costs far less than keeping every index up to date row by
    row (a ticket's text-search GIN entry, say); the replay needs only the primary keys and unique
    indexes (ON CONFLICT, lookups by key), which stay.
    https://www.postgresql.org/docs/current/populate.html#POPULATE-RM-INDEXES
    """
    with pg.connect(url) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("set local search_path = {}, {}").format(sql.Identifier(schema), sql.Identifier(live)))
        for text in [pg.OFFSETS_DDL, *ddl_texts(model.ddl)]:
            conn.execute(text)
        deferred = conn.execute("""
            select c.relname, pg_get_indexdef(i.indexrelid) as ddl
            from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = %s and not i.indisunique and not i.indisprimary
              and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
            order by c.relname""", (schema,)).fetchall()
        for row in deferred:
            conn.execute(sql.SQL("drop index {}").format(_ident(schema, row["relname"])))
    return [row["ddl"] for row in deferred]


def build_indexes(conn: psycopg.Connection, statements: list[str]) -> None:
    """Build the secondary indexes `create_scratch` left out, once the tables are filled."""
    with conn.transaction():
        conn.execute("set local maintenance_work_mem = '256MB'")
        for statement in statements:
            conn.execute(statement)


def drop_schema(url: str, schema: str) -> None:
    """Drop a scratch schema and everything in it."""
    with pg.connect(url) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def model_relations(conn: psycopg.Connection, schema: str, kinds: str = "rpvmSf") -> list[tuple[str, str]]:
    """(name, relkind) of the relations in `schema` that make a read model, in name order.

    Sequences owned by a column (serial, identity) are left out: they move with their table.
    """
    rows = conn.execute("""
        select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind = any(%s)
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid
                          and d.deptype in ('a', 'i'))
        order by c.relname""", (schema, list(kinds))).fetchall()
    return [(r["relname"], r["relkind"]) for r in rows if r["relname"] not in BOOKKEEPING]


class Replayer:
    """Reads the model's topics from a stored position and applies them with the consumer's handle_batch."""

    def __init__(self, bootstrap: str, url: str, model: ReadModel, max_records: int = 5000):
        self.model = model
        self.max_records = max_records
        self.conn = pg.connect(url)
        # A scratch schema lost to a server crash is rebuilt from the start anyway: no need to
        # wait for each commit's WAL flush. (The swap's own transaction is made durable below.)
        self.conn.execute("set synchronous_commit = off")
        self.conn.commit()
        wait_for_topics(bootstrap, model.topics)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      auto_offset_reset="earliest", client_id=f"mesa-rebuild-{model.consumer}",
                                      fetch_max_wait_ms=100, **RECONNECT,
                                      # a replay reads whole partitions: fewer, larger fetches
                                      max_partition_fetch_bytes=8 * 1024 * 1024)
        self.partitions = sorted(TopicPartition(t, p) for t in model.topics
                                 for p in (self.consumer.partitions_for_topic(t) or ()))
        self.consumer.assign(self.partitions)
        self.beginning = self.consumer.beginning_offsets(self.partitions)
        self.applied = 0
        self.reload()

    def reload(self) -> None:
        """Take the next offsets from those stored in the scratch schema (after a rollback, or to resume)."""
        with self.conn.transaction():
            stored = pg.load_offsets(self.conn, self.model.consumer)
        self.next = {tp: stored.get((tp.topic, tp.partition), self.beginning[tp]) for tp in self.partitions}

    def end_offsets(self) -> dict[TopicPartition, int]:
        """Each partition's end offset now."""
        return self.consumer.end_offsets(self.partitions)

    def remaining(self, targets: dict[TopicPartition, int]) -> int:
        """Events between the replayed position and `targets`."""
        return sum(max(0, targets.get(tp, 0) - self.next[tp]) for tp in self.partitions)

    def run_until(self, targets: dict[TopicPartition, int], progress: Progress | None = None) -> int:
        """Apply every event below `targets` (and none at or past them); return how many were read.

        Two threads: one polls Kafka and decodes, the other (this one) applies each decoded batch and
        stores its offsets in one transaction. While this one waits for PostgreSQL (psycopg releases
        the GIL), the reader reads and decodes the next batch: the database's work and Python's
        overlap on two cores instead of adding up. At most `_AHEAD` batches wait decoded."""
        total = self.remaining(targets)
        pending = {tp for tp in self.partitions if self.next[tp] < targets.get(tp, 0)}
        for tp in self.partitions:
            self.consumer.seek(tp, self.next[tp])
        self.consumer.pause(*[tp for tp in self.partitions if tp not in pending])
        self.consumer.resume(*pending)
        done = 0
        if progress:
            progress(0, total)
        if not pending:
            return 0
        batches: queue.Queue = queue.Queue(maxsize=self._AHEAD)
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(targets, pending, batches, stop),
                                  name=f"mesa-rebuild-read-{self.model.consumer}", daemon=True)
        with _fewer_collections():
            reader.start()
            try:
                while True:
                    item = batches.get()
                    if item is None:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    done += self._apply(*item)
                    if progress:
                        progress(done, total)
            finally:
                stop.set()
                while reader.is_alive():  # a reader blocked on a full queue sees `stop` once room is made
                    try:
                        batches.get(timeout=0.05)
                    except queue.Empty:
                        pass
                reader.join()
        return done

    def _apply(self, records: list[Record], offsets: dict[tuple[str, int], int], parked: list) -> int:
        """Apply one decoded batch and store its offsets in one transaction; return how far it moved them."""
        # No pipeline mode: handle_batch applies a batch in a few set-based statements
        # (query's appliers, issue 11), some of them COPY, which pipeline mode refuses.
        with self.conn.transaction():
            self.model.handle_batch(self.conn, records)
            if parked:
                pg.park_messages(self.conn, self.model.consumer, parked)
            pg.save_offsets(self.conn, self.model.consumer, offsets)
        moved = 0
        for (topic, partition), offset in offsets.items():
            tp = TopicPartition(topic, partition)
            moved += max(0, offset - self.next[tp])
            self.next[tp] = offset
        self.applied += len(records)
        return moved

    _AHEAD = 2  # decoded batches waiting for the applier (bounded: memory, and a failure loses little)

    def _read(self, targets: dict[TopicPartition, int], pending: set[TopicPartition], batches: queue.Queue,
              stop: threading.Event) -> None:
        """The reader thread of run_until: poll, decode, put (records, offsets, parked); then None,
        or the exception that stopped it. Only this thread uses the consumer until run_until returns."""
        def put(item) -> bool:
            while not stop.is_set():
                try:
                    batches.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            pending = set(pending)
            while pending and not stop.is_set():
                polled = self.consumer.poll(timeout_ms=200, max_records=self.max_records)
                records, offsets, parked = [], {}, []
                for tp, messages in polled.items():
                    target = targets.get(tp, 0)
                    for m in messages:
                        if m.offset >= target:
                            break
                        offsets[(tp.topic, tp.partition)] = m.offset + 1
                        try:
                            records.append(Record(tp.topic, tp.partition, m.offset, from_json_bytes(m.value)))
                        except UndecodableEvent as exc:  # parked as the live loop parks it
                            parked.append((tp.topic, tp.partition, m.offset, m.key, m.value, str(exc)[:2000]))
                reached = [tp for tp in pending if self.consumer.position(tp) >= targets[tp]]
                for tp in reached:  # past the target (or a gap in the offsets): stored as the target
                    offsets[(tp.topic, tp.partition)] = targets[tp]
                if reached:
                    self.consumer.pause(*reached)
                    pending -= set(reached)
                if offsets and not put((records, offsets, parked)):
                    return
            put(None)
        except BaseException as exc:  # noqa: BLE001 -- handed to the applier thread, which raises it
            put(exc)

    def close(self) -> None:
        """Close the Kafka consumer and the database connection."""
        self.consumer.close()
        self.conn.close()


@contextmanager
def _fewer_collections(first_generation: int = 100_000):
    """Python's cyclic garbage collector run ~140 times less often for the duration.

    A replay allocates millions of short-lived objects (decoded events, rows) that reference
    counting frees, none in cycles; at the default threshold (700 allocations) the collector
    walks the young objects thousands of times a second: a fifth of the decoding's CPU (23 → 18 µs
    an event, measured in-process with two decoded batches of 5,000 alive, as the reader keeps
    them). Cycles are still collected, just in larger rounds."""
    saved = gc.get_threshold()
    gc.set_threshold(first_generation, *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _ident(*names: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(n) for n in names)


def _kind_of(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    row = conn.execute("""select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
                          where n.nspname = %s and c.relname = %s""", (schema, name)).fetchone()
    return row["relkind"] if row else None


def _lock_live_tables(conn: psycopg.Connection, tables: list[str], live: str, attempts: int) -> None:
    """ACCESS EXCLUSIVE on every live table to move, all or none, without ever deadlocking a reader.

    An API request reads several tables in one transaction (tickets, then users...). Taking
    the locks one by one while it holds one of them and waits for another is a deadlock, which
    PostgreSQL ends after deadlock_timeout (1 s by default) by failing one side, possibly the
    request. So each try waits at most LOCK_WAIT (well under deadlock_timeout), and gives up,
    releases what it took (its savepoint) and tries again: readers wait at most LOCK_WAIT, and
    never fail. https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS
    """
    if not tables:
        return
    statement = sql.SQL("lock table {} in access exclusive mode").format(
        sql.SQL(", ").join(_ident(live, t) for t in tables))
    for attempt in range(attempts):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_WAIT)))
                conn.execute(statement)
            return
        except psycopg.errors.LockNotAvailable:
            time.sleep(random.uniform(0.01, 0.1) * min(attempt + 1, 10))
    raise psycopg.errors.LockNotAvailable(f"could not lock {tables} in {attempts} tries")


def swap(replayer: Replayer, scratch: str, live: str, lock_timeout: str = "5s", lock_attempts: int = 100) -> int:
    """Catch up and put the rebuilt tables in place of the live ones, in one transaction; return the generation."""
    conn, model = replayer.conn, replayer.model
    retired = f"retired_{model.slug}"
    with conn.transaction():
        conn.execute("set local synchronous_commit = on")
        conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout)))
        conn.execute(sql.SQL("set local search_path = {}").format(sql.Identifier(live)))
        generation = pg.bump_generation(conn, model.consumer)  # the live loop stops between two batches
        conn.execute(sql.SQL("set local search_path = {}, {}").format(sql.Identifier(scratch), sql.Identifier(live)))
        replayer.run_until(replayer.end_offsets())
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(retired)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(retired)))
        _lock_live_tables(conn, [name for name, kind in model_relations(conn, live, kinds="rpvm")
                                 if _kind_of(conn, scratch, name) is not None], live, lock_attempts)
        conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout)))
        for name, kind in model_relations(conn, scratch):
            old_kind = _kind_of(conn, live, name)
            if old_kind is not None:
                conn.execute(sql.SQL("alter {} {} set schema {}").format(
                    sql.SQL(_KINDS[old_kind]), _ident(live, name), sql.Identifier(retired)))
            conn.execute(sql.SQL("alter {} {} set schema {}").format(
                sql.SQL(_KINDS[kind]), _ident(scratch, name), sql.Identifier(live)))
        # Trigger functions the DDL made (e.g. the compliance counts) move with the tables that use them.
        for signature in _functions(conn, scratch):
            if _functions(conn, live, signature):
                conn.execute(sql.SQL("alter function {}.{} set schema {}").format(
                    sql.Identifier(live), sql.SQL(signature), sql.Identifier(retired)))
            conn.execute(sql.SQL("alter function {}.{} set schema {}").format(
                sql.Identifier(scratch), sql.SQL(signature), sql.Identifier(live)))
        for table, merge in model.merges.items():
            if _kind_of(conn, retired, table) is not None:
                conn.execute(sql.SQL(merge).format(live=sql.Identifier(live), retired=sql.Identifier(retired)))
        conn.execute(sql.SQL("delete from {} where consumer = %s").format(_ident(live, "consumer_offsets")),
                     (model.consumer,))
        conn.execute(sql.SQL("""insert into {} (consumer, topic, partition, next_offset)
                                select consumer, topic, partition, next_offset from {} where consumer = %s""").format(
            _ident(live, "consumer_offsets"), _ident(scratch, "consumer_offsets")), (model.consumer,))
        conn.execute(sql.SQL("""insert into {} (consumer, topic, partition, "offset", key, value, error, parked_at)
                                select consumer, topic, partition, "offset", key, value, error, parked_at from {}
                                on conflict do nothing""").format(
            _ident(live, "consumer_dead_letters"), _ident(scratch, "consumer_dead_letters")))
        _refuse_dangling(conn, scratch)
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(retired)))
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(scratch)))
    return generation


def _functions(conn: psycopg.Connection, schema: str, signature: str | None = None) -> list[str]:
    """The functions of a schema as `name(argument types)` (quoted), or whether one with `signature` is there."""
    rows = conn.execute("""select format('%%I(%%s)', p.proname, pg_get_function_identity_arguments(p.oid)) as sig
                           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                           where n.nspname = %s order by 1""", (schema,)).fetchall()
    found = [r["sig"] for r in rows]
    return [sig for sig in found if sig == signature] if signature is not None else found


def _refuse_dangling(conn: psycopg.Connection, scratch: str) -> None:
    """Fail the swap (all rolled back) if a moved table still uses a function or type left in the scratch schema.

    The DDL's functions and types are created in the scratch schema too, and a trigger, default
    or check of a rebuilt table points at them; dropping the scratch schema with CASCADE would
    silently drop those from the live tables. No read model has any today; this says so loudly
    the day one does, instead of corrupting it.
    """
    rows = conn.execute("""
        with deps as (
            select d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid,
                   case d.classid
                       when 'pg_class'::regclass then d.objid
                       when 'pg_trigger'::regclass then (select tgrelid from pg_trigger where oid = d.objid)
                       when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = d.objid)
                       when 'pg_constraint'::regclass then (select conrelid from pg_constraint where oid = d.objid)
                       when 'pg_rewrite'::regclass then (select ev_class from pg_rewrite where oid = d.objid)
                   end as rel
            from pg_depend d where d.deptype = 'n')
        select pg_describe_object(deps.classid, deps.objid, deps.objsubid) as what,
               pg_describe_object(deps.refclassid, deps.refobjid, 0) as uses
        from deps join pg_class c on c.oid = deps.rel
        left join pg_proc p on deps.refclassid = 'pg_proc'::regclass and p.oid = deps.refobjid
        left join pg_type t on deps.refclassid = 'pg_type'::regclass and t.oid = deps.refobjid and t.typrelid = 0
        where coalesce(p.pronamespace, t.typnamespace) = (select oid from pg_namespace where nspname = %s)
          and c.relnamespace <> (select oid from pg_namespace where nspname = %s)""", (scratch, scratch)).fetchall()
    outside = rows
    if outside:
        raise RuntimeError("the rebuilt tables use functions or types of the scratch schema, which the swap "
                           f"would drop: {[(r['what'], r['uses']) for r in outside]}; move them first")


class RebuildBusy(RuntimeError):
    """Another rebuild or check of the same read model is running on this database."""


@contextmanager
def _only_one(url: str, model: ReadModel):
    """Hold the model's rebuild lock for the duration (they share the scratch schema's name)."""
    conn = pg.connect(url, autocommit=True)
    try:
        key = f"rebuild:{model.consumer}"
        if not conn.execute("select pg_try_advisory_lock(hashtext(%s)) as ok", (key,)).fetchone()["ok"]:
            raise RebuildBusy(f"ya hay una reconstrucción o comprobación de {model.consumer} en curso / "
                              f"a rebuild or check of {model.consumer} is already running")
        yield
    finally:
        conn.close()  # releases the session lock


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    events: int
    seconds: float
    generation: int


def rebuild(url: str, bootstrap: str, model: ReadModel, progress: Progress | None = None,
            swap_attempts: int = 5) -> RebuildResult:
    """Replay the model's topics from the start into a scratch schema and swap it in; the API keeps answering."""
    with _only_one(url, model):
        return _rebuild(url, bootstrap, model, progress, swap_attempts)


def _rebuild(url, bootstrap, model, progress, swap_attempts) -> RebuildResult:
    started = time.monotonic()
    live = live_schema(url)
    scratch = f"rebuild_{model.slug}"
    indexes = create_scratch(url, model, scratch, live)
    with pg.connect(url) as conn:  # from now on every batch of the live loop locks this row
        pg.ensure_generation(conn, model.consumer)
    replayer = Replayer(bootstrap, scoped_url(url, scratch, live), model)
    try:
        replayer.run_until(replayer.end_offsets(), progress)
        # Catch up outside the swap's transaction until little is left, so the live loop waits briefly.
        for _ in range(5):
            ends = replayer.end_offsets()
            if replayer.remaining(ends) < replayer.max_records:
                break
            replayer.run_until(ends, progress)
        build_indexes(replayer.conn, indexes)
        for attempt in range(swap_attempts):
            try:
                generation = swap(replayer, scratch, live)
                break
            except psycopg.errors.LockNotAvailable:
                # A long reader held a live table past lock_timeout: everything rolled back; again.
                log.warning("rebuild swap waited too long for a lock; retrying", extra={"attempt": attempt + 1})
                replayer.reload()
        else:
            raise RuntimeError(f"could not take the locks to swap {model.consumer}'s tables in {swap_attempts} tries")
    except BaseException:
        replayer.close()
        drop_schema(url, scratch)
        raise
    replayer.close()
    return RebuildResult(replayer.applied, time.monotonic() - started, generation)


# --------------------------------------------------------------------------- check

def comparable_columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The table's columns in name order, without those the database fills when writing (see above)."""
    rows = conn.execute("""
        select a.attname, a.attidentity, pg_get_expr(d.adbin, d.adrelid) as default_expr
        from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attname""", (f'"{schema}"."{table}"',)).fetchall()
    return [r["attname"] for r in rows
            if not r["attidentity"] and not any(d in (r["default_expr"] or "").lower() for d in _WRITE_TIME_DEFAULTS)]


def key_columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The primary key's columns (empty without one)."""
    rows = conn.execute("""select a.attname from pg_index i
                           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                           where i.indrelid = %s::regclass and i.indisprimary order by a.attname""",
                        (f'"{schema}"."{table}"',)).fetchall()
    return [r["attname"] for r in rows]


def _row_hash(columns: list[str]) -> sql.Composable:
    return sql.SQL("md5(row({})::text)").format(sql.SQL(", ").join(sql.Identifier(c) for c in columns))


def table_sum(conn: psycopg.Connection, schema: str, table: str, columns: list[str]) -> TableSum:
    """Row count and order-independent checksum: the sum of the first 60 bits of each row's md5."""
    row = conn.execute(sql.SQL("select count(*) as n, coalesce(sum(('x' || left({}, 15))::bit(60)::bigint), 0) as s "
                               "from {}").format(_row_hash(columns), _ident(schema, table))).fetchone()
    return TableSum(row["n"], int(row["s"]))


def _hashes(conn, schema, table, columns) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in conn.execute(sql.SQL("select {} as h from {}").format(_row_hash(columns), _ident(schema, table))):
        counts[row["h"]] = counts.get(row["h"], 0) + 1
    return counts


def _rows_with(conn, schema, table, columns, hashes: list[str]) -> list[dict]:
    if not hashes:
        return []
    return conn.execute(sql.SQL("select {} from {} where {} = any(%s)").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), _ident(schema, table), _row_hash(columns)),
        (hashes,)).fetchall()


@dataclass(frozen=True)
class CheckResult:
    """Per table: the live and rebuilt figures; the tables that differ and their first differing rows."""

    live: dict[str, TableSum]
    rebuilt: dict[str, TableSum]
    differing: list[str]
    rows: list[RowDifference]
    events: int

    @property
    def consistent(self) -> bool:
        """Whether every table is the same."""
        return not self.differing


def check(url: str, bootstrap: str, model: ReadModel, progress: Progress | None = None,
          limit: int = 5) -> CheckResult:
    """Rebuild into a scratch schema up to the live consumer's stored offsets and compare; drops the scratch."""
    with _only_one(url, model):
        return _check(url, bootstrap, model, progress, limit)


def _check(url, bootstrap, model, progress, limit) -> CheckResult:
    live = live_schema(url)
    scratch = f"check_{model.slug}"
    create_scratch(url, model, scratch, live)
    replayer = Replayer(bootstrap, scoped_url(url, scratch, live), model)
    snapshot = pg.connect(url)
    try:
        def stored_targets(conn) -> dict[TopicPartition, int]:
            stored = pg.load_offsets(conn, model.consumer)
            return {tp: stored.get((tp.topic, tp.partition), replayer.beginning[tp]) for tp in replayer.partitions}

        with pg.connect(url) as conn:
            replayer.run_until(stored_targets(conn), progress)  # the bulk, while the live loop goes on
        # One snapshot of the live model: its tables exactly as of the offsets stored with them.
        snapshot.execute("set transaction isolation level repeatable read, read only")
        snapshot.execute("set local timezone = 'UTC'")
        replayer.run_until(stored_targets(snapshot))
        replayer.conn.execute("set timezone = 'UTC'")
        replayer.conn.commit()
        live_sums, rebuilt_sums, columns = {}, {}, {}
        for table, _ in model_relations(replayer.conn, scratch, kinds="rpm"):
            if table in model.ignored_tables:
                continue
            if _kind_of(snapshot, live, table) is None:
                rebuilt_sums[table] = table_sum(replayer.conn, scratch, table,
                                                comparable_columns(replayer.conn, scratch, table))
                continue
            live_cols = set(comparable_columns(snapshot, live, table))
            columns[table] = [c for c in comparable_columns(replayer.conn, scratch, table) if c in live_cols]
            live_sums[table] = table_sum(snapshot, live, table, columns[table])
            rebuilt_sums[table] = table_sum(replayer.conn, scratch, table, columns[table])
        differing = differing_tables(live_sums, rebuilt_sums)
        found: list[RowDifference] = []
        for table in differing:
            if table not in columns or len(found) >= limit:
                continue
            cols = columns[table]
            a, b = _hashes(snapshot, live, table, cols), _hashes(replayer.conn, scratch, table, cols)
            only_a = sorted(h for h in a if a[h] > b.get(h, 0))[:200]
            only_b = sorted(h for h in b if b[h] > a.get(h, 0))[:200]
            found += row_differences(table, [c for c in key_columns(replayer.conn, scratch, table) if c in cols],
                                     _rows_with(snapshot, live, table, cols, only_a),
                                     _rows_with(replayer.conn, scratch, table, cols, only_b), limit - len(found))
        replayer.conn.commit()
        return CheckResult(live_sums, rebuilt_sums, differing, found, replayer.applied)
    finally:
        snapshot.close()
        replayer.close()
        drop_schema(url, scratch)
