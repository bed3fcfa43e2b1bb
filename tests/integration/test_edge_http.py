"""Bad input at the HTTP edge (issue 7, items 1, 11, 12, 13): every field typed and bounded before any
handler runs; a refusal is a 4xx `{code, field, message: {es, en}}` that stores nothing; never a 500."""
from __future__ import annotations

import json

import pytest

from harness import login
from helpdesk_shared import pg
from samples import CONTACT, ticket_body

pytestmark = pytest.mark.integration

MARIA, CARLOS = "maria@clubcaracas.com.ve", "carlos@mesa.example"


def stored(intake_db) -> dict:
    """What a refused request must leave unchanged: events, tickets, access requests, passwords."""
    with pg.connect(intake_db) as conn:
        return conn.execute("""select (select count(*) from events) as events,
                                      (select count(*) from access_requests) as access_requests,
                                      (select count(*) from tickets) as tickets,
                                      (select string_agg(password_hash, ',' order by id) from users) as passwords
                            """).fetchone()


@pytest.fixture
def desk(intake_app):
    """A client, maria's and carlos's headers, and ticket SOP-1 that carlos has answered (awaits maria)."""
    client = intake_app.test_client()
    maria, carlos = login(client, MARIA), login(client, CARLOS)
    assert client.post("/api/tickets", json=ticket_body(), headers=maria).status_code == 201
    answered = client.post("/api/tickets/SOP-1/messages", json={"body": "¿Quedó bien la conciliación?"},
                           headers=carlos)
    assert answered.status_code == 201, answered.get_json()
    return client, maria, carlos


def assert_refused(response, status: int | tuple[int, ...] | None = None, field: str | None = None) -> dict:
    """A 4xx in our shape, with a Spanish and an English text that are not the same words."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    if status is not None:
        assert response.status_code in ((status,) if isinstance(status, int) else status), response.get_json()
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)[:500]
    assert body["code"] and body["message"]["es"] and body["message"]["en"], body
    assert body["message"]["es"] != body["message"]["en"], body
    if field is not None:
        assert body["field"] == field, body
    return body


WHO = {"maria": MARIA, "carlos": CARLOS}

# (who, method, path, json body, expected field): wrong types, bad dates, bad characters, from item 12.
BAD_BODIES = [
    ("maria", "post", "/api/tickets", ticket_body(desk=["SOPORTE"]), "desk"),
    ("maria", "post", "/api/tickets", ticket_body(subject=123), "subject"),
    ("maria", "post", "/api/tickets", ticket_body(description=12345), "description"),
    ("maria", "post", "/api/tickets", ticket_body(previous_ticket=17), "previous_ticket"),
    ("maria", "post", "/api/tickets", ticket_body(contact={**CONTACT, "email": 42}), "contact.email"),
    ("maria", "post", "/api/tickets", ticket_body(dates=["30/11/2026"]), "dates.0"),
    ("maria", "post", "/api/tickets", ticket_body(subject="BANCOS, Factura mal cargada\x00 en el banco"), "subject"),
    ("maria", "post", "/api/tickets", ticket_body(description="Conciliación \ud800 del banco " * 5), "description"),
    ("maria", "post", "/api/tickets/SOP-1/messages", {"body": 99}, "body"),
    ("maria", "post", "/api/tickets/SOP-1/messages", {"body": ["hola"]}, "body"),
    ("maria", "post", "/api/tickets/SOP-1/away", {"back_at": "el lunes en la mañana"}, "back_at"),
    ("maria", "post", "/api/tickets/SOP-1/away", {"back_at": "2026-11-30T13:00:00"}, "back_at"),
    ("maria", "post", "/api/tickets/SOP-1/away", {"note": 7}, "note"),
    ("carlos", "post", "/api/tickets/SOP-1/close", {"note": 7}, "note"),
    ("carlos", "post", "/api/tickets/SOP-1/assignment", {"agent_id": 7}, "agent_id"),
    ("carlos", "post", "/api/tickets/SOP-1/assignment", {"agent_id": ["a", "b"]}, "agent_id"),
    ("maria", "post", "/api/special-processes",
     {"description": "Carnetización anual", "starts_at": "2026-12-01T09:00:00-04:00",
      "ends_at": "2026-12-05T17:00:00-04:00"}, "kind"),
    ("maria", "post", "/api/special-processes",
     {"kind": "fiesta", "description": "Carnetización anual", "starts_at": "2026-12-01T09:00:00-04:00",
      "ends_at": "2026-12-05T17:00:00-04:00"}, "kind"),
    ("maria", "post", "/api/special-processes",
     {"kind": "carnetizacion", "description": "Carnetización anual", "starts_at": "2026-12-05T09:00:00-04:00",
      "ends_at": "2026-12-01T17:00:00-04:00"}, "ends_at"),
    ("maria", "post", "/api/special-processes",
     {"kind": "carnetizacion", "description": "Carnetización anual", "starts_at": "01/12/2026",
      "ends_at": "05/12/2026"}, "starts_at"),
    ("carlos", "post", "/api/special-processes",
     {"kind": "carnetizacion", "description": "Carnetización anual", "organisation_id": ["club-caracas"],
      "starts_at": "2026-12-01T09:00:00-04:00", "ends_at": "2026-12-05T17:00:00-04:00"}, "organisation_id"),
    (None, "post", "/api/auth/login", {"email": 5, "password": "mesa-demo"}, "email"),
    (None, "post", "/api/auth/login", {"email": MARIA, "password": None}, "password"),
    (None, "post", "/api/access-requests", {"name": "Carmen", "email": ["c@x.com"], "phone": "+58 212 555 0101",
                                            "organisation_name": "Club", "desk": "SOPORTE"}, "email"),
    ("maria", "post", "/api/training-requests", {"modules": "NOMINA", "participants": 3}, "modules"),
    ("maria", "post", "/api/training-requests", {"modules": ["NOMINA"], "participants": "3"}, "participants"),
]


@pytest.mark.parametrize("who, method, path, body, field", BAD_BODIES,
                         ids=[f"{path}:{field}:{i}" for i, (_, _, path, _, field) in enumerate(BAD_BODIES)])
def test_a_badly_typed_field_is_refused_naming_it_and_nothing_is_stored(intake_app, intake_db, desk, who, method,
                                                                        path, body, field):
    client, maria, carlos = desk
    headers = {"maria": maria, "carlos": carlos}.get(who, {})
    before = stored(intake_db)
    response = getattr(client, method)(path, headers=headers, json=body)
    assert_refused(response, 422, field)
    assert stored(intake_db) == before


def test_a_grant_with_a_list_as_the_organisation_is_refused(intake_app, intake_db):
    client = intake_app.test_client()
    filed = client.post("/api/access-requests", json={"name": "Carmen Ruiz", "email": "carmen@clubcaracas.com.ve",
                                                      "phone": "+58 212 555 0101", "organisation_name": "Club Caracas",
                                                      "desk": "SOPORTE"})
    assert filed.status_code == 202, filed.get_json()
    with pg.connect(intake_db) as conn:
        request_id = conn.execute("select request_id from access_requests").fetchone()["request_id"]
    before = stored(intake_db)
    response = client.post(f"/api/access-requests/{request_id}/grant",
                           json={"organisation_id": ["club-caracas"]}, headers=login(client, CARLOS))
    assert_refused(response, 422, "organisation_id")
    assert stored(intake_db) == before


# ---------------------------------------------------------------- item 11: a string is not a boolean

@pytest.mark.parametrize("who, path, body, field", [
    ("maria", "/api/tickets/SOP-1/resolution", {"solved": "false", "body": "Sigue duplicado el cargo."}, "solved"),
    ("maria", "/api/tickets", ticket_body("Nómina quincenal calcula mal el bono nocturno", "NOMINA",
                                          out_of_hours_requested="false"), "out_of_hours_requested"),
    ("maria", "/api/tickets", ticket_body(confirmed_different_case="no"), "confirmed_different_case"),
    ("carlos", "/api/tickets/SOP-1/messages", {"body": "Revisamos el lote del banco.", "internal": "false"},
     "internal"),
    ("carlos", "/api/tickets/SOP-1/messages", {"body": "Revisamos el lote del banco.", "internal": 0}, "internal"),
    ("maria", "/api/tickets/SOP-1/messages", {"body": "Sigue igual.", "out_of_hours_requested": 1},
     "out_of_hours_requested"),
])
def test_a_string_or_number_where_a_boolean_belongs_is_refused_and_changes_nothing(intake_app, intake_db, desk, who,
                                                                                   path, body, field):
    client, maria, carlos = desk
    before = stored(intake_db)
    response = client.post(path, json=body, headers={"maria": maria, "carlos": carlos}[who])
    assert_refused(response, 422, field)
    assert stored(intake_db) == before


# ---------------------------------------------------------------- item 13: the right problem

@pytest.mark.parametrize("who, path, body, field", [
    ("maria", "/api/tickets", {k: v for k, v in ticket_body().items() if k != "desk"}, "desk"),
    ("maria", "/api/tickets", {k: v for k, v in ticket_body().items() if k != "subject"}, "subject"),
    ("maria", "/api/tickets/SOP-1/resolution", {"body": "Sigue duplicado."}, "solved"),
    (None, "/api/auth/login", {"email": MARIA}, "password"),
    (None, "/api/auth/login", {"password": "mesa-demo"}, "email"),
    ("maria", "/api/special-processes", {"kind": "carnetizacion", "description": "Carnetización anual",
                                         "ends_at": "2026-12-05T17:00:00-04:00"}, "starts_at"),
    ("maria", "/api/training-requests", {"modules": ["NOMINA"]}, "participants"),
    (None, "/api/access-requests", {"name": "Carmen", "email": "carmen@clubcaracas.com.ve",
                                    "organisation_name": "Club", "desk": "SOPORTE"}, "phone"),
])
def test_a_missing_field_is_reported_as_missing_on_that_field(intake_app, intake_db, desk, who, path, body, field):
    client, maria, carlos = desk
    before = stored(intake_db)
    response = client.post(path, json=body, headers={"maria": maria, "carlos": carlos}.get(who, {}))
    refused = assert_refused(response, 422, field)
    assert refused["code"] == "FIELD_REQUIRED"
    assert stored(intake_db) == before


def test_a_missing_desk_is_not_called_no_access_to_the_desk(intake_app, desk):
    client, maria, _ = desk
    body = {k: v for k, v in ticket_body().items() if k != "desk"}
    refused = assert_refused(client.post("/api/tickets", json=body, headers=maria), 422, "desk")
    assert "acceso" not in refused["message"]["es"] and "access" not in refused["message"]["en"]


def test_a_missing_password_is_not_called_a_wrong_password(intake_app):
    client = intake_app.test_client()
    refused = assert_refused(client.post("/api/auth/login", json={"email": MARIA}), 422, "password")
    assert "wrong" not in refused["message"]["en"].lower()


def test_a_bad_email_in_an_access_request_does_not_quote_the_ticket_rule(intake_app, intake_db):
    client = intake_app.test_client()
    before = stored(intake_db)
    refused = assert_refused(client.post("/api/access-requests", json={
        "name": "Carmen Ruiz", "email": "carmen(at)clubcaracas", "phone": "+58 212 555 0101",
        "organisation_name": "Club Caracas", "desk": "SOPORTE"}), 422, "email")
    assert "ticket" not in refused["message"]["en"].lower() and "regla" not in refused["message"]["es"].lower()
    assert stored(intake_db) == before


def test_an_unknown_field_is_refused_naming_it(intake_app, desk):
    client, maria, _ = desk
    refused = assert_refused(client.post("/api/tickets/SOP-1/messages", json={"body": "hola", "interna": True},
                                         headers=maria), 422, "interna")
    assert refused["code"] == "FIELD_UNKNOWN"


# ---------------------------------------------------------------- item 1: every text is bounded

@pytest.mark.parametrize("path, who, body, field", [
    ("/api/tickets", "maria", ticket_body(description="Conciliación bancaria duplicada. " * 700), "description"),
    ("/api/tickets", "maria", ticket_body(case="Factura mal cargada en el banco " + "x" * 300), "subject"),
    ("/api/tickets/SOP-1/messages", "maria", {"body": "Sigue duplicado. " * 1300}, "body"),
    ("/api/tickets/SOP-1/away", "maria", {"note": "vuelvo " * 400}, "note"),
    ("/api/tickets/SOP-1/close", "carlos", {"note": "nota " * 500}, "note"),
    ("/api/tickets", "maria", ticket_body(contact={**CONTACT, "name": "María " * 30}), "contact.name"),
    ("/api/tickets", "maria", ticket_body(vouchers=["C-1"] * 60), "vouchers"),
])
def test_an_oversized_text_or_list_is_refused_naming_the_field(intake_app, intake_db, desk, path, who, body, field):
    client, maria, carlos = desk
    before = stored(intake_db)
    refused = assert_refused(client.post(path, json=body, headers={"maria": maria, "carlos": carlos}[who]), 422, field)
    assert refused["code"] in ("TEXT_TOO_LONG", "LIST_TOO_LONG")
    assert stored(intake_db) == before


def test_a_message_of_1_2_megabytes_is_refused_as_too_large_and_nothing_is_stored(intake_app, intake_db, desk):
    client, maria, _ = desk
    before = stored(intake_db)
    response = client.post("/api/tickets/SOP-1/messages", json={"body": "Sigue duplicado el cargo. " * 48_000},
                           headers=maria)
    refused = assert_refused(response, 413)
    assert refused["code"] == "REQUEST_TOO_LARGE"
    assert stored(intake_db) == before


# ---------------------------------------------------------------- malformed requests

def test_json_nested_100000_deep_is_a_400(intake_app, intake_db, desk):
    client, maria, _ = desk
    before = stored(intake_db)
    deep = '{"body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/api/tickets/SOP-1/messages", data=deep, content_type="application/json",
                           headers=maria)
    assert_refused(response, 400)
    assert stored(intake_db) == before


@pytest.mark.parametrize("data", ['["a list"]', '"text"', "{not json", "NaN", '{"body": NaN}', b'{"body": "\xff"}'])
def test_a_body_that_is_not_a_json_object_is_a_400(intake_app, desk, data):
    client, maria, _ = desk
    assert_refused(client.post("/api/tickets/SOP-1/messages", data=data, content_type="application/json",
                               headers=maria), 400)


def test_a_body_that_is_not_json_at_all_is_a_415(intake_app, desk):
    client, maria, _ = desk
    assert_refused(client.post("/api/tickets/SOP-1/messages", data="body=hola", headers=maria,
                               content_type="application/x-www-form-urlencoded"), 415)


def test_a_nul_in_a_path_segment_is_a_400(intake_app, intake_db, desk):
    client, maria, _ = desk
    before = stored(intake_db)
    assert_refused(client.post("/api/tickets/SOP%00-1/messages", json={"body": "hola"}, headers=maria), 400)
    assert_refused(client.get("/api/tickets/SOP%00-1/attachments/abc", headers=maria), 400)
    assert stored(intake_db) == before


@pytest.mark.parametrize("token", ["é" * 40, "abc.déf", "ü.ü"])
def test_a_bearer_token_with_non_ascii_bytes_is_a_401(intake_app, token):
    client = intake_app.test_client()
    response = client.post("/api/tickets", json=ticket_body(), headers={"Authorization": f"Bearer {token}"})
    assert_refused(response, 401)


@pytest.mark.parametrize("path", ["/resolve/é.é", "/set-password/ü.ü", "/resolve/a%00b.c", "/rate/é.é", "/rate/a%00b.c"])
def test_a_link_token_with_non_ascii_bytes_or_a_nul_is_a_400(intake_app, path):
    client = intake_app.test_client()
    assert_refused(client.get(path), 400)
    assert_refused(client.post(path, data={"password": "una-clave-larga"}), 400)


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/nothing-here", 404),
    ("delete", "/api/tickets", 405),
    ("get", "/api/auth/login", 405),
])
def test_framework_errors_speak_our_words(intake_app, method, path, status):
    body = assert_refused(getattr(intake_app.test_client(), method)(path), status)
    assert "browser" not in body["message"]["en"] and "requested URL" not in body["message"]["en"]


def test_a_set_password_form_without_a_password_says_it_is_missing(intake_app):
    from configs import SECRETS
    from helpdesk_shared import link_tokens
    from datetime import datetime, timezone
    client = intake_app.test_client()
    with pg.connect(intake_app.extensions["intake"].config.database_url) as conn:
        user_id = conn.execute("select id from users where email = %s", (MARIA,)).fetchone()["id"]
    token = link_tokens.sign(SECRETS["LINK_SECRET"], link_tokens.PASSWORD, {"u": user_id, "i": 0},
                             datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc), 3600)
    refused = assert_refused(client.post(f"/set-password/{token}", data={}), 422, "password")
    assert refused["code"] == "FIELD_REQUIRED"
    refused = assert_refused(client.post(f"/set-password/{token}", data={"password": "x" * 2000}), 422, "password")
    assert refused["code"] == "TEXT_TOO_LONG"


# ---------------------------------------------------------------- the query and SLA services

@pytest.fixture
def query_client(query_db, clock):
    """Query's app in-process on a fresh database, and a customer's bearer header."""
    from configs import bearer, query_config
    from helpdesk_shared.auth_tokens import Claims
    from query.app import create_app
    app = create_app(query_config(query_db), migrate_first=True, clock=clock)
    maria = Claims(user_id="u-maria", role="customer", organisation_id="club-caracas", desks=("SOPORTE",),
                   name="María", email=MARIA)
    yield app.test_client(), bearer(maria, clock())
    app.extensions["query"].pool.close()


@pytest.mark.parametrize("url, field", [
    ("/api/tickets?status=%00", "status"),
    ("/api/tickets?module=BANCOS%00", "module"),
    ("/api/tickets/SOP%00-1", "number"),
    ("/api/tickets?organisation_id=%ED%A0%80", None),
])
def test_the_query_api_refuses_nul_in_a_filter_or_path(query_client, url, field):
    client, maria = query_client
    response = client.get(url, headers=maria)
    if field is None:  # an undecodable byte arrives as U+FFFD: harmless, it must only not be a 500
        assert response.status_code < 500
        return
    assert_refused(response, 400, field)


def test_the_query_api_refuses_a_non_ascii_bearer_token(query_client):
    client, _ = query_client
    assert_refused(client.get("/api/tickets", headers={"Authorization": "Bearer ñ.ñ"}), 401)


@pytest.fixture
def sla_client(fresh_database, clock):
    """The SLA app in-process on a fresh database, and a supervisor's bearer header."""
    from configs import bearer, sla_config
    from helpdesk_shared.auth_tokens import Claims
    from sla.app import create_app
    app = create_app(sla_config(fresh_database("sla")), migrate_first=True, clock=clock)
    boss = Claims(user_id="u-boss", role="supervisor", organisation_id=None, desks=("SOPORTE", "IMPLANTACIONES"),
                  name="Supervisora", email="supervisor@mesa.example")
    yield app.test_client(), bearer(boss, clock())
    app.extensions["sla"].pool.close()


def sla_versions(client, headers) -> str:
    """Every calendar and policy version, to show a refused change stored nothing."""
    return json.dumps([client.get("/api/calendars", headers=headers).get_json(),
                       client.get("/api/policies", headers=headers).get_json()], sort_keys=True)


@pytest.mark.parametrize("path, body, field", [
    ("/api/calendars/SOPORTE", {"calendar": {"weekly": 5}}, "calendar.weekly"),
    ("/api/calendars/SOPORTE", {"calendar": {"closures": "2026-12-24"}}, "calendar.closures"),
    ("/api/calendars/SOPORTE", {"calendar": {"closures": [{"date": "2026-12-24", "note": "x" * 5000}]}},
     "calendar.closures.0.note"),
    ("/api/calendars/SOPORTE", {"calendar": {"tz": "America/Caracas"}, "effective_from": "mañana"}, "effective_from"),
    ("/api/calendars/SOPORTE", {"calendar": "todos los días"}, "calendar"),
    ("/api/calendars/SOPORTE", {}, "calendar"),
    ("/api/policies/SOPORTE/normal", {"policy": ["first_response"]}, "policy"),
    ("/api/policies/SOPORTE/normal", {"policy": {"first_response": {"minutes": 60, "clock": "business"}},
                                      "effective_from": "2026-12-01T09:00:00"}, "effective_from"),
])
def test_the_sla_api_refuses_badly_typed_calendars_and_policies(sla_client, path, body, field):
    client, boss = sla_client
    before = sla_versions(client, boss)
    assert_refused(client.put(path, json=body, headers=boss), 422, field)
    assert sla_versions(client, boss) == before


def test_the_sla_api_refuses_deep_json_and_nul_in_a_path(sla_client):
    client, boss = sla_client
    deep = '{"calendar": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert_refused(client.put("/api/calendars/SOPORTE", data=deep, content_type="application/json", headers=boss),
                   400)
    assert_refused(client.put("/api/calendars/SOP%00", json={"calendar": {}}, headers=boss), 400)


def test_a_reused_set_password_link_says_it_was_used(intake_app):
    from configs import SECRETS
    from helpdesk_shared import link_tokens
    client = intake_app.test_client()
    with pg.connect(intake_app.extensions["intake"].config.database_url) as conn:
        user_id = conn.execute("select id from users where email = %s", (MARIA,)).fetchone()["id"]
    now = intake_app.extensions["intake"].clock()
    token = link_tokens.sign(SECRETS["LINK_SECRET"], link_tokens.PASSWORD, {"u": user_id, "i": int(now.timestamp()) - 60},
                             now, 3600)
    assert client.post(f"/set-password/{token}", data={"password": "una-clave-larga"}).status_code == 200
    refused = assert_refused(client.post(f"/set-password/{token}", data={"password": "otra-clave-larga"}), 400)
    assert refused["code"] == "PASSWORD_LINK_USED" and "used" in refused["message"]["en"]


def test_an_empty_upload_is_called_empty_not_a_refused_type(intake_app):
    import io
    client = intake_app.test_client()
    response = client.post("/api/attachments", headers=login(client, MARIA),
                           data={"file": (io.BytesIO(b""), "captura.png")}, content_type="multipart/form-data")
    refused = assert_refused(response, 422, "file")
    assert refused["code"] == "ATTACHMENT_EMPTY"
