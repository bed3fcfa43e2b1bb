"""The customer's verdict (issue 12) in a real browser on the whole system (real SMTP): the closing
mail's "Mala atención" link, confirmed with a comment, then clicked again."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from samples import CONTACT, DESCRIPTION
from smtp_sink import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MARIA = "maria@clubcaracas.com.ve"


def solved_ticket(system) -> str:
    """A ticket of María's that Carlos answered and she confirmed solved (through the APIs)."""
    maria, carlos = system.login(MARIA), system.login("carlos@mesa.example")
    opened = requests.post(f"{system.urls['intake']}/api/tickets", headers=maria, timeout=30, json={
        "desk": "SOPORTE", "subject": f"BANCOS, Conciliación del banco Mercantil no cuadra {uuid.uuid4().hex[:6]}",
        "description": DESCRIPTION, "contact": CONTACT, "confirmed_different_case": True})
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    answered = requests.post(f"{system.urls['intake']}/api/tickets/{number}/messages", headers=carlos, timeout=30,
                             json={"body": "Corregimos la conciliación; revise por favor."})
    assert answered.status_code == 201, answered.text
    solved = requests.post(f"{system.urls['intake']}/api/tickets/{number}/resolution", headers=maria, timeout=30,
                           json={"solved": True})
    assert solved.status_code == 201, solved.text
    return number


def _ratings_of(system, number: str, staff: dict) -> list[dict]:
    r = requests.get(f"{system.urls['query']}/api/reports/satisfaction/comments", headers=staff, timeout=30,
                     params={"desk": "SOPORTE", "limit": 200})
    assert r.status_code == 200, r.text
    return [i for i in r.json()["items"] if i["number"] == number]


def test_a_customer_rates_a_closed_ticket_from_the_mailed_link_once(system, portal):
    number = solved_ticket(system)
    mail = wait_until(lambda: [m for m in system.sink.to(MARIA)
                               if "/rate/" in text_of(m) and number in str(m["Subject"])], 120,
                      f"the closing mail of {number}")[0]
    link = re.search(r"Mala atención: (https?://\S+)", text_of(mail)).group(1)
    assert link.startswith(system.urls["portal"] + "/rate/") and link.endswith("rating=bad")

    page = portal.page
    page.goto(link)
    assert number in page.inner_text("main")
    assert page.locator("#rating-bad").is_checked()
    portal.screenshot("rate-confirm-desktop")
    page.fill("#comment", "Tardaron en contestar, pero quedó resuelto.")
    page.click("#confirm-rating-button")
    assert page.locator("#rating-done").is_visible()
    portal.screenshot("rate-done-desktop")

    maria = system.login(MARIA)
    after_rating = requests.get(f"{system.urls['intake']}/api/tickets/{number}", headers=maria, timeout=30).json()
    assert (after_rating["rated"], after_rating["may_rate"]) == (True, False)

    page.goto(link)  # the same link, clicked again
    assert page.locator("#rating-already").is_visible()
    assert page.locator("#confirm-rating-button").count() == 0
    portal.screenshot("rate-already-desktop")
    # The second click wrote nothing: the ticket's stream is where the rating left it.
    again = requests.get(f"{system.urls['intake']}/api/tickets/{number}", headers=maria, timeout=30).json()
    assert again["version"] == after_rating["version"]

    carlos = system.login("carlos@mesa.example")
    rated = wait_until(lambda: _ratings_of(system, number, carlos), 120, f"{number}'s rating in query")
    assert [(r["rating"], r["comment"]) for r in rated] == [("bad", "Tardaron en contestar, pero quedó resuelto.")]
