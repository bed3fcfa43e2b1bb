"""Names travel intake → helpdesk.accounts (real Kafka) → query, and a new ticket's link is followable."""
from __future__ import annotations

import pytest
import requests

from helpdesk_shared.localstack import wait_until
from samples import png, ticket_body

pytestmark = pytest.mark.e2e


def test_staff_read_names_beside_ids_learnt_from_the_accounts_topic_and_follow_the_link_of_a_new_ticket(stack):
    intake, query = stack.urls["intake"], stack.urls["query"]
    maria = stack.login("maria@clubcaracas.com.ve")
    carlos = stack.login("carlos@mesa.example")

    opened = requests.post(f"{intake}/api/tickets", headers=maria, json=ticket_body(), timeout=30)
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    followed = requests.get(f"{intake}{opened.json()['link']}", headers=maria, timeout=30)
    assert followed.status_code == 200 and followed.json()["number"] == number
    assert requests.get(f"{intake}{opened.headers['Location']}", headers=maria, timeout=30).status_code == 200

    upload = requests.post(f"{intake}/api/attachments", headers=carlos, timeout=30,
                           files={"file": ("corregido.png", png(), "image/png")})
    assert upload.status_code == 201, upload.text
    assert requests.post(f"{intake}/api/tickets/{number}/assignment", headers=carlos, json={},
                         timeout=30).status_code == 201
    assert requests.post(f"{intake}/api/tickets/{number}/messages", headers=carlos, timeout=30,
                         json={"body": "Corregimos el cargo; vea el estado adjunto.",
                               "attachments": [upload.json()["sha256"]]}).status_code == 201

    def named():
        r = requests.get(f"{query}/api/tickets/{number}", headers=maria, timeout=30)
        return r.json() if r.ok and r.json()["assigned_to_name"] and len(r.json()["thread"]) >= 2 else None
    ticket = wait_until(named, 120, f"{number} assigned, answered and named in query")
    assert ticket["assigned_to_name"] == "Carlos Soporte"
    assert ticket["organisation_name"] == "Club Social Caracas"
    assert [e["author_name"] for e in ticket["thread"]] == ["María Pérez", "Carlos Soporte"]
    assert [a["name"] for a in ticket["attachments"]] == ["corregido.png"]

    listed = requests.get(f"{query}/api/tickets", headers=carlos, params={"assigned_to": "me", "q": "factura"},
                          timeout=30).json()["items"]
    assert [(t["number"], t["assigned_to_name"]) for t in listed] == [(number, "Carlos Soporte")]
    agents = requests.get(f"{query}/api/desks/SOPORTE/agents", headers=carlos, timeout=30).json()["items"]
    assert [a["name"] for a in agents] == ["Carlos Soporte", "Rosa Supervisora"]
    organisations = requests.get(f"{query}/api/organisations", headers=carlos, timeout=30).json()["items"]
    assert [o["name"] for o in organisations] == ["Club Social Caracas", "Valencia Country Club"]
    assert requests.get(f"{query}/api/tickets", headers=carlos, params={"status": "abierto"},
                        timeout=30).status_code == 422
