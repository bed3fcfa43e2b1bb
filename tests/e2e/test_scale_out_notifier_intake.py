"""Partitions are the unit of scale (issue 11), for the two consumers test_scale_out.py leaves out:
the notifier's (notifier.consumer) and intake's SLA-decision consumer (intake.sla_consumer), each
run as two instances on real Kafka and PostgreSQL. Both instances apply events, the result is the
one a single instance gives, and one instance killed with -9 mid-load hands its partitions to the
other within the issue's 30 s (measured from the kill to the survivor's first batch committed on a
partition it took over), losing nothing and applying nothing twice."""
from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections import Counter

import psycopg
import pytest
import requests

from intake import demo
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.localstack import LocalStack, free_port, wait_until
from helpdesk_shared.topics import SLA
import smtp_sink
from configs import notifier_config
from samples import distinct_cases, ticket_body
from test_scale_out import (GROUP, SECONDS_POLICY, TAKEOVER_SECONDS, applied_by, caught_up, end_offsets, group_members,
                            open_tickets, read_all, second_instance, stored)

pytestmark = pytest.mark.e2e

PATIENCE = 120  # seconds for an outcome the pipeline owes: generous, the machine may be loaded
MOST_TICKETS = 200  # a loader that never sees the takeover stops here


def log_docs(stack, name: str) -> list[dict]:
    """A process's JSON log lines, in order."""
    path = stack.processes[name].log_path
    docs = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else ():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            docs.append(doc)
    return docs


def applied_partitions(stack, name: str, since: int) -> set[tuple[str, int]]:
    """The partitions a process logged applied events of, from its `since`-th log line on."""
    return {(d["topic"], d["partition"]) for d in log_docs(stack, name)[since:] if d.get("msg") == "event applied"}


def logged(stack, name: str, msg: str, since: int = 0) -> int:
    return sum(1 for d in log_docs(stack, name)[since:] if d.get("msg") == msg)


class Loader:
    """Opens tickets in a thread of its own until stopped (or MOST_TICKETS): the load an instance dies under."""

    def __init__(self, stack, agent_answers: bool):
        self.stack, self.agent_answers = stack, agent_answers
        self.opened: list[dict] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.cases = itertools.cycle(distinct_cases())

    def start(self) -> "Loader":
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            maria = self.stack.login("maria@clubcaracas.com.ve")
            carlos = self.stack.login("carlos@mesa.example")
            intake = self.stack.urls["intake"]
            while not self.stop.is_set() and len(self.opened) < MOST_TICKETS:
                module, case = next(self.cases)
                r = requests.post(f"{intake}/api/tickets", headers=maria, timeout=30,
                                  json=ticket_body(case, module, confirmed_different_case=True))
                assert r.status_code == 201, r.text
                ticket = r.json()
                # The customer adds details (a mail to the desk); or an agent answers, which starts the
                # auto-close clock (SECONDS_POLICY: a warning after 3 s, the AutoClosed decision after 6 s).
                who, body = (carlos, "Le enviamos los pasos para corregir el caso.") if self.agent_answers else (
                    maria, f"Más datos del caso {len(self.opened)}.")
                r = requests.post(f"{intake}/api/tickets/{ticket['number']}/messages", headers=who, timeout=30,
                                  json={"body": body})
                assert r.status_code == 201, r.text
                self.opened.append(ticket)
        except BaseException as exc:  # reported by the test's thread
            self.errors.append(exc)

    def finish(self) -> list[dict]:
        self.stop.set()
        self.thread.join(120)
        assert not self.thread.is_alive() and not self.errors, self.errors
        return self.opened


def kill_and_time_takeover(stack, victim: str, survivor: str, service: str, consumer: str,
                           since: dict[str, int]) -> float:
    """Kill `victim` with -9; return the seconds until `survivor` committed a batch on one of the
    victim's partitions (its stored offset there moved: only the survivor is left to move it).

    The victim's partitions: those it applied events of since the group settled (`since`: log
    lines), less any the survivor applied too (moved between them before the kill).
    """
    theirs = applied_partitions(stack, victim, since[victim]) - applied_partitions(stack, survivor, since[survivor])
    assert theirs, "the victim applied no partition of its own before the kill"
    stack.processes[victim].kill(signal.SIGKILL)
    killed = time.monotonic()
    before, _ = stored(stack, service, consumer)

    def taken_over() -> bool:
        now, _ = stored(stack, service, consumer)
        return any(now.get(tp, 0) > before.get(tp, 0) for tp in theirs)

    wait_until(taken_over, PATIENCE, f"{survivor} applying a partition {victim} held", interval=0.2)
    seconds = time.monotonic() - killed
    print(f"\n{consumer}: {survivor} applied a partition of the killed {victim} {seconds:.1f} s after the kill")
    return seconds


# ---------------------------------------------------------------- the notifier's consumer

@pytest.fixture
def notifier_pair(tmp_path):
    sink = smtp_sink.Sink(free_port()).start()
    stack = LocalStack(tmp_path / "stack", load_demo=demo.load, with_notifier=True,
                       extra_env={**GROUP, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port)})
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        sink.stop()


def mails_planned(database_url: str) -> Counter:
    """(ticket, template, recipient) of every mail the notifier recorded, counted."""
    with psycopg.connect(database_url) as conn:
        return Counter(conn.execute("select ticket_id, template, lower(recipient) from mails").fetchall())


def single_instance_replay(stack, database_url: str) -> None:
    """Replay the notifier's topics into `database_url` with one instance (single mode), in this process,
    until it has read every partition to its end."""
    from notifier import store
    from notifier.consumer import CONSUMER_NAME, TOPICS, build
    env = stack.env_for("notifier")
    store.migrate(database_url)
    config = notifier_config(
        database_url, kafka_bootstrap_servers=stack.kafka, kafka_topic_prefix=stack.prefix, consumer_mode="single",
        reply_domain=env["REPLY_DOMAIN"], staff_address=env["STAFF_ADDRESS"],
        supervisor_address=env["SUPERVISOR_ADDRESS"],
        queue_addresses={d: env[f"QUEUE_ADDRESS_{d}"] for d in ("SOPORTE", "IMPLANTACIONES")},
        oncall_addresses={d: env[f"ONCALL_ADDRESS_{d}"] for d in ("SOPORTE", "IMPLANTACIONES")})
    loop = build(config)
    ends = {k: v for k, v in end_offsets(stack, TOPICS).items() if v > 0}

    def replayed() -> bool:
        loop.poll_once()
        with psycopg.connect(database_url) as conn:
            offsets = {(t, p): o for t, p, o in conn.execute(
                "select topic, partition, next_offset from consumer_offsets where consumer = %s", (CONSUMER_NAME,))}
        return all(offsets.get(k) == v for k, v in ends.items())

    try:
        wait_until(replayed, PATIENCE, "the single-instance replay", interval=0)
    finally:
        loop.close()


def test_two_notifier_consumers_share_the_partitions_plan_every_mail_once_and_one_killed_mid_load_loses_nothing(
        notifier_pair, fresh_database):
    stack = notifier_pair
    from notifier.consumer import CONSUMER_NAME, TOPICS
    second_instance(stack, "notifier-consumer-2", "notifier", "notifier.consumer")
    wait_until(lambda: group_members(stack, CONSUMER_NAME) == 2, PATIENCE, "two members in the notifier group")
    # A backlog both instances catch up on at once: a ticket's TicketOpened and its DeadlineSet (two
    # topics, often held by different instances) are then applied at the same moment, the case where
    # each batch missed the other's row and no received mail was planned. The backlog builds up while
    # the tables those two facts write are locked (every batch holding one waits), for a few seconds.
    with psycopg.connect(stack.env_for("notifier")["DATABASE_URL"]) as blocker:
        blocker.execute("lock table tickets, first_deadlines in share row exclusive mode")
        backlog = open_tickets(stack, 12, itertools.cycle(distinct_cases()))
        wait_until(lambda: {t["ticket_id"] for t in backlog} <= {
            e.data["ticket_id"] for e in read_all(stack, SLA) if e.type == "DeadlineSet"}, PATIENCE,
            "the SLA's deadlines of the backlog")
    since = {n: len(log_docs(stack, n)) for n in ("notifier-consumer", "notifier-consumer-2")}
    loader = Loader(stack, agent_answers=False).start()
    # Mid-load: both instances have applied events since the group settled.
    wait_until(lambda: loader.errors or all(applied_partitions(stack, n, since[n]) for n in since), PATIENCE,
               "both notifier instances applying events")
    assert not loader.errors, loader.errors
    takeover = kill_and_time_takeover(stack, "notifier-consumer", "notifier-consumer-2", "notifier", CONSUMER_NAME,
                                      since)
    tickets = backlog + loader.finish()
    assert takeover <= TAKEOVER_SECONDS, f"the survivor took over {takeover:.1f} s after the kill"
    wait_until(lambda: caught_up(stack, "notifier", CONSUMER_NAME, TOPICS), PATIENCE, "the notifier caught up")

    # Nothing applied twice, nothing lost: every record of every partition counted once, in the
    # transactions that stored the offsets.
    offsets, applied = stored(stack, "notifier", CONSUMER_NAME)
    ends = end_offsets(stack, TOPICS)
    assert applied == sum(ends.values()) and all(offsets.get(k, 0) == v for k, v in ends.items())
    # Every mail each ticket owes, recorded once: the desk hears of it and of the customer's
    # message, the customer gets the received mail (planned by whichever of TicketOpened and
    # DeadlineSet was applied second, maybe by the other instance).
    live = mails_planned(stack.env_for("notifier")["DATABASE_URL"])
    assert all(n == 1 for n in live.values()), [k for k, n in live.items() if n > 1]
    env = stack.env_for("notifier")
    for ticket in tickets:
        owed = {(ticket["ticket_id"], "ticket_opened_queue", env["QUEUE_ADDRESS_SOPORTE"]),
                (ticket["ticket_id"], "ticket_received", "maria@clubcaracas.com.ve"),
                (ticket["ticket_id"], "customer_answered", env["QUEUE_ADDRESS_SOPORTE"])}
        assert {k for k in live if k[0] == ticket["ticket_id"]} == owed
    # The same mails as one instance reading the whole log.
    replay = fresh_database("notifier")
    single_instance_replay(stack, replay)
    assert live == mails_planned(replay)


# ---------------------------------------------------------------- intake's SLA-decision consumer

@pytest.fixture
def decisions_pair(tmp_path):
    stack = LocalStack(tmp_path / "stack", load_demo=demo.load, extra_env={**GROUP, "SLA_GRACE_SECONDS": "0.3"}).start()
    try:
        supervisor = stack.login("supervisor@mesa.example")
        r = requests.put(f"{stack.urls['sla']}/api/policies/SOPORTE/normal", headers=supervisor, timeout=30,
                         json={"policy": SECONDS_POLICY})
        assert r.status_code == 201, r.text
        second_instance(stack, "intake-sla-consumer-2", "intake", "intake.sla_consumer")
        yield stack
    finally:
        stack.stop()


def closes(stack) -> Counter:
    """TicketClosed events in intake's event store, counted per (ticket, reason, causing event)."""
    with psycopg.connect(stack.env_for("intake")["DATABASE_URL"]) as conn:
        rows = conn.execute("select payload from events where type = 'TicketClosed'").fetchall()
    events = [from_json_bytes(bytes(payload)) for payload, in rows]  # the bytes the relay ships to Kafka
    return Counter((e.stream_id, e.data["reason"], str(e.causation_id)) for e in events)


def test_two_intake_sla_consumers_turn_every_auto_close_decision_into_one_close_and_one_killed_mid_load_loses_nothing(
        decisions_pair):
    stack = decisions_pair
    from intake.sla_consumer import CONSUMER_NAME
    names = ("intake-sla-consumer", "intake-sla-consumer-2")
    wait_until(lambda: group_members(stack, CONSUMER_NAME) == 2, PATIENCE, "two members in intake's SLA group")
    since = {n: len(log_docs(stack, n)) for n in names}
    loader = Loader(stack, agent_answers=True).start()
    # Mid-load: each instance has already closed tickets on decisions of its own partitions.
    wait_until(lambda: loader.errors or all(logged(stack, n, "auto-close accepted", since[n]) for n in names),
               PATIENCE, "both instances accepting auto-close decisions")
    assert not loader.errors, loader.errors
    takeover = kill_and_time_takeover(stack, "intake-sla-consumer", "intake-sla-consumer-2", "intake", CONSUMER_NAME,
                                      since)
    tickets = loader.finish()
    assert takeover <= TAKEOVER_SECONDS, f"the survivor took over {takeover:.1f} s after the kill"
    ours = {t["ticket_id"] for t in tickets}
    wait_until(lambda: ours <= {ticket for ticket, _, _ in closes(stack)}, PATIENCE + len(tickets),
               "every ticket auto-closed")
    wait_until(lambda: caught_up(stack, "intake", CONSUMER_NAME, (SLA,)), PATIENCE, "intake's SLA consumer caught up")

    # Every AutoClosed decision became exactly one TicketClosed, caused by it; no ticket closed twice.
    decisions = {str(e.event_id): e.data["ticket_id"] for e in read_all(stack, SLA) if e.type == "AutoClosed"}
    closed = closes(stack)
    assert Counter(ticket for ticket, _, _ in closed) == Counter(decisions.values())
    assert all(n == 1 for n in closed.values()), closed
    assert {(ticket, cause) for ticket, _, cause in closed} == {(t, d) for d, t in decisions.items()}
    assert {reason for _, reason, _ in closed} == {"auto_closed"}
    assert ours <= set(decisions.values())
    # Nothing applied twice, nothing lost at the loop: its count, kept with its offsets, is the log's length.
    offsets, applied = stored(stack, "intake", CONSUMER_NAME)
    ends = end_offsets(stack, (SLA,))
    assert applied == sum(ends.values()) and all(offsets.get(k, 0) == v for k, v in ends.items())
    assert applied_by(stack, "intake-sla-consumer-2") > 0
