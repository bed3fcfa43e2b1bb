"""The staff pages (portal.supervisor) on the real services: calendars and SLA policies edited at
sla, reports read from query, the out-of-hours CSV passed on unchanged; who may see what.

The services run as real processes (LocalStack: gunicorn, Kafka, PostgreSQL); the portal runs
in-process (Flask test client) pointing at them, so each page is proven against what the
services really answer.
"""
from __future__ import annotations

import re

import pytest
import requests

from configs import portal_config
from intake import demo
from helpdesk_shared import localstack
from samples import ticket_body

pytestmark = pytest.mark.integration

STAFF_PAGES = ("/supervisor/calendars", "/supervisor/policies", "/reports/compliance", "/reports/backlog",
               "/reports/workload", "/reports/out-of-hours", "/reports/out-of-hours.csv", "/reports/time")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """intake, query and sla as real processes on fresh databases and topics, for the whole module."""
    s = localstack.LocalStack(tmp_path_factory.mktemp("supervisor") / "stack", load_demo=demo.load).start()
    yield s
    s.stop()


@pytest.fixture
def portal(services):
    """A factory of portal test clients, each logged in as `email` (None: no session)."""
    from portal.app import create_app
    app = create_app(portal_config(services.urls["intake"], services.urls["query"], services.urls["sla"],
                                   forward_secret=services.secrets["PORTAL_FORWARD_SECRET"]))

    def client_for(email: str | None):
        client = app.test_client()
        if email:
            r = client.post("/login", data={"csrf_token": csrf(client, "/"), "email": email, "password": "mesa-demo"})
            assert r.status_code == 302, r.get_data(as_text=True)
        return client
    return client_for


def csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sla_get(services, path: str, email: str = "supervisor@mesa.example") -> list[dict]:
    r = requests.get(services.urls["sla"] + path, headers=services.login(email), timeout=10)
    r.raise_for_status()
    return r.json()["items"]


def calendar_form(client, desk: str = "SOPORTE", **changes) -> dict:
    """The calendar form as the page fills it, with `changes` on top (closure rows as lists)."""
    page = client.get(f"/supervisor/calendars?desk={desk}").get_data(as_text=True)
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1), "desk": desk,
            "base_version": re.search(r'name="base_version" value="(\d+)"', page).group(1),
            "tz": "America/Caracas", "public_holidays": "VE",
            **{f"weekday_{d}": re.search(rf'name="weekday_{d}" maxlength="200" value="([^"]*)"', page).group(1)
               for d in range(7)},
            "closure_date": re.findall(r'name="closure_date" value="([^"]*)"', page),
            "closure_note": re.findall(r'name="closure_note" maxlength="200" value="([^"]*)"', page)}
    form.update(changes)
    return form


def test_a_supervisor_adds_a_closure_day_with_a_note_and_sla_has_it_in_a_new_version(services, portal):
    client = portal("supervisor@mesa.example")
    before = max(c["version"] for c in sla_get(services, "/api/calendars") if c["desk"] == "SOPORTE")
    page = client.get("/supervisor/calendars?desk=SOPORTE").get_data(as_text=True)
    assert f"Versión vigente: {before}," in page and "recalcula los plazos de los tickets abiertos" in page
    form = calendar_form(client)
    form["closure_date"][0], form["closure_note"][0] = "2027-03-15", "Inventario anual <b>del club</b>"
    saved = client.post("/supervisor/calendars", data=form)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/supervisor/calendars?desk=SOPORTE")
    latest = max(sla_get(services, "/api/calendars"), key=lambda c: (c["desk"] == "SOPORTE", c["version"]))
    assert latest["version"] == before + 1 and latest["calendar"]["closures"] == [
        {"date": "2027-03-15", "note": "Inventario anual <b>del club</b>"}]
    assert latest["calendar"]["weekly"][0] == {"weekday": 0, "start": "09:00", "end": "17:00"}
    page = client.get("/supervisor/calendars?desk=SOPORTE").get_data(as_text=True)
    assert f"Versión vigente: {before + 1}," in page and "Inventario anual &lt;b&gt;del club&lt;/b&gt;" in page
    assert "<b>del club</b>" not in page  # the note is text, escaped in the form and the history


def test_a_closure_without_a_note_is_refused_beside_its_row_in_the_readers_language(services, portal):
    client = portal("supervisor@mesa.example")
    form = calendar_form(client, desk="IMPLANTACIONES")
    form["closure_date"][0] = "2027-04-01"
    refused = client.post("/supervisor/calendars", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(r'id="closure_0-error" role="alert"><p>Cada cierre indica fecha \(AAAA-MM-DD\) y una nota', page)
    client.post("/language", data={"csrf_token": csrf(client, "/tickets"), "lang": "en", "next": "/"})
    form = calendar_form(client, desk="IMPLANTACIONES", weekday_2="9-17")
    page = client.post("/supervisor/calendars", data=form).get_data(as_text=True)
    assert re.search(r'id="weekday_2-error" role="alert"><p>The time must be HH:MM.', page)
    assert [c["version"] for c in sla_get(services, "/api/calendars") if c["desk"] == "IMPLANTACIONES"] == [1]


def test_a_calendar_saved_meanwhile_by_someone_else_is_not_silently_undone(services, portal):
    first, second = portal("supervisor@mesa.example"), portal("supervisor@mesa.example")
    stale = calendar_form(second, desk="SOPORTE")
    assert first.post("/supervisor/calendars", data=calendar_form(first, weekday_5="09:00-13:00")).status_code == 302
    before = len(sla_get(services, "/api/calendars"))
    refused = second.post("/supervisor/calendars", data=stale)
    assert refused.status_code == 409 and "mientras usted lo editaba" in refused.get_data(as_text=True)
    assert len(sla_get(services, "/api/calendars")) == before


def test_a_supervisor_changes_a_policy_and_sla_has_the_new_version(services, portal):
    client = portal("supervisor@mesa.example")
    page = client.get("/supervisor/policies?desk=IMPLANTACIONES").get_data(as_text=True)
    assert "conservan la versión con que se abrieron" in page
    base = re.search(r'name="urgency_class" value="urgent">\s*<input type="hidden" name="base_version" value="(\d+)"',
                     page).group(1)
    form = {"csrf_token": csrf(client, "/supervisor/policies"), "desk": "IMPLANTACIONES", "urgency_class": "urgent",
            "base_version": base, "first_response_minutes": "90", "first_response_clock": "24x7",
            "next_response_minutes": "120", "next_response_clock": "24x7",
            "auto_close_warning_minutes": "480", "auto_close_warning_clock": "business",
            "auto_close_minutes": "960", "auto_close_clock": "business"}
    assert client.post("/supervisor/policies", data=form).status_code == 302
    urgent = max((p for p in sla_get(services, "/api/policies")
                  if (p["desk"], p["urgency_class"]) == ("IMPLANTACIONES", "urgent")), key=lambda p: p["version"])
    assert urgent["version"] == 2 and urgent["policy"]["first_response"] == {"minutes": 90, "clock": "24x7"}
    refused = client.post("/supervisor/policies", data={**form, "base_version": "2", "auto_close_minutes": "400",
                                                         "auto_close_clock": "business"})
    assert refused.status_code == 422
    assert re.search(r'id="urgent:auto_close_warning_minutes-error" role="alert"><p>El aviso de cierre automático '
                     r'debe llegar antes del cierre', refused.get_data(as_text=True))


def test_an_agent_reads_the_reports_but_gets_no_editor_and_cannot_post_one(services, portal):
    client = portal("carlos@mesa.example")
    for path in ("/reports/compliance", "/reports/backlog", "/reports/workload", "/reports/out-of-hours",
                 "/reports/time"):
        assert client.get(path).status_code == 200, path
    assert client.get("/reports/workload?desk=IMPLANTACIONES").status_code == 404  # not his desk
    token = csrf(client, "/reports/compliance")
    before = sla_get(services, "/api/calendars"), sla_get(services, "/api/policies")
    for path in ("/supervisor/calendars", "/supervisor/policies"):
        assert client.get(path).status_code == 404
        assert client.post(path, data={"csrf_token": token, "desk": "SOPORTE", "urgency_class": "normal",
                                       "base_version": "1", "weekday_0": "09:00-10:00"}).status_code == 404
    assert (sla_get(services, "/api/calendars"), sla_get(services, "/api/policies")) == before
    assert "Calendarios" not in client.get("/reports/compliance").get_data(as_text=True)


def test_a_customer_gets_not_found_on_every_staff_page(services, portal):
    client = portal("maria@clubcaracas.com.ve")
    for path in STAFF_PAGES:
        assert client.get(path).status_code == 404, path
    assert client.post("/supervisor/calendars", data={"csrf_token": csrf(client, "/tickets")}).status_code == 404
    assert "Informes" not in client.get("/tickets").get_data(as_text=True)


def test_a_staff_page_without_a_session_sends_to_the_login(portal):
    r = portal(None).get("/reports/compliance")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")


def test_an_editor_posted_without_its_csrf_token_is_refused_and_changes_nothing(services, portal):
    client = portal("supervisor@mesa.example")
    before = sla_get(services, "/api/calendars"), sla_get(services, "/api/policies")
    form = calendar_form(client, desk="SOPORTE")
    del form["csrf_token"]
    assert client.post("/supervisor/calendars", data=form).status_code == 400
    assert client.post("/supervisor/policies", data={"desk": "SOPORTE", "urgency_class": "normal"}).status_code == 400
    assert (sla_get(services, "/api/calendars"), sla_get(services, "/api/policies")) == before


def test_the_csv_download_is_querys_file_unchanged_with_its_bom_separator_and_name(services, portal):
    client = portal("supervisor@mesa.example")
    page = client.get("/reports/out-of-hours?from=2026-01&to=2026-11&desk=SOPORTE").get_data(as_text=True)
    link = re.search(r'id="download-csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "Descargar CSV" in page and "from=2026-01" in link and "desk=SOPORTE" in link
    download = client.get(link)
    direct = requests.get(services.urls["query"] + "/api/reports/out-of-hours.csv",
                          params={"from": "2026-01", "to": "2026-11", "desk": "SOPORTE"},
                          headers=services.login("supervisor@mesa.example"), timeout=10)
    assert download.status_code == 200 and download.data == direct.content
    assert download.data.startswith("\ufeffOrganización;RIF;Mes;".encode())
    assert download.headers["Content-Type"] == direct.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert download.headers["Content-Disposition"] == direct.headers["Content-Disposition"] == \
        'attachment; filename="fuera-de-horario_2026-01_2026-11.csv"'
    refused = client.get("/reports/out-of-hours?from=2026-13")
    assert refused.status_code == 422 and 'id="from-error"' in refused.get_data(as_text=True)


def test_a_late_answer_shows_on_the_compliance_page_with_its_chart_and_a_link_to_the_ticket(services, portal):
    # A first response due in three seconds (24x7) makes a breach without waiting a business day.
    supervisor = portal("supervisor@mesa.example")
    page = supervisor.get("/supervisor/policies?desk=SOPORTE").get_data(as_text=True)
    base = re.search(r'name="urgency_class" value="normal">\s*<input type="hidden" name="base_version" value="(\d+)"',
                     page).group(1)
    assert supervisor.post("/supervisor/policies", data={
        "csrf_token": csrf(supervisor, "/supervisor/policies"), "desk": "SOPORTE", "urgency_class": "normal",
        "base_version": base, "first_response_minutes": "0,05", "first_response_clock": "24x7",
        "next_response_minutes": "480", "next_response_clock": "business",
        "auto_close_warning_minutes": "480", "auto_close_warning_clock": "business",
        "auto_close_minutes": "960", "auto_close_clock": "business"}).status_code == 302
    maria = services.login("maria@clubcaracas.com.ve")
    opened = requests.post(services.urls["intake"] + "/api/tickets", json=ticket_body(
        "Conciliación de marzo no cuadra con el banco", "BANCOS"), headers=maria, timeout=10)
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    carlos = services.login("carlos@mesa.example")

    def overdue():
        r = requests.get(services.urls["query"] + "/api/reports/compliance/breaches",
                         headers=carlos, timeout=10).json()["items"]
        return any(b["number"] == number for b in r)
    localstack.wait_until(overdue, 120, "the first response overdue at query")
    answered = requests.post(services.urls["intake"] + f"/api/tickets/{number}/messages",
                             json={"body": "Revisamos la conciliación: el extracto tenía un cargo repetido."},
                             headers={**carlos, "Idempotency-Key": "6f1c1e0e-3f53-4b6c-9e8a-2b7d9c4e5a10"},
                             timeout=10)
    assert answered.status_code in (200, 201), answered.text

    def met_late():
        r = requests.get(services.urls["query"] + "/api/reports/compliance/breaches",
                         headers=carlos, timeout=10).json()["items"]
        return any(b["number"] == number and b["kind"] == "met_late" for b in r)
    localstack.wait_until(met_late, 120, "the late answer at query")
    page = portal("carlos@mesa.example").get("/reports/compliance?desk=SOPORTE").get_data(as_text=True)
    assert '<svg class="chart"' in page and "<title" in page
    assert f'href="/tickets/{number}">{number}</a>' in page and "respondida tarde" in page
    assert re.search(r"<td>Primera respuesta</td><td>1</td><td>0</td><td>0 %</td>", page)
