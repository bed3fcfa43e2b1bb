"""The supervisors' portal pages (organisations, users, module catalogs) with the Flask test
client, against the real intake in-process on real PostgreSQL: each form reaches intake with
the supervisor's token, refusals show beside their fields, and other roles are refused."""
from __future__ import annotations

import re

import pytest

from configs import portal_config
from harness import login
from portal.app import create_app
from portal.backend import Backend, Reply

pytestmark = pytest.mark.integration

INTAKE = "http://intake.in-process"


class InProcessBackend(Backend):
    """The portal's real adapter, its HTTP calls answered by intake's app in this process."""

    def __init__(self, config, intake_client):
        super().__init__(config)
        self.intake = intake_client

    def _call(self, method, url, token, correlation_id=None, raw=False, **kwargs):
        assert url.startswith(INTAKE), url  # these pages read and write through intake only
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        r = self.intake.open(url[len(INTAKE):], method=method, headers=headers, json=kwargs.get("json"),
                             data=kwargs.get("data"), query_string=kwargs.get("params"))
        body = r.get_json(silent=True)
        return Reply(r.status_code, body if isinstance(body, dict) else {})


@pytest.fixture
def intake(intake_app):
    return intake_app.test_client()


@pytest.fixture
def portal(intake):
    config = portal_config(INTAKE, "http://query.invalid")
    return create_app(config, backend=InProcessBackend(config, intake)).test_client


def csrf(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def signed_in(portal, email: str):
    client = portal()
    r = client.post("/login", data={"csrf_token": csrf(client, "/"), "email": email, "password": "mesa-demo",
                                    "desk": "SOPORTE"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def catalog_form(client, page_path="/supervisor/catalog?desk=SOPORTE") -> dict:
    """The catalog form's fields as the browser would post them unchanged."""
    page = client.get(page_path).get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    checked = re.findall(r'<input type="checkbox" id="[^"]+" name="(retired_\d+)" checked', page)
    fields.update({name: "on" for name in checked})
    return fields


def modules_of(intake, desk="SOPORTE") -> dict:
    return intake.get(f"/api/desks/{desk}/modules", headers=login(intake, "supervisor@mesa.example")).get_json()


def test_a_supervisor_renames_retires_and_adds_modules_and_the_new_ticket_form_offers_the_result(portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    page = rosa.get("/supervisor/catalog").get_data(as_text=True)
    assert "Catálogo de módulos de SOPORTE" in page and 'value="Cuentas por pagar"' in page
    form = catalog_form(rosa)
    codes = {v: k.split("_")[1] for k, v in form.items() if k.startswith("code_")}
    form[f"name_{codes['CXP']}"] = "Proveedores"
    form[f"retired_{codes['NOMINA']}"] = "on"
    blank = int(form["rows"]) - 3
    form.update({f"code_{blank}": "activos", f"name_{blank}": "Activos fijos"})
    saved = rosa.post("/supervisor/catalog", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    catalog = modules_of(intake)
    assert catalog["version"] == 1
    named = {m["code"]: m for m in catalog["modules"]}
    assert named["CXP"]["name"] == "Proveedores" and named["NOMINA"]["retired"] and named["ACTIVOS"]["name"] == \
        "Activos fijos"
    assert "versión 1" in rosa.get(saved.headers["Location"]).get_data(as_text=True)

    maria = signed_in(portal, "maria@clubcaracas.com.ve")
    new_ticket = maria.get("/tickets/new").get_data(as_text=True)
    assert 'value="ACTIVOS"' in new_ticket and "CXP — Proveedores" in new_ticket
    assert 'value="NOMINA"' not in new_ticket


def test_a_catalog_form_from_before_someone_elses_edit_is_refused_with_the_current_list_shown(portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    stale = catalog_form(rosa)
    fresh = catalog_form(rosa)
    fresh[f"name_{[k for k, v in fresh.items() if v == 'SISTEMA'][0].split('_')[1]}"] = "Sistema y servidores"
    assert rosa.post("/supervisor/catalog", data=fresh).status_code == 302
    refused = rosa.post("/supervisor/catalog", data=stale)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "Otra persona cambió el catálogo" in page and 'value="Sistema y servidores"' in page
    assert modules_of(intake)["version"] == 1


def test_a_catalog_that_removes_a_module_is_refused_beside_the_list_and_changes_nothing(portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    form = catalog_form(rosa)
    seniat = [k for k, v in form.items() if v == "SENIAT"][0].split("_")[1]
    form[f"code_{seniat}"], form[f"name_{seniat}"] = "", ""
    refused = rosa.post("/supervisor/catalog", data=form)
    assert refused.status_code == 422
    assert 'id="modules-error"' in refused.get_data(as_text=True) and "SENIAT" in refused.get_data(as_text=True)
    assert modules_of(intake)["version"] == 0


def test_a_supervisor_registers_an_organisation_creates_its_user_then_changes_his_desks_and_deactivates_him(
        portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    token = csrf(rosa, "/supervisor/organisations")
    created = rosa.post("/supervisor/organisations", data={"csrf_token": token, "name": "Club Puerto Azul",
                                                           "tax_id": "J-99887766-5", "desks": ["SOPORTE",
                                                                                               "IMPLANTACIONES"]})
    assert created.status_code == 302 and created.headers["Location"].endswith("/supervisor/users?organisation="
                                                                               "club-puerto-azul")
    assert "Club Puerto Azul" in rosa.get("/supervisor/organisations").get_data(as_text=True)

    token = csrf(rosa, "/supervisor/users?organisation=club-puerto-azul")
    user = rosa.post("/supervisor/users", data={"csrf_token": token, "organisation": "club-puerto-azul",
                                                "email": "gerencia@puertoazul.com.ve", "name": "Gerencia Puerto Azul",
                                                "language": "es", "desks": ["SOPORTE"]})
    assert user.status_code == 302
    page = rosa.get(user.headers["Location"]).get_data(as_text=True)
    assert "gerencia@puertoazul.com.ve" in page and "Le enviamos un correo" in page
    user_id = re.search(r'id="user-([0-9a-f-]{36})"', page).group(1)

    moved = rosa.post(f"/supervisor/users/{user_id}", data={
        "csrf_token": token, "organisation": "club-puerto-azul", "action": "desks",
        "desks": ["SOPORTE", "IMPLANTACIONES"]})
    assert moved.status_code == 302
    off = rosa.post(f"/supervisor/users/{user_id}", data={"csrf_token": token, "organisation": "club-puerto-azul",
                                                          "action": "deactivate"})
    assert off.status_code == 302
    listed = intake.get("/api/organisations", headers=login(intake, "supervisor@mesa.example")).get_json()
    [person] = [u for o in listed["items"] if o["id"] == "club-puerto-azul" for u in o["users"]]
    assert person["desks"] == ["SOPORTE", "IMPLANTACIONES"] and person["disabled"] is True
    assert "Desactivado" in rosa.get("/supervisor/users?organisation=club-puerto-azul").get_data(as_text=True)


def test_an_organisation_that_exists_is_refused_beside_its_name_in_the_readers_language(portal):
    rosa = signed_in(portal, "supervisor@mesa.example")
    refused = rosa.post("/supervisor/organisations", data={"csrf_token": csrf(rosa, "/supervisor/organisations"),
                                                           "name": "Club Social Caracas", "desks": ["SOPORTE"]})
    assert refused.status_code == 422
    assert re.search(r'id="name-error"[^>]*><p>Ya existe una organización', refused.get_data(as_text=True))


def test_an_agent_from_the_staff_list_is_created_without_an_organisation(portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    token = csrf(rosa, "/supervisor/users?organisation=staff")
    r = rosa.post("/supervisor/users", data={"csrf_token": token, "organisation": "staff",
                                             "email": "pablo@mesa.example", "name": "Pablo Soporte", "language": "es",
                                             "desks": ["SOPORTE"]})
    assert r.status_code == 302
    staff = intake.get("/api/organisations", headers=login(intake, "supervisor@mesa.example")).get_json()["staff"]
    assert {"pablo@mesa.example": ("agent", None)} == {u["email"]: (u["role"], u["organisation_id"]) for u in staff
                                                       if u["email"] == "pablo@mesa.example"}


@pytest.mark.parametrize("email", ["carlos@mesa.example", "maria@clubcaracas.com.ve"])
@pytest.mark.parametrize("path", ["/supervisor/organisations", "/supervisor/users", "/supervisor/catalog"])
def test_agents_and_customers_are_refused_the_supervisors_pages(portal, email, path):
    client = signed_in(portal, email)
    assert client.get(path).status_code == 403
    assert "/supervisor/" not in client.get("/tickets/new").get_data(as_text=True)


def test_a_reader_without_a_session_is_sent_to_log_in(portal):
    r = portal().get("/supervisor/catalog")
    assert r.status_code == 302 and "/supervisor" not in r.headers["Location"].split("?")[0]


def test_a_post_without_its_csrf_token_is_refused_and_reaches_nothing(portal, intake):
    rosa = signed_in(portal, "supervisor@mesa.example")
    form = catalog_form(rosa)
    del form["csrf_token"]
    assert rosa.post("/supervisor/catalog", data=form).status_code == 400
    assert modules_of(intake)["version"] == 0
