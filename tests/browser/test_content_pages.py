"""A supervisor in a real browser edits the IMPLANTACIONES rules page and a mail's text: the entry
page shows the new rules (a typed <script> only as text), and the mail the notifier then sends
through the real pipeline (Kafka, consumer, sender, SMTP) carries the edited text."""
from __future__ import annotations

import uuid

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from smtp_sink import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


TEMPLATE = "access_requested_requester"


@pytest.fixture
def content_put_back(system):
    """The IMPLANTACIONES rules page (Spanish) and the requester's mail text put back as found after the test.

    The browser tests share one stack for the session: no other test (nor a rerun of this one)
    may read this test's edits. Yields the rules page as it was."""
    intake, notifier = system.urls["intake"], system.urls["notifier"]

    def rules_page() -> dict:
        r = requests.get(f"{intake}/api/desks/IMPLANTACIONES/rules-page", params={"lang": "es"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()
    before = rules_page()
    yield before
    supervisor = system.login("supervisor@mesa.example")
    now = rules_page()
    if now["text"] != before["text"]:
        r = requests.put(f"{intake}/api/desks/IMPLANTACIONES/rules-page", headers=supervisor, timeout=30,
                         json={"language": "es", "text": before["text"], "version": now["version"]})
        assert r.status_code == 200, r.text
    state = requests.get(f"{notifier}/api/templates/{TEMPLATE}/es", headers=supervisor, timeout=30).json()
    if state["overridden"]:
        r = requests.delete(f"{notifier}/api/templates/{TEMPLATE}/es", params={"version": state["version"]},
                            headers=supervisor, timeout=30)
        assert r.status_code == 200, r.text


def test_a_supervisor_edits_the_rules_page_and_a_mail_text_and_both_reach_their_readers(portal, browser, system,
                                                                                         content_put_back):
    page = portal.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    portal.login("supervisor@mesa.example", lands="**/desks/*/queue")

    page.click("nav a:has-text('Página de reglas')")
    page.click("a:has-text('IMPLANTACIONES · Español')")
    assert "Cada caso va en su propio ticket." in page.input_value("#rules-text")  # the packaged page, put back
    page.fill("#rules-text", "## Horario de implantación\n\nDe **lunes a viernes**. <script>alert(1)</script>")
    page.click("#rules-preview-button")
    assert "lunes a viernes" in page.inner_text("#rules-preview strong")
    portal.screenshot("supervisor-rules-preview-desktop")
    page.click("#rules-save")
    saved = content_put_back["version"] + 1
    assert f"Página de reglas guardada (versión {saved})." in page.inner_text("main p.notice[role=status]")

    page.click("nav a:has-text('Textos de los correos')")
    portal.screenshot("supervisor-templates-desktop")
    page.click(f"#mail-templates tr:has-text('{TEMPLATE}') td:nth-child(2) a")
    page.fill("#template-subject", "Recibimos su pedido, {{ name }}")
    page.fill("#template-body", "Hola {{ name }}:\n\nLa mesa {{ desk }} revisará su pedido. Texto de la supervisora.")
    page.click("#template-preview-button")
    assert "La mesa SOPORTE revisará su pedido." in page.inner_text("#template-preview")
    page.click("#template-save")
    assert "Texto del correo guardado." in page.inner_text("main p.notice[role=status]")
    portal.screenshot("supervisor-template-desktop")
    assert portal.csp_violations == [] and dialogs == []

    # Anyone, without logging in, reads the new rules on the IMPLANTACIONES entry.
    visitor = browser.new_context(locale="es-VE").new_page()
    visitor.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    visitor.goto(system.urls["portal"] + "/implantaciones")
    rules = visitor.inner_text("#rules-text")
    assert "Horario de implantación" in rules and "<script>alert(1)</script>" in rules
    assert "Cada caso va en su propio ticket." not in rules and dialogs == []
    visitor.context.close()

    # "No tengo usuario": the notifier's mail to the requester is the supervisor's text.
    email = f"pedro-{uuid.uuid4().hex[:8]}@clubcaracas.com.ve"
    filed = requests.post(f"{system.urls['intake']}/api/access-requests", timeout=30, json={
        "name": "Pedro Páez", "email": email, "phone": "+58 212 555 0111",
        "organisation_name": "Club Social Caracas", "desk": "IMPLANTACIONES"})
    assert filed.status_code == 202, filed.text
    [mail] = wait_until(lambda: system.sink.to(email), 120, "the requester's mail")
    assert mail["Subject"] == "Recibimos su pedido, Pedro Páez"
    assert "La mesa IMPLANTACIONES revisará su pedido. Texto de la supervisora." in text_of(mail)


def test_the_content_pages_fit_a_phone_without_horizontal_scroll(phone):
    phone.login("supervisor@mesa.example", lands="**/desks/*/queue")
    for path, name in (("/supervisor/rules", "supervisor-rules"), ("/supervisor/templates", "supervisor-templates"),
                       ("/supervisor/templates?name=training_requested_requester&lang=es", "supervisor-template")):
        phone.goto(path)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360, path
        phone.screenshot(f"{name}-phone")
    assert phone.csp_violations == []
