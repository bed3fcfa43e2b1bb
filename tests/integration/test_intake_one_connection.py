"""Intake borrows one pooled connection per call (issue 11): the token's revocation check and the
command share it, and it goes back to the pool, not in autocommit and not in a transaction, however
the call ends. Each borrow is a pool round of locks, a check and a reset: ~5 % of a request's CPU."""
from __future__ import annotations

import pytest

from harness import login
from samples import ticket_body
from test_query_one_connection import all_back, borrowed

pytestmark = pytest.mark.integration


def test_each_call_borrows_one_connection_for_its_token_check_and_its_command(intake_app):
    pool, client = intake_app.extensions["intake"].pool, intake_app.test_client()
    maria = login(client, "maria@clubcaracas.com.ve")
    calls = [("post", "/api/tickets", ticket_body(), 201),
             ("post", "/api/tickets", ticket_body(), 409),                       # the same case: refused
             ("post", "/api/tickets", {**ticket_body(), "desk": 7}, 422),        # refused at the edge
             ("get", "/api/tickets/SOP-999999", None, 404)]
    before = borrowed(pool)
    numbers = []
    for method, path, body, status in calls:
        response = getattr(client, method)(path, json=body, headers=maria)
        assert response.status_code == status, (path, response.get_json())
        numbers += [response.get_json()["number"]] if status == 201 else []
    number = numbers[0]
    for method, path, body, status in [("post", f"/api/tickets/{number}/messages", {"body": "La factura 1234"}, 201),
                                       ("get", f"/api/tickets/{number}", None, 200)]:
        assert getattr(client, method)(path, json=body, headers=maria).status_code == status
    assert borrowed(pool) - before <= len(calls) + 2  # at most one a call (a 422 may need none)
    assert borrowed(pool) - before >= len(calls) + 1
    assert all_back(pool)
    with pool.connection() as conn:
        assert conn.autocommit is False and conn.info.transaction_status.name == "IDLE"


def test_a_failed_login_is_counted_and_gives_its_connection_back(intake_app):
    pool, client = intake_app.extensions["intake"].pool, intake_app.test_client()
    before = borrowed(pool)
    for _ in range(pool.max_size + 2):  # more refusals than the pool holds connections
        response = client.post("/api/auth/login", json={"email": "maria@clubcaracas.com.ve", "password": "mala"})
        assert response.status_code in (401, 429)
    assert borrowed(pool) - before == pool.max_size + 2
    assert all_back(pool)
    assert login(client, "jose@clubcaracas.com.ve")
