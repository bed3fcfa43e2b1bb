"""Canned answers in a real browser (issue 12): an agent writes one with placeholders on his desk's
page, opens a customer's ticket, clicks "Insertar" while writing his answer and the answer appears
where the cursor was with the customer's name, the ticket number and the office phones filled in;
sent, it counts one use."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from browser_support import Portal, submit
from helpdesk_shared.localstack import wait_until
from samples import CONTACT, DESCRIPTION

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def open_ticket(system) -> str:
    r = requests.post(f"{system.urls['intake']}/api/tickets", headers=system.login("maria@clubcaracas.com.ve"),
                      timeout=30, json={"desk": "SOPORTE", "subject": "CXC, Los abonos del socio no cuadran",
                                        "description": DESCRIPTION, "contact": CONTACT,
                                        "confirmed_different_case": True})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def test_an_agent_inserts_a_canned_answer_with_its_placeholders_filled_and_its_use_is_counted(portal: Portal,
                                                                                                system):
    title = f"Abonos revisados {uuid.uuid4().hex[:6]}"
    page = portal.page
    portal.login("carlos@mesa.example", lands="**/desks/SOPORTE/queue")
    portal.goto("/desks/SOPORTE/canned-answers")
    page.fill("#title", title)
    page.fill("#canned-body", "Estimado {cliente}: revisamos los abonos del ticket {ticket}. "
                              "Si lo prefiere, llame al {telefonos}.")
    submit(page, "#save-new-canned")
    assert title in page.inner_text("#canned-list")

    number = open_ticket(system)

    def ticket_shown() -> bool:
        portal.goto(f"/tickets/{number}")
        return page.locator("#canned-answers").count() == 1
    wait_until(ticket_shown, 120, f"{number} shown with the desk's canned answers", interval=0.5)
    page.fill("#body", "Hola. ")
    page.click("#canned-answers summary")
    page.click(f"text=Insertar: {title}")
    filled = (f"Estimado María Pérez: revisamos los abonos del ticket {number}. "
              "Si lo prefiere, llame al +58 212 555 0100, +58 212 555 0101.")
    assert page.input_value("#body") == "Hola. " + filled
    assert re.fullmatch(r"abonos-revisados-[0-9a-f]{6}", page.input_value("#canned_answer_id"))
    submit(page, "#send-answer")
    assert "Su mensaje quedó en el ticket." in page.inner_text("main")

    def in_thread() -> bool:  # query reads the message a moment later
        page.reload()
        return filled in page.inner_text("main")
    wait_until(in_thread, 120, "the answer in the ticket's thread", interval=0.5)

    portal.goto("/desks/SOPORTE/canned-answers")
    row = page.locator("#canned-list tr", has_text=title)
    assert row.locator(".uses").inner_text() == "1"
