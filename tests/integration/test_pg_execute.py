"""`pg.execute` (issue 11): a statement of many parameters (a VALUES list of a batch's rows) goes to
PostgreSQL without psycopg parsing its `%s` placeholders. psycopg caches that parsing only for
statements of at most 50 parameters; past that its regex tokenizer ran for every statement, up to
7 % of the notifier consumer's CPU. And JSON goes to and from jsonb columns through orjson, the
standard library's `json` taking what orjson refuses (integers past 64 bits)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from unittest import mock

import psycopg
import pytest
from psycopg.types.json import Jsonb

from helpdesk_shared import outbox, pg
from helpdesk_shared.envelope import Actor, new_event

pytestmark = pytest.mark.integration


def _counting_splits():
    real = psycopg._queries._split_query
    calls = []

    def split(*args, **kwargs):
        calls.append(args[0][:60])
        return real(*args, **kwargs)
    return calls, mock.patch.object(psycopg._queries, "_split_query", split)


def test_statements_of_many_rows_skip_psycopgs_placeholder_parsing_and_store_the_same_rows(notifier_db):
    at = datetime(2026, 11, 25, 14, tzinfo=timezone.utc)
    events = [new_event("NotificationSent", f"mail-{i}", 1, {"cause_event_id": str(uuid.uuid4()),
                                                            "recipient": f"socio{i}@club.test", "template": "x",
                                                            "ticket_id": "t-1", "message_id": f"<m{i}@mesa.test>"},
                        actor=Actor("notifier", "system"), occurred_at=at) for i in range(40)]
    offsets = {("helpdesk.tickets", p): 100 + p for p in range(30)}
    calls, patched = _counting_splits()
    with pg.connect(notifier_db) as conn, patched:
        outbox.enqueue(conn, events)                                  # 160 parameters
        pg.save_offsets(conn, "c", offsets)                           # 120
        pg.count_applied(conn, "c", [f"T{i}" for i in range(20)])     # 60
        rows = pg.execute(conn, "select n, %s::text as tag from generate_series(1, %s) as n",
                          ("x", 3)).fetchall()
        conn.commit()
        assert calls == []
        stored = [r["key"] for r in conn.execute("select key from outbox order by id")]
        assert pg.load_offsets(conn, "c") == offsets
    assert stored == [e.stream_id for e in events]
    assert rows == [{"n": 1, "tag": "x"}, {"n": 2, "tag": "x"}, {"n": 3, "tag": "x"}]


def test_pg_execute_takes_only_positional_placeholders(notifier_db):
    with pg.connect(notifier_db) as conn:
        for query, params in (("select %(a)s", {"a": 1}), ("select 100 %% 7, %s", (1,)), ("select %b", (1,))):
            with pytest.raises((ValueError, TypeError)):
                pg.execute(conn, query, params)
        assert pg.execute(conn, "select 1 as one").fetchone() == {"one": 1}


def test_json_goes_to_jsonb_and_back_whatever_it_holds(notifier_db):
    values = [{"nombre": "María José ñandú — «ok»", "n": [1, 2.5, None, True], "deep": {"a": {"b": ["c"]}}},
              {"big": 2 ** 70, "neg": -(2 ** 65)}, ["x", {"y": "\u2028"}], "texto", 12, None]
    with pg.connect(notifier_db) as conn:
        conn.execute("create temporary table j (i int, v jsonb, t json)")
        for i, v in enumerate(values):
            conn.execute("insert into j values (%s, %s, %s)", (i, Jsonb(v), psycopg.types.json.Json(v)))
        back = [(r["v"], r["t"]) for r in conn.execute("select v, t from j order by i")]
    assert back == [(v, v) for v in values]
