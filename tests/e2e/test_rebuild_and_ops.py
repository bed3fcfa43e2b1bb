"""`mesa rebuild query`, `mesa check query`, `mesa topics` and `mesa status` against the running stack
(intake, query, SLA under gunicorn with their relays and consumers), after a mixed load during which
the query consumer was killed with SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from helpdesk_shared.localstack import PG_BASE_URL, wait_until
from samples import distinct_cases, ticket_body

pytestmark = pytest.mark.e2e


def mesa(stack, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `mesa` command as ops would, pointed at this stack by its environment variables."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.kafka, "KAFKA_TOPIC_PREFIX": stack.prefix,
           **{f"{s.upper()}_DATABASE_URL": f"{PG_BASE_URL}/{db}" for s, db in stack.databases.items()},
           **{f"{s.upper()}_URL": url for s, url in stack.urls.items()},
           # no notifier in this stack: reported down, its figures unknown
           "NOTIFIER_URL": "http://127.0.0.1:9", "NOTIFIER_DATABASE_URL": f"{PG_BASE_URL}/absent_{stack.run_id}"}
    return subprocess.run([sys.executable, "-m", "helpdesk_shared.cli", *argv], env=env, capture_output=True,
                          text=True, timeout=timeout)


def mixed_load(stack, cases, kill_at: int | None = None) -> list[str]:
    """Open a ticket per case and take each through answers, an assignment, an absence and a close."""
    intake = stack.urls["intake"]
    maria, agent = stack.login("maria@clubcaracas.com.ve"), stack.login("carlos@mesa.example")
    numbers = []
    for i, (module, case) in enumerate(cases):
        r = requests.post(f"{intake}/api/tickets", headers=maria, json=ticket_body(case, module), timeout=30)
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        numbers.append(number)
        if i == kill_at:
            stack.processes["query-consumer"].kill(signal.SIGKILL)  # mid-stream, no goodbye
        steps = [("assignment", agent, {}), ("messages", agent, {"body": f"Revisamos el caso {case}."}),
                 ("messages", maria, {"body": "Sigue igual, les adjunto el reporte del día."}),
                 ("messages", agent, {"body": "Nota interna: revisar el lote.", "internal": True})]
        if i % 2 == 0:
            steps += [("away", maria, {"note": "de viaje"}), ("close", agent, {"reason": "closed_by_agent"})]
        for path, who, body in steps:
            r = requests.post(f"{intake}/api/tickets/{number}/{path}", headers=who, json=body, timeout=30)
            assert r.status_code == 201, (path, r.text)
    requests.post(f"{intake}/api/auth/logout", headers=agent, timeout=30)  # a BearerTokensRevoked too
    return numbers


def query_caught_up(stack) -> bool:
    report = json.loads(mesa(stack, "topics", "--json").stdout)
    query = next(c for c in report["consumers"] if c["consumer"] == "query")
    ends = sum(p["end_offset"] for p in query["partitions"] if p["topic"].endswith("helpdesk.tickets"))
    return query["lag"] == 0 and ends > 0


def test_a_rebuild_after_a_killed_consumer_equals_the_live_model_while_the_api_keeps_answering(stack):
    cases = list(distinct_cases())[:6]
    numbers = mixed_load(stack, cases[:4], kill_at=1)
    stack.processes["query-consumer"].start()
    wait_until(lambda: query_caught_up(stack), 90, "query caught up with every topic")
    checked = mesa(stack, "check", "query")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "consistente / consistent" in checked.stdout

    agent = stack.login("supervisor@mesa.example")
    statuses, done = [], threading.Event()

    def ask():
        while not done.is_set():
            r = requests.get(f"{stack.urls['query']}/api/tickets", headers=agent, timeout=30)
            statuses.append((r.status_code, r.json().get("total")))
    asker = threading.Thread(target=ask)
    asker.start()
    try:
        wait_until(lambda: statuses, 120, "a first answer")
        rebuilt = mesa(stack, "rebuild", "query", "--json")
    finally:
        done.set()
        asker.join(30)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["events"] > 0
    assert "eventos" in rebuilt.stderr and "ev/s" in rebuilt.stderr  # the progress bar
    assert {s for s, _ in statuses} == {200}
    assert {t for _, t in statuses} == {len(numbers)}

    numbers += mixed_load(stack, cases[4:6])  # the live consumer goes on from the rebuilt offsets
    wait_until(lambda: query_caught_up(stack), 90, "query caught up after the rebuild")
    listed = requests.get(f"{stack.urls['query']}/api/tickets", headers=agent, timeout=30).json()
    assert sorted(t["number"] for t in listed["items"]) == sorted(numbers)
    checked = mesa(stack, "check", "query", "--json")
    assert checked.returncode == 0, checked.stdout
    report = json.loads(checked.stdout)
    assert report["consistent"] and report["tables"]["tickets"]["live_rows"] == len(numbers)


def test_status_and_topics_say_who_is_up_and_caught_up(stack):
    numbers = mixed_load(stack, list(distinct_cases())[:2])  # the second ticket stays open
    wait_until(lambda: query_caught_up(stack), 90, "query caught up")

    def timers_pending():
        status = mesa(stack, "status", "--json")
        report = json.loads(status.stdout)
        return (status, report) if report["sla_timers_pending"] else None
    status, report = wait_until(timers_pending, 120, "the open ticket's clock pending in the SLA service")
    by_service = {s["service"]: s for s in report["services"]}
    assert status.returncode == 1  # the notifier is not running here
    assert by_service["notifier"]["health"] == "down"
    assert {s: by_service[s]["health"] for s in ("intake", "query", "sla")} == dict.fromkeys(("intake", "query", "sla"),
                                                                                           "up")
    assert by_service["query"]["caught_up"] is True and by_service["query"]["lag"] == 0
    assert report["sla_timers_pending"] == 1 and report["sla_next_due"]
    assert report["mails_pending"] is None  # no notifier database: unknown, not zero
    people = mesa(stack, "status")
    assert "query" in people.stdout and "al día / caught up" in people.stdout
    assert "Relojes SLA pendientes / SLA timers pending" in people.stdout
    tail = mesa(stack, "events", "tail", "--from-beginning", "--type", "TicketOpened")
    assert tail.returncode == 0 and tail.stdout.count("TicketOpened") == 2
    one = [json.loads(line) for line in mesa(stack, "events", "tail", "--from-beginning", "--ticket", numbers[1],
                                             "--json").stdout.splitlines()]
    ticket_id = one[0]["event"]["stream_id"]
    assert [e["event"]["type"] for e in one if e["topic"].endswith("helpdesk.tickets")] == [
        "TicketOpened", "TicketAssigned", "MessagePosted", "MessagePosted", "MessagePosted"]
    assert all(e["event"]["stream_id"] == ticket_id or e["event"]["data"].get("ticket_id") == ticket_id for e in one)
    assert any(e["topic"].endswith("helpdesk.sla") for e in one)  # its deadlines too
