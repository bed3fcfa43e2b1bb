"""Intake's per-address limits behind the portal: the portal forwards each browser's address,
signed with PORTAL_FORWARD_SECRET; intake trusts it only with a valid signature."""
from __future__ import annotations

import pytest

from configs import SECRETS
from helpdesk_shared import forwarding

pytestmark = pytest.mark.integration

PORTAL_PEER = "10.20.0.5"  # every request through the portal comes from the portal's own address


def through_portal(browser_address: str) -> dict:
    """The headers the portal adds for a browser at `browser_address`."""
    return forwarding.headers(SECRETS["PORTAL_FORWARD_SECRET"], browser_address)


def failed_login(client, email: str, headers: dict | None = None, peer: str = PORTAL_PEER):
    return client.post("/api/auth/login", json={"email": email, "password": "wrong"}, headers=headers or {},
                       environ_base={"REMOTE_ADDR": peer})


def test_two_customers_behind_the_portal_do_not_share_a_failure_budget(intake_app):
    from intake import throttle
    client = intake_app.test_client()
    for n in range(throttle.LOGIN_PER_ADDRESS.max_hits):
        assert failed_login(client, f"guess{n}@clubcaracas.com.ve", through_portal("198.51.100.7")).status_code == 401
    assert failed_login(client, "otro@clubcaracas.com.ve", through_portal("198.51.100.7")).status_code == 429
    # Another browser, same portal in front: its own budget.
    right = client.post("/api/auth/login", json={"email": "maria@clubcaracas.com.ve", "password": "mesa-demo"},
                        headers=through_portal("203.0.113.9"), environ_base={"REMOTE_ADDR": PORTAL_PEER})
    assert right.status_code == 200


@pytest.mark.parametrize("forged", [
    {"X-Forwarded-For": "203.0.113.50"},
    {forwarding.ADDRESS_HEADER: "203.0.113.50"},
    {forwarding.ADDRESS_HEADER: "203.0.113.50", forwarding.SIGNATURE_HEADER: "0" * 64},
    forwarding.headers("another-secret-of-at-least-thirty-two-bytes-0123", "203.0.113.50"),
], ids=["x-forwarded-for", "unsigned", "bad-signature", "other-secret"])
def test_a_forged_client_address_from_a_direct_client_is_ignored(intake_app, forged):
    from intake import throttle
    client = intake_app.test_client()
    attacker = "192.0.2.66"
    for n in range(throttle.LOGIN_PER_ADDRESS.max_hits):
        fresh = {**forged, **({forwarding.ADDRESS_HEADER: f"203.0.113.{n}"} if forwarding.ADDRESS_HEADER in forged
                              else {"X-Forwarded-For": f"203.0.113.{n}"})}
        assert failed_login(client, f"guess{n}@clubcaracas.com.ve", fresh, peer=attacker).status_code == 401
    # Every attempt counted against the attacker's own address, whatever it claimed.
    assert failed_login(client, "otro@clubcaracas.com.ve", forged, peer=attacker).status_code == 429


def test_access_requests_behind_the_portal_are_counted_per_browser(intake_app):
    from intake import throttle
    client = intake_app.test_client()

    def ask(n: int, browser: str):
        return client.post("/api/access-requests", headers=through_portal(browser),
                           environ_base={"REMOTE_ADDR": PORTAL_PEER},
                           json={"name": "Carmen Díaz", "email": f"carmen{n}@clubcaracas.com.ve",
                                 "phone": "+58 414 555 0123", "organisation_name": "Club Social Caracas",
                                 "desk": "SOPORTE"})
    for n in range(throttle.ACCESS_REQUEST_PER_ADDRESS.max_hits):
        assert ask(n, "198.51.100.7").status_code == 202
    assert ask(99, "198.51.100.7").status_code == 429
    assert ask(100, "203.0.113.9").status_code == 202
