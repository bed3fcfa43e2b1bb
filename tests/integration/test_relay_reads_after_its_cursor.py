"""The relay's statements read the events after its cursor, not the whole event store.

Found with auto_explain during issue 11's cost hunt (bench/cpu_profile.py on a private cluster):
the relay's round joined `relay_cursor` to `events` and filtered `(relay_xid, global_position) >
(c.relay_xid, c.position)` as a *join filter*, so every round walked the index from the first
event ever stored: 1,324 rows read and thrown away for none published, 1.3 ms a round after 40
seconds of load, and growing with the store. Every statement that reads "after the cursor" must
hold the cursor as an index bound, whatever plan PostgreSQL caches for it (psycopg prepares a
statement at its fifth run; PostgreSQL may then keep a generic plan).
"""
from __future__ import annotations

import json

import pytest

from helpdesk_shared import outbox, pg

pytestmark = pytest.mark.integration

STORED = 4000


def _store_published_events(url: str, analyse: bool = True) -> None:
    """STORED events (about 700 bytes each, one stream per ten) with the cursor after the last one, analysed
    unless told not to."""
    with pg.connect(url) as conn:
        conn.execute("""insert into events (event_id, stream_id, stream_version, type, schema_version, occurred_at,
                                            correlation_id, payload)
                        select gen_random_uuid(), 'bench-' || (i / 10), mod(i, 10) + 1, 'MessagePosted', 1, now(),
                               gen_random_uuid(), convert_to(repeat('x', 700), 'UTF8')
                        from generate_series(0, %s - 1) as i""", (STORED,))
        conn.execute("""update relay_cursor set (relay_xid, position) =
                            (select relay_xid, global_position from events order by relay_xid desc,
                             global_position desc limit 1)
                        where relay = 'kafka'""")
        conn.commit()
    if analyse:
        with pg.connect(url, autocommit=True) as conn:
            conn.execute("analyze events")


def _events_buffers(conn, statement: str, params: tuple) -> int:
    """Shared buffers the statement touched (EXPLAIN ANALYZE, BUFFERS)."""
    plan = conn.execute(f"explain (analyze, buffers, format json) {statement}", params).fetchone()
    plan = plan["QUERY PLAN"] if isinstance(plan, dict) else plan[0]
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
def test_every_statement_after_the_relay_cursor_reads_only_what_follows_it(intake_db, plan_cache_mode):
    _store_published_events(intake_db)
    log = outbox.EventLog()
    statements = {"pending": (log.pending_sql, (500,)),
                  "waiting": (log.waiting_sql, ()),
                  "watermark": (log.watermark_sql, ()),
                  "backlog": (log.backlog_sql, ())}
    with pg.connect(intake_db) as conn:
        conn.execute(f"set plan_cache_mode = {plan_cache_mode}")
        whole = _events_buffers(conn, "select count(*) from events where octet_length(payload) > 0", ())
        assert whole > 300, whole  # what reading the whole store costs here, so the bound below means something
        read = {}
        for name, (sql, params) in statements.items():
            arguments = ", ".join(str(int(p)) for p in params)  # EXECUTE takes no bound parameters
            conn.execute(f"prepare after_cursor_{name} as {sql.replace('%s', '$1')}")
            execute = f"execute after_cursor_{name}" + (f"({arguments})" if params else "")
            for _ in range(6):  # past the point where PostgreSQL may settle on a generic plan
                conn.execute(execute).fetchall()
            read[name] = _events_buffers(conn, execute, None)
        assert all(n <= 20 for n in read.values()), (read, whole)
        assert log.pending(conn, 500) == []
        conn.rollback()


def _events_read(conn) -> dict:
    """This transaction's reads of `events` so far: rows by sequential scans, and blocks."""
    return conn.execute("""select pg_stat_get_xact_tuples_returned('events'::regclass) as seq_rows,
                                  pg_stat_get_xact_blocks_fetched('events'::regclass) as blocks""").fetchone()


def test_the_watermark_and_the_backlog_read_only_what_follows_the_cursor_on_a_store_planned_young(intake_db):
    """Found with auto_explain in the rate-40 profile (bench/cpu_profile.py, issue 11): the relay's
    watermark read every event stored (a sequential scan, 1,154 rows thrown away for none waiting, 1 ms
    a round after 30 seconds, and growing with the store). The cursor is known only when the statement
    runs, so PostgreSQL guesses that a third of the store follows it, and for a store young or without
    statistics it chose to read all of it; the relay keeps that plan. Here both statements are first
    run (prepared and planned) on the empty store, as a relay that starts with its database does."""
    log = outbox.EventLog()
    with pg.connect(intake_db) as conn:
        for _ in range(6):  # past psycopg's prepare threshold and PostgreSQL's choice of a generic plan
            log.watermark(conn)
            log.backlog(conn)
            conn.commit()
        _store_published_events(intake_db, analyse=False)
        before = _events_read(conn)
        through = log.watermark(conn)
        waiting = log.backlog(conn)
        after = _events_read(conn)
        scans_back = conn.execute("show enable_seqscan").fetchone()["enable_seqscan"]  # in the caller's transaction
        conn.rollback()
    assert waiting["n"] == 0 and through is not None
    assert after["seq_rows"] == before["seq_rows"], (before, after)
    assert after["blocks"] - before["blocks"] <= 20, (before, after)
    assert scans_back == "on"
