"""The supervisors' content pages of the portal (portal.content) on the real services: intake (and
the notifier) in-process on real PostgreSQL, the portal's Backend calling them through their Flask
test clients instead of HTTP. Real CSRF tokens, sessions and logins."""
from __future__ import annotations

import re

import pytest

from configs import notifier_config, portal_config
from notifier.app import create_app as create_notifier
from portal.app import create_app as create_portal
from portal.backend import Backend, Reply

pytestmark = pytest.mark.integration

INTAKE, NOTIFIER = "http://intake.test", "http://notifier.test"
SUPERVISOR, AGENT, CUSTOMER = "supervisor@mesa.example", "carlos@mesa.example", "maria@clubcaracas.com.ve"


class InProcessBackend(Backend):
    """The portal's real adapter, its HTTP calls answered by apps running in this process."""

    def __init__(self, config, apps: dict):
        super().__init__(config)
        self.clients = {prefix: app.test_client() for prefix, app in apps.items()}

    def _call(self, method, url, token, correlation_id=None, raw=False, **kwargs):
        prefix = next(p for p in self.clients if url.startswith(p))
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self.clients[prefix].open(url[len(prefix):], method=method, headers=headers, json=kwargs.get("json"),
                                      query_string=kwargs.get("params"), data=kwargs.get("data"))
        body = r.get_json(silent=True)
        return Reply(r.status_code, body if isinstance(body, dict) else {})


def csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email: str) -> None:
    r = client.post("/login", data={"csrf_token": csrf(client, "/"), "email": email, "password": "mesa-demo",
                                    "desk": "SOPORTE"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


@pytest.fixture
def notifier_app(fresh_database, clock):
    """The notifier's app in-process on its own fresh database."""
    url = fresh_database("notifier")
    return create_notifier(notifier_config(url), migrate_first=True, clock=clock)


@pytest.fixture
def portal(intake_app, notifier_app):
    """The portal in front of intake (demo users) and the notifier, in-process on real PostgreSQL."""
    config = portal_config(INTAKE, "http://query.invalid", notifier_url=NOTIFIER)
    app = create_portal(config, backend=InProcessBackend(config, {INTAKE: intake_app, NOTIFIER: notifier_app}))
    return app.test_client()


def rules_form(client, text: str, action: str = "save", **fields) -> dict:
    page = client.get("/supervisor/rules?desk=SOPORTE&lang=es").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1), "desk": "SOPORTE",
            "lang": "es", "version": version, "text": text, "action": action, **fields}


def test_a_fresh_install_shows_todays_rules_on_the_entry_page(portal):
    page = portal.get("/").get_data(as_text=True)
    assert "Cada caso va en su propio ticket." in page and "<ol>" in page
    portal.post("/language", data={"csrf_token": csrf(portal, "/"), "lang": "en", "next": "/"})
    assert "Each case goes in its own ticket." in portal.get("/").get_data(as_text=True)


def test_a_supervisor_previews_then_saves_and_the_entry_page_shows_the_edited_rules(portal, intake_db):
    log_in(portal, SUPERVISOR)
    text = "## Horario\n\nAtendemos de **lunes a viernes**.\n\n<script>alert(1)</script>"
    preview = portal.post("/supervisor/rules", data=rules_form(portal, text, action="preview"))
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<strong>lunes a viernes</strong>" in shown
    assert "<script>alert(1)" not in shown and "&lt;script&gt;" in shown
    assert portal.get("/").get_data(as_text=True).count("Cada caso va en su propio ticket.") == 1  # not saved yet
    saved = portal.post("/supervisor/rules", data=rules_form(portal, text))
    assert saved.status_code == 302
    entry = portal.get("/").get_data(as_text=True)
    assert "<h2>Horario</h2>" in entry and "<strong>lunes a viernes</strong>" in entry
    assert "Cada caso va en su propio ticket." not in entry and "<script>alert" not in entry


def test_an_edit_that_lost_the_race_keeps_the_text_and_shows_the_other_version(portal):
    log_in(portal, SUPERVISOR)
    stale = rules_form(portal, "Mi versión.")
    assert portal.post("/supervisor/rules", data=rules_form(portal, "La versión de otra persona.")).status_code == 302
    late = portal.post("/supervisor/rules", data=stale)
    page = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Otra persona modificó la página de reglas" in page
    assert "Mi versión." in page and "La versión de otra persona." in page
    assert 'name="version" value="1"' in page  # saving again now is a deliberate choice
    assert "La versión de otra persona." in portal.get("/").get_data(as_text=True)


def test_an_empty_spanish_page_is_refused_beside_the_text(portal):
    log_in(portal, SUPERVISOR)
    refused = portal.post("/supervisor/rules", data=rules_form(portal, "   "))
    assert refused.status_code == 422
    assert "no puede quedar vacía" in refused.get_data(as_text=True)


@pytest.mark.parametrize("email", [AGENT, CUSTOMER])
def test_agents_and_customers_are_refused_the_rules_editor(portal, email):
    log_in(portal, email)
    assert portal.get("/supervisor/rules").status_code == 403
    form = {"csrf_token": csrf(portal, "/"), "desk": "SOPORTE", "lang": "es", "version": "0", "text": "Nada.",
            "action": "save"}
    assert portal.post("/supervisor/rules", data=form).status_code == 403
    assert "Cada caso va en su propio ticket." in portal.get("/").get_data(as_text=True)


def test_a_rules_edit_posted_without_its_csrf_token_is_refused_and_changes_nothing(portal):
    log_in(portal, SUPERVISOR)
    form = rules_form(portal, "Sin token.")
    del form["csrf_token"]
    assert portal.post("/supervisor/rules", data=form).status_code == 400
    assert "Sin token." not in portal.get("/").get_data(as_text=True)


def test_without_a_session_the_editor_sends_to_the_entry_page(portal):
    r = portal.get("/supervisor/rules")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")


def template_form(client, name: str, action: str, **fields) -> dict:
    page = client.get(f"/supervisor/templates?name={name}&lang=es").get_data(as_text=True)
    found = {k: re.search(rf'name="{k}" value="([^"]*)"', page).group(1) for k in ("csrf_token", "version")}
    return {**found, "name": name, "lang": "es", "action": action, **fields}


CLOSED_BODY = ("Cerramos su ticket {{ number }}. Historial: {{ ticket_url }}\n\nPara otro caso: {{ new_ticket_url }}"
               "{% if course_url %}\nCurso: {{ course_url }}{% endif %}"
               "{% if articles_url %}\nArtículos: {{ articles_url }}{% endif %}"
               "{% if good_url %}\nBuena: {{ good_url }} Mala: {{ bad_url }}{% endif %}")  # issue 12: kept links


def test_a_supervisor_lists_the_mails_previews_an_edit_saves_it_and_resets_it(portal):
    log_in(portal, SUPERVISOR)
    listing = portal.get("/supervisor/templates").get_data(as_text=True)
    assert "ticket_closed" in listing and "agent_answered" in listing
    editor = portal.get("/supervisor/templates?name=ticket_closed&lang=es").get_data(as_text=True)
    assert "Cerramos su ticket" in editor and "new_ticket_url" in editor  # the packaged text and its placeholders
    preview = portal.post("/supervisor/templates", data=template_form(
        portal, "ticket_closed", "preview", subject="Ticket {{ number }} cerrado", body=CLOSED_BODY))
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "[SOP-42] Ticket SOP-42 cerrado" in shown
    assert "Cerramos su ticket SOP-42. Historial: https://mesa.example/tickets/SOP-42" in shown
    saved = portal.post("/supervisor/templates", data=template_form(
        portal, "ticket_closed", "save", subject="Ticket {{ number }} cerrado", body=CLOSED_BODY))
    assert saved.status_code == 302
    assert "editado" in portal.get("/supervisor/templates").get_data(as_text=True)
    assert "Ticket {{ number }} cerrado" in portal.get("/supervisor/templates?name=ticket_closed&lang=es").get_data(
        as_text=True)
    reset = portal.post("/supervisor/templates", data=template_form(portal, "ticket_closed", "reset"))
    assert reset.status_code == 302
    assert "Es el texto original del correo." in portal.get(
        "/supervisor/templates?name=ticket_closed&lang=es").get_data(as_text=True)


def test_a_text_that_drops_a_required_link_is_refused_beside_the_body(portal):
    log_in(portal, SUPERVISOR)
    refused = portal.post("/supervisor/templates", data=template_form(
        portal, "ticket_closed", "save", subject="Cerrado", body="Cerramos su ticket {{ number }}."))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "debe conservar el enlace" in page and 'id="body-error"' in page
    assert "Es el texto original del correo." in page


@pytest.mark.parametrize("email", [AGENT, CUSTOMER])
def test_agents_and_customers_are_refused_the_mail_texts(portal, email):
    log_in(portal, email)
    assert portal.get("/supervisor/templates").status_code == 403
    assert portal.get("/supervisor/templates?name=ticket_closed&lang=es").status_code == 403
    form = {"csrf_token": csrf(portal, "/"), "name": "ticket_closed", "lang": "es", "version": "0",
            "subject": "x", "body": "y", "action": "save"}
    assert portal.post("/supervisor/templates", data=form).status_code == 403


def test_a_template_edit_posted_without_its_csrf_token_is_refused(portal):
    log_in(portal, SUPERVISOR)
    form = template_form(portal, "ticket_closed", "save", subject="Ticket {{ number }} cerrado", body=CLOSED_BODY)
    del form["csrf_token"]
    assert portal.post("/supervisor/templates", data=form).status_code == 400
    assert "Es el texto original del correo." in portal.get(
        "/supervisor/templates?name=ticket_closed&lang=es").get_data(as_text=True)


def test_an_unknown_template_is_the_not_found_page(portal):
    log_in(portal, SUPERVISOR)
    assert portal.get("/supervisor/templates?name=no_such&lang=es").status_code == 404
