"""The customer's verdict over HTTP (issue 12): `POST /api/tickets/<n>/rating` and the closing mail's
one-click link `/rate/<token>`, in-process on real PostgreSQL. The rules themselves are unit-tested
in memory (tests/unit/test_ticket_rating_handlers.py)."""
from __future__ import annotations

import threading

import pytest

from configs import link_token
from harness import login
from helpdesk_shared import link_tokens, pg
from intake import eventstore
from samples import ticket_body

pytestmark = pytest.mark.integration

MARIA, JOSE, LUIS, CARLOS = ("maria@clubcaracas.com.ve", "jose@clubcaracas.com.ve", "luis@andina.com.ve",
                             "carlos@mesa.example")


def _user_id(db_url: str, email: str) -> str:
    with pg.connect(db_url) as conn:
        return conn.execute("select id from users where email = %s", (email,)).fetchone()["id"]


def _ratings(db_url: str, number: str) -> list[dict]:
    with pg.connect(db_url) as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        return [e.data for e in eventstore.load_stream(conn, ticket_id) if e.type == "TicketRated"]


def _closed(client, how: str = "solved") -> tuple[str, dict]:
    """A ticket María opened, Carlos answered, closed `how` ("solved" by her, or by Carlos with a
    reason); (number, María's headers)."""
    maria, carlos = login(client, MARIA), login(client, CARLOS)
    opened = client.post("/api/tickets", json=ticket_body(confirmed_different_case=True), headers=maria)
    assert opened.status_code == 201, opened.get_json()
    number = opened.get_json()["number"]
    assert client.post(f"/api/tickets/{number}/messages", json={"body": "Aplicamos el ajuste."},
                       headers=carlos).status_code == 201
    if how == "solved":
        closed = client.post(f"/api/tickets/{number}/resolution", json={"solved": True}, headers=maria)
    elif how != "open":
        closed = client.post(f"/api/tickets/{number}/close", json={"reason": how}, headers=carlos)
    if how != "open":
        assert closed.status_code == 201, closed.get_json()
    return number, maria


def _refusal(response, status: int, code: str) -> None:
    body = response.get_json()
    assert response.status_code == status, body
    assert (body["code"], body["field"]) == (code, "rating")
    assert body["message"]["es"] and body["message"]["en"]


def test_the_requester_rates_a_solved_ticket_once_and_the_ticket_says_it_was_rated(intake_app, intake_db):
    client = intake_app.test_client()
    number, maria = _closed(client)
    assert client.get(f"/api/tickets/{number}", headers=maria).get_json()["may_rate"] is True
    rated = client.post(f"/api/tickets/{number}/rating", json={"rating": "bad", "comment": "Tardaron."},
                        headers=maria)
    assert rated.status_code == 201 and rated.get_json() == {"number": number, "rating": "bad"}
    again = client.post(f"/api/tickets/{number}/rating", json={"rating": "good"}, headers=maria)
    _refusal(again, 409, "RATING_ALREADY_GIVEN")
    assert _ratings(intake_db, number) == [{"rating": "bad", "comment": "Tardaron.",
                                            "rated_by": _user_id(intake_db, MARIA)}]
    summary = client.get(f"/api/tickets/{number}", headers=maria).get_json()
    assert (summary["rated"], summary["may_rate"]) == (True, False)


def test_a_ticket_closed_by_the_agent_as_done_can_be_rated(intake_app, intake_db):
    client = intake_app.test_client()
    number, maria = _closed(client, "closed_by_agent")
    assert client.post(f"/api/tickets/{number}/rating", json={"rating": "good"}, headers=maria).status_code == 201


@pytest.mark.parametrize("how, status, code", [("open", 409, "RATING_NOT_CLOSED"),
                                               ("needs_training", 409, "RATING_NOT_SOLVED")])
def test_an_open_ticket_or_one_closed_as_not_solved_is_refused_and_nothing_is_recorded(
        intake_app, intake_db, how, status, code):
    client = intake_app.test_client()
    number, maria = _closed(client, how)
    _refusal(client.post(f"/api/tickets/{number}/rating", json={"rating": "good"}, headers=maria), status, code)
    assert _ratings(intake_db, number) == []


def test_another_organisations_customer_gets_the_404_of_a_missing_ticket_and_a_colleague_a_403(
        intake_app, intake_db):
    client = intake_app.test_client()
    number, _ = _closed(client)
    foreign = client.post(f"/api/tickets/{number}/rating", json={"rating": "bad"}, headers=login(client, LUIS))
    missing = client.post("/api/tickets/SOP-999/rating", json={"rating": "bad"}, headers=login(client, LUIS))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json() == missing.get_json()
    _refusal(client.post(f"/api/tickets/{number}/rating", json={"rating": "bad"}, headers=login(client, JOSE)),
             403, "RATING_NOT_REQUESTER")
    assert _ratings(intake_db, number) == []


@pytest.mark.parametrize("body, field", [({"rating": "excelente"}, "rating"), ({}, "rating"),
                                         ({"rating": "good", "comment": "x" * 2001}, "comment"),
                                         ({"rating": "good", "stars": 5}, "stars")])
def test_a_bad_body_is_refused_with_the_field_named_and_changes_nothing(intake_app, intake_db, body, field):
    client = intake_app.test_client()
    number, maria = _closed(client)
    response = client.post(f"/api/tickets/{number}/rating", json=body, headers=maria)
    assert response.status_code in (400, 422) and response.get_json()["field"] == field, response.get_json()
    assert _ratings(intake_db, number) == []


def test_two_ratings_at_once_record_one_and_refuse_the_other(intake_app, intake_db):
    client = intake_app.test_client()
    number, maria = _closed(client)
    start, answers = threading.Barrier(4), []

    def rate(rating: str) -> None:
        own = intake_app.test_client()
        start.wait()
        answers.append(own.post(f"/api/tickets/{number}/rating", json={"rating": rating}, headers=maria))
    threads = [threading.Thread(target=rate, args=(r,)) for r in ("good", "bad", "good", "bad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.get_json() for a in answers]
    assert all(a.get_json()["code"] == "RATING_ALREADY_GIVEN" for a in answers if a.status_code == 409)
    assert len(_ratings(intake_db, number)) == 1


def _rating_link(intake_db: str, number: str, now, email: str = MARIA, purpose: str = link_tokens.RATING) -> str:
    return link_token(purpose, {"t": number, "u": _user_id(intake_db, email)}, now)


def test_the_mailed_link_shows_the_choice_changes_nothing_until_confirmed_and_a_second_click_is_refused(
        intake_app, intake_db, now):
    client = intake_app.test_client()
    number, _ = _closed(client)
    token = _rating_link(intake_db, number, now)
    page = client.get(f"/rate/{token}?rating=bad")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="bad"' in text and "Mala atención" in text
    assert _ratings(intake_db, number) == []  # a mail scanner's GET rates nothing
    done = client.post(f"/rate/{token}", data={"rating": "bad", "comment": "Nadie llamó."})
    assert done.status_code == 200 and "Gracias" in done.get_data(as_text=True)
    for second in (client.get(f"/rate/{token}?rating=good"), client.post(f"/rate/{token}", data={"rating": "good"})):
        _refusal(second, 409, "RATING_ALREADY_GIVEN")
    assert [r["rating"] for r in _ratings(intake_db, number)] == ["bad"]


@pytest.mark.parametrize("spoil", ["tampered", "expired", "resolution_purpose", "unknown_user"])
def test_a_rating_link_tampered_expired_of_another_purpose_or_of_nobody_is_refused(
        intake_app, intake_db, now, clock, spoil):
    client = intake_app.test_client()
    number, _ = _closed(client)
    token = _rating_link(intake_db, number, now,
                         purpose=link_tokens.RESOLUTION if spoil == "resolution_purpose" else link_tokens.RATING)
    if spoil == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif spoil == "expired":
        clock.advance(hours=2)
    elif spoil == "unknown_user":
        token = link_token(link_tokens.RATING, {"t": number, "u": "u-nadie"}, now)
    for response in (client.get(f"/rate/{token}"), client.post(f"/rate/{token}", data={"rating": "good"})):
        body = response.get_json()
        assert response.status_code == 400 and (body["code"], body["field"]) == ("RATING_LINK_INVALID", "token")
    assert _ratings(intake_db, number) == []


def test_a_rating_token_does_not_open_the_solved_link_page(intake_app, intake_db, now):
    """Each link kind has its own key: a rating link is no "solved" answer."""
    client = intake_app.test_client()
    number, _ = _closed(client, "open")
    token = _rating_link(intake_db, number, now)
    assert client.get(f"/resolve/{token}").status_code == 400
