"""The portal's pages with a fake of intake/query (Flask test client, real CSRF and sessions):
security headers, cookies, CSRF refusals, refusals beside their fields, the duplicate offer,
escaping and the English catalog."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from configs import portal_config
from helpdesk_shared.catalog import DESKS
from portal.app import create_app
from portal.backend import Reply, Unavailable

PORTAL = Path(__file__).resolve().parents[2] / "services" / "portal" / "portal"
USER = {"id": "u1", "name": "María Pérez", "role": "customer", "organisation_id": "club-caracas",
        "desks": ["SOPORTE"], "language": "es"}
TICKET = {"number": "SOP-7", "subject": "BANCOS, Factura doble", "status": "waiting_customer", "urgency": "normal",
          "out_of_hours": False, "close_reason": None, "attachments": [],
          "thread": [{"type": "MessagePosted", "author_name": "Carlos", "author_role": "agent",
                      "body": "<script>alert(1)</script>", "attachments": [], "occurred_at": "2026-11-25T14:00:00+00:00",
                      "internal": False, "stream_version": 2}]}


class FakeBackend:
    """Answers as intake and query would; records every command."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.open_replies: list[Reply] = []
        self.down = False
        self.unreachable: set[str] = set()  # services whose /healthz does not answer

    def login(self, email, password, cid=None):
        if password != "mesa-demo":
            return Reply(401, {"code": "INVALID_CREDENTIALS", "field": None,
                               "message": {"es": "Correo o contraseña incorrectos.", "en": "Wrong e-mail or password."}})
        return Reply(200, {"token": "tok", "user": USER})

    def logout(self, token, cid=None):
        self.calls.append(("logout", token))
        return Reply(204)

    def tickets(self, token, params, cid=None):
        if self.down:
            raise Unavailable("query")
        self.calls.append(("tickets", params))
        capped = params.get("q") == "error"  # a word half the desk uses: more matches than query ranks
        return Reply(200, {"items": [{**TICKET, "updated_at": "2026-11-25T14:00:00+00:00"}],
                           "total": 2000 if capped else 1, "capped": capped})

    def ticket(self, token, number, cid=None):
        return Reply(200, TICKET) if number == "SOP-7" else Reply(404, {"code": "not_found"})

    def intake_ticket(self, token, number, cid=None):
        return Reply(404, {"code": "not_found"})

    def open_ticket(self, token, body, key, cid=None):
        self.calls.append(("open_ticket", body))
        return self.open_replies.pop(0)

    def probe(self, service):
        return {"ok": False, "error": "ConnectionError"} if service in self.unreachable else {"ok": True, "status": "ok"}

    def upload(self, token, name, content, content_type, cid=None):
        return Reply(201, {"upload_id": "0b8f2a52-6f4e-4c53-9b8e-0d8f7b1c2a11", "name": name})

    def desk_modules(self, token, desk, cid=None):
        return Reply(200, {"desk": desk, "version": 0, "modules": [m.as_dict() for m in DESKS[desk].entries]})
    def rules_page(self, desk, language, cid=None):
        """Intake's default rules page (tests/unit/test_portal_content_views.py edits it)."""
        from intake import rules_page
        text = rules_page.default_text(desk, language)
        return Reply(200, {"desk": desk, "language": language, "shown_language": language, "text": text,
                           "html": rules_page.to_html(text), "version": 0, "edited_by": None, "edited_at": None})


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def client(backend):
    app = create_app(portal_config("http://intake.invalid", "http://query.invalid"), backend=backend)
    return app.test_client()


def csrf(client, path="/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def logged_in(client) -> None:
    r = client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                    "password": "mesa-demo", "desk": "SOPORTE"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tickets")


def new_ticket_form(client, **fields) -> dict:
    return {"csrf_token": csrf(client, "/tickets/new"), "desk": "SOPORTE", "module": "BANCOS",
            "case": "Factura mal cargada en el banco", "description": "Una descripción", "contact_name": "María",
            "contact_email": "maria@clubcaracas.com.ve", "contact_phone": "+58 212 555 0100", "urgency": "normal",
            "idempotency_key": "8c0e4d2b-3c55-4a37-9d1f-6a1b2c3d4e5f", **fields}


def test_every_page_forbids_inline_scripts_and_the_session_cookie_is_httponly_and_lax(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "<script>" not in r.get_data(as_text=True).replace('<script src="/static/portal.js" defer></script>', "")


def test_the_session_cookie_is_secure_when_the_portal_is_served_over_https(backend):
    app = create_app(portal_config("http://i", "http://q", public_url="https://mesa.example"), backend=backend)
    assert "Secure" in app.test_client().get("/").headers["Set-Cookie"]


def test_a_form_posted_without_its_csrf_token_is_refused_with_a_spanish_page_and_nothing_is_sent(client, backend):
    logged_in(client)
    form = new_ticket_form(client)
    del form["csrf_token"]
    r = client.post("/tickets/new", data=form)
    assert r.status_code == 400
    assert "El formulario venció" in r.get_data(as_text=True)
    assert [c for c in backend.calls if c[0] == "open_ticket"] == []


def test_intakes_refusal_is_shown_beside_its_field_in_the_readers_language(client, backend):
    logged_in(client)
    refusal = {"code": "R4_VAGUE_SUBJECT", "field": "subject",
               "message": {"es": "El asunto es demasiado general.", "en": "The subject is too vague."}}
    backend.open_replies = [Reply(422, refusal), Reply(422, refusal)]
    page = client.post("/tickets/new", data=new_ticket_form(client)).get_data(as_text=True)
    assert re.search(r'id="case-error"[^>]*>\s*<p>El asunto es demasiado general\.</p>', page)
    client.post("/language", data={"csrf_token": csrf(client), "lang": "en", "next": "/"})
    page = client.post("/tickets/new", data=new_ticket_form(client)).get_data(as_text=True)
    assert re.search(r'id="case-error"[^>]*>\s*<p>The subject is too vague\.</p>', page)
    assert "Case summary" in page


def test_a_similar_open_case_offers_continuing_it_first_and_a_different_case_second(client, backend):
    logged_in(client)
    backend.open_replies = [Reply(409, {"code": "R6_DUPLICATE_OPEN_CASE", "field": "subject", "ticket": "SOP-3",
                                        "message": {"es": "Ya existe", "en": "Exists"}}),
                            Reply(201, {"number": "SOP-8", "warnings": []})]
    r = client.post("/tickets/new", data=new_ticket_form(client))
    page = r.get_data(as_text=True)
    assert r.status_code == 409
    assert page.index("Continuar el ticket SOP-3") < page.index("Es un caso distinto")
    assert 'href="/tickets/SOP-3"' in page
    r = client.post("/tickets/new", data=new_ticket_form(client, different_case="1"))
    assert r.status_code == 302 and r.headers["Location"].endswith("/tickets/SOP-8")
    first, second = [c[1] for c in backend.calls if c[0] == "open_ticket"]
    assert first["confirmed_different_case"] is False and second["confirmed_different_case"] is True


def test_a_message_body_is_escaped_and_solved_not_solved_are_offered_after_an_agents_answer(client):
    logged_in(client)
    page = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'id="solved"' in page and 'id="not-solved"' in page


def test_another_organisations_ticket_is_the_same_not_found_page_as_a_missing_one(client):
    logged_in(client)
    assert client.get("/tickets/SOP-999").status_code == 404
    assert client.get("/tickets/..%2Fadmin").status_code == 404


def test_the_language_switch_redirects_only_within_the_portal(client):
    token = csrf(client)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        r = client.post("/language", data={"csrf_token": token, "lang": "en", "next": target})
        assert r.headers["Location"] == "/"


def test_a_service_that_does_not_answer_is_a_503_page_not_a_500(client, backend):
    logged_in(client)
    backend.down = True
    r = client.get("/tickets")
    assert r.status_code == 503 and "El servicio no responde" in r.get_data(as_text=True)


def test_a_wrong_password_is_said_on_the_entry_page(client):
    r = client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                    "password": "nope", "desk": "SOPORTE"})
    assert r.status_code == 401 and "Correo o contraseña incorrectos." in r.get_data(as_text=True)


def test_every_text_of_the_pages_has_an_english_translation():
    with (PORTAL / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string}
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    found = {message for _, _, message, _, _ in extract_from_dir(str(PORTAL), method_map, keywords=keywords)}
    assert found and found - translated == set()


def test_the_english_catalog_says_each_text_once():
    """Two entries for one text: the compiled catalog keeps one silently, and an edit of the other is lost."""
    ids = [line for line in (PORTAL / "translations" / "en" / "LC_MESSAGES" / "messages.po").read_text(
        encoding="utf-8").splitlines() if line.startswith("msgid ")]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_healthz_and_metrics_answer_like_every_service(client, backend):
    up = {"ok": True, "status": "ok"}
    assert client.get("/healthz").get_json() == {"service": "portal", "status": "ok",
                                                 "services": {"intake": up, "query": up, "sla": up}}
    backend.unreachable = {"query"}  # the portal still serves its pages (and says query is away): degraded, 200
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "degraded"
    assert r.get_json()["services"]["query"] == {"ok": False, "error": "ConnectionError"}
    client.get("/")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/",method="GET",status="200"}' in metrics


def test_the_portal_refuses_to_start_without_its_session_secret():
    import os
    from unittest import mock
    from helpdesk_shared.config import MissingSecret
    from portal.config import Config
    with mock.patch.dict(os.environ, {}, clear=True), pytest.raises(MissingSecret, match="PORTAL_SESSION_SECRET"):
        Config.from_env()


def test_my_tickets_searches_the_words_typed_and_keeps_them_in_the_form_and_the_next_pages_link(client, backend):
    logged_in(client)
    page = client.get("/tickets?q=+conciliación   banco+&status=open").get_data(as_text=True)
    assert backend.calls[-1] == ("tickets", {"page": 1, "per_page": 25, "status": "open", "q": "conciliación banco"})
    assert 'name="q" type="search" maxlength="200" value="conciliación banco"' in page
    client.get("/tickets?q=" + "x" * 500)
    assert backend.calls[-1][1]["q"] == "x" * 200   # query's bound: never a 422 for a long paste
    assert 'id="search-capped"' not in page


def test_a_search_matching_more_tickets_than_query_ranks_tells_the_reader_to_add_words(client, backend):
    logged_in(client)
    page = client.get("/tickets?q=error").get_data(as_text=True)
    assert "se muestran los 2000 más recientes" in page and "Añada palabras" in page
    assert "Siguientes" in page   # the 2,000 are paged through
