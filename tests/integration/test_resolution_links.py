"""The "not solved" link of a mail: the portal's confirmation page posts it to intake with the link token."""
from __future__ import annotations

import pytest

from test_intake_paths import MARIA, answered_ticket, resolution_token, ticket_status

pytestmark = pytest.mark.integration


def test_a_not_solved_link_posted_with_what_is_still_wrong_sends_the_ticket_back_to_the_desk(
        intake_app, intake_db, now):
    client = intake_app.test_client()
    number, _, _ = answered_ticket(client)
    token = resolution_token(intake_db, number, MARIA, now)
    page = client.get(f"/resolve/{token}?answer=not_solved").get_data(as_text=True)
    assert 'value="not_solved"' in page and "<textarea" in page and 'value="solved"' not in page
    refused = client.post(f"/resolve/{token}", data={"answer": "not_solved"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "MESSAGE_BODY_REQUIRED"
    assert client.post(f"/resolve/{token}", data={"answer": "maybe"}).status_code == 422
    assert ticket_status(intake_db, number) == "waiting_customer"
    done = client.post(f"/resolve/{token}", data={"answer": "not_solved", "body": "El total sigue duplicado."})
    assert done.status_code == 200
    assert ticket_status(intake_db, number) == "open"
