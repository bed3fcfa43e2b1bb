"""Issue 7 item 9: an Idempotency-Key is bound to the request it answered."""
from __future__ import annotations

import pytest

from harness import login
from samples import ticket_body

pytestmark = pytest.mark.integration

CUSTOMER = "maria@clubcaracas.com.ve"


def test_the_same_key_with_the_same_body_gets_the_first_answer_and_no_second_ticket(intake_app):
    client = intake_app.test_client()
    headers = {**login(client, CUSTOMER), "Idempotency-Key": "k-1"}
    first = client.post("/api/tickets", json=ticket_body(), headers=headers)
    again = client.post("/api/tickets", json=ticket_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json()["number"] == first.get_json()["number"]


def test_reusing_a_key_with_another_body_is_refused_with_422(intake_app):
    client = intake_app.test_client()
    headers = {**login(client, CUSTOMER), "Idempotency-Key": "k-2"}
    assert client.post("/api/tickets", json=ticket_body(), headers=headers).status_code == 201
    other = ticket_body("Nómina quincenal calcula mal el bono nocturno", "NOMINA")
    response = client.post("/api/tickets", json=other, headers=headers)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "IDEMPOTENCY_KEY_REUSED" and body["field"] is None
    assert body["message"]["es"] and body["message"]["en"]
    assert body.get("number") is None  # the first answer is not handed out


def test_reusing_a_key_on_another_endpoint_is_refused_with_422(intake_app):
    client = intake_app.test_client()
    headers = {**login(client, CUSTOMER), "Idempotency-Key": "k-3"}
    opened = client.post("/api/tickets", json=ticket_body(), headers=headers)
    assert opened.status_code == 201
    number = opened.get_json()["number"]
    response = client.post(f"/api/tickets/{number}/messages", json={"body": "Adjunto otra captura."},
                           headers=headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
