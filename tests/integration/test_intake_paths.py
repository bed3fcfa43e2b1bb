"""Intake paths that only a retry, a race or a link reaches, in-process on real PostgreSQL."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from configs import SECRETS
from harness import login
from helpdesk_shared import link_tokens, pg
from intake import eventstore, handlers, postgres_uow
from samples import png, ticket_body

pytestmark = pytest.mark.integration

MARIA = "maria@clubcaracas.com.ve"
CARLOS = "carlos@mesa.example"


def answered_ticket(client) -> tuple[str, dict, dict]:
    """A ticket María opened and Carlos answered publicly: (number, María's headers, Carlos's headers)."""
    maria, carlos = login(client, MARIA), login(client, CARLOS)
    opened = client.post("/api/tickets", json=ticket_body(), headers=maria)
    assert opened.status_code == 201, opened.get_json()
    number = opened.get_json()["number"]
    answered = client.post(f"/api/tickets/{number}/messages", json={"body": "Aplicamos el ajuste, ¿quedó bien?"},
                           headers=carlos)
    assert answered.status_code == 201, answered.get_json()
    return number, maria, carlos


def messages_of(db_url: str, number: str) -> list[dict]:
    """The ticket's MessagePosted events, oldest first."""
    with pg.connect(db_url) as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        return [e.data for e in eventstore.load_stream(conn, ticket_id) if e.type == "MessagePosted"]


def user_id(db_url: str, email: str) -> str:
    with pg.connect(db_url) as conn:
        return conn.execute("select id from users where email = %s", (email,)).fetchone()["id"]


# ---------------------------------------------------------------- Idempotency-Key

def test_a_message_retried_with_the_same_idempotency_key_gets_the_first_answer_and_is_stored_once(
        intake_app, intake_db):
    client = intake_app.test_client()
    number, maria, _ = answered_ticket(client)
    headers = {**maria, "Idempotency-Key": "mail-0123456789abcdef"}
    first = client.post(f"/api/tickets/{number}/messages", json={"body": "Sigue igual."}, headers=headers)
    again = client.post(f"/api/tickets/{number}/messages", json={"body": "Sigue igual."}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert [m["body"] for m in messages_of(intake_db, number)].count("Sigue igual.") == 1
    other_key = client.post(f"/api/tickets/{number}/messages", json={"body": "Sigue igual."},
                            headers={**maria, "Idempotency-Key": "mail-another"})
    assert other_key.get_json()["message_id"] != first.get_json()["message_id"]


# ---------------------------------------------------------------- VersionConflict retry

def test_a_message_that_loses_a_race_to_a_colleagues_message_is_retried_on_the_fresh_state(
        intake_app, intake_db, monkeypatch, now):
    client = intake_app.test_client()
    number, maria, _ = answered_ticket(client)
    real_state = postgres_uow.PostgresTickets.state
    raced = []

    def read_then_a_colleague_writes(tickets, number_read):
        # Between our read of the ticket (its snapshot) and our append, Carlos's note commits on
        # another connection: the append then conflicts on (stream_id, stream_version) for real.
        state = real_state(tickets, number_read)
        if not raced:
            raced.append(number_read)
            with pg.connect(intake_db) as other:
                carlos = handlers.claims_of_user(other, user_id(intake_db, CARLOS))
                handlers.post_message(other, carlos, number, {"body": "Nota del colega.", "internal": True}, now)
        return state

    monkeypatch.setattr(postgres_uow.PostgresTickets, "state", read_then_a_colleague_writes)
    response = client.post(f"/api/tickets/{number}/messages", json={"body": "Ya lo revisé, sigue igual."},
                           headers=maria)
    assert response.status_code == 201, response.get_json()
    assert raced
    bodies = [m["body"] for m in messages_of(intake_db, number)]
    assert bodies[-2:] == ["Nota del colega.", "Ya lo revisé, sigue igual."]
    assert response.get_json()["stream_version"] == 4  # opened, answered, the colleague's note, this one


# ---------------------------------------------------------------- one-click "solved" links

def resolution_token(intake_db, number: str, email: str, now, ttl_seconds: int = 3600,
                     purpose: str = link_tokens.RESOLUTION) -> str:
    """A signed link token as the notifier puts it in the "agent answered" mail."""
    return link_tokens.sign(SECRETS["LINK_SECRET"], purpose, {"t": number, "u": user_id(intake_db, email)}, now, ttl_seconds)


def ticket_status(db_url: str, number: str) -> str:
    with pg.connect(db_url) as conn:
        return conn.execute("select status from tickets where number = %s", (number,)).fetchone()["status"]


def test_the_solved_link_shows_a_button_that_changes_nothing_and_its_post_closes_the_ticket(
        intake_app, intake_db, now):
    client = intake_app.test_client()
    number, _, _ = answered_ticket(client)
    token = resolution_token(intake_db, number, MARIA, now)
    page = client.get(f"/resolve/{token}")
    assert page.status_code == 200 and '<form method="post">' in page.get_data(as_text=True)
    assert ticket_status(intake_db, number) == "waiting_customer"  # a mail scanner's GET changes nothing
    done = client.post(f"/resolve/{token}")
    assert done.status_code == 200 and f"Ticket {number} cerrado" in done.get_data(as_text=True)
    assert ticket_status(intake_db, number) == "closed"
    with pg.connect(intake_db) as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        last = eventstore.load_stream(conn, ticket_id)[-1]
    assert (last.type, last.data["reason"]) == ("TicketClosed", "solved_by_customer")


@pytest.mark.parametrize("spoil", ["tampered", "expired", "other_purpose", "unknown_user"])
def test_a_solved_link_that_is_tampered_expired_for_another_purpose_or_of_nobody_is_refused(
        intake_app, intake_db, now, clock, spoil):
    client = intake_app.test_client()
    number, _, _ = answered_ticket(client)
    token = resolution_token(intake_db, number, MARIA, now,
                             purpose=link_tokens.PASSWORD if spoil == "other_purpose" else link_tokens.RESOLUTION)
    if spoil == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif spoil == "expired":
        clock.advance(hours=1)
    elif spoil == "unknown_user":
        token = link_tokens.sign(SECRETS["LINK_SECRET"], link_tokens.RESOLUTION, {"t": number, "u": "u-nadie"}, now, 3600)
    for response in (client.get(f"/resolve/{token}"), client.post(f"/resolve/{token}")):
        assert response.status_code == 400
        body = response.get_json()
        assert (body["code"], body["field"]) == ("RESOLUTION_LINK_INVALID", "token")
        assert body["message"]["es"] and body["message"]["en"]
    assert ticket_status(intake_db, number) == "waiting_customer"


# ---------------------------------------------------------------- attachments

def upload(client, headers, content: bytes, name: str) -> str:
    response = client.post("/api/attachments", headers=headers,
                           data={"file": (io.BytesIO(content), name, "image/png")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["sha256"]


def test_an_attachment_of_an_internal_note_is_downloadable_by_staff_and_not_found_for_the_customer(intake_app):
    client = intake_app.test_client()
    number, maria, carlos = answered_ticket(client)
    internal = upload(client, carlos, png(), "lote-77.png")
    public = upload(client, carlos, png(3, 3), "recibo.png")
    for body, sha in (("Revisar el lote 77.", internal), ("Le enviamos el recibo corregido.", public)):
        posted = client.post(f"/api/tickets/{number}/messages", headers=carlos,
                             json={"body": body, "attachments": [sha], "internal": sha == internal})
        assert posted.status_code == 201, posted.get_json()
    assert client.get(f"/api/tickets/{number}/attachments/{internal}", headers=carlos).status_code == 200
    assert client.get(f"/api/tickets/{number}/attachments/{public}", headers=maria).status_code == 200
    hidden = client.get(f"/api/tickets/{number}/attachments/{internal}", headers=maria)
    assert hidden.status_code == 404
    assert (hidden.get_json()["code"], hidden.get_json()["resource"]) == ("not_found", "attachment")


def test_more_than_ten_attachments_on_one_message_are_refused_before_anything_is_looked_up(intake_app, intake_db):
    client = intake_app.test_client()
    number, maria, _ = answered_ticket(client)
    response = client.post(f"/api/tickets/{number}/messages", headers=maria,
                           json={"body": "Van las capturas.", "attachments": [f"{i:064x}" for i in range(11)]})
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["field"]) == ("TOO_MANY_ATTACHMENTS", "attachments")
    assert len(messages_of(intake_db, number)) == 1  # only Carlos's answer
