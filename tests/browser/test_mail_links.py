"""The links of the mails, followed in a real browser on the whole system (real SMTP)."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from smtp_sink import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_no_tengo_usuario_then_an_agent_grants_it_then_the_mailed_link_sets_a_password_and_the_new_user_logs_in(
        system, portal):
    page, email = portal.page, f"carmen.{uuid.uuid4().hex[:8]}@clubcaracas.com.ve"
    portal.goto("/")
    page.fill("#access-name", "Carmen Díaz")
    page.fill("#access-email", email)
    page.fill("#access-phone", "+58 414 555 0123")
    page.fill("#access-organisation_name", "Club Social Caracas")
    page.click("#no-user button[type=submit]")
    assert page.locator("#access-sent").is_visible()

    intake = system.urls["intake"]
    carlos = system.login("carlos@mesa.example")
    pending = requests.get(f"{intake}/api/access-requests", headers=carlos, timeout=10).json()["items"]
    request_id = next(item["request_id"] for item in pending if item["email"] == email)
    granted = requests.post(f"{intake}/api/access-requests/{request_id}/grant", headers=carlos, timeout=10,
                            json={"organisation_id": "club-caracas"})
    assert granted.status_code == 201, granted.text

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
