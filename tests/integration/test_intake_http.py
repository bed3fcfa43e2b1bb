"""Intake's HTTP layer in-process (Flask test_client) on real PostgreSQL."""
from __future__ import annotations

import pytest

from harness import login
from samples import ticket_body

pytestmark = pytest.mark.integration


def test_a_customer_opens_a_ticket_and_reads_its_number_back(intake_app):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    response = client.post("/api/tickets", json=ticket_body(), headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["number"] == "SOP-1"
    assert response.headers["Location"] == "/api/tickets/SOP-1"
