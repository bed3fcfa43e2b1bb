"""Staff's access-requests page (GET /access-requests): the portal's Flask test client against a real
intake and a real query, each served over HTTP from this process on fresh PostgreSQL databases.

Query's organisations are fed from intake's outbox through query's own `store.apply_batch`, as its
consumer would read them from Kafka.
"""
from __future__ import annotations

import re
import threading
import time

import pytest
from werkzeug.serving import make_server

from configs import portal_config, query_config
from helpdesk_shared import pg
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.kafka import Record
from portal.app import create_app as create_portal

pytestmark = pytest.mark.integration


class Served:
    """A WSGI app answering HTTP on a free local port from a thread (the portal's backend calls it)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


def feed_query_from_intake(intake_db: str, query_db: str) -> None:
    """Apply every event of intake's event store (its outbox) to query (the demo organisations and users)."""
    from helpdesk_shared.topics import TOPIC_OF_EVENT
    from query import store
    with pg.connect(intake_db) as conn:
        rows = conn.execute("select type, payload from events order by global_position").fetchall()
    records = [Record(TOPIC_OF_EVENT[r["type"]], 0, n, from_json_bytes(bytes(r["payload"]))) for n, r in enumerate(rows)]
    with pg.connect(query_db) as conn:
        store.apply_batch(conn, records)


@pytest.fixture
def services(intake_app, intake_db, query_db, clock):
    """Real intake and query over HTTP; yields (intake_db, portal test client factory)."""
    from query.app import create_app as create_query
    feed_query_from_intake(intake_db, query_db)
    query_app = create_query(query_config(query_db), clock=clock)
    intake, query = Served(intake_app), Served(query_app)
    portal = create_portal(portal_config(intake.url, query.url))
    try:
        yield portal
    finally:
        intake.stop()
        query.stop()
        query_app.extensions["query"].pool.close()


def csrf(client, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email: str) -> None:
    r = client.post("/login", data={"csrf_token": csrf(client), "email": email, "password": "mesa-demo",
                                    "desk": "SOPORTE"})
    assert r.status_code == 302, r.get_data(as_text=True)


def ask_for_access(portal, email: str, desk: str = "SOPORTE", organisation: str = "Club Social Caracas") -> None:
    """"No tengo usuario" filled on the entry page by someone without a session."""
    client = portal.test_client()
    r = client.post("/access-requests", data={"csrf_token": csrf(client), "desk": desk, "name": "Carmen Díaz",
                                              "email": email, "phone": "+58 414 555 0123",
                                              "organisation_name": organisation})
    assert r.status_code == 202, r.get_data(as_text=True)


def pending_id(intake_db: str, email: str) -> str:
    with pg.connect(intake_db) as conn:
        return str(conn.execute("select request_id from access_requests where email = %s",
                                (email,)).fetchone()["request_id"])


def request_row(intake_db: str, email: str) -> dict:
    with pg.connect(intake_db) as conn:
        return conn.execute("select status, reason from access_requests where email = %s", (email,)).fetchone()


def user_row(intake_db: str, email: str) -> dict | None:
    with pg.connect(intake_db) as conn:
        return conn.execute("select role, organisation_id, desks from users where email = %s", (email,)).fetchone()


def test_an_agent_sees_the_pending_request_with_its_organisation_suggested_and_grants_it(services, intake_db):
    ask_for_access(services, "carmen@clubcaracas.com.ve")
    agent = services.test_client()
    log_in(agent, "carlos@mesa.example")
    page = agent.get("/access-requests").get_data(as_text=True)
    rid = pending_id(intake_db, "carmen@clubcaracas.com.ve")
    assert "Carmen Díaz" in page and "carmen@clubcaracas.com.ve" in page and "Club Social Caracas" in page
    # The organisation the person named is chosen in advance; only SOPORTE's organisations are offered.
    assert re.search(r'<option value="club-caracas"\s+selected>', page)
    assert 'value="distribuidora-andina"' not in page
    assert 'href="/access-requests"' in page  # staff's menu links the page

    r = agent.post(f"/access-requests/{rid}/grant", data={"csrf_token": csrf(agent, "/access-requests"),
                                                          "organisation_id": "club-caracas", "name": "Carmen Díaz"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/access-requests")
    after = agent.get("/access-requests").get_data(as_text=True)
    assert "Acceso concedido a Carmen Díaz" in after and "carmen@clubcaracas.com.ve" not in after
    assert user_row(intake_db, "carmen@clubcaracas.com.ve") == {"role": "customer", "organisation_id": "club-caracas",
                                                                 "desks": ["SOPORTE"]}


def test_a_grant_without_an_organisation_is_refused_beside_the_select_and_nothing_is_created(services, intake_db):
    ask_for_access(services, "nadie@clubcaracas.com.ve", organisation="Un club que no conocemos")
    agent = services.test_client()
    log_in(agent, "carlos@mesa.example")
    rid = pending_id(intake_db, "nadie@clubcaracas.com.ve")
    page = agent.get("/access-requests").get_data(as_text=True)
    assert not re.search(r"<option[^>]*selected", page)  # nothing the person typed names a known organisation
    r = agent.post(f"/access-requests/{rid}/grant", data={"csrf_token": csrf(agent, "/access-requests"),
                                                          "organisation_id": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(rf'id="organisation-{rid}-error"[^>]*>\s*<p>Elija la organización del nuevo usuario\.</p>', page)
    assert f'aria-describedby="organisation-{rid}-error"' in page
    assert user_row(intake_db, "nadie@clubcaracas.com.ve") is None
    assert request_row(intake_db, "nadie@clubcaracas.com.ve")["status"] == "pending"


def test_an_organisation_not_served_by_the_requests_desk_is_refused_by_intake_beside_the_select(services, intake_db):
    ask_for_access(services, "pedro@andina.com.ve", desk="SOPORTE")
    supervisor = services.test_client()  # both desks: Distribuidora Andina (IMPLANTACIONES only) is his to know
    log_in(supervisor, "supervisor@mesa.example")
    rid = pending_id(intake_db, "pedro@andina.com.ve")
    r = supervisor.post(f"/access-requests/{rid}/grant", data={"csrf_token": csrf(supervisor, "/access-requests"),
                                                               "organisation_id": "distribuidora-andina"})
    assert r.status_code == 422
    assert "no es atendida por la mesa SOPORTE" in r.get_data(as_text=True)
    assert user_row(intake_db, "pedro@andina.com.ve") is None


def test_a_rejection_needs_a_reason_beside_its_box_and_with_one_it_is_recorded(services, intake_db):
    ask_for_access(services, "spam@example.com", organisation="Ninguna")
    agent = services.test_client()
    log_in(agent, "carlos@mesa.example")
    rid = pending_id(intake_db, "spam@example.com")
    token = csrf(agent, "/access-requests")
    r = agent.post(f"/access-requests/{rid}/reject", data={"csrf_token": token, "reason": "   "})
    assert r.status_code == 422
    assert re.search(rf'id="reason-{rid}-error"[^>]*>\s*<p>Indique el motivo del rechazo', r.get_data(as_text=True))
    assert request_row(intake_db, "spam@example.com")["status"] == "pending"

    r = agent.post(f"/access-requests/{rid}/reject", data={"csrf_token": token, "reason": "No es cliente nuestro."})
    assert r.status_code == 302
    assert request_row(intake_db, "spam@example.com") == {"status": "rejected", "reason": "No es cliente nuestro."}
    assert "spam@example.com" not in agent.get("/access-requests").get_data(as_text=True)


def test_a_request_decided_meanwhile_by_someone_else_says_so_instead_of_deciding_again(services, intake_db):
    ask_for_access(services, "doble@clubcaracas.com.ve")
    first, second = services.test_client(), services.test_client()
    log_in(first, "carlos@mesa.example")
    log_in(second, "supervisor@mesa.example")
    rid = pending_id(intake_db, "doble@clubcaracas.com.ve")
    stale_token = csrf(second, "/access-requests")  # the second opened the page before the first decided
    assert first.post(f"/access-requests/{rid}/grant", data={"csrf_token": csrf(first, "/access-requests"),
                                                             "organisation_id": "club-caracas"}).status_code == 302
    r = second.post(f"/access-requests/{rid}/reject", data={"csrf_token": stale_token, "reason": "Duplicado"})
    assert r.status_code == 409 and "ya fue aprobada" in r.get_data(as_text=True)
    assert request_row(intake_db, "doble@clubcaracas.com.ve")["status"] == "granted"


def test_an_agent_sees_only_the_requests_of_his_desks(services, intake_db):
    ask_for_access(services, "soporte@clubcaracas.com.ve", desk="SOPORTE")
    ask_for_access(services, "implanta@andina.com.ve", desk="IMPLANTACIONES", organisation="Distribuidora Andina")
    carlos, elena = services.test_client(), services.test_client()
    log_in(carlos, "carlos@mesa.example")
    log_in(elena, "elena@mesa.example")
    seen_by_carlos = carlos.get("/access-requests").get_data(as_text=True)
    assert "soporte@clubcaracas.com.ve" in seen_by_carlos and "implanta@andina.com.ve" not in seen_by_carlos
    seen_by_elena = elena.get("/access-requests").get_data(as_text=True)
    assert "implanta@andina.com.ve" in seen_by_elena and "soporte@clubcaracas.com.ve" not in seen_by_elena
    # Elena may not decide SOPORTE's request: the same not-found page as a missing one, and nothing changes.
    rid = pending_id(intake_db, "soporte@clubcaracas.com.ve")
    r = elena.post(f"/access-requests/{rid}/grant", data={"csrf_token": csrf(elena, "/access-requests"),
                                                          "organisation_id": "club-caracas"})
    assert r.status_code == 404
    assert request_row(intake_db, "soporte@clubcaracas.com.ve")["status"] == "pending"


def test_customers_get_the_not_found_page_for_the_access_requests_page_and_its_forms(services, intake_db):
    ask_for_access(services, "otra@clubcaracas.com.ve")
    rid = pending_id(intake_db, "otra@clubcaracas.com.ve")
    maria = services.test_client()
    log_in(maria, "maria@clubcaracas.com.ve")
    assert 'href="/access-requests"' not in maria.get("/tickets").get_data(as_text=True)
    assert maria.get("/access-requests").status_code == 404
    token = csrf(maria, "/tickets")
    assert maria.post(f"/access-requests/{rid}/grant", data={"csrf_token": token,
                                                             "organisation_id": "club-caracas"}).status_code == 404
    assert maria.post(f"/access-requests/{rid}/reject", data={"csrf_token": token, "reason": "x"}).status_code == 404
    assert request_row(intake_db, "otra@clubcaracas.com.ve")["status"] == "pending"


def test_without_a_session_the_page_sends_to_log_in_and_a_malformed_id_is_not_found(services):
    anonymous = services.test_client()
    r = anonymous.get("/access-requests")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    agent = services.test_client()
    log_in(agent, "carlos@mesa.example")
    r = agent.post("/access-requests/..%2Fusers/grant", data={"csrf_token": csrf(agent, "/access-requests"),
                                                              "organisation_id": "club-caracas"})
    assert r.status_code == 404
    assert "No hay solicitudes pendientes." in agent.get("/access-requests").get_data(as_text=True)


def test_the_portals_healthz_says_which_services_answer_and_metrics_count_its_pages(services):
    client = services.test_client()
    started = time.monotonic()
    health = client.get("/healthz")
    assert time.monotonic() - started < 2  # sla is not running here: a short, bounded wait
    body = health.get_json()
    assert health.status_code == 200 and body["service"] == "portal" and body["status"] == "degraded"
    assert body["services"]["intake"] == {"ok": True, "status": "ok"}
    assert body["services"]["query"]["ok"] is True
    assert body["services"]["sla"]["ok"] is False and body["services"]["sla"]["error"]
    log_in(client, "carlos@mesa.example")
    assert client.get("/access-requests").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/access-requests",method="GET",status="200"} 1.0' in metrics
    assert 'http_request_seconds_count{endpoint="/access-requests"} 1.0' in metrics
