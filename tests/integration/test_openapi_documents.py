"""Issue 10, item 1: each service's OpenAPI document is generated from its routes' declarations,
so it holds exactly the rules of the app's URL map, and the answers it describes are the answers
the routes give (real answers validated against the served document)."""
from __future__ import annotations

import jsonschema
import pytest

import samples
from configs import bearer, notifier_config, query_config, sla_config
from harness import login
from helpdesk_shared.openapi import METHODS, openapi_path
from permission_matrix import CLAIMS
from test_query_http import CARLOS, MARIA, feed  # noqa: F401  (feed: the fed read model, a fixture)

pytestmark = pytest.mark.integration


def _service_app(service: str, request, fresh_database, clock):
    if service == "intake":
        return request.getfixturevalue("intake_app")
    url = fresh_database(service)
    if service == "query":
        from query.app import create_app
        return create_app(query_config(url), migrate_first=True, clock=clock)
    if service == "sla":
        from sla.app import create_app
        return create_app(sla_config(url), migrate_first=True, clock=clock)
    from notifier.app import create_app
    return create_app(notifier_config(url), migrate_first=True, clock=clock)


def _close(app) -> None:
    probe = app.extensions["mesa.probe"]
    probe.pool_of().close()


def served(app) -> dict:
    """The document the app serves."""
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def conforms(document: dict, path: str, method: str, response) -> None:
    """The answer's status is documented for the operation and its JSON body matches the documented schema."""
    operation = document["paths"][path][method]
    assert str(response.status_code) in operation["responses"], (path, method, response.status_code)
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({"allOf": [schema], "components": document["components"]}).validate(
        response.get_json())


@pytest.mark.parametrize("service", ("intake", "query", "sla", "notifier"))
def test_every_rule_of_the_url_map_is_in_the_document_with_its_methods_and_nothing_else(
        service, request, fresh_database, clock):
    app = _service_app(service, request, fresh_database, clock)
    try:
        routes = {(openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" for method in rule.methods if method.lower() in METHODS}
        document = served(app)
    finally:
        if service != "intake":
            _close(app)
    documented = {(path, method) for path, operations in document["paths"].items()
                  for method in operations if method in METHODS}
    assert routes - documented == set(), "routes the document lacks"
    assert documented - routes == set(), "documented operations the app does not have"
    assert {"/healthz", "/metrics", "/openapi.json"} <= {path for path, _ in routes}


def test_intakes_answers_are_the_documented_ones(intake_app):
    client, document = intake_app.test_client(), served(intake_app)
    logged_in = client.post("/api/auth/login", json={"email": "maria@clubcaracas.com.ve", "password": "mesa-demo"})
    conforms(document, "/api/auth/login", "post", logged_in)
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    supervisor = login(client, "supervisor@mesa.example")

    opened = client.post("/api/tickets", json=samples.ticket_body(), headers=maria)
    conforms(document, "/api/tickets", "post", opened)
    number = opened.get_json()["number"]
    path = "/api/tickets/{number}"
    conforms(document, path, "get", client.get(f"/api/tickets/{number}", headers=maria))
    conforms(document, path + "/messages", "post",
             client.post(f"/api/tickets/{number}/messages", json={"body": "Sigue igual."}, headers=maria))
    conforms(document, path + "/assignment", "post",
             client.post(f"/api/tickets/{number}/assignment", json={}, headers=carlos))
    conforms(document, path + "/billable", "post",
             client.post(f"/api/tickets/{number}/billable", json={"billable": True}, headers=carlos))
    conforms(document, path + "/close", "post", client.post(f"/api/tickets/{number}/close", json={}, headers=carlos))
    conforms(document, path, "get", client.get(f"/api/tickets/{number}", headers=carlos))
    conforms(document, "/api/tickets", "post", client.post("/api/tickets", json={"desk": "SOPORTE"}, headers=maria))
    conforms(document, "/api/desks/{desk}/rules-page", "get", client.get("/api/desks/SOPORTE/rules-page?lang=en"))
    conforms(document, "/api/desks/{desk}/modules", "get", client.get("/api/desks/SOPORTE/modules", headers=carlos))
    conforms(document, "/api/access-requests", "get", client.get("/api/access-requests", headers=carlos))
    conforms(document, "/api/organisations", "get", client.get("/api/organisations", headers=supervisor))
    created = client.post("/api/users", json={"email": "nuevo@clubcaracas.com.ve", "name": "Nuevo Socio",
                                              "role": "customer", "desks": ["SOPORTE"],
                                              "organisation_id": "club-caracas"}, headers=supervisor)
    conforms(document, "/api/users", "post", created)
    conforms(document, "/api/users/{user_id}", "patch",
             client.patch(f"/api/users/{created.get_json()['id']}", json={"disabled": True}, headers=supervisor))


def test_querys_answers_are_the_documented_ones(feed, query_db, clock, now):  # noqa: F811
    from query.app import create_app
    app = create_app(query_config(query_db), migrate_first=True, clock=clock)
    try:
        client, document = app.test_client(), served(app)
        for who in (MARIA, CARLOS):
            conforms(document, "/api/tickets", "get", client.get("/api/tickets", headers=bearer(who, now)))
            conforms(document, "/api/tickets/{number}", "get", client.get("/api/tickets/SOP-1", headers=bearer(who, now)))
            conforms(document, "/api/organisations", "get", client.get("/api/organisations", headers=bearer(who, now)))
        conforms(document, "/api/desks/{desk}/agents", "get",
                 client.get("/api/desks/SOPORTE/agents", headers=bearer(CARLOS, now)))
        conforms(document, "/api/desks/{desk}/queue", "get",
                 client.get("/api/desks/SOPORTE/queue?limit=1", headers=bearer(CARLOS, now)))
        conforms(document, "/api/tickets/{number}/timeline", "get",
                 client.get("/api/tickets/SOP-1/timeline?limit=2", headers=bearer(CARLOS, now)))
        conforms(document, "/api/tickets", "get", client.get("/api/tickets?estado=x", headers=bearer(CARLOS, now)))
    finally:
        app.extensions["query"].pool.close()


def test_the_sla_and_notifier_answers_are_the_documented_ones(fresh_database, clock):
    from notifier.app import create_app as notifier_app
    from sla.app import create_app as sla_app
    sla = sla_app(sla_config(fresh_database("sla")), migrate_first=True, clock=clock)
    notifier = notifier_app(notifier_config(fresh_database("notifier")), migrate_first=True, clock=clock)
    supervisor = bearer(CLAIMS["supervisor"], clock.now)
    try:
        client, document = sla.test_client(), served(sla)
        conforms(document, "/api/calendars", "get", client.get("/api/calendars", headers=supervisor))
        conforms(document, "/api/policies", "get", client.get("/api/policies", headers=supervisor))
        client, document = notifier.test_client(), served(notifier)
        conforms(document, "/api/templates", "get", client.get("/api/templates", headers=supervisor))
        template = "/api/templates/{name}/{language}"
        read = client.get("/api/templates/ticket_closed/es", headers=supervisor)
        conforms(document, template, "get", read)
        text = read.get_json()["default"]
        conforms(document, template + "/preview", "post", client.post(
            "/api/templates/ticket_closed/es/preview", json={"subject": text["subject"], "body": text["body"]},
            headers=supervisor))
        conforms(document, template, "delete",
                 client.delete("/api/templates/ticket_closed/es?version=x", headers=supervisor))
    finally:
        _close(sla)
        _close(notifier)
