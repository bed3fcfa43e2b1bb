"""Ops on the real processes (gunicorn with the shared config, the consumers): one request is
followed by its correlation id through gunicorn's access log and every consumer that applied its
event, the logs are JSON lines, and /healthz and /metrics report the pipeline as it moves."""
from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from samples import ticket_body

pytestmark = pytest.mark.e2e


def log_lines(stack, process: str) -> list[str]:
    return stack.processes[process].log_path.read_text(errors="replace").splitlines()


def json_lines(stack, process: str) -> list[dict]:
    """Every line of the process's log parsed as JSON (a line that is not JSON fails the test)."""
    docs = []
    for line in log_lines(stack, process):
        try:
            docs.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{process} logged a line that is not JSON: {line[:300]}")
    return docs


def sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if m and m.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")) == labels:
            return float(m.group(3))
    return None


def test_one_request_is_followed_by_its_correlation_id_through_gunicorn_and_every_consumer(stack):
    maria = stack.login("maria@clubcaracas.com.ve")
    correlation = str(uuid.uuid4())
    opened = requests.post(f"{stack.urls['intake']}/api/tickets", headers={**maria, "X-Correlation-Id": correlation},
                           json=ticket_body(), timeout=30)
    assert opened.status_code == 201, opened.text
    assert opened.headers["X-Correlation-Id"] == correlation

    def applied_by(process: str) -> bool:
        return any(d.get("msg") == "event applied" and d.get("correlation_id") == correlation
                   and d.get("type") == "TicketOpened" for d in json_lines(stack, process))

    wait_until(lambda: applied_by("query-consumer") and applied_by("sla-timers"), 120,
               "the ticket's event applied by query's and the SLA's consumers")
    access = [d for d in json_lines(stack, "intake") if d.get("logger") == "gunicorn.access"
              and d.get("path") == "/api/tickets" and d.get("method") == "POST"]
    assert [(d["status"], d["correlation_id"], d["service"]) for d in access] == [(201, correlation, "intake")]
    for process in ("query", "sla", "relay"):
        json_lines(stack, process)  # every line JSON


def test_healthz_and_metrics_of_the_running_services_follow_the_pipeline(stack):
    query = stack.urls["query"]
    maria = stack.login("maria@clubcaracas.com.ve")
    assert requests.post(f"{stack.urls['intake']}/api/tickets", headers=maria, json=ticket_body(),
                         timeout=30).status_code == 201

    def caught_up_with_the_ticket():
        health = requests.get(f"{query}/healthz", timeout=30).json()
        text = requests.get(f"{query}/metrics", timeout=30).text
        opened = sample(text, "mesa_events_applied_total", consumer="query-tickets", type="TicketOpened")
        return health if health["consumers"][0]["caught_up"] and opened and opened >= 1 else None

    health = wait_until(caught_up_with_the_ticket, 120, "query caught up with the new ticket")
    assert health["status"] == "ok" and health["database"] == {"ok": True} and health["kafka"] == {"ok": True}
    assert sample(requests.get(f"{query}/metrics", timeout=30).text, "mesa_open_tickets", desk="SOPORTE") >= 1
    for service in ("intake", "sla"):
        body = requests.get(f"{stack.urls[service]}/healthz", timeout=30).json()
        assert body["status"] in ("ok", "degraded") and body["database"]["ok"] is True, body
