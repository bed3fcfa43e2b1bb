"""Supervisors manage desks' module catalogs, organisations and users through intake, on real
PostgreSQL: each change is an event on helpdesk.accounts, and each refusal changes nothing."""
from __future__ import annotations

import pytest

from harness import login
from helpdesk_shared import pg
from helpdesk_shared.catalog import DESKS
from samples import ticket_body

pytestmark = pytest.mark.integration

SUPERVISOR = "supervisor@mesa.example"
CATALOG = "/api/desks/SOPORTE/modules"


def default_modules(desk: str = "SOPORTE") -> list[dict]:
    return [m.as_dict() for m in DESKS[desk].entries]


def edited(modules: list[dict] | None = None) -> list[dict]:
    """SOPORTE's default list with CXP renamed, NOMINA retired and a new ACTIVOS module."""
    result = []
    for m in modules or default_modules():
        if m["code"] == "CXP":
            m = {**m, "name": "Proveedores"}
        if m["code"] == "NOMINA":
            m = {**m, "retired": True}
        result.append(m)
    return result + [{"code": "ACTIVOS", "name": "Activos fijos", "retired": False}]


def events(db: str, type_: str) -> list[dict]:
    with pg.connect(db) as conn:
        return conn.execute("""select stream_id, stream_version, convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = %s
                               order by global_position""", (type_,)).fetchall()


def event_count(db: str) -> int:
    with pg.connect(db) as conn:
        return conn.execute("select count(*) as n from events").fetchone()["n"]


@pytest.fixture
def client(intake_app):
    return intake_app.test_client()


@pytest.fixture
def supervisor(client):
    return login(client, SUPERVISOR)


# ---------------------------------------------------------------- catalogs

def test_readers_of_a_desk_get_its_default_catalog_at_version_0(client):
    r = client.get(CATALOG, headers=login(client, "maria@clubcaracas.com.ve"))
    assert r.status_code == 200
    assert r.get_json() == {"desk": "SOPORTE", "version": 0, "modules": default_modules()}


def test_a_supervisor_renames_retires_and_adds_modules_in_one_event_with_the_full_list(client, supervisor,
                                                                                         intake_db):
    r = client.put(CATALOG, json={"expected_version": 0, "modules": edited()}, headers=supervisor)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"desk": "SOPORTE", "version": 1, "modules": edited()}
    [event] = events(intake_db, "ModuleCatalogChanged")
    assert (event["stream_id"], event["stream_version"]) == ("catalog-SOPORTE", 1)
    assert event["data"]["version"] == 1 and event["data"]["modules"] == edited()
    assert client.get(CATALOG, headers=login(client, "carlos@mesa.example")).get_json()["version"] == 1
    # IMPLANTACIONES keeps its own catalog.
    assert client.get("/api/desks/IMPLANTACIONES/modules", headers=supervisor).get_json()["version"] == 0


def test_a_new_ticket_names_an_added_module_but_not_a_retired_one_while_older_tickets_keep_theirs(client,
                                                                                                 supervisor):
    maria = login(client, "maria@clubcaracas.com.ve")
    older = client.post("/api/tickets", json=ticket_body("Nómina quincenal calcula mal el bono nocturno",
                                                          module="NOMINA"), headers=maria)
    assert older.status_code == 201, older.get_json()
    client.put(CATALOG, json={"expected_version": 0, "modules": edited()}, headers=supervisor)

    refused = client.post("/api/tickets", json=ticket_body("Nómina de diciembre calcula mal las utilidades",
                                                            module="NOMINA"), headers=maria)
    assert refused.status_code == 422
    body = refused.get_json()
    assert (body["code"], body["field"]) == ("R4_MODULE_RETIRED", "subject")
    assert "NOMINA" in body["message"]["es"] and "NOMINA" in body["message"]["en"]
    assert "NOMINA" not in body["modules"] and "ACTIVOS" in body["modules"]

    added = client.post("/api/tickets", json=ticket_body("Depreciación de la flota de vehículos mal calculada",
                                                          module="ACTIVOS"), headers=maria)
    assert added.status_code == 201, added.get_json()
    number = older.get_json()["number"]
    assert client.get(f"/api/tickets/{number}", headers=maria).get_json()["module"] == "NOMINA"
    answer = client.post(f"/api/tickets/{number}/messages", json={"body": "Adjunto el recibo del empleado."},
                         headers=maria)
    assert answer.status_code == 201


def test_an_edit_from_a_stale_version_is_a_409_and_changes_nothing(client, supervisor, intake_db):
    assert client.put(CATALOG, json={"expected_version": 0, "modules": edited()}, headers=supervisor).status_code == 200
    before = event_count(intake_db)
    stale = client.put(CATALOG, json={"expected_version": 0, "modules": default_modules()}, headers=supervisor)
    assert stale.status_code == 409
    body = stale.get_json()
    assert (body["code"], body["field"], body["version"]) == ("CATALOG_VERSION_CONFLICT", "expected_version", 1)
    assert body["message"]["es"].startswith("Otra persona") and body["message"]["en"].startswith("Someone else")
    assert event_count(intake_db) == before
    assert client.get(CATALOG, headers=supervisor).get_json()["modules"] == edited()


@pytest.mark.parametrize("modules, code", [
    ([m for m in default_modules() if m["code"] != "SENIAT"], "CATALOG_MODULE_REMOVED"),
    (default_modules() + [{"code": "banco-2", "name": "Otro"}], "CATALOG_MODULE_CODE_INVALID"),
    (default_modules() + [{"code": "BANCOS2", "name": "bancos"}], "CATALOG_MODULE_DUPLICATE"),
    ([{**m, "retired": True} for m in default_modules()], "CATALOG_EMPTY"),
])
def test_a_catalog_that_breaks_a_rule_is_refused_with_its_code_and_changes_nothing(client, supervisor, intake_db,
                                                                                   modules, code):
    before = event_count(intake_db)
    r = client.put(CATALOG, json={"expected_version": 0, "modules": modules}, headers=supervisor)
    assert (r.status_code, r.get_json()["code"]) == (422, code)
    assert r.get_json()["message"]["es"] != r.get_json()["message"]["en"]
    assert event_count(intake_db) == before
    assert client.get(CATALOG, headers=supervisor).get_json() == {"desk": "SOPORTE", "version": 0,
                                                                  "modules": default_modules()}


@pytest.mark.parametrize("body, field", [
    ({"expected_version": 0, "modules": [{"code": "A" * 21, "name": "Largo"}]}, "modules"),
    ({"expected_version": 0, "modules": [{"code": "NUEVO", "name": "n" * 61}]}, "modules"),
    ({"expected_version": 0, "modules": [{"code": "NUEVO", "name": "Nuevo"}] * 61}, "modules"),
    ({"expected_version": "0", "modules": []}, "expected_version"),
    ({"modules": default_modules()}, "expected_version"),
    ({"expected_version": 0, "modules": default_modules(), "desk": "SOPORTE"}, "desk"),
])
def test_an_unbounded_or_mistyped_catalog_body_is_refused_at_the_edge(client, supervisor, intake_db, body, field):
    before = event_count(intake_db)
    r = client.put(CATALOG, json=body, headers=supervisor)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["field"].split(".")[0].split("[")[0] == field
    assert event_count(intake_db) == before


@pytest.mark.parametrize("email", ["maria@clubcaracas.com.ve", "luis@andina.com.ve", "carlos@mesa.example"])
def test_customers_of_any_organisation_and_agents_may_not_edit_a_catalog(client, intake_db, email):
    before = event_count(intake_db)
    r = client.put(CATALOG, json={"expected_version": 0, "modules": edited()}, headers=login(client, email))
    assert r.status_code == 403 and r.get_json()["code"] == "FORBIDDEN"
    assert event_count(intake_db) == before


def test_a_reader_not_on_the_desk_may_not_read_its_catalog_and_an_unknown_desk_is_404(client, supervisor):
    luis = login(client, "luis@andina.com.ve")  # IMPLANTACIONES only
    assert client.get(CATALOG, headers=luis).status_code == 403
    assert client.get("/api/desks/VENTAS/modules", headers=supervisor).status_code == 404
    assert client.put("/api/desks/VENTAS/modules", json={"expected_version": 0, "modules": edited()},
                      headers=supervisor).status_code == 404


# ---------------------------------------------------------------- organisations

def test_a_supervisor_registers_an_organisation_and_lists_it_with_its_users(client, supervisor, intake_db):
    r = client.post("/api/organisations", json={"name": "Club Náutico  Puerto Azul", "desks": ["SOPORTE"],
                                                "tax_id": "J-12345678-9"}, headers=supervisor)
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"id": "club-nautico-puerto-azul", "name": "Club Náutico Puerto Azul",
                            "tax_id": "J-12345678-9", "desks": ["SOPORTE"], "users": []}
    [event] = [e for e in events(intake_db, "OrganisationRegistered") if e["data"]["name"].startswith("Club Náutico")]
    assert event["stream_id"] == "org-club-nautico-puerto-azul"
    listed = client.get("/api/organisations", headers=supervisor).get_json()
    by_id = {o["id"]: o for o in listed["items"]}
    assert by_id["club-nautico-puerto-azul"]["users"] == []
    assert {u["email"] for u in by_id["club-caracas"]["users"]} == {"maria@clubcaracas.com.ve",
                                                                   "jose@clubcaracas.com.ve"}
    assert "carlos@mesa.example" in {u["email"] for u in listed["staff"]}


def test_an_organisation_that_exists_or_is_on_another_supervisors_desk_is_refused_and_changes_nothing(
        client, supervisor, intake_db):
    before = event_count(intake_db)
    taken = client.post("/api/organisations", json={"name": "club social caracas", "desks": ["SOPORTE"]},
                        headers=supervisor)
    assert (taken.status_code, taken.get_json()["code"]) == (409, "ORGANISATION_EXISTS")
    carlos = login(client, "carlos@mesa.example")
    assert client.post("/api/organisations", json={"name": "Otro Club", "desks": ["SOPORTE"]},
                       headers=carlos).status_code == 403
    assert client.get("/api/organisations", headers=carlos).status_code == 403
    assert client.post("/api/organisations", json={"name": "Otro Club", "desks": []},
                       headers=supervisor).get_json()["code"] == "ORGANISATION_INVALID"
    assert client.post("/api/organisations", json={"name": "Otro Club", "desks": ["SOPORTE"],
                                                   "organisation_id": "Otro Club!"},
                       headers=supervisor).get_json()["code"] == "ORGANISATION_INVALID"
    assert event_count(intake_db) == before


# ---------------------------------------------------------------- users

def test_a_supervisor_creates_a_customer_who_is_granted_access_like_an_approved_request(client, supervisor,
                                                                                      intake_db):
    r = client.post("/api/users", json={"email": "Pedro@ClubCaracas.com.ve", "name": "Pedro Páez",
                                        "role": "customer", "organisation_id": "club-caracas",
                                        "desks": ["SOPORTE"], "language": "en"}, headers=supervisor)
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    assert (user["email"], user["role"], user["organisation_id"], user["desks"], user["language"],
            user["disabled"]) == ("pedro@clubcaracas.com.ve", "customer", "club-caracas", ["SOPORTE"], "en", False)
    stream = f"user-{user['id']}"
    [registered] = [e for e in events(intake_db, "UserRegistered") if e["stream_id"] == stream]
    [granted] = [e for e in events(intake_db, "AccessGranted") if e["stream_id"] == stream]
    assert registered["stream_version"] == 1 and granted["stream_version"] == 2
    assert granted["data"]["request_id"] is None and granted["data"]["user_id"] == user["id"]
    # Nobody knows his password until he sets one through the mailed link.
    assert client.post("/api/auth/login", json={"email": user["email"], "password": "mesa-demo"}).status_code == 401
    listed = client.get("/api/organisations", headers=supervisor).get_json()
    assert user["id"] in {u["id"] for o in listed["items"] if o["id"] == "club-caracas" for u in o["users"]}


def test_a_supervisor_creates_an_agent_of_his_desks_without_an_organisation(client, supervisor):
    r = client.post("/api/users", json={"email": "pablo@mesa.example", "name": "Pablo Soporte", "role": "agent",
                                        "desks": ["SOPORTE"]}, headers=supervisor)
    assert r.status_code == 201 and r.get_json()["organisation_id"] is None


@pytest.mark.parametrize("who, body, status, code", [
    ("supervisor", {"email": "maria@clubcaracas.com.ve", "role": "customer", "organisation_id": "club-caracas",
                    "desks": ["SOPORTE"]}, 409, "USER_EXISTS"),
    ("supervisor", {"role": "customer", "organisation_id": "club-caracas", "desks": ["IMPLANTACIONES"]},
     422, "USER_INVALID"),
    ("supervisor", {"role": "customer", "desks": ["SOPORTE"]}, 422, "USER_INVALID"),
    ("supervisor", {"role": "agent", "organisation_id": "club-caracas", "desks": ["SOPORTE"]}, 422, "USER_INVALID"),
    ("supervisor", {"role": "customer", "organisation_id": "no-such-club", "desks": ["SOPORTE"]}, 404, "not_found"),
    ("supervisor", {"role": "supervisor", "desks": ["SOPORTE"]}, 422, "FIELD_NOT_CHOICE"),
    ("carlos@mesa.example", {"role": "agent", "desks": ["SOPORTE"]}, 403, "FORBIDDEN"),
    ("maria@clubcaracas.com.ve", {"role": "customer", "organisation_id": "club-caracas", "desks": ["SOPORTE"]},
     403, "FORBIDDEN"),
    ("luis@andina.com.ve", {"role": "customer", "organisation_id": "distribuidora-andina",
                            "desks": ["IMPLANTACIONES"]}, 403, "FORBIDDEN"),
])
def test_a_user_the_rules_or_the_callers_role_refuse_is_not_created(client, intake_db, who, body, status, code):
    headers = login(client, SUPERVISOR if who == "supervisor" else who)
    before = event_count(intake_db)
    r = client.post("/api/users", json={"email": "nuevo@clubcaracas.com.ve", "name": "Nuevo Usuario", **body},
                    headers=headers)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["code"] == code
    assert event_count(intake_db) == before


def test_a_supervisor_deactivates_a_user_and_changes_his_desks(client, supervisor):
    user = client.post("/api/users", json={"email": "ines@countryvalencia.com.ve", "name": "Inés Díaz",
                                           "role": "customer", "organisation_id": "country-valencia",
                                           "desks": ["SOPORTE"]}, headers=supervisor).get_json()
    moved = client.patch(f"/api/users/{user['id']}", json={"desks": ["SOPORTE", "IMPLANTACIONES"]},
                         headers=supervisor)
    assert moved.status_code == 200 and moved.get_json()["desks"] == ["SOPORTE", "IMPLANTACIONES"]
    off = client.patch(f"/api/users/{user['id']}", json={"disabled": True}, headers=supervisor)
    assert off.status_code == 200 and off.get_json()["disabled"] is True
