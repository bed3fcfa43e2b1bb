"""Issue 7 item 7: login and the unauthenticated endpoints cannot be abused."""
from __future__ import annotations

from datetime import timedelta

import pytest

from harness import login

pytestmark = pytest.mark.integration

CUSTOMER = "maria@clubcaracas.com.ve"
ACCESS_REQUEST = {"name": "Carmen Díaz", "email": "carmen@clubcaracas.com.ve", "phone": "+58 414 555 0123",
                  "organisation_name": "Club Social Caracas", "desk": "SOPORTE", "note": "Nueva jefa de facturación"}


def attempt(client, email: str, password: str, address: str = "10.0.0.1"):
    return client.post("/api/auth/login", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


# ---------------------------------------------------------------- same work, same answer

def test_an_unknown_email_costs_one_password_verification_like_a_wrong_password(intake_app, monkeypatch):
    """The answer time must not tell which e-mails have accounts: both paths verify one argon2 hash."""
    from intake import handlers
    calls = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def verify(self, password_hash, password):
            calls.append(password_hash)
            return self.real.verify(password_hash, password)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(handlers, "_hasher", CountingHasher(handlers._hasher))
    client = intake_app.test_client()
    wrong = attempt(client, CUSTOMER, "not-the-password")
    unknown = attempt(client, "nobody@nowhere.example", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert len(calls) == 2 and all(h.startswith("$argon2") for h in calls)


# ---------------------------------------------------------------- rate limits

def test_failed_logins_of_one_account_are_limited_with_429_retry_after_and_both_languages(intake_app, clock):
    from intake import throttle
    client = intake_app.test_client()
    limit = throttle.LOGIN_PER_ACCOUNT
    for n in range(limit.max_hits):  # from different addresses: the account's own limit counts
        assert attempt(client, CUSTOMER, "wrong", address=f"10.0.1.{n}").status_code == 401
    blocked = attempt(client, CUSTOMER, "mesa-demo", address="10.0.2.1")  # even the right password waits
    assert blocked.status_code == 429
    body = blocked.get_json()
    assert body["code"] == "TOO_MANY_ATTEMPTS" and body["message"]["es"] and body["message"]["en"]
    assert body["message"]["es"] != body["message"]["en"]
    retry_after = int(blocked.headers["Retry-After"])
    assert 0 < retry_after <= limit.window.total_seconds()
    assert attempt(client, "jose@clubcaracas.com.ve", "mesa-demo", address="10.0.2.1").status_code == 200
    clock.advance(seconds=retry_after)
    assert attempt(client, CUSTOMER, "mesa-demo", address="10.0.2.1").status_code == 200


def test_failed_logins_from_one_address_are_limited_across_accounts(intake_app, clock):
    from intake import throttle
    client = intake_app.test_client()
    for n in range(throttle.LOGIN_PER_ADDRESS.max_hits):
        assert attempt(client, f"guess{n}@clubcaracas.com.ve", "wrong", address="10.9.9.9").status_code == 401
    blocked = attempt(client, CUSTOMER, "mesa-demo", address="10.9.9.9")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert attempt(client, CUSTOMER, "mesa-demo", address="10.9.9.10").status_code == 200


def test_the_limit_holds_across_app_instances_sharing_the_database(intake_app, intake_db, tmp_path, clock):
    """Two gunicorn workers are two apps on one database: the count lives in PostgreSQL."""
    from configs import intake_config
    from intake import throttle
    from intake.app import create_app
    other = create_app(intake_config(intake_db, tmp_path / "attachments"), migrate_first=True, clock=clock)
    try:
        clients = [intake_app.test_client(), other.test_client()]
        for n in range(throttle.LOGIN_PER_ACCOUNT.max_hits):
            assert attempt(clients[n % 2], CUSTOMER, "wrong", address=f"10.0.3.{n}").status_code == 401
        assert attempt(clients[0], CUSTOMER, "wrong").status_code == 429
        assert attempt(clients[1], CUSTOMER, "wrong").status_code == 429
    finally:
        other.extensions["intake"].pool.close()


def test_access_requests_from_one_address_are_limited(intake_app):
    from intake import throttle
    client = intake_app.test_client()
    for n in range(throttle.ACCESS_REQUEST_PER_ADDRESS.max_hits):
        response = client.post("/api/access-requests", json={**ACCESS_REQUEST, "email": f"p{n}@club.example"},
                               environ_base={"REMOTE_ADDR": "10.1.1.1"})
        assert response.status_code == 202, response.get_json()
    blocked = client.post("/api/access-requests", json={**ACCESS_REQUEST, "email": "late@club.example"},
                          environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert blocked.get_json()["code"] == "TOO_MANY_ATTEMPTS"


# ---------------------------------------------------------------- access requests

def pending(client, agent_email: str = "carlos@mesa.example") -> list[dict]:
    response = client.get("/api/access-requests", headers=login(client, agent_email))
    assert response.status_code == 200
    return response.get_json()["items"]


def test_a_second_request_for_a_pending_email_or_an_existing_user_gets_the_same_answer_and_files_nothing(
        intake_app):
    client = intake_app.test_client()
    first = client.post("/api/access-requests", json=ACCESS_REQUEST)
    again = client.post("/api/access-requests", json={**ACCESS_REQUEST, "email": "CARMEN@clubcaracas.com.ve"})
    existing = client.post("/api/access-requests", json={**ACCESS_REQUEST, "email": CUSTOMER})
    assert first.status_code == again.status_code == existing.status_code == 202
    assert first.get_json() == again.get_json() == existing.get_json()  # nothing tells them apart
    assert [r["email"] for r in pending(client)] == ["carmen@clubcaracas.com.ve"]
    with intake_app.extensions["intake"].pool.connection() as conn:
        assert conn.execute("select count(*) as n from events where type = 'AccessRequested'").fetchone()["n"] == 1


def test_an_agent_rejects_a_request_with_a_reason_and_it_leaves_the_list(intake_app):
    client = intake_app.test_client()
    assert client.post("/api/access-requests", json=ACCESS_REQUEST).status_code == 202
    [request] = pending(client)
    agent = login(client, "carlos@mesa.example")
    missing = client.post(f"/api/access-requests/{request['request_id']}/reject", json={}, headers=agent)
    assert missing.status_code == 422 and missing.get_json()["field"] == "reason"
    customer = client.post(f"/api/access-requests/{request['request_id']}/reject", json={"reason": "x"},
                           headers=login(client, CUSTOMER))
    assert customer.status_code == 403
    other_desk = client.post(f"/api/access-requests/{request['request_id']}/reject", json={"reason": "x"},
                             headers=login(client, "elena@mesa.example"))
    assert other_desk.status_code == 404
    rejected = client.post(f"/api/access-requests/{request['request_id']}/reject",
                           json={"reason": "El club no tiene contrato vigente."}, headers=agent)
    assert rejected.status_code == 201, rejected.get_json()
    assert pending(client) == []
    grant = client.post(f"/api/access-requests/{request['request_id']}/grant",
                        json={"organisation_id": "club-caracas"}, headers=agent)
    assert grant.status_code == 409
    with intake_app.extensions["intake"].pool.connection() as conn:
        event = conn.execute("select convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = 'AccessRejected'").fetchone()
    assert event["data"]["reason"] == "El club no tiene contrato vigente."
    # The entry page promises the person a mail saying why: the event carries where to send it.
    assert (event["data"]["email"], event["data"]["name"], event["data"]["desk"]) == (
        ACCESS_REQUEST["email"], ACCESS_REQUEST["name"], "SOPORTE")
    # Once rejected, the same person may ask again later.
    assert client.post("/api/access-requests", json=ACCESS_REQUEST).status_code == 202
    assert len(pending(client)) == 1


def test_a_pending_request_expires_after_14_days_and_can_no_longer_be_granted(intake_app, clock):
    client = intake_app.test_client()
    assert client.post("/api/access-requests", json=ACCESS_REQUEST).status_code == 202
    [request] = pending(client)
    clock.advance(days=14, seconds=1)
    assert pending(client) == []
    grant = client.post(f"/api/access-requests/{request['request_id']}/grant",
                        json={"organisation_id": "club-caracas"}, headers=login(client, "carlos@mesa.example"))
    assert grant.status_code == 409 and grant.get_json()["code"] == "ACCESS_REQUEST_EXPIRED"
    # An expired request does not block a new one.
    assert client.post("/api/access-requests", json=ACCESS_REQUEST).status_code == 202
    assert len(pending(client)) == 1


def test_the_access_rejected_event_has_a_schema_and_a_topic():
    from helpdesk_shared.schemas import EVENT_DATA_SCHEMAS
    from helpdesk_shared.topics import ACCOUNTS, TOPIC_OF_EVENT
    assert TOPIC_OF_EVENT["AccessRejected"] == ACCOUNTS
    schema = EVENT_DATA_SCHEMAS["AccessRejected"]()
    assert schema.validate({"request_id": "r1", "rejected_by": "u1", "reason": "sin contrato"}) == {}
    assert "reason" in schema.validate({"request_id": "r1", "rejected_by": "u1"})
