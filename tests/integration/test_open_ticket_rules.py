"""Opening a ticket over HTTP on real PostgreSQL: rule 4's urgency warning and rule 6 by meaning
(issue 7 items 15 and 16)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg

from harness import login
from samples import ticket_body

pytestmark = pytest.mark.integration


def test_urgente_is_dropped_from_the_stored_subject_and_the_201_says_why(intake_app, intake_db):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    response = client.post("/api/tickets", headers=headers,
                           json=ticket_body("URGENTE: factura mal cargada en el banco Mercantil"))
    assert response.status_code == 201, response.get_json()
    warning = next(w for w in response.get_json()["warnings"] if w["code"] == "SUBJECT_URGENCY_DROPPED")
    assert "proceso especial" in warning["message"]["es"] and "special process" in warning["message"]["en"]
    with pg.connect(intake_db) as conn:
        opened = conn.execute("select convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = 'TicketOpened'").fetchone()["data"]
    assert opened["subject"] == "BANCOS, factura mal cargada en el banco Mercantil"
    assert opened["case"] == "factura mal cargada en el banco Mercantil"


def test_a_help_only_subject_is_refused_under_rule_4(intake_app):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    response = client.post("/api/tickets", headers=headers, json=ticket_body("necesito ayuda urgente por favor"))
    assert response.status_code == 422
    assert response.get_json()["code"] == "R4_VAGUE_SUBJECT"


def test_a_reworded_open_case_is_offered_as_continue_ticket_n_and_a_different_one_is_opened(intake_app):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    first = client.post("/api/tickets", headers=headers, json={
        **ticket_body("Cheques devueltos sin registrar"),
        "description": "Los cheques devueltos por el banco Provincial en febrero no aparecen registrados en el "
                       "libro de bancos del club, ni en la conciliación del mes."})
    assert first.status_code == 201, first.get_json()
    reworded = client.post("/api/tickets", headers=headers, json={
        **ticket_body("No se reflejan los cheques rebotados del Provincial"),
        "description": "Tenemos cheques que el Provincial devolvió en febrero y no salen en el libro de bancos "
                       "ni en la conciliación bancaria del club."})
    assert reworded.status_code == 409, reworded.get_json()
    assert reworded.get_json()["code"] == "R6_DUPLICATE_OPEN_CASE" and reworded.get_json()["ticket"] == "SOP-1"
    different = client.post("/api/tickets", headers=headers, json={
        **ticket_body("Chequera nueva no se puede registrar"),
        "description": "Al crear la chequera nueva del Banesco el sistema no acepta el número inicial del talonario "
                       "que nos entregó el banco esta semana."})
    assert different.status_code == 201, different.get_json()
    confirmed = client.post("/api/tickets", headers=headers, json={
        **ticket_body("No se reflejan los cheques rebotados del Provincial"), "confirmed_different_case": True})
    assert confirmed.status_code == 201, confirmed.get_json()


def test_a_cheque_run_filed_on_the_months_last_business_days_is_warned_and_the_event_keeps_it(
        intake_app, intake_db, clock):
    clock.now = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)  # Friday 27: two business days left
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    response = client.post("/api/tickets", headers=headers,
                           json=ticket_body("Emisión de cheques a proveedores no imprime el monto"))
    assert response.status_code == 201, response.get_json()
    (warning,) = [w for w in response.get_json()["warnings"] if w["code"] == "MONTH_END_WARNING"]
    assert "noviembre" in warning["message"]["es"] and "cheques" in warning["message"]["en"]
    with pg.connect(intake_db) as conn:
        opened = conn.execute("select convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = 'TicketOpened'").fetchone()["data"]
    assert opened["month_end_warning"] is True


def test_back_at_in_the_past_is_refused_and_records_nothing(intake_app, intake_db, clock):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    assert client.post("/api/tickets", headers=headers, json=ticket_body()).status_code == 201
    past = (clock.now - timedelta(hours=1)).isoformat()
    response = client.post("/api/tickets/SOP-1/away", headers=headers, json={"back_at": past})
    assert response.status_code == 422, response.get_json()
    assert (response.get_json()["code"], response.get_json()["field"]) == ("AWAY_BACK_AT_NOT_FUTURE", "back_at")
    future = (clock.now + timedelta(days=3)).isoformat()
    assert client.post("/api/tickets/SOP-1/away", headers=headers, json={"back_at": future}).status_code == 201
    with pg.connect(intake_db) as conn:
        aways = conn.execute("select convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = 'CustomerAway'").fetchall()
    assert [a["data"]["back_at"] for a in aways] == [(clock.now + timedelta(days=3)).isoformat()]
