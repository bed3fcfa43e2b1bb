"""`mesa rebuild query` and `mesa check query` on real Kafka and PostgreSQL, with query's own consumer
loop running beside them (a thread) and its API answering (Flask test client)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from configs import bearer, query_config
from helpdesk_shared import pg, rebuild, revocations, synthetic_log
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.localstack import wait_until

pytestmark = pytest.mark.integration

SUPERVISOR = Claims(user_id="u-supervisor", role="supervisor", organisation_id=None, desks=("SOPORTE",),
                    name="Supervisora", email="supervisor@mesa.example")


def produce(bootstrap: str, prefix: str, messages) -> int:
    """Put synthetic (topic, key, doc) messages on this test's topics; return how many."""
    producer = make_producer(bootstrap)
    n = 0
    for topic, key, doc in messages:
        producer.send(prefix + topic, key=key, value=synthetic_log.encode(doc))
        n += 1
    producer.flush()
    producer.close()
    return n


class LiveConsumer:
    """query's consumer loop (query.consumer.build) running in a thread until stopped."""

    def __init__(self, url: str, prefix: str):
        from query.consumer import build
        self.loop = build(query_config(url, kafka_topic_prefix=prefix))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


def count(url: str, table: str) -> int:
    with pg.connect(url) as conn:
        return conn.execute(f"select count(*) as n from {table}").fetchone()["n"]


def caught_up(url: str, tickets: int) -> bool:
    """Every ticket of the synthetic log closed in the live model (its last event applied)."""
    with pg.connect(url) as conn:
        return conn.execute("select count(*) as n from tickets where status = 'closed'").fetchone()["n"] == tickets


@pytest.fixture
def live(fresh_database, topic_prefix, kafka_bootstrap):
    """A query database fed by a running consumer loop from this test's topics."""
    from query.app import migrate
    url = fresh_database("query")
    migrate(url)  # as `mesa migrate query`: the consumer only checks the version
    consumers = []

    def start() -> LiveConsumer:
        consumers.append(LiveConsumer(url, topic_prefix))
        return consumers[-1]
    yield url, start
    for c in consumers:
        c.close()


def model(prefix: str):
    from query.rebuild import read_model
    return read_model(prefix)


def test_a_rebuild_while_events_arrive_equals_the_live_model_and_the_live_consumer_goes_on_from_it(
        live, topic_prefix, kafka_bootstrap):
    url, start = live
    produce(kafka_bootstrap, topic_prefix, synthetic_log.accounts())
    produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(40))
    consumer = start()
    wait_until(lambda: caught_up(url, 40), 60, "the live consumer applied 40 tickets")
    with pg.connect(url) as conn:  # a revocation whose event the log no longer holds must survive
        revocations.apply(conn, "u-gone", synthetic_log.START + timedelta(days=30))

    more = threading.Thread(target=produce, args=(kafka_bootstrap, topic_prefix, synthetic_log.tickets(40, first=40)))
    seen = []
    more.start()
    result = rebuild.rebuild(url, kafka_bootstrap, model(topic_prefix), progress=lambda d, t: seen.append((d, t)))
    more.join()

    assert result.generation == 1 and result.events > 0
    assert seen and seen[0][0] == 0 and all(d <= t for d, t in seen) and seen[-1][0] == seen[-1][1] > 0
    produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(10, first=80))
    wait_until(lambda: caught_up(url, 90), 60, "the live consumer went on from the rebuilt offsets")
    assert consumer.loop.generation == 1  # it noticed the swap and sought to the rebuilt offsets
    with pg.connect(url) as conn:
        gone = conn.execute("delete from revoked_bearer_tokens where user_id = 'u-gone' returning valid_after"
                            ).fetchone()  # not in the log: `check` would rightly report it
        schemas = conn.execute("select nspname from pg_namespace where nspname like 'rebuild_%%' "
                               "or nspname like 'retired_%%'").fetchall()
    assert gone["valid_after"] == synthetic_log.START + timedelta(days=30)
    assert schemas == []
    checked = rebuild.check(url, kafka_bootstrap, model(topic_prefix))
    assert checked.consistent, (checked.differing, checked.rows)
    assert {"tickets", "thread", "notifications", "users", "organisations", "revoked_bearer_tokens"} <= set(
        checked.live)
    assert checked.live["tickets"].rows == 90 and checked.live["thread"].rows == 90 * 9


def test_check_names_the_table_and_the_row_changed_by_hand_and_exits_non_zero(
        live, topic_prefix, kafka_bootstrap, capsys, monkeypatch):
    from helpdesk_shared import cli
    url, start = live
    produce(kafka_bootstrap, topic_prefix, synthetic_log.accounts())
    produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(6))
    start()
    wait_until(lambda: caught_up(url, 6), 60, "the live consumer applied 6 tickets")
    argv = ["check", "query", "--bootstrap", kafka_bootstrap, "--topic-prefix", topic_prefix,
            "--database-url", f"query={url}"]
    with pytest.raises(SystemExit) as consistent:
        cli.main(argv)
    assert consistent.value.code == 0, capsys.readouterr()
    assert "consistente / consistent" in capsys.readouterr().out

    with pg.connect(url) as conn:
        conn.execute("update tickets set urgency = 'urgent' where number = 'SOP-3'")
        conn.execute("delete from thread where ticket_id = 'ticket-4' and stream_version = 2")
    with pytest.raises(SystemExit) as differs:
        cli.main(argv)
    out = capsys.readouterr().out
    assert differs.value.code == 1
    assert "INCONSISTENTE / INCONSISTENT: thread, tickets" in out
    assert "tickets [ticket_id='ticket-2'] difiere / differs: urgency: vivo/live='urgent' reconstruido/rebuilt='normal'" \
        in out
    assert "thread [stream_version=2, ticket_id='ticket-4'] solo en el reconstruido / only in the rebuilt model" in out


def test_the_api_answers_200_to_every_request_during_a_rebuild_and_its_swap(live, topic_prefix, kafka_bootstrap,
                                                                            clock):
    from query.app import create_app
    url, start = live
    produce(kafka_bootstrap, topic_prefix, synthetic_log.accounts())
    produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(300))
    start()
    wait_until(lambda: caught_up(url, 300), 120, "the live consumer applied 300 tickets")
    app = create_app(query_config(url), migrate_first=True, clock=clock)
    client, headers = app.test_client(), bearer(SUPERVISOR, clock() - timedelta(minutes=1))
    statuses, totals, done = [], [], threading.Event()

    def ask():
        while not done.is_set():
            r = client.get("/api/tickets?per_page=5", headers=headers)
            statuses.append(r.status_code)
            totals.append(r.get_json().get("total"))
            client.get("/api/tickets/SOP-7", headers=headers)
    asker = threading.Thread(target=ask)
    asker.start()
    try:
        wait_until(lambda: len(statuses) > 3, 120, "requests before the rebuild")
        before = len(statuses)
        rebuild.rebuild(url, kafka_bootstrap, model(topic_prefix))
        during = len(statuses) - before
        wait_until(lambda: len(statuses) > before + during + 3, 120, "requests after the swap")
    finally:
        done.set()
        asker.join(30)
        app.extensions["query"].pool.close()
    assert during > 0
    assert set(statuses) == {200}
    assert set(totals) == {300}


def test_replay_moves_a_running_consumers_offsets_back_and_it_re_reads_without_changing_the_model(
        live, topic_prefix, kafka_bootstrap, capsys):
    from helpdesk_shared import cli
    url, start = live
    produce(kafka_bootstrap, topic_prefix, synthetic_log.accounts())
    produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(5))
    start()
    wait_until(lambda: caught_up(url, 5), 60, "the live consumer applied 5 tickets")
    with pg.connect(url) as conn:
        before = conn.execute("select applied, skipped from projection_stats where name = 'tickets'").fetchone()
    common = ["--bootstrap", kafka_bootstrap, "--topic-prefix", topic_prefix, "--database-url", f"query={url}"]
    with pytest.raises(SystemExit) as replayed:
        cli.main(["replay", "query", "--from-beginning", "--topic", "helpdesk.tickets", *common])
    assert replayed.value.code == 0
    assert "Idempotente" in capsys.readouterr().out

    def skipped_again():
        with pg.connect(url) as conn:
            return conn.execute("select skipped from projection_stats where name = 'tickets'").fetchone()["skipped"]
    ticket_events = 5 * 9  # each synthetic ticket: 9 events on helpdesk.tickets, 1 notification
    wait_until(lambda: skipped_again() == before["skipped"] + ticket_events, 60,
               "every ticket event read again and skipped as already applied")
    assert rebuild.check(url, kafka_bootstrap, model(topic_prefix)).consistent

    with pytest.raises(SystemExit) as refused:
        cli.main(["replay", "sla", "--from-beginning", *common])
    assert refused.value.code == 2
    assert "no es idempotente" in capsys.readouterr().err


def test_a_second_rebuild_or_check_of_the_same_read_model_is_refused_while_one_runs(query_db, kafka_bootstrap):
    with pg.connect(query_db, autocommit=True) as running:  # holds the lock a running rebuild holds
        running.execute("select pg_advisory_lock(hashtext('rebuild:query-tickets'))")
        for operation in (rebuild.rebuild, rebuild.check):
            with pytest.raises(rebuild.RebuildBusy, match="en curso / .* already running"):
                operation(query_db, kafka_bootstrap, model("unused."))


def test_a_trigger_function_of_the_read_model_moves_with_its_rebuilt_table_and_still_fires_after_the_swap(
        fresh_database, topic_prefix, kafka_bootstrap):
    # query's compliance counts are kept by a trigger: a swap must carry its function along.
    ddl = """create table if not exists notes (id int primary key, body text, touched boolean not null default false);
             create or replace function touch_note() returns trigger language plpgsql as
                 $$ begin new.touched := true; return new; end $$;
             create or replace trigger notes_touch before update on notes for each row execute function touch_note();"""
    url = fresh_database("query")
    pg.apply_schema(url, ddl)
    with pg.connect(url) as conn:
        conn.execute("insert into notes (id, body) values (1, 'vivo')")
    with_trigger = rebuild.ReadModel(consumer="notes", topics=[topic_prefix + "helpdesk.accounts"], ddl=(ddl,),
                                     handle_batch=lambda conn, records: None)
    rebuild.rebuild(url, kafka_bootstrap, with_trigger)
    with pg.connect(url) as conn:
        assert conn.execute("select count(*) as n from notes").fetchone()["n"] == 0  # rebuilt from an empty log
        conn.execute("insert into notes (id, body) values (2, 'nuevo')")
        conn.execute("update notes set body = 'cambiado'")
        assert conn.execute("select touched from notes").fetchone()["touched"] is True
        assert conn.execute("""select count(*) as n from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                               where p.proname = 'touch_note'""").fetchone()["n"] == 1


def test_a_consumer_loop_drops_a_polled_batch_and_reads_from_the_stored_offsets_when_they_moved_under_it(
        fresh_database, topic_prefix, kafka_bootstrap):
    import time

    from query.consumer import CONSUMER_NAME, build
    from helpdesk_shared.topics import ACCOUNTS
    url = fresh_database("query")
    from query.app import migrate
    migrate(url)  # as `mesa migrate query`: the consumer only checks the version
    accounts = produce(kafka_bootstrap, topic_prefix, synthetic_log.accounts())
    # One instance reading every partition (CONSUMER_MODE=single): in a group, kafka-python's
    # own rebalance after joining (its metadata snapshot settling) may come after the move and
    # rightly follow it by seeking, so no batch would be there to drop. Both modes share this path.
    loop = build(query_config(url, kafka_topic_prefix=topic_prefix, consumer_mode="single"))
    try:
        def stored() -> dict:
            with pg.connect(url) as conn:
                return pg.load_offsets(conn, CONSUMER_NAME)
        wait_until(lambda: loop.poll_once() >= 0 and stored().get((topic_prefix + ACCOUNTS, 0)) == accounts, 60,
                   "the accounts applied")
        produce(kafka_bootstrap, topic_prefix, synthetic_log.tickets(3))
        with pg.connect(url) as conn:  # what `mesa replay` does: the accounts again from offset 3
            pg.bump_generation(conn, CONSUMER_NAME)
            pg.save_offsets(conn, CONSUMER_NAME, {(topic_prefix + ACCOUNTS, 0): 3})
        loop._last_generation_check = time.monotonic() + 3600  # only a polled batch may notice here
        wait_until(lambda: loop.poll_once() == 0 and loop.generation == 1, 60, "a batch dropped for the move")
        assert count(url, "tickets") == 0 and stored()[(topic_prefix + ACCOUNTS, 0)] == 3
        with pg.connect(url) as conn:
            before = conn.execute("select applied + skipped as n from projection_stats where name = 'accounts'"
                                  ).fetchone()["n"]
        wait_until(lambda: loop.poll_once() >= 0 and caught_up(url, 3), 60, "the tickets applied after the move")
        with pg.connect(url) as conn:
            after = conn.execute("select applied + skipped as n from projection_stats where name = 'accounts'"
                                 ).fetchone()["n"]
        assert after - before == accounts - 3  # read again from offset 3, once
    finally:
        loop.close()


def test_a_rebuild_recounts_the_compliance_counts_from_the_responses_and_check_compares_them(
        live, topic_prefix, kafka_bootstrap):
    # The reports' story and 60 generated tickets on the topics: the rebuild reads helpdesk.sla and
    # helpdesk.tickets side by side (a fact may come before its ticket), and the count tables the
    # trigger keeps must come out as the live ones, and as a recount of the responses.
    from helpdesk_shared.envelope import to_json_bytes
    from helpdesk_shared.topics import TOPIC_OF_EVENT
    from test_query_reports import (DIMENSION_COUNTS, _generated_story, _minutes_and_recount, accounts,
                                    moved_deadline_story, story)
    events = accounts() + story() + moved_deadline_story() + _generated_story(5, 60)
    producer = make_producer(kafka_bootstrap)
    for e in events:
        producer.send(topic_prefix + TOPIC_OF_EVENT[e.type], key=e.stream_id, value=to_json_bytes(e))
    producer.flush()
    producer.close()
    url, start = live
    start()
    counted = ("report_compliance_hours", "report_compliance_minutes", "report_compliance_dimension_hours",
               "report_compliance_dimension_minutes")

    def applied() -> int:
        with pg.connect(url) as conn:
            return sum(r["offset"] for r in conn.execute(
                "select next_offset as offset from consumer_offsets where consumer = 'query-tickets'").fetchall())
    wait_until(lambda: applied() == len(events), 120, "the live consumer applied every event")
    with pg.connect(url) as conn:
        live_counts = conn.execute(DIMENSION_COUNTS).fetchall()
    rebuild.rebuild(url, kafka_bootstrap, model(topic_prefix))
    kept, recount = _minutes_and_recount(url)       # asserts the per-module and per-agent counts too
    assert kept == recount and kept
    with pg.connect(url) as conn:
        assert conn.execute(DIMENSION_COUNTS).fetchall() == live_counts
    checked = rebuild.check(url, kafka_bootstrap, model(topic_prefix))
    assert checked.consistent, (checked.differing, checked.rows)
    assert all(checked.live[t].rows > 0 and checked.live[t] == checked.rebuilt[t] for t in counted)


def test_a_rebuild_of_a_log_feeding_every_read_model_equals_the_live_model_table_by_table_and_carries_its_offsets(
        live, topic_prefix, kafka_bootstrap):
    # Every read model of query gets rows: tickets and thread, notifications, accounts and
    # revocations (the synthetic log), deadlines, queue order, timeline and every report table (the
    # reports' stories, SLA facts read beside their tickets), and a desk's module catalog. The
    # rebuild reads, decodes and applies in two threads; its tables must equal the live ones in
    # every table with rows, and the offsets swapped in with them must be where the log ends.
    from helpdesk_shared.envelope import SYSTEM, new_event, to_json_bytes
    from helpdesk_shared.topics import TOPIC_OF_EVENT
    from test_query_reports import _generated_story, accounts, moved_deadline_story, story
    from test_query_satisfaction import rated_story  # the customers' verdicts (issue 12)
    catalog = new_event("ModuleCatalogChanged", "catalog-SOPORTE", 1, {
        "desk": "SOPORTE", "version": 2, "changed_by": "u-supervisor", "modules": [
            {"code": "BANCOS", "name": "Bancos y conciliación", "retired": False},
            {"code": "CXP", "name": "Cuentas por pagar", "retired": True}]},
        actor=SYSTEM, occurred_at=synthetic_log.START)
    # The knowledge base (issue 12): an article, a suggestion opened and the ticket its attempt filed.
    import dataclasses
    from helpdesk_shared.envelope import Actor
    from permission_matrix import article_events, ticket_opened
    article = article_events(synthetic_log.START, publish=True, title_es="Conciliar el banco",
                             body_es="Abra **Bancos** y marque cada movimiento.")
    suggestion = new_event("ArticleSuggestionOpened", "attempt-a1", 1, {
        "article_id": article[0].data["article_id"], "desk": "SOPORTE", "module": "BANCOS", "attempt_id": "a1",
        "opened_by": "u-maria", "organisation_id": "club-caracas"}, actor=Actor("u-maria", "customer"),
        occurred_at=synthetic_log.START)
    filed = ticket_opened("SOP-990001", synthetic_log.START)
    filed = dataclasses.replace(filed, data={**filed.data, "attempt_id": "a1"})
    knowledge = [*article, suggestion, filed]
    events = accounts() + story() + moved_deadline_story() + _generated_story(11, 40) + [catalog] + knowledge
    events += rated_story()  # the customers' verdicts (issue 12)
    producer = make_producer(kafka_bootstrap)
    for e in events:
        producer.send(topic_prefix + TOPIC_OF_EVENT[e.type], key=e.stream_id, value=to_json_bytes(e))
    producer.flush()
    producer.close()
    total = len(events) + produce(kafka_bootstrap, topic_prefix, [
        *synthetic_log.accounts(), *synthetic_log.tickets(30, first=5000)])
    url, start = live
    start()

    def stored(consumer_offsets: str = "consumer_offsets") -> int:
        with pg.connect(url) as conn:
            return conn.execute(f"select coalesce(sum(next_offset), 0) as n from {consumer_offsets} "
                                "where consumer = 'query-tickets'").fetchone()["n"]
    wait_until(lambda: stored() == total, 120, "the live consumer applied every event")

    def sums() -> dict:
        """Each table of the read model (but its own counters): rows and checksum, as `check` computes them."""
        schema = rebuild.live_schema(url)
        with pg.connect(url) as conn:
            return {t: rebuild.table_sum(conn, schema, t, rebuild.comparable_columns(conn, schema, t))
                    for t, _ in rebuild.model_relations(conn, schema, kinds="rp")
                    if t not in model(topic_prefix).ignored_tables and t != "schema_migrations"}
    applied_live = sums()  # by the consumer loop, batch after batch as it polled them
    result = rebuild.rebuild(url, kafka_bootstrap, model(topic_prefix))

    assert result.events == total and stored() == total
    rebuilt = sums()
    assert [t for t in applied_live if applied_live[t] != rebuilt.get(t)] == []
    assert set(rebuilt) == set(applied_live)
    empty = [t for t in applied_live if applied_live[t].rows == 0]
    assert empty == [], f"tables this log leaves empty, so the comparison proves nothing for them: {empty}"
    tables = set(applied_live)
    checked = rebuild.check(url, kafka_bootstrap, model(topic_prefix))
    assert checked.consistent, (checked.differing, checked.rows)
    assert {"tickets", "thread", "timeline", "deadlines", "queue_order", "notifications", "report_responses",
            "report_compliance_hours", "desk_modules", "users", "revoked_bearer_tokens"} <= tables
