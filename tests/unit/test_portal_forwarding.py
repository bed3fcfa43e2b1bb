"""The portal forwards each browser's address to intake, signed; never to the read services."""
from __future__ import annotations

import pytest

from configs import SECRETS, portal_config
from helpdesk_shared import forwarding
from portal import backend as backend_module
from portal.backend import Backend


class Recorded:
    status_code, content, headers = 200, b"{}", {}

    def json(self):
        return {}


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(backend_module.requests, "request",
                        lambda method, url, headers=None, **kw: calls.append((url, dict(headers or {}))) or Recorded())
    return calls


def test_intake_calls_carry_the_browsers_address_signed_and_reads_do_not(sent):
    b = Backend(portal_config("http://intake.test", "http://query.test"), client_address=lambda: "198.51.100.7")
    b.login("maria@clubcaracas.com.ve", "x")
    b.tickets("tok", {})
    (login_url, login_headers), (_, read_headers) = sent
    assert login_url == "http://intake.test/api/auth/login"
    expected = forwarding.headers(SECRETS["PORTAL_FORWARD_SECRET"], "198.51.100.7")
    assert {k: login_headers[k] for k in expected} == expected
    assert forwarding.client_address(SECRETS["PORTAL_FORWARD_SECRET"], login_headers, "10.0.0.1") == "198.51.100.7"
    assert forwarding.ADDRESS_HEADER not in read_headers


def test_without_a_browser_no_address_is_forwarded(sent):
    Backend(portal_config("http://intake.test", "http://query.test")).login("a@b.ve", "x")
    assert forwarding.ADDRESS_HEADER not in sent[0][1]


def test_an_address_signed_with_another_secret_or_altered_is_not_believed():
    good = forwarding.headers(SECRETS["PORTAL_FORWARD_SECRET"], "198.51.100.7")
    assert forwarding.client_address("x" * 40, good, "10.0.0.1") == "10.0.0.1"
    altered = {**good, forwarding.ADDRESS_HEADER: "198.51.100.8"}
    assert forwarding.client_address(SECRETS["PORTAL_FORWARD_SECRET"], altered, "10.0.0.1") == "10.0.0.1"
    assert forwarding.client_address(SECRETS["PORTAL_FORWARD_SECRET"], {"X-Forwarded-For": "1.2.3.4"},
                                     "10.0.0.1") == "10.0.0.1"
