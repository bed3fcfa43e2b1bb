"""The staff desk's pages (issue 9) with the Flask test client, against intake and query in-process
on real PostgreSQL: the portal's HTTP adapter is pointed at their test clients, and intake's outbox
is pumped into query's read model as the relay and query's consumer would (no Kafka, no SLA service:
deadlines are not computed here; the browser test runs the whole system)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from configs import portal_config, query_config
from helpdesk_shared import pg
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import TOPIC_OF_EVENT
from portal.app import create_app as create_portal
from portal.backend import Backend, Reply
from query import store
from query.app import create_app as create_query
from samples import ticket_body

pytestmark = pytest.mark.integration

INTAKE, QUERY = "http://intake.test", "http://query.test"


class InProcessBackend(Backend):
    """The portal's real adapter, its HTTP calls answered by intake's and query's test clients."""

    def __init__(self, config, apps: dict):
        super().__init__(config)
        self.clients = {base: app.test_client() for base, app in apps.items()}
        self.asked: list[str] = []  # the paths asked, in order

    def _call(self, method, url, token, correlation_id=None, raw=False, **kwargs):
        base = next(b for b in self.clients if url.startswith(b))
        self.asked.append(urlsplit(url).path)
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.clients[base].open(urlsplit(url).path, method=method, headers=headers,
                                           json=kwargs.get("json"), query_string=kwargs.get("params"),
                                           data=kwargs.get("data"))
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        if raw:
            return Reply(response.status_code, {}, dict(response.headers), response.get_data())
        body = response.get_json(silent=True) or {}
        return Reply(response.status_code, body if isinstance(body, dict) else {"items": body})


class Desk:
    """Intake, query and the portal wired together; `pump()` carries intake's events to query."""

    def __init__(self, intake_app, query_app):
        self.intake, self.query, self.done = intake_app, query_app, 0
        self.backend = backend = InProcessBackend(portal_config(INTAKE, QUERY), {INTAKE: intake_app, QUERY: query_app})
        self.portal = create_portal(portal_config(INTAKE, QUERY), backend=backend)

    def pump(self) -> None:
        with pg.connect(self.intake.extensions["intake"].config.database_url) as conn:
            rows = conn.execute("""select global_position as id, payload from events where global_position > %s
                                   order by global_position""", (self.done,)).fetchall()
        if not rows:
            return
        self.done = rows[-1]["id"]
        records = [Record(TOPIC_OF_EVENT[e.type], 0, r["id"], e)
                   for r, e in ((r, from_json_bytes(bytes(r["payload"]))) for r in rows)]
        with pg.connect(self.query.extensions["query"].config.database_url) as conn:
            store.apply_batch(conn, records)

    def browser(self, email: str, entry: str = "/"):
        """A test client logged in to the portal as `email` from the entry page `entry`; (client, landing)."""
        client = self.portal.test_client()
        token = csrf(client, entry)
        response = client.post("/login", data={"email": email, "password": "mesa-demo", "csrf_token": token,
                                               "desk": "IMPLANTACIONES" if "implantaciones" in entry else "SOPORTE"})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client, response.headers["Location"]

    def open_ticket(self, **overrides) -> str:
        from harness import login
        client = self.intake.test_client()
        response = client.post("/api/tickets", json=ticket_body(confirmed_different_case=True, **overrides),
                               headers=login(client, "maria@clubcaracas.com.ve"))
        assert response.status_code == 201, response.get_json()
        self.pump()
        return response.get_json()["number"]


def csrf(client, path: str = "/") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def desk(intake_app, query_db, clock):
    query_app = create_query(query_config(query_db), clock=clock)
    d = Desk(intake_app, query_app)
    d.pump()  # the demo organisations and people
    yield d
    query_app.extensions["query"].pool.close()


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_an_agent_lands_on_his_desks_queue_and_a_supervisor_on_the_entrys_desk_with_a_switch(desk):
    _, landing = desk.browser("carlos@mesa.example")
    assert landing.endswith("/desks/SOPORTE/queue")
    rosa, landing = desk.browser("supervisor@mesa.example", "/implantaciones")
    assert landing.endswith("/desks/IMPLANTACIONES/queue")
    switch = page(rosa, "/desks/IMPLANTACIONES/queue")
    assert 'href="/desks/SOPORTE/queue"' in switch and 'aria-current="page">IMPLANTACIONES' in switch
    _, landing = desk.browser("maria@clubcaracas.com.ve")
    assert landing.endswith("/tickets")


def test_a_customer_gets_the_not_found_page_on_every_staff_page_and_an_agent_on_another_desks_queue(desk):
    number = desk.open_ticket()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    assert "Nota interna" not in page(maria, f"/tickets/{number}")
    page(maria, "/desks/SOPORTE/queue", 404)
    token = csrf(maria, "/tickets")
    for action, form in (("assignment", {"agent_id": "x"}), ("close", {"reason": "closed_by_agent"}),
                         ("billable", {"billable": "1"})):
        refused = maria.post(f"/tickets/{number}/{action}", data={**form, "csrf_token": token})
        assert refused.status_code == 404, action
    carlos, _ = desk.browser("carlos@mesa.example")
    page(carlos, "/desks/IMPLANTACIONES/queue", 404)
    page(carlos, "/desks/NOSUCH/queue", 404)


def test_the_queue_shows_the_organisations_name_the_flags_in_words_and_filters_by_flag(desk):
    number = desk.open_ticket(urgency="platform_down", out_of_hours_requested=True)
    carlos, _ = desk.browser("carlos@mesa.example")
    html = page(carlos, "/desks/SOPORTE/queue")
    item = html[html.index(f'data-number="{number}"'):]
    item = item[:item.index("</li>\n  \n")] if "</li>\n  \n" in item else item[:3000]
    assert "Club Social Caracas" in item and "Nadie lo tiene" in item
    for label in ("Urgente", "Fuera de horario (facturable)", "Sin asignar"):
        assert f">{label}<" in item, label
    assert 'src="/static/queue.js"' in html and "<script>" not in html
    assert 'id="auto-close"' in html  # the auto-close list is on the queue page
    assert f'data-number="{number}"' not in page(carlos, "/desks/SOPORTE/queue?flag=waiting_customer")
    assert f'data-number="{number}"' in page(carlos, "/desks/SOPORTE/queue?flag=unassigned")


def test_a_forged_cursor_is_said_on_the_page_with_a_422_not_a_500(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    html = page(carlos, "/desks/SOPORTE/queue?cursor=not-a-cursor", 422)
    assert 'id="queue-error"' in html and "cursor" in html


def test_the_next_page_follows_the_cursor_and_keeps_the_filters(desk):
    numbers = [desk.open_ticket(subject=f"BANCOS, conciliación de la cuenta {n} no cuadra") for n in range(3)]
    carlos, _ = desk.browser("carlos@mesa.example")
    first = page(carlos, "/desks/SOPORTE/queue?flag=unassigned&limit=2")
    shown = [n for n in numbers if f'data-number="{n}"' in first]
    assert len(shown) == 2
    following = re.search(r'id="queue-next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "flag=unassigned" in following and "limit=2" in following and "cursor=" in following
    second = page(carlos, following)
    assert [n for n in numbers if f'data-number="{n}"' in second] == [n for n in numbers if n not in shown]
    assert 'id="queue-next"' not in second and "Primera página" in second


def test_staff_write_an_internal_note_the_customer_does_not_see_assign_by_name_mark_billable_and_close(desk):
    number = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    ticket = page(carlos, f"/tickets/{number}")
    assert 'id="staff-controls"' in ticket and 'id="timeline"' in ticket and 'id="internal"' in ticket
    assert '>Elena Implantaciones<' not in ticket  # only the ticket desk's people are offered
    other_agent = re.search(r'<option value="([^"]+)"[^>]*>Rosa', ticket) or re.search(
        r'<option value="([^"]+)"[^>]*>[^<]*Supervisor', ticket)
    assert other_agent, ticket[ticket.index('id="agent_id"'):][:600]
    token = csrf(carlos, f"/tickets/{number}")
    posted = carlos.post(f"/tickets/{number}/messages", data={"body": "Revisar el índice de la tabla de bancos.",
                                                              "internal": "1", "csrf_token": token})
    assert posted.status_code == 302
    assigned = carlos.post(f"/tickets/{number}/assignment", data={"agent_id": other_agent.group(1), "csrf_token": token})
    assert assigned.status_code == 302
    marked = carlos.post(f"/tickets/{number}/billable", data={"billable": "1", "billable_note": "Sábado",
                                                              "csrf_token": token})
    assert marked.status_code == 302
    desk.pump()
    staff_view = page(carlos, f"/tickets/{number}")
    assert "Revisar el índice" in staff_view and "Interno: el cliente no lo ve" in staff_view
    assert "Marcado facturable" in staff_view
    assert "marcó el ticket como facturable: Sábado" in staff_view  # the timeline's line, who and why
    assert re.search(r'id="assigned-to">Asignado a [^<]+<', staff_view)
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    customer_view = page(maria, f"/tickets/{number}")
    assert "Revisar el índice" not in customer_view and "Sábado" not in customer_view
    assert 'id="staff-controls"' not in customer_view
    closed = carlos.post(f"/tickets/{number}/close", data={"reason": "needs_training", "csrf_token": token})
    assert closed.status_code == 302
    desk.pump()
    assert "el caso requiere un curso de inducción" in page(maria, f"/tickets/{number}")


def test_a_customer_cannot_send_an_internal_note_through_the_answer_form(desk):
    number = desk.open_ticket()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    token = csrf(maria, f"/tickets/{number}")
    refused = maria.post(f"/tickets/{number}/messages", data={"body": "Nota secreta", "internal": "1",
                                                              "csrf_token": token})
    assert refused.status_code in (404, 422)
    desk.pump()
    assert "Nota secreta" not in page(maria, f"/tickets/{number}")


def test_an_agent_records_the_minutes_spent_with_an_answer_and_a_wrong_value_is_said_beside_the_field(desk):
    number = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    assert 'id="minutes_spent"' in page(carlos, f"/tickets/{number}")
    token = csrf(carlos, f"/tickets/{number}")
    wrong = carlos.post(f"/tickets/{number}/messages", data={"body": "Revisado.", "minutes_spent": "media hora",
                                                             "csrf_token": token})
    assert wrong.status_code == 422
    text = wrong.get_data(as_text=True)
    field = text[text.index('id="minutes_spent"'):]
    assert 'aria-invalid="true"' in field[:400] and 'id="minutes_spent-error"' in field, field[:1200]
    posted = carlos.post(f"/tickets/{number}/messages", data={"body": "Revisado el índice.", "minutes_spent": "45",
                                                              "csrf_token": token})
    assert posted.status_code == 302
    with pg.connect(desk.intake.extensions["intake"].config.database_url) as conn:
        recorded = [from_json_bytes(bytes(r["payload"])).data.get("minutes_spent") for r in conn.execute(
            "select payload from events where type = 'MessagePosted' order by global_position").fetchall()]
    assert recorded == [45]  # the refused one changed nothing
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    assert 'id="minutes_spent"' not in page(maria, f"/tickets/{number}")


def rename_module(desk: Desk, code: str, name: str) -> None:
    """A supervisor renames `code` in SOPORTE's catalog through intake; query hears of it."""
    from harness import login
    intake = desk.intake.test_client()
    headers = login(intake, "supervisor@mesa.example")
    catalog = intake.get("/api/desks/SOPORTE/modules", headers=headers).get_json()
    modules = [{**m, "name": name} if m["code"] == code else m for m in catalog["modules"]]
    changed = intake.put("/api/desks/SOPORTE/modules", headers=headers,
                         json={"expected_version": catalog["version"], "modules": modules})
    assert changed.status_code == 200, changed.get_json()
    desk.pump()


def test_the_queue_and_the_ticket_page_show_the_modules_name_beside_its_code_and_a_rename_shows_on_both(desk):
    number = desk.open_ticket(module="CXP", case="Pago a proveedor duplicado en la relación")
    carlos, _ = desk.browser("carlos@mesa.example")
    html = page(carlos, "/desks/SOPORTE/queue")
    item = html[html.index(f'data-number="{number}"'):][:3000]
    assert re.search(r'class="module"[^>]*>CXP — Cuentas por pagar<', item), item[:1500]
    assert re.search(r'<option value="CXP"\s*>CXP — Cuentas por pagar</option>', html)  # the module filter too
    assert re.search(r'id="ticket-module"[^>]*>CXP — Cuentas por pagar<', page(carlos, f"/tickets/{number}"))
    rename_module(desk, "CXP", "Pagos a proveedores")
    item = page(carlos, "/desks/SOPORTE/queue")
    item = item[item.index(f'data-number="{number}"'):][:3000]
    assert re.search(r'class="module"[^>]*>CXP — Pagos a proveedores<', item)
    assert re.search(r'id="ticket-module"[^>]*>CXP — Pagos a proveedores<', page(carlos, f"/tickets/{number}"))
    maria, _ = desk.browser("maria@clubcaracas.com.ve")  # the customer's page names it too
    assert re.search(r'id="ticket-module"[^>]*>CXP — Pagos a proveedores<', page(maria, f"/tickets/{number}"))


def test_the_queue_and_ticket_pages_read_the_desks_agents_and_catalog_once_a_while_but_their_tickets_every_time(desk):
    number = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    desk.backend.asked.clear()
    for _ in range(3):
        page(carlos, "/desks/SOPORTE/queue")
        page(carlos, f"/tickets/{number}")
    asked = desk.backend.asked
    assert asked.count("/api/desks/SOPORTE/queue") == 3 and asked.count(f"/api/tickets/{number}") == 3
    assert asked.count("/api/desks/SOPORTE/auto-close") == 3
    assert asked.count(f"/api/tickets/{number}/timeline") == 3
    assert asked.count("/api/desks/SOPORTE/agents") == 1 and asked.count("/api/desks/SOPORTE/modules") == 1


def test_a_revoked_token_is_sent_to_log_in_again_on_the_queue_and_ticket_pages_even_with_the_agents_kept(desk):
    number = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    page(carlos, "/desks/SOPORTE/queue")  # the desk's agents and catalog are now kept for this token
    page(carlos, f"/tickets/{number}")
    with carlos.session_transaction() as session:
        kept = dict(session)
    token = kept["token"]
    ended = desk.intake.test_client().post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert ended.status_code in (200, 204), ended.get_data(as_text=True)
    desk.pump()  # query reads the revocation
    for path in ("/desks/SOPORTE/queue", f"/tickets/{number}"):
        with carlos.session_transaction() as session:
            session.update(kept)  # the portal's session still holds the ended token
        response = carlos.get(path)
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/", path
        with carlos.session_transaction() as session:
            assert "token" not in session, path  # the session ended: "Su sesión terminó"


def test_staff_keep_canned_answers_and_insert_one_with_its_placeholders_filled_and_its_use_counted(desk):
    number = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    token = csrf(carlos, "/desks/SOPORTE/canned-answers")
    wrong = carlos.post("/desks/SOPORTE/canned-answers", data={"title": "Saludo", "body": "Hola {clente}",
                                                               "csrf_token": token})
    assert wrong.status_code == 422 and "{clente}" in wrong.get_data(as_text=True)
    saved = carlos.post("/desks/SOPORTE/canned-answers", data={
        "title": "Cierre de lote", "csrf_token": token,
        "body": "Estimado {cliente}: corregimos el ticket {ticket}. Dudas: {telefonos}. Atentamente, {agente}."})
    assert saved.status_code == 302
    ticket_page = page(carlos, f"/tickets/{number}")
    assert "Insertar: Cierre de lote" in ticket_page and 'id="canned_answer_id"' in ticket_page
    # Without JavaScript the link brings the page back with the answer, filled, in the form.
    chosen = page(carlos, f"/tickets/{number}?respuesta=cierre-de-lote")
    filled = (f"Estimado María Pérez: corregimos el ticket {number}. Dudas: +58 212 555 0100. "
              f"Atentamente, Carlos Soporte.")
    assert f">{filled}</textarea>" in chosen, chosen[chosen.index('id="body"'):][:400]
    assert 'name="canned_answer_id" value="cierre-de-lote"' in chosen
    posted = carlos.post(f"/tickets/{number}/messages", data={"body": filled, "canned_answer_id": "cierre-de-lote",
                                                              "csrf_token": token})
    assert posted.status_code == 302
    uses = re.search(r'id="canned-cierre-de-lote"><td>Cierre de lote</td><td class="uses">(\d+)</td>',
                     page(carlos, "/desks/SOPORTE/canned-answers"))
    assert uses and uses.group(1) == "1"
    desk.pump()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    assert filled in page(maria, f"/tickets/{number}") and "Insertar:" not in page(maria, f"/tickets/{number}")
    page(maria, "/desks/SOPORTE/canned-answers", 404)
