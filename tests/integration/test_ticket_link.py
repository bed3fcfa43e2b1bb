"""The `link` (and Location) intake answers a new ticket with is a URL its caller can follow."""
from __future__ import annotations

import pytest

from harness import login
from samples import ticket_body

pytestmark = pytest.mark.integration


def test_the_link_of_a_new_ticket_answers_its_caller_with_the_ticket_at_once(intake_app):
    client = intake_app.test_client()
    maria = login(client, "maria@clubcaracas.com.ve")
    opened = client.post("/api/tickets", headers=maria, json=ticket_body())
    assert opened.status_code == 201
    link = opened.get_json()["link"]
    assert opened.headers["Location"].endswith(link)

    followed = client.get(link, headers=maria)
    assert followed.status_code == 200, followed.get_json()
    ticket = followed.get_json()
    assert (ticket["number"], ticket["ticket_id"], ticket["status"]) == (opened.get_json()["number"],
                                                                          opened.get_json()["ticket_id"], "open")
    assert ticket["subject"] == "BANCOS, Factura mal cargada en el banco Mercantil"
    assert ticket["organisation_id"] == "club-caracas" and ticket["desk"] == "SOPORTE"


def test_the_link_shows_the_tickets_state_after_each_command_without_waiting_for_the_read_side(intake_app):
    client = intake_app.test_client()
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    link = client.post("/api/tickets", headers=maria, json=ticket_body()).get_json()["link"]
    number = link.rsplit("/", 1)[1]
    assert client.post(f"/api/tickets/{number}/assignment", headers=carlos, json={}).status_code == 201
    assert client.post(f"/api/tickets/{number}/messages", headers=carlos, json={"body": "Revisado."}).status_code == 201
    ticket = client.get(link, headers=maria).get_json()
    assert ticket["status"] == "waiting_customer" and ticket["assigned_to"]
    assert ticket["version"] == 3


def test_the_link_is_only_for_those_who_may_see_the_ticket(intake_app):
    client = intake_app.test_client()
    maria = login(client, "maria@clubcaracas.com.ve")
    link = client.post("/api/tickets", headers=maria, json=ticket_body()).get_json()["link"]
    assert client.get(link).status_code == 401
    assert client.get(link, headers=login(client, "carlos@mesa.example")).status_code == 200
    assert client.get(link, headers=login(client, "jose@clubcaracas.com.ve")).status_code == 200  # same organisation
    other = client.get(link, headers=login(client, "ana@countryvalencia.com.ve"))
    missing = client.get("/api/tickets/SOP-99999", headers=login(client, "ana@countryvalencia.com.ve"))
    assert other.status_code == missing.status_code == 404
    assert other.get_json() == missing.get_json()
    assert client.get(link, headers=login(client, "elena@mesa.example")).status_code == 404  # the other desk


def test_the_link_of_a_duplicate_open_case_leads_to_that_case(intake_app):
    client = intake_app.test_client()
    maria = login(client, "maria@clubcaracas.com.ve")
    first = client.post("/api/tickets", headers=maria, json=ticket_body()).get_json()
    duplicate = client.post("/api/tickets", headers=maria, json=ticket_body())
    assert duplicate.status_code == 409
    assert client.get(duplicate.get_json()["link"], headers=maria).get_json()["number"] == first["number"]
