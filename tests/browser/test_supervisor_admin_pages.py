"""A supervisor's admin pages in a real browser on the whole system: she registers an organisation,
creates a user in it (who sets his password from the mailed link), and adds a module to a desk's
catalog; the new user's new-ticket form offers it.

The organisation, the user and the module belong to IMPLANTACIONES, which the other browser tests
open no tickets on, so the catalog edit changes nothing they see."""
from __future__ import annotations

import re
import uuid

import pytest

from browser_support import DESKTOP, Portal, submit
from helpdesk_shared.localstack import wait_until
from smtp_sink import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_supervisor_registers_an_organisation_creates_its_user_and_adds_a_module_the_users_new_ticket_form_offers(
        system, portal, browser):
    page, tag = portal.page, uuid.uuid4().hex[:6]
    name, email = f"Hotel Tamanaco {tag}", f"recepcion.{tag}@tamanaco.com.ve"
    portal.login("supervisor@mesa.example", lands="**/desks/*/queue")

    page.click("nav a:has-text('Organizaciones')")
    page.fill("#name", name)
    page.fill("#tax_id", "J-00098765-4")
    page.uncheck("#desk-SOPORTE")
    page.check("#desk-IMPLANTACIONES")
    portal.screenshot("supervisor-organisations-filled-desktop")
    submit(page, "#create-organisation")
    assert f"Organización registrada: {name}." in page.inner_text("main p.notice[role=status]")
    assert "/supervisor/users?organisation=" in page.url  # straight to its users, to create the first
    assert page.locator("h2", has_text=name).count() == 1

    page.fill("#email", email)
    page.fill("#name", "Recepción Tamanaco")
    page.fill("#phone", "+58 212 555 0199")
    assert page.locator("#new-desk-SOPORTE").count() == 0  # only the organisation's desks are offered
    assert page.is_checked("#new-desk-IMPLANTACIONES")
    submit(page, "#create-user")
    assert f"Usuario creado: {email}." in page.inner_text("main p.notice[role=status]")
    listed = page.inner_text("#users")
    assert "Recepción Tamanaco" in listed and email in listed and "IMPLANTACIONES" in listed
    portal.screenshot("supervisor-users-created-desktop")
    portal.goto("/supervisor/organisations")
    assert name in page.inner_text("#organisations")

    page.click("nav a:has-text('Catálogo de módulos')")
    page.select_option("#desk-choice", "IMPLANTACIONES")
    submit(page, "form.filters button[type=submit]")
    assert "Catálogo de módulos de IMPLANTACIONES" in page.inner_text("h1")
    blank = next(i for i, value in enumerate(page.eval_on_selector_all(
        "input[name^=code_]", "inputs => inputs.map(i => i.value)")) if not value)
    code_field = page.locator(f"input[name=code_{blank}]")
    code_field.fill("HOTELERIA")
    page.fill(f"#name_{blank}", f"Hotelería {tag}")
    submit(page, "#save-catalog")
    assert "versión" in page.inner_text("main p.notice[role=status]")
    assert page.locator("fieldset legend", has_text="HOTELERIA").count() == 1

    # The new user, in his own browser: the mailed link sets his password, and his form offers the module.
    mail = wait_until(lambda: [m for m in system.sink.to(email) if "/set-password/" in text_of(m)], 60,
                      "the new user's set-password mail")[0]
    link = re.search(r"https?://\S+/set-password/\S+", text_of(mail)).group(0)
    context = browser.new_context(viewport=DESKTOP, locale="es-VE")
    try:
        user = Portal(context.new_page(), portal.base_url)
        user.page.set_default_timeout(20_000)
        user.page.goto(link)
        user.page.fill("#new-password", "tamanaco-2026")
        user.page.fill("#password_again", "tamanaco-2026")
        submit(user.page, "#save-password")
        user.login(email, "tamanaco-2026")
        user.goto("/tickets/new")
        offered = user.page.locator("#module option[value=HOTELERIA]")
        assert offered.count() == 1 and offered.inner_text() == f"HOTELERIA — Hotelería {tag}"
        user.screenshot("new-ticket-new-module-desktop")
        assert user.csp_violations == []
    finally:
        context.close()
    assert portal.csp_violations == []
