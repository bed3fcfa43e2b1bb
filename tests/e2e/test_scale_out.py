"""Partitions are the unit of scale (issue 11): two instances of a consumer share its partitions
through a Kafka consumer group, on real Kafka and PostgreSQL, and one of them killed with -9
mid-load loses nothing and doubles nothing."""
from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
import time
from collections import Counter

import psycopg
import pytest
import requests
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from intake import demo
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.localstack import LocalStack, Process, wait_until
from helpdesk_shared.rebuild import check
from helpdesk_shared.topics import SLA
from samples import distinct_cases, ticket_body

# These stacks run their consumers as Kafka consumer groups (the default is single: helpdesk_shared.config).
GROUP = {"CONSUMER_MODE": "group"}

pytestmark = pytest.mark.e2e

# The bound for a dead instance's partitions to move to the others.
TAKEOVER_SECONDS = 30


def second_instance(stack, name: str, service: str, module: str) -> Process:
    """Start another process of a consumer next to the stack's own (stopped with the stack)."""
    process = Process(name, [sys.executable, "-m", module], stack.env_for(service), stack.workdir / f"{name}.log")
    stack.processes[name] = process.start()
    return process


def applied_by(stack, name: str) -> int:
    """Events a process logged as applied (committed batches: one line per event or one per batch)."""
    path = stack.processes[name].log_path
    count = 0
    for line in path.read_text(errors="replace").splitlines() if path.exists() else ():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("msg") == "event applied":
            count += 1
        elif doc.get("msg") == "batch applied":
            count += doc.get("events", 0)
    return count


def group_members(stack, group: str) -> int:
    """How many members hold partitions in the group, as Kafka's own coordinator lists them (what its tools show)."""
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka, client_id="test-scale-out")
    try:
        described = admin.describe_groups([stack.prefix + group])[stack.prefix + group]
    finally:
        admin.close()
    if described.get("group_state") != "Stable":
        return 0  # rebalancing
    return sum(1 for m in described.get("members") or () if (m.get("member_assignment") or {}).get("assigned_partitions"))


def end_offsets(stack, topics) -> dict[tuple[str, int], int]:
    consumer = KafkaConsumer(bootstrap_servers=stack.kafka)
    try:
        parts = [TopicPartition(stack.prefix + t, p) for t in topics
                 for p in consumer.partitions_for_topic(stack.prefix + t) or ()]
        return {(tp.topic, tp.partition): o for tp, o in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def stored(stack, service: str, consumer: str) -> tuple[dict[tuple[str, int], int], int]:
    """The consumer's stored offsets and the events its batches counted as applied (same transactions)."""
    with psycopg.connect(stack.env_for(service)["DATABASE_URL"]) as conn:
        offsets = {(t, p): o for t, p, o in conn.execute(
            "select topic, partition, next_offset from consumer_offsets where consumer = %s", (consumer,))}
        applied = conn.execute("select coalesce(sum(applied), 0) from consumer_events_applied where consumer = %s",
                               (consumer,)).fetchone()[0]
    return offsets, applied


def caught_up(stack, service: str, consumer: str, topics) -> bool:
    ends = {k: v for k, v in end_offsets(stack, topics).items() if v > 0}
    offsets, _ = stored(stack, service, consumer)
    return bool(ends) and all(offsets.get(k) == v for k, v in ends.items())


def open_tickets(stack, count: int, cases, on_each=None) -> list[dict]:
    """Open `count` SOPORTE tickets as María, each with a customer message; `on_each(i)` after each."""
    maria = stack.login("maria@clubcaracas.com.ve")
    opened = []
    for i in range(count):
        module, case = next(cases)
        r = requests.post(f"{stack.urls['intake']}/api/tickets", headers=maria, timeout=10,
                          json=ticket_body(case, module, confirmed_different_case=True))
        assert r.status_code == 201, r.text
        opened.append(r.json())
        r = requests.post(f"{stack.urls['intake']}/api/tickets/{opened[-1]['number']}/messages", headers=maria,
                          json={"body": f"Más datos del caso {i}."}, timeout=10)
        assert r.status_code == 201, r.text
        if on_each:
            on_each(i)
    return opened


@pytest.fixture
def query_pair(tmp_path):
    stack = LocalStack(tmp_path / "stack", load_demo=demo.load, extra_env=GROUP).start()
    try:
        second_instance(stack, "query-consumer-2", "query", "query.consumer")
        yield stack
    finally:
        stack.stop()


def test_two_query_consumers_share_the_partitions_and_one_killed_mid_load_loses_and_doubles_nothing(query_pair):
    stack = query_pair
    from query.consumer import CONSUMER_NAME, TOPICS
    from query.rebuild import read_model
    wait_until(lambda: group_members(stack, CONSUMER_NAME) == 2, 60, "two members in the query group")
    cases = itertools.cycle(distinct_cases())
    open_tickets(stack, 24, cases)
    wait_until(lambda: caught_up(stack, "query", CONSUMER_NAME, TOPICS), 60, "query caught up")
    first, second = applied_by(stack, "query-consumer"), applied_by(stack, "query-consumer-2")
    assert first > 0 and second > 0, (first, second)  # both instances applied events

    # Mid-load: tickets keep coming from another thread while one instance is killed.
    fifth, loaded, errors = threading.Event(), [], []

    def load():
        try:
            loaded.extend(open_tickets(stack, 24, cases, on_each=lambda i: i == 5 and fifth.set()))
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
            fifth.set()

    loader = threading.Thread(target=load)
    loader.start()
    assert fifth.wait(120) and not errors, errors
    stack.processes["query-consumer"].kill(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: group_members(stack, CONSUMER_NAME) == 1, TAKEOVER_SECONDS, "the dead member's partitions moved")
    assert time.monotonic() - killed <= TAKEOVER_SECONDS
    loader.join(180)
    assert not loader.is_alive() and not errors and len(loaded) == 24, errors
    wait_until(lambda: caught_up(stack, "query", CONSUMER_NAME, TOPICS), 60, "query caught up after the kill")
    assert applied_by(stack, "query-consumer-2") > second  # the survivor took the work over

    # Nothing lost, nothing applied twice: every record of every partition counted once, in the
    # transactions that stored the offsets...
    offsets, applied = stored(stack, "query", CONSUMER_NAME)
    ends = end_offsets(stack, TOPICS)
    assert applied == sum(ends.values()) and all(offsets.get(k, 0) == v for k, v in ends.items())
    # ...and the read model is the one a single replay of the log builds.
    result = check(stack.env_for("query")["DATABASE_URL"], stack.kafka, read_model(stack.prefix))
    assert result.consistent, (result.differing, result.rows)
    agent = stack.login("supervisor@mesa.example")
    for ticket in loaded:
        r = requests.get(f"{stack.urls['query']}/api/tickets/{ticket['number']}", headers=agent, timeout=10)
        assert r.status_code == 200, r.text


FIRST = 4  # seconds to a first response
SECONDS_POLICY = {"first_response": {"minutes": FIRST / 60, "clock": "24x7"},
                  "next_response": {"minutes": FIRST / 60, "clock": "24x7"},
                  "auto_close_warning": {"minutes": 3 / 60, "clock": "24x7"},
                  "auto_close": {"minutes": 6 / 60, "clock": "24x7"}}


@pytest.fixture
def sla_pair(tmp_path):
    stack = LocalStack(tmp_path / "stack", load_demo=demo.load, extra_env={**GROUP, "SLA_GRACE_SECONDS": "0.3"}).start()
    try:
        supervisor = stack.login("supervisor@mesa.example")
        r = requests.put(f"{stack.urls['sla']}/api/policies/SOPORTE/normal", headers=supervisor, timeout=10,
                         json={"policy": SECONDS_POLICY})
        assert r.status_code == 201, r.text
        second_instance(stack, "sla-timers-2", "sla", "sla.consumer")
        second_instance(stack, "intake-sla-consumer-2", "intake", "intake.sla_consumer")
        yield stack
    finally:
        stack.stop()


def read_all(stack, topic: str) -> list:
    consumer = KafkaConsumer(stack.prefix + topic, bootstrap_servers=stack.kafka, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        return list({e.event_id: e for e in (from_json_bytes(m.value) for m in consumer)}.values())
    finally:
        consumer.close()


def test_sla_timers_fire_once_with_two_instances_and_one_killed_between(sla_pair):
    stack = sla_pair
    from sla.consumer import CONSUMER_NAME as SLA_TIMERS
    from intake.sla_consumer import CONSUMER_NAME as DECISIONS
    wait_until(lambda: group_members(stack, SLA_TIMERS) == 2 and group_members(stack, DECISIONS) == 2, 60,
               "two members in each group")
    cases = itertools.cycle(distinct_cases())
    # Opened before the policy reached the timers or after: either way each ticket's first
    # response falls due within seconds and nobody answers.
    before = open_tickets(stack, 12, cases)
    wait_until(lambda: all(applied_by(stack, n) > 0 for n in ("sla-timers", "sla-timers-2")), 60,
               "both timer instances applying ticket events")
    stack.processes["sla-timers"].kill(signal.SIGKILL)
    after = open_tickets(stack, 12, cases)
    tickets = {t["ticket_id"] for t in before + after}

    def overdue() -> Counter:
        return Counter(e.data["ticket_id"] for e in read_all(stack, SLA)
                       if e.type == "ResponseOverdue" and e.data["ticket_id"] in tickets)

    wait_until(lambda: set(overdue()) == tickets, TAKEOVER_SECONDS + 60, "every ticket's ResponseOverdue")
    fired = overdue()
    assert all(n == 1 for n in fired.values()), fired
    # Timer events carry a per-ticket version: 1, 2, 3... with no version twice.
    versions = Counter((e.stream_id, e.stream_version) for e in read_all(stack, SLA) if e.data.get("ticket_id") in tickets)
    assert all(n == 1 for n in versions.values())
    with psycopg.connect(stack.env_for("sla")["DATABASE_URL"]) as conn:
        keys = conn.execute("select key, count(*) from fired_timers group by key having count(*) > 1").fetchall()
    assert keys == []
    # The intake side applies the SLA's facts once as well: its stored offsets match its count.
    wait_until(lambda: caught_up(stack, "intake", DECISIONS, (SLA,)), 60, "intake's SLA consumer caught up")
    offsets, applied = stored(stack, "intake", DECISIONS)
    assert applied == sum(end_offsets(stack, (SLA,)).values())
    assert applied_by(stack, "intake-sla-consumer") + applied_by(stack, "intake-sla-consumer-2") >= applied
    assert applied_by(stack, "intake-sla-consumer") > 0 and applied_by(stack, "intake-sla-consumer-2") > 0
