"""A supervisor in a real browser: adds a closure day with a note, reads the compliance page with
its chart, downloads the out-of-hours CSV; every staff page at desktop and phone widths."""
from __future__ import annotations

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from samples import CONTACT, DESCRIPTION

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PAGES = (("/supervisor/calendars", "supervisor-calendars"), ("/supervisor/policies", "supervisor-policies"),
         ("/reports/compliance", "reports-compliance"), ("/reports/backlog", "reports-backlog"),
         ("/reports/workload", "reports-workload"), ("/reports/out-of-hours", "reports-out-of-hours"))



def answered_ticket(system) -> str:
    """A ticket of maria's answered by carlos; its number once query counts the answer in compliance."""
    maria, carlos = system.login("maria@clubcaracas.com.ve"), system.login("carlos@mesa.example")
    opened = requests.post(f"{system.urls['intake']}/api/tickets", headers=maria, timeout=30, json={
        "desk": "SOPORTE", "subject": "CXC, Estado de cuenta del socio no suma los abonos",
        "description": DESCRIPTION, "contact": CONTACT, "confirmed_different_case": True})
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    wait_until(lambda: requests.get(f"{system.urls['query']}/api/tickets/{number}", headers=carlos,
                                    timeout=30).ok, 120, f"{number} in query")
    answer = requests.post(f"{system.urls['intake']}/api/tickets/{number}/messages", headers=carlos, timeout=30,
                           json={"body": "Corregimos la suma de los abonos; revise por favor."})
    assert answer.status_code == 201, answer.text

    def counted():
        r = requests.get(f"{system.urls['query']}/api/reports/compliance", headers=carlos, timeout=30,
                         params={"desk": "SOPORTE", "group_by": "month"})
        return any(i["clock"] == "first_response" and i["count"] for i in r.json()["items"])
    wait_until(counted, 120, "the first response counted in compliance", interval=0.5)
    return number


def test_a_supervisor_adds_a_closure_day_sees_compliance_with_its_chart_and_downloads_the_csv(portal, system):
    answered_ticket(system)
    page = portal.page
    portal.login("supervisor@mesa.example", lands="**/desks/*/queue")
    page.click("nav a:has-text('Calendarios')")
    assert "recalcula los plazos de los tickets abiertos" in page.inner_text("#deadlines-move")
    before = page.inner_text("#calendar-version")
    blank = next(i for i, value in enumerate(page.eval_on_selector_all(
        "input[name=closure_date]", "inputs => inputs.map(i => i.value)")) if not value)
    page.fill(f"#closure_date_{blank}", "2027-03-15")
    page.fill(f"#closure_note_{blank}", "Inventario anual del club")
    page.click("#save-calendar")
    assert "guardado: versión" in page.inner_text("main p.notice[role=status]")
    assert page.inner_text("#calendar-version") != before
    assert "2027-03-15: Inventario anual del club" in page.inner_text("#calendar-history")
    assert page.input_value(f"#closure_note_{blank}") == "Inventario anual del club"
    portal.screenshot("supervisor-calendars-saved-desktop")

    page.click("nav a:has-text('Informes')")
    chart = page.locator("figure.chart-box svg.chart").first
    assert chart.is_visible()
    assert "Respuestas dentro del plazo" in chart.locator("title").first.text_content()
    assert chart.locator("rect.chart-bar").count() >= 1
    assert "Primera respuesta" in page.inner_text("#compliance-by-month")
    portal.screenshot("reports-compliance-desktop")

    page.click(".subnav a:has-text('Fuera de horario')")
    with page.expect_download() as caught:
        page.click("#download-csv")
    download = caught.value
    content = open(download.path(), "rb").read()
    assert download.suggested_filename.startswith("fuera-de-horario_") and download.suggested_filename.endswith(".csv")
    assert content.startswith("\ufeffOrganización;RIF;Mes;".encode())
    for path, name in PAGES:
        portal.goto(path)
        assert page.locator("h1").count() == 1, path
        portal.screenshot(f"{name}-desktop")
    assert portal.csp_violations == []


def test_every_staff_page_fits_a_phone_without_horizontal_scroll(phone):
    phone.login("supervisor@mesa.example", lands="**/desks/*/queue")
    for path, name in PAGES:
        phone.goto(path)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360, path
        phone.screenshot(f"{name}-phone")
    assert phone.csp_violations == []
