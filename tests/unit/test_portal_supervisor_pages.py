"""The staff pages' answers to what a service says (fake backend): a 403 from sla or query is the
not-found page, a service down is the 503 page, a refused CSV is no file."""
from __future__ import annotations

import re

import pytest

from configs import portal_config
from portal.app import create_app
from helpdesk_shared.catalog import DESKS
from portal.backend import Reply, Unavailable

SUPERVISOR = {"id": "s1", "name": "Rosa", "role": "supervisor", "organisation_id": None,
              "desks": ["SOPORTE"], "language": "es"}
CALENDAR = {"desk": "SOPORTE", "version": 1, "effective_from": "2026-01-01T00:00:00+00:00", "changed_by": "default",
            "calendar": {"tz": "America/Caracas", "weekly": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
                         "public_holidays": "VE", "closures": []}}
FORBIDDEN = Reply(403, {"code": "FORBIDDEN", "field": None, "message": {"es": "No.", "en": "No."}})


class FakeBackend:
    """sla and query as seen by a supervisor of SOPORTE; `answers` overrides a path's reply."""

    def __init__(self):
        self.answers: dict[str, object] = {}
        self.changes: list[tuple] = []

    def login(self, email, password, cid=None):
        return Reply(200, {"token": "tok", "user": SUPERVISOR})

    def rules_page(self, desk, language, cid=None):
        """The entry page reads the desk's rules page from intake (portal.content)."""
        return Reply(200, {"html": "<ol><li>Un caso, un ticket.</li></ol>", "shown_language": language})

    def _answer(self, path, default):
        answer = self.answers.get(path, default)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sla_read(self, token, path, cid=None):
        return self._answer(path, Reply(200, {"items": [CALENDAR]}))

    def sla_change(self, token, path, body, cid=None):
        self.changes.append((path, body))
        return self._answer("PUT " + path, Reply(201, {"version": 2}))

    def desk_modules(self, token, desk, cid=None):
        return Reply(200, {"desk": desk, "version": 0, "modules": [m.as_dict() for m in DESKS[desk].entries]})

    def report(self, token, path, params, cid=None):
        return self._answer(path, Reply(200, {"items": [], "agents": []}))

    def report_download(self, token, path, params, cid=None):
        status = self.answers.get("csv", 200)
        return status, {"Content-Type": "text/csv; charset=utf-8",
                        "Content-Disposition": 'attachment; filename="x.csv"'}, iter([b"\xef\xbb\xbfa;b\r\n"])


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def client(backend):
    client = create_app(portal_config("http://intake.invalid", "http://query.invalid"), backend=backend).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "email": "supervisor@mesa.example", "password": "mesa-demo"})
    return client


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_a_calendar_change_sla_refuses_with_403_is_the_not_found_page(client, backend):
    backend.answers["PUT /api/calendars/SOPORTE"] = FORBIDDEN
    r = client.post("/supervisor/calendars", data={"csrf_token": csrf(client, "/supervisor/calendars"),
                                                    "desk": "SOPORTE", "base_version": "1"})
    assert r.status_code == 404 and "No encontramos esta página" in r.get_data(as_text=True)


def test_a_desk_not_the_readers_is_not_found_before_any_service_is_asked(client, backend):
    assert client.get("/supervisor/calendars?desk=IMPLANTACIONES").status_code == 404
    r = client.post("/supervisor/policies", data={"csrf_token": csrf(client, "/supervisor/calendars"),
                                                   "desk": "IMPLANTACIONES", "urgency_class": "normal"})
    assert r.status_code == 404 and backend.changes == []


def test_a_report_query_refuses_with_403_is_the_not_found_page(client, backend):
    backend.answers["/api/reports/out-of-hours"] = FORBIDDEN
    assert client.get("/reports/out-of-hours").status_code == 404


def test_a_report_while_query_is_down_is_the_unavailable_page(client, backend):
    backend.answers["/api/reports/backlog"] = Unavailable("query")
    r = client.get("/reports/backlog")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"


def test_the_csv_passes_querys_bytes_and_headers_and_a_refusal_gives_no_file(client, backend):
    r = client.get("/reports/out-of-hours.csv")
    assert r.data == b"\xef\xbb\xbfa;b\r\n" and r.headers["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r.headers["Cache-Control"] == "no-store"
    backend.answers["csv"] = 403
    assert client.get("/reports/out-of-hours.csv").status_code == 404


def test_charts_on_a_report_page_carry_escaped_labels(client, backend):
    backend.answers["/api/desks/SOPORTE/workload"] = Reply(200, {
        "desk": "SOPORTE", "day": "2026-11-29", "unassigned": 2,
        "agents": [{"id": "a1", "name": "<img src=x onerror=alert(1)>", "role": "agent", "assigned": 3, "open": 2,
                    "waiting_customer": 1, "answered_today": 4}]})
    page = client.get("/reports/workload").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<svg class="chart"' in page and "Sin asignar: 2" in page


def test_a_saved_policy_says_its_version_and_that_open_tickets_keep_theirs(client, backend):
    backend.answers["/api/policies"] = Reply(200, {"items": [
        {"desk": "SOPORTE", "urgency_class": "urgent", "version": 1, "effective_from": "2026-01-01T00:00:00+00:00",
         "changed_by": "default", "policy": {t: {"minutes": 120, "clock": "24x7"} for t in (
             "first_response", "next_response", "auto_close_warning", "auto_close")}}]})
    form = {"csrf_token": csrf(client, "/supervisor/policies"), "desk": "SOPORTE", "urgency_class": "urgent",
            "base_version": "1", **{f"{t}_minutes": "60" for t in ("first_response", "next_response")},
            **{f"{t}_clock": "24x7" for t in ("first_response", "next_response")},
            "auto_close_warning_minutes": "480", "auto_close_warning_clock": "business",
            "auto_close_minutes": "960", "auto_close_clock": "business"}
    page = client.post("/supervisor/policies", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Política Urgente de SOPORTE guardada: versión 2" in page and "los abiertos conservan la suya" in page
    assert backend.changes[-1] == ("/api/policies/SOPORTE/urgent", {"policy": {
        "first_response": {"minutes": 60, "clock": "24x7"}, "next_response": {"minutes": 60, "clock": "24x7"},
        "auto_close_warning": {"minutes": 480, "clock": "business"}, "auto_close": {"minutes": 960, "clock": "business"}}})


def test_a_calendar_version_saved_for_a_later_day_says_it_is_scheduled(client, backend):
    later = {**CALENDAR, "version": 2, "effective_from": "2099-01-01T04:00:00+00:00", "changed_by": "s1"}
    backend.answers["/api/calendars"] = Reply(200, {"items": [CALENDAR, later]})
    page = client.get("/supervisor/calendars").get_data(as_text=True)
    assert "Última versión: 2, programada para regir desde 2099-01-01 00:00." in page
    assert "(programada)" in page and "Rosa" in page  # changed_by shown by name when it is the reader


@pytest.mark.parametrize("page, path", [("/reports/compliance?from=2026-13", "/api/reports/compliance"),
                                        ("/reports/backlog?from=2026-02-30", "/api/reports/backlog"),
                                        ("/reports/out-of-hours?from=x", "/api/reports/out-of-hours")])
def test_a_filter_query_refuses_is_shown_beside_the_filter_in_the_readers_language(client, backend, page, path):
    backend.answers[path] = Reply(422, {"code": "INVALID_FILTER", "field": "from",
                                        "message": {"es": "Use un mes AAAA-MM.", "en": "Use a month YYYY-MM."}})
    r = client.get(page)
    assert r.status_code == 422
    assert re.search(r'id="from-error" role="alert"><p>Use un mes AAAA-MM.', r.get_data(as_text=True))
    assert 'aria-invalid="true"' in r.get_data(as_text=True)


def test_the_compliance_page_shows_every_group_of_a_report_query_answers_in_pages(client, backend):
    # query answers a compliance report at most 200 items a request, with the next page's cursor.
    def item(org: str) -> dict:
        return {"organisation_id": org, "organisation_name": f"Organización {org}", "clock": "first_response",
                "count": 1, "met": 1, "share": 1.0, "median_business_hours": 1.0, "p90_business_hours": 1.0}
    pages = {None: ([item("a"), item("b")], "c2"), "c2": ([item("c")], None)}
    asked = []

    def report(token, path, params, cid=None):
        if path != "/api/reports/compliance" or params.get("group_by") != "organisation":
            return Reply(200, {"items": [], "agents": []})
        asked.append((params.get("cursor"), params.get("limit")))
        items, cursor = pages[params.get("cursor")]
        return Reply(200, {"items": items, "next_cursor": cursor})

    backend.report = report
    page = client.get("/reports/compliance?group_by=organisation").get_data(as_text=True)
    assert all(f"Organización {org}" in page for org in "abc")
    assert asked == [(None, "200"), ("c2", "200")]


def test_the_time_page_shows_each_agents_minutes_outside_hours_and_billable_with_a_decimal_comma(client, backend):
    backend.answers["/api/reports/time"] = Reply(200, {"from": "2026-12", "to": "2027-01", "items": [
        {"agent_id": "u-carlos", "agent_name": "Carlos Soporte", "organisation_id": "club-caracas",
         "organisation_name": "Club Social Caracas", "month": "2026-12", "entries": 2, "minutes": 135,
         "outside_hours_minutes": 135.0, "billable_minutes": 45.5, "hours": 2.25, "billable_hours": 0.76}]})
    page = client.get("/reports/time?agent=u-carlos").get_data(as_text=True)
    row = re.search(r'<table id="time-spent">.*?</table>', page, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["Carlos Soporte", "Club Social Caracas", "2026-12", "2", "135",
                                                    "135", "45,5"]
    assert 'aria-current="page">Tiempo registrado<' in page and '<svg class="chart"' in page


def test_a_wrong_filter_on_the_time_page_is_said_beside_it(client, backend):
    backend.answers["/api/reports/time"] = Reply(422, {"code": "INVALID_FILTER", "field": "agent",
                                                       "message": {"es": "Agente desconocido.", "en": "Unknown."}})
    r = client.get("/reports/time?agent=zzz")
    assert r.status_code == 422 and 'id="agent-error"' in r.get_data(as_text=True)
