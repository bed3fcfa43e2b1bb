"""POST /api/tickets/<number>/billable on intake, in-process on real PostgreSQL: the desk's billable
mark is a BillableMarked event in the ticket's stream; a bad body is a bilingual 422 and stores nothing."""
from __future__ import annotations

import pytest

from harness import login
from helpdesk_shared import pg
from intake import eventstore
from samples import ticket_body

pytestmark = pytest.mark.integration


def _open(client) -> str:
    maria = login(client, "maria@clubcaracas.com.ve")
    response = client.post("/api/tickets", json=ticket_body(confirmed_different_case=True), headers=maria)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def _stream(app, number: str) -> list:
    with pg.connect(app.extensions["intake"].config.database_url) as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        return eventstore.load_stream(conn, ticket_id)


def test_an_agent_marks_the_ticket_billable_with_a_note_and_the_event_says_who_and_when(intake_app, clock):
    client = intake_app.test_client()
    number = _open(client)
    carlos = login(client, "carlos@mesa.example")
    response = client.post(f"/api/tickets/{number}/billable", headers=carlos,
                           json={"billable": True, "note": "Cierre de nómina un sábado"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"number": number, "billable": True, "changed": True}
    event = _stream(intake_app, number)[-1]
    assert event.type == "BillableMarked" and event.actor.role == "agent" and event.occurred_at == clock.now
    assert event.data == {"billable": True, "note": "Cierre de nómina un sábado", "marked_by": event.actor.id}
    assert client.get(f"/api/tickets/{number}", headers=carlos).get_json()["billable"] is True


def test_the_same_mark_again_changes_nothing_and_adds_no_event(intake_app):
    client = intake_app.test_client()
    number = _open(client)
    rosa = login(client, "supervisor@mesa.example")
    assert client.post(f"/api/tickets/{number}/billable", headers=rosa, json={"billable": False}).status_code == 201
    again = client.post(f"/api/tickets/{number}/billable", headers=rosa, json={"billable": False})
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert [e.type for e in _stream(intake_app, number)].count("BillableMarked") == 1


@pytest.mark.parametrize("body, field", [
    ({"billable": "false"}, "billable"),       # a string is not a boolean, never "truthy"
    ({"billable": "true"}, "billable"),
    ({"billable": 0}, "billable"),
    ({}, "billable"),
    ({"billable": True, "note": "x" * 2001}, "note"),
    ({"billable": True, "colour": "red"}, "colour"),
])
def test_a_bad_body_is_a_bilingual_422_naming_its_field_and_stores_nothing(intake_app, body, field):
    client = intake_app.test_client()
    number = _open(client)
    before = len(_stream(intake_app, number))
    response = client.post(f"/api/tickets/{number}/billable", headers=login(client, "carlos@mesa.example"),
                           json=body)
    assert response.status_code == 422, response.get_json()
    refusal = response.get_json()
    assert refusal["field"] == field and refusal["code"] and refusal["message"]["es"] and refusal["message"]["en"]
    assert len(_stream(intake_app, number)) == before


def test_a_closed_ticket_can_still_be_marked_for_billing(intake_app):
    # Billing is settled after the work: the mark is bookkeeping, not a message, so a close does not stop it.
    client = intake_app.test_client()
    number = _open(client)
    carlos = login(client, "carlos@mesa.example")
    assert client.post(f"/api/tickets/{number}/close", headers=carlos, json={}).status_code == 201
    marked = client.post(f"/api/tickets/{number}/billable", headers=carlos, json={"billable": True})
    assert marked.status_code == 201, marked.get_json()
