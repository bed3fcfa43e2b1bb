"""Time accounting (issue 12) through the whole pipeline: an agent records minutes with answers and
notes at intake, the real SLA service splits them on the desk's calendar, query sums them, on real
Kafka and PostgreSQL. The stack runs on a driven clock (helpdesk_shared.clock) moved forward to the
instants below, so every figure is worked out by hand on the default calendar: Monday to Friday
09:00-17:00 America/Caracas (UTC-4), Venezuelan holidays.

  Wed 23 Dec 2026 17:45  Carlos answers ticket 1 (asked for out-of-hours attention), 90 min:
                         16:15-17:00 open (45), 17:00-17:45 closed: 45 min outside hours, billed.
                         He answers ticket 2 (did not ask), 30 min: 17:15-17:45 all outside, not billed.
  Thu 24 Dec 2026 11:00  Nochebuena, a holiday: Carlos writes an internal note on ticket 1, 60 min,
                         all outside hours, billed.
  Total for Carlos and club-caracas in December: 3 entries, 180 min, 135 outside, 105 billed (1,75 h).

The clock jumps to those instants, then goes on with the wall clock: an answer posted a moment after
17:45 ends a moment later, and that moment is outside hours too. The figures are checked against the
instants the answers were recorded at (WorkTimeRecorded.ended_at), not against a window of seconds.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
import requests

from intake import demo
from helpdesk_shared.localstack import LocalStack, wait_until
from query.reports import hours_text
from samples import distinct_cases, ticket_body

pytestmark = pytest.mark.e2e

PATIENCE = 120  # seconds for an outcome the pipeline owes: generous, the machine may be loaded
CASES = distinct_cases()
WEDNESDAY_AFTER_CLOSING = datetime(2026, 12, 23, 21, 45, tzinfo=timezone.utc)   # 17:45 in Caracas
NOCHEBUENA_MORNING = datetime(2026, 12, 24, 15, 0, tzinfo=timezone.utc)         # 11:00 in Caracas


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = LocalStack(tmp_path_factory.mktemp("time-stack"), load_demo=demo.load, driven_clock=True).start()
    try:
        yield s
    finally:
        s.stop()


def move_clock_to(stack, instant: datetime) -> None:
    ahead = (instant - stack.clock()).total_seconds()
    assert ahead > 0, f"the stack's clock is already past {instant}"
    stack.advance_clock(seconds=ahead)


def post(stack, headers, path: str, body: dict) -> dict:
    r = requests.post(f"{stack.urls['intake']}{path}", headers=headers, json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def test_minutes_recorded_across_a_closing_time_and_a_holiday_are_billed_outside_hours_on_tickets_that_asked(stack):
    move_clock_to(stack, WEDNESDAY_AFTER_CLOSING)  # tokens are minted on the stack's clock: log in after a move
    maria, carlos = stack.login("maria@clubcaracas.com.ve"), stack.login("carlos@mesa.example")
    module, case = next(CASES)
    asked = post(stack, maria, "/api/tickets", ticket_body(case, module, confirmed_different_case=True,
                                                           out_of_hours_requested=True))["number"]
    module, case = next(CASES)
    plain = post(stack, maria, "/api/tickets", ticket_body(case, module, confirmed_different_case=True))["number"]
    post(stack, carlos, f"/api/tickets/{asked}/messages", {"body": "Corregimos el cierre del lote.",
                                                            "minutes_spent": 90})
    post(stack, carlos, f"/api/tickets/{plain}/messages", {"body": "Le enviamos los pasos.", "minutes_spent": 30})
    move_clock_to(stack, NOCHEBUENA_MORNING)
    maria, carlos = stack.login("maria@clubcaracas.com.ve"), stack.login("carlos@mesa.example")
    post(stack, carlos, f"/api/tickets/{asked}/messages", {"body": "Revisé los asientos del lote.", "internal": True,
                                                            "minutes_spent": 60})

    def report():
        r = requests.get(f"{stack.urls['query']}/api/reports/time", headers=carlos,
                         params={"from": "2026-12", "to": "2026-12", "agent": "me"}, timeout=30)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        return items if items and items[0]["entries"] == 3 else None
    (carlos_december,) = wait_until(report, PATIENCE, "the three records summed in query")

    def recorded(number: str) -> list[dict]:
        r = requests.get(f"{stack.urls['query']}/api/tickets/{number}/timeline", headers=carlos,
                         params={"limit": 200}, timeout=30)
        return [i for i in r.json()["items"] if i["type"] == "WorkTimeRecorded"]
    answer, note = recorded(asked)
    (other,) = recorded(plain)
    late = (datetime.fromisoformat(answer["data"]["ended_at"]) - WEDNESDAY_AFTER_CLOSING).total_seconds()
    assert 0 <= late < 3600 and datetime.fromisoformat(note["data"]["ended_at"]) >= NOCHEBUENA_MORNING
    # 16:15 + late .. 17:45 + late: the part after 17:00 is 45 min + late; the others are wholly outside.
    outside = {"answer": 45 * 60 + late, "other": 30 * 60, "note": 60 * 60}
    assert [answer["data"]["outside_hours_seconds"], other["data"]["outside_hours_seconds"],
            note["data"]["outside_hours_seconds"]] == [int(outside["answer"]), outside["other"], outside["note"]]
    billed = int(outside["answer"]) + outside["note"]   # ticket 1 asked for out-of-hours attention, ticket 2 did not
    assert {k: carlos_december[k] for k in ("organisation_id", "month", "entries", "minutes", "outside_hours_minutes",
                                            "billable_minutes", "hours")} == {
        "organisation_id": "club-caracas", "month": "2026-12", "entries": 3, "minutes": 180,
        "outside_hours_minutes": round((billed + outside["other"]) / 60, 2), "billable_minutes": round(billed / 60, 2),
        "hours": 3.0}
    assert answer["summary"]["es"].startswith("Carlos Soporte registró 90 min de trabajo, ")
    assert note["summary"]["es"] == "Carlos Soporte registró 60 min de trabajo, 60 fuera del horario (calendario v1)"

    bill = requests.get(f"{stack.urls['query']}/api/reports/out-of-hours", headers=maria,
                        params={"from": "2026-12", "to": "2026-12"}, timeout=30).json()["items"]
    assert [(b["month"], b["requests"], b["billable_work_seconds"]) for b in bill] == [("2026-12", 1, billed)]
    raw = requests.get(f"{stack.urls['query']}/api/reports/out-of-hours.csv", headers=maria,
                       params={"from": "2026-12", "to": "2026-12"}, timeout=30).content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][-1] == "Horas registradas fuera de horario (facturables)"
    assert rows[1][-1] == hours_text(billed)  # 105 minutes and the moment after 17:45, as "1,75" when it is short
