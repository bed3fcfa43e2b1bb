"""Issue 7, item 2: PostgreSQL going away is ridden out — APIs answer 503 with Retry-After, pools
replace dead connections, and the relay and consumers reconnect and resume from stored offsets.

The shared server is never stopped: an outage is its backends being terminated
(pg_terminate_backend), or a pool pointed at a port where nothing listens.
"""
from __future__ import annotations

import threading
from unittest import mock
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from helpdesk_shared import outbox, pg
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.localstack import PG_BASE_URL, wait_until
from helpdesk_shared.outage import Backoff
from helpdesk_shared.topics import TICKETS
from intake import handlers
from query import consumer as query_consumer, store as query_store
from configs import query_config

from test_relay import read_topic, store_tickets

pytestmark = pytest.mark.integration


def kill_connections(database_url: str) -> int:
    """Terminate every server backend connected to the database (as a PostgreSQL restart does)."""
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as admin:
        rows = admin.execute("""select pg_terminate_backend(pid, 10000) from pg_stat_activity
                                where datname = %s and pid <> pg_backend_pid()""", (name,)).fetchall()
    return len(rows)


def login(client):
    return client.post("/api/auth/login", json={"email": "maria@clubcaracas.com.ve", "password": "mesa-demo"})


def test_an_api_whose_database_is_unreachable_answers_503_with_retry_after_in_both_languages(intake_app):
    ctx = intake_app.extensions["intake"]
    ctx.pool.close()
    ctx.pool = pg.make_pool("postgresql://mesa:mesa@127.0.0.1:9/mesa_nowhere", min_size=1, timeout=1.0)
    response = login(intake_app.test_client())
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["code"] == "SERVICE_UNAVAILABLE" and body["field"] is None
    assert body["message"]["es"] and body["message"]["en"] and body["message"]["es"] != body["message"]["en"]


def test_pooled_connections_the_server_dropped_are_replaced_without_one_failed_request(intake_app, intake_db):
    client = intake_app.test_client()
    assert login(client).status_code == 200
    with intake_app.extensions["intake"].pool.connection():
        pass  # the pool holds idle connections now
    assert kill_connections(intake_db) >= 1
    assert [login(client).status_code for _ in range(4)] == [200] * 4


def post_messages(url: str, now, count: int) -> list:
    """Post `count` customer messages on the first ticket; return their event ids."""
    with pg.connect(url) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        number = conn.execute("select number as n from tickets limit 1").fetchone()["n"]
        ids = [handlers.post_message(conn, maria, number, {"body": f"otro mensaje {i}"}, now).event_id
               for i in range(count)]
        conn.commit()
        return ids


def drain(url: str, bootstrap: str, prefix: str, batch: int = 500) -> int:
    """Publish up to `batch` outbox rows (one relay round); return how many went."""
    with pg.connect(url) as conn:
        producer = make_producer(bootstrap)
        try:
            return outbox.relay_once(conn, producer, batch=batch, topic_prefix=prefix)
        finally:
            producer.close()


def test_a_consumer_whose_database_connection_is_killed_reconnects_and_applies_each_event_once(
        intake_db, query_db, kafka_bootstrap, topic_prefix, now):
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass  # the demo accounts
    stored = store_tickets(intake_db, now, tickets=2, messages=3)
    drain(intake_db, kafka_bootstrap, topic_prefix, batch=3)

    loop = query_consumer.build(query_config(query_db, kafka_topic_prefix=topic_prefix))
    loop.backoff = Backoff(first=0.1, most=1.0)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    runner.start()

    def applied() -> int:
        with pg.connect(query_db) as conn:
            return query_store.stats(conn)["applied_events"]

    try:
        wait_until(lambda: applied() == 3, 60, "the first three events applied")
        assert kill_connections(query_db) >= 1  # the consumer's session (and its standby lock) is gone
        while drain(intake_db, kafka_bootstrap, topic_prefix):
            pass
        wait_until(lambda: applied() == len(stored), 60, "the rest applied after the reconnect")
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=30)
    with pg.connect(query_db) as conn:
        assert query_store.stats(conn) == {"applied_events": len(stored), "skipped_events": 0}
        assert conn.execute("select count(*) as n from thread").fetchone()["n"] == len(stored)


def test_the_relay_rides_out_its_database_connections_being_killed(intake_db, kafka_bootstrap, topic_prefix, now):
    first = store_tickets(intake_db, now, tickets=1, messages=2)
    stop = threading.Event()
    relay = threading.Thread(target=outbox.run_relay, daemon=True, kwargs=dict(
        database_url=intake_db, bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, lock_id=99_001, stop=stop,
        backoff=Backoff(first=0.1, most=1.0)))
    relay.start()

    def unpublished() -> int:
        with pg.connect(intake_db) as conn:
            return outbox.EventLog().backlog(conn)["n"]

    try:
        wait_until(lambda: unpublished() == 0, 60, "the first tickets published")
        assert kill_connections(intake_db) >= 1
        second = post_messages(intake_db, now, 3)
        wait_until(lambda: unpublished() == 0, 60, "the later tickets published after the reconnect")
        assert relay.is_alive()
    finally:
        stop.set()
        relay.join(timeout=30)
    expected = set(first) | set(second)
    assert len(expected) == len(first) + 3
    events = [from_json_bytes(m.value) for m in read_topic(kafka_bootstrap, topic_prefix + TICKETS, len(expected))]
    assert {e.event_id for e in events} == expected


def test_a_pool_checks_a_connection_with_a_round_trip_only_when_the_server_spoke_while_it_was_idle(intake_db):
    """Issue 11: the check on every borrow was a round trip, two per intake request. The server
    talks to an idle connection when it ends it (a restart's or pg_terminate_backend's FATAL, then
    end of file), so the pool asks it only then; a healthy idle connection is lent without a word."""
    checked = []
    real_check = ConnectionPool.check_connection
    with mock.patch.object(ConnectionPool, "check_connection",
                           side_effect=lambda conn: checked.append(conn) or real_check(conn)):
        pool = pg.make_pool(intake_db, min_size=1, max_size=1)
        try:
            for _ in range(5):
                with pool.connection() as conn:
                    assert conn.execute("select 1 as one").fetchone()["one"] == 1
            assert checked == []
            with pool.connection() as conn:
                pid = conn.info.backend_pid
            with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as admin:
                assert admin.execute("select pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]
            with pool.connection() as conn:
                assert conn.execute("select 1 as one").fetchone()["one"] == 1
                assert conn.info.backend_pid != pid
            assert len(checked) == 1
        finally:
            pool.close()
