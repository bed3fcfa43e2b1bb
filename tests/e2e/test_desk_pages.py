"""The desk's queue and a ticket's timeline fed by the real SLA service's clock facts: intake,
sla and query under gunicorn on real Kafka and PostgreSQL, a SOPORTE policy of hours on the 24x7
clock and a driven clock (helpdesk_shared.clock) the test moves past the auto-close, so a slow machine
cannot make the answer late."""
from __future__ import annotations

import pytest
import requests

from intake import demo
from helpdesk_shared.localstack import LocalStack, wait_until
from samples import distinct_cases, ticket_body

pytestmark = pytest.mark.e2e

POLICY = {"first_response": {"minutes": 60, "clock": "24x7"},
          "next_response": {"minutes": 60, "clock": "24x7"},
          "auto_close_warning": {"minutes": 60, "clock": "24x7"},
          "auto_close": {"minutes": 120, "clock": "24x7"}}
PATIENCE = 120  # seconds for an outcome the pipeline owes: generous, the machine may be loaded
CASES = distinct_cases()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack for the module on a driven clock, its SOPORTE normal policy set to hours by a supervisor."""
    s = LocalStack(tmp_path_factory.mktemp("desk-stack"), load_demo=demo.load, driven_clock=True).start()
    try:
        supervisor = s.login("supervisor@mesa.example")
        r = requests.put(f"{s.urls['sla']}/api/policies/SOPORTE/normal", headers=supervisor, timeout=30,
                         json={"policy": POLICY})
        assert r.status_code == 201, r.text
        s.headers = {"maria": s.login("maria@clubcaracas.com.ve"), "agent": s.login("carlos@mesa.example")}
        yield s
    finally:
        s.stop()


def open_ticket(stack) -> dict:
    module, case = next(CASES)
    r = requests.post(f"{stack.urls['intake']}/api/tickets", headers=stack.headers["maria"],
                      json=ticket_body(case, module, confirmed_different_case=True), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def in_queue(stack, number: str) -> dict | None:
    r = requests.get(f"{stack.urls['query']}/api/desks/SOPORTE/queue", headers=stack.headers["agent"],
                     params={"limit": 200}, timeout=30)
    assert r.status_code == 200, r.text
    return next((t for t in r.json()["items"] if t["number"] == number), None)


def timeline_types(stack, number: str) -> list[dict]:
    r = requests.get(f"{stack.urls['query']}/api/tickets/{number}/timeline", headers=stack.headers["agent"],
                     params={"limit": 200}, timeout=30)
    return r.json()["items"] if r.ok else []


def test_an_answered_ticket_shows_its_clocks_in_the_queue_then_its_auto_close_with_its_cause_in_the_timeline(stack):
    ticket = open_ticket(stack)
    number = ticket["number"]
    # The policy pins at opening: a policy newer than the probe of the fixture may take a ticket to apply.
    first = wait_until(lambda: (t := in_queue(stack, number)) and t["deadline"] and t, PATIENCE,
                       "the first-response deadline")
    assert first["deadline"]["clock"] == "first_response" and first["flags"]["unassigned"] is True
    # Counted off the fact's open_intervals (a 24x7 clock: the whole span up to due_at).
    assert 0 < first["deadline"]["business_seconds_left"] <= 3600
    r = requests.post(f"{stack.urls['intake']}/api/tickets/{number}/messages", headers=stack.headers["agent"],
                      json={"body": "Le enviamos los pasos para corregir la conciliación."}, timeout=30)
    assert r.status_code == 201, r.text
    stack.advance_clock(minutes=61)  # past the warning
    wait_until(lambda: any(i["type"] == "AutoCloseWarning" for i in timeline_types(stack, number)), PATIENCE,
               f"{number} warned in query's timeline")
    stack.advance_clock(minutes=60)  # past the auto-close, two hours after the answer

    def auto_closed():
        items = timeline_types(stack, number)
        return items if any(i["type"] == "TicketClosed" for i in items) else None
    items = wait_until(auto_closed, PATIENCE, f"{number} auto-closed in query's timeline")
    types = [i["type"] for i in items]
    expected = ["TicketOpened", "DeadlineSet", "MessagePosted", "DeadlineMet", "ClockPaused", "DeadlineSet",
                "AutoCloseWarning", "AutoClosed", "TicketClosed"]
    assert [t for t in types if t in expected] == expected
    close = next(i for i in items if i["type"] == "TicketClosed")
    assert close["caused_by"]["type"] == "AutoClosed" and close["data"]["reason"] == "auto_closed"
    assert all(i["policy_version"] for i in items if i["type"] in ("DeadlineSet", "DeadlineMet"))
    wait_until(lambda: in_queue(stack, number) is None, PATIENCE, f"{number} out of the queue once closed")
