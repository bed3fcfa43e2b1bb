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
    session = backend_module._session()
    monkeypatch.setattr(session, "request",
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


def test_the_portal_calls_its_services_directly_whatever_proxy_the_environment_names(monkeypatch):
    # The services are the portal's neighbours: an HTTP(S)_PROXY or a ~/.netrc meant for the
    # machine's outbound traffic never stands between them (a proxy that does not answer here); and
    # the portal's HTTP session, kept per thread, keeps no cookie between calls.
    import http.server
    import json
    import threading

    class Service(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"items": [], "auth": self.headers.get("Authorization"),
                               "cookie": self.headers.get("Cookie")}).encode()
            self.send_response(200)
            self.send_header("Set-Cookie", "who=maria; Path=/")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: nothing answers
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        b = Backend(portal_config("http://intake.test", url))
        first, second = b.tickets("tok", {}), b.tickets("tok", {})
        assert (first.status, first.body["auth"]) == (second.status, second.body["auth"]) == (200, "Bearer tok")
        # The portal calls on behalf of many readers: a cookie one answer set never rides on the next call.
        assert second.body["cookie"] is None
    finally:
        server.shutdown()
        server.server_close()
