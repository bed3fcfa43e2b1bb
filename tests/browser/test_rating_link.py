"""The customer's verdict (issue 12) in a real browser on the whole system (real SMTP): the closing
mail's "Mala atención" link, confirmed with a comment, then clicked again."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from browser_support import PHONE
from helpdesk_shared.localstack import wait_until
from samples import CONTACT, DESCRIPTION
from smtp_sink import text_of
from test_accessibility import FAILING_IMPACTS, axe_source, describe, readers, violations_of  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MARIA = "maria@clubcaracas.com.ve"


def solved_ticket(system, closed_by_agent: bool = False) -> str:
    """A ticket of María's that Carlos answered and she confirmed solved, or Carlos closed as done
    (through the APIs)."""
    maria, carlos = system.login(MARIA), system.login("carlos@mesa.example")
    opened = requests.post(f"{system.urls['intake']}/api/tickets", headers=maria, timeout=30, json={
        "desk": "SOPORTE", "subject": f"BANCOS, Conciliación del banco Mercantil no cuadra {uuid.uuid4().hex[:6]}",
        "description": DESCRIPTION, "contact": CONTACT, "confirmed_different_case": True})
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    answered = requests.post(f"{system.urls['intake']}/api/tickets/{number}/messages", headers=carlos, timeout=30,
                             json={"body": "Corregimos la conciliación; revise por favor."})
    assert answered.status_code == 201, answered.text
    if closed_by_agent:
        solved = requests.post(f"{system.urls['intake']}/api/tickets/{number}/close", headers=carlos, timeout=30,
                               json={"reason": "closed_by_agent"})
    else:
        solved = requests.post(f"{system.urls['intake']}/api/tickets/{number}/resolution", headers=maria,
                               timeout=30, json={"solved": True})
    assert solved.status_code == 201, solved.text
    return number


def mailed_link(system, number: str, label: str) -> str:
    """The link after `label` ("Buena atención", "Mala atención") in the closing mail of `number`."""
    mail = wait_until(lambda: [m for m in system.sink.to(MARIA)
                               if "/rate/" in text_of(m) and number in str(m["Subject"])], 120,
                      f"the closing mail of {number}")[0]
    return re.search(rf"{label}: (https?://\S+)", text_of(mail)).group(1)


def assert_accessible(page, source: str, name: str) -> None:
    """No serious or critical axe violation, at desktop width and on a phone (as test_accessibility)."""
    for size in ("desktop", "phone"):
        if size == "phone":
            page.set_viewport_size(PHONE)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{name} scrolls sideways"
        failing = [v for v in violations_of(page, source) if v["impact"] in FAILING_IMPACTS]
        assert not failing, f"axe ({size}): serious or critical violations on {name}:\n{describe(failing)}"


def _ratings_of(system, number: str, staff: dict) -> list[dict]:
    r = requests.get(f"{system.urls['query']}/api/reports/satisfaction/comments", headers=staff, timeout=30,
                     params={"desk": "SOPORTE", "limit": 200})
    assert r.status_code == 200, r.text
    return [i for i in r.json()["items"] if i["number"] == number]


def test_a_customer_rates_a_closed_ticket_from_the_mailed_link_once(system, portal):
    number = solved_ticket(system)
    link = mailed_link(system, number, "Mala atención")
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


def test_the_rating_pages_are_accessible_and_the_closed_ticket_page_takes_a_rating_once(system, readers, axe_source):
    number = solved_ticket(system, closed_by_agent=True)
    anonymous = readers(None).page
    anonymous.goto(mailed_link(system, number, "Buena atención"))
    assert anonymous.locator("#rating-good").is_checked()
    assert_accessible(anonymous, axe_source, "the rating link's confirmation page")

    customer = readers(MARIA)
    page = customer.page
    page.set_viewport_size({"width": 1280, "height": 900})

    def offered():
        customer.goto(f"/tickets/{number}")
        return page.locator("#rate-ticket").count()
    wait_until(offered, 120, f"the rating form on {number} (closed in query)", interval=0.5)
    assert_accessible(page, axe_source, "the closed ticket with its rating form")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.check("#rating-good")
    page.fill("#comment", "Muy claro, gracias.")
    page.click("#send-rating")
    page.wait_for_load_state()
    assert page.locator("#rated-notice").is_visible() and page.locator("#rate-ticket").count() == 0
    customer.screenshot("ticket-rated-desktop")
    # The mailed link now says it was rated.
    anonymous.goto(mailed_link(system, number, "Mala atención"))
    assert anonymous.locator("#rating-already").is_visible()
