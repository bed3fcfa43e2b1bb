"""The links of the mails, followed in a real browser on the whole system (real SMTP)."""
from __future__ import annotations

import re
import uuid

import pytest

from browser_support import DESKTOP, Portal
from helpdesk_shared.localstack import wait_until
from smtp_sink import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_no_tengo_usuario_then_an_agent_grants_it_in_his_browser_then_the_mailed_link_sets_a_password_and_the_new_user_logs_in(
        system, portal, browser):
    page, email = portal.page, f"carmen.{uuid.uuid4().hex[:8]}@clubcaracas.com.ve"
    portal.goto("/")
    page.fill("#access-name", "Carmen Díaz")
    page.fill("#access-email", email)
    page.fill("#access-phone", "+58 414 555 0123")
    page.fill("#access-organisation_name", "Club Social Caracas")
    page.click("#no-user button[type=submit]")
    assert page.locator("#access-sent").is_visible()

    # Carlos, agent of SOPORTE, grants it on his access-requests page, in his own browser.
    staff = browser.new_context(viewport=DESKTOP, locale="es-VE")
    try:
        agent = Portal(staff.new_page(), portal.base_url)
        agent.page.set_default_timeout(60_000)
        agent.goto("/")
        agent.page.fill("#email", "carlos@mesa.example")
        agent.page.fill("#password", "mesa-demo")
        agent.page.click("#login-submit")
        agent.page.wait_for_load_state()
        agent.page.click("nav a:has-text('Solicitudes de acceso')")
        card = agent.page.locator("#access-requests li", has_text=email)
        assert card.locator("select[name=organisation_id]").input_value() == "club-caracas"  # suggested
        agent.screenshot("access-requests-grant-desktop")
        card.locator("button:has-text('Conceder acceso')").click()
        agent.page.wait_for_load_state()
        assert "Acceso concedido a Carmen Díaz" in agent.page.inner_text("main")
        assert email not in agent.page.inner_text("#access-requests")
    finally:
        staff.close()

    mail = wait_until(lambda: [m for m in system.sink.to(email) if "/set-password/" in text_of(m)], 60,
                      "the access-granted mail")[0]
    link = re.search(r"https?://\S+/set-password/\S+", text_of(mail)).group(0)
    assert link.startswith(system.urls["portal"] + "/set-password/")  # the portal's page, not intake's

    page.goto(link)
    portal.screenshot("set-password-desktop")
    page.fill("#new-password", "facturacion-2026")
    page.fill("#password_again", "facturacion-2026")
    page.click("#save-password")
    page.wait_for_url(system.urls["portal"] + "/")
    assert "Contraseña guardada" in page.inner_text("main")

    portal.login(email, "facturacion-2026")  # waits for "Mis tickets"
    assert page.url == system.urls["portal"] + "/tickets" and page.locator("#login-submit").count() == 0
    page.goto(link)  # the link sets a password once: a second try is refused beside the field
    page.fill("#new-password", "otra-clave-2026")
    page.fill("#password_again", "otra-clave-2026")
    page.click("#save-password")
    assert page.locator("#link-invalid, #password-error").first.is_visible()
