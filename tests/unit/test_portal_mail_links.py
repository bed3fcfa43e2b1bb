"""Every link a mail carries opens a working portal page for its reader.

Every template the notifier has is rendered from events planned by the notifier's own
`messages.plan`, with the links its consumer builds (`notifier.consumer.links`, signed
tokens included), in both languages; every link (href and plain URL) is then followed
against the portal (Flask test client, a fake of intake/query that checks link tokens
with the link secret as intake does).
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest

import test_notifier_messages as notifier_cases  # the notifier's representative events
from configs import SECRETS, notifier_config, portal_config
from helpdesk_shared import link_tokens
from notifier.consumer import links as mail_links
from notifier.messages import INBOUND_TEMPLATES, TEMPLATES, Mail, plan
from notifier.rendering import TEMPLATES_DIR, Renderer
from portal.app import create_app
from portal.backend import Reply
from test_portal_pages import TICKET, FakeBackend, csrf

PORTAL = "https://portal.mesa.test"
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)
LINKS = mail_links(notifier_config("postgresql://unused/none", public_url=PORTAL), lambda: NOW)
URL = re.compile(r"https?://[^\s\"'<>)]+")
HREF = re.compile(r'href="([^"]+)"')


def every_mail(language: str) -> list[Mail]:
    """One mail of every template the notifier has, planned from events as the consumer plans them."""
    m = notifier_cases
    view = m.replace(m.ticket(language, assigned_to="u-carlos"), module="BANCOS")  # its module: the KB link
    events = [m.opened(m.at(2026, 11, 28, 10), language=language), m.message(m.AGENT), m.message(m.CUSTOMER),
              m.overdue(), m.warning(), m.closed("needs_training"), m.closed("solved_by_customer"),
              m.access_requested(),
              m.access_granted(view.opened_by), m.training_requested(view.opened_by),
              m.special_process(view.opened_by), m.delivery_parked(),
              m.access_rejected(email="pedro@clubcaracas.ve", name="Pedro Díaz", desk="SOPORTE"),
              m.opened(m.at(2026, 11, 28, 10), urgency="platform_down", language=language), m.merged_away()]
    deadline = m.new_event("DeadlineSet", "sla-t42", 1, m.deadline_for(m.at(2026, 11, 28, 10)), actor=m.SYSTEM,
                           occurred_at=m.at(2026, 11, 28, 10))
    mails = [mail for e in events + [deadline]
             for mail in plan(e, m.replace(view, urgency=e.data.get("urgency", "normal")), m.USERS, m.DESKS,
                              m.CALENDAR, LINKS)]
    # notifier.replies' two mails, with the URLs it builds from the same PUBLIC_URL.
    user = m.USERS["u-john" if language == "en" else "u-maria"]
    mails += [Mail("reply_to_closed", user, {"number": "SOP-42", "customer_name": user.name,
                                             "new_ticket_url": LINKS.new_ticket_url("SOP-42")}, None, None),
              Mail("reply_sender_refused", m.Recipient("intruso@otro.example", "", language),
                   {"portal_url": LINKS.portal_url}, None, None)]
    return [m.replace(mail, recipient=m.replace(mail.recipient, language=language)) for mail in mails]


def links_of(mail: Mail) -> set[str]:
    """Every URL in the rendered text and every href of the rendered HTML."""
    subject, text, body = Renderer([TEMPLATES_DIR]).render(mail)
    found = set(URL.findall(text)) | {html.unescape(h) for h in HREF.findall(body)} | set(URL.findall(html.unescape(body)))
    # tel: and mailto: links open the reader's phone or mail program, not a page.
    return {u.rstrip(".,;") for u in found if u.startswith(("http://", "https://"))}


def all_links() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for language in ("es", "en"):
        for mail in every_mail(language):
            found.setdefault(mail.template, set()).update(links_of(mail))
    return found


class LinkBackend(FakeBackend):
    """The fake also answers for SOP-42 and checks link tokens as intake does."""

    def articles(self, token, params, cid=None):
        # The needs-training mail's link: the knowledge base's articles of the ticket's module.
        assert params == {"desk": "SOPORTE", "module": "BANCOS"}, params
        return Reply(200, {"items": [], "next_cursor": None})

    def ticket(self, token, number, cid=None):
        # SOP-41: the open ticket the merged SOP-42 continues in (the ticket_merged mail links it).
        return Reply(200, {**TICKET, "number": number}) if number in ("SOP-42", "SOP-41") \
            else super().ticket(token, number, cid)

    def check_link(self, kind, token, cid=None):
        purpose = {"resolve": link_tokens.RESOLUTION, "set-password": link_tokens.PASSWORD,
                   "rate": link_tokens.RATING}[kind]
        try:
            link_tokens.verify(SECRETS["LINK_SECRET"], purpose, token, NOW)
        except link_tokens.InvalidLinkToken:
            return Reply(400, {"code": "RESOLUTION_LINK_INVALID", "field": "token", "message": {"es": "x", "en": "x"}})
        return Reply(200)

    def resolve_link(self, token, answer, text, cid=None):
        self.calls.append(("resolve_link", token, answer, text))
        if answer == "not_solved" and not text:
            return Reply(422, {"code": "MESSAGE_BODY_REQUIRED", "field": "body",
                               "message": {"es": "Díganos qué falta.", "en": "Tell us what is wrong."}})
        return Reply(200)

    def set_password(self, token, password, cid=None):
        self.calls.append(("set_password", token, password))
        return Reply(200)

    def request_training(self, token, body, cid=None):
        self.calls.append(("request_training", body))
        return Reply(201, {"request_id": "t1"})


@pytest.fixture
def backend():
    return LinkBackend()


@pytest.fixture
def app(backend):
    return create_app(portal_config("http://intake.invalid", "http://query.invalid", public_url=PORTAL),
                      backend=backend)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def test_every_template_of_the_notifier_is_rendered_and_its_links_all_point_at_the_portal():
    found = all_links()
    assert set(found) == set(TEMPLATES) == set(Renderer([TEMPLATES_DIR]).templates())
    urls = {u for us in found.values() for u in us}
    assert urls and all(u.startswith(PORTAL + "/") or u == PORTAL for u in urls), urls
    # The links a customer acts on are all there: respond, solved, not solved, training, set password, new ticket.
    paths = {(urlsplit(u).path + "/").split("/")[1] for u in urls}
    assert {"tickets", "resolve", "set-password", "training", "rate"} <= paths
    assert any("rate/" in u and "rating=good" in u for u in urls) and any("rating=bad" in u for u in urls)
    assert any("answer=not_solved" in u for u in urls)


def test_every_link_of_every_mail_opens_a_page_for_its_reader_logging_in_first_when_needed(app, backend):
    followed = 0
    for template, urls in sorted(all_links().items()):
        for url in sorted(urls):
            client = app.test_client()
            path = path_of(url)
            r = client.get(path)
            if r.status_code == 302:  # a page of the reader's own: log in, then back to the link
                assert r.headers["Location"] == "/", (template, url)
                login = client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                                    "password": "mesa-demo", "desk": "SOPORTE"})
                assert login.status_code == 302 and login.headers["Location"] == path.split("#")[0], (template, url)
                r = client.get(path)
            assert r.status_code == 200, (template, url, r.status_code)
            followed += 1
    assert followed >= 8
    assert not [c for c in backend.calls if c[0] in ("resolve_link", "set_password", "rate_link")]  # following changed nothing


def solved_link(answer: str) -> str:
    return path_of(LINKS.resolution_url("SOP-42", "u-maria", answer))


def test_the_solved_link_confirms_with_a_csrf_form_and_only_its_post_answers_intake(app, backend):
    client = app.test_client()
    page = client.get(solved_link("solved")).get_data(as_text=True)
    assert 'id="confirm-solved-button"' in page and "SOP-42" in page
    token = urlsplit(solved_link("solved")).path.rsplit("/", 1)[1]
    assert client.post(f"/resolve/{token}", data={"answer": "solved"}).status_code == 400  # no CSRF token
    assert backend.calls == []
    done = client.post(f"/resolve/{token}", data={"answer": "solved", "csrf_token": csrf(client, solved_link("solved"))})
    assert done.status_code == 200 and 'id="resolve-done"' in done.get_data(as_text=True)
    assert backend.calls == [("resolve_link", token, "solved", "")]


def test_the_not_solved_link_asks_what_is_still_wrong_and_says_intakes_refusal_beside_it(app, backend):
    client = app.test_client()
    link = solved_link("not_solved")
    assert 'id="confirm-not-solved-button"' in client.get(link).get_data(as_text=True)
    token = urlsplit(link).path.rsplit("/", 1)[1]
    refused = client.post(f"/resolve/{token}", data={"answer": "not_solved", "csrf_token": csrf(client, link)})
    assert refused.status_code == 422 and 'id="body-error"' in refused.get_data(as_text=True)
    done = client.post(f"/resolve/{token}", data={"answer": "not_solved", "body": "Sigue duplicado.",
                                                  "csrf_token": csrf(client, link)})
    assert done.status_code == 200
    assert backend.calls[-1] == ("resolve_link", token, "not_solved", "Sigue duplicado.")


@pytest.mark.parametrize("path", ["/resolve/forged.token", "/set-password/forged.token", "/resolve/a..b",
                                  "/set-password/" + "x" * 700])
def test_a_forged_or_malformed_link_says_it_no_longer_works(app, path):
    r = app.test_client().get(path)
    assert r.status_code == 400 and 'id="link-invalid"' in r.get_data(as_text=True)


def test_the_set_password_link_saves_the_password_then_sends_the_new_user_to_log_in(app, backend):
    client = app.test_client()
    link = path_of(LINKS.set_password_url("u-pedro"))
    assert 'id="save-password"' in client.get(link).get_data(as_text=True)
    token = link.rsplit("/", 1)[1]
    differs = client.post(link, data={"csrf_token": csrf(client, link), "password": "una-clave-larga",
                                      "password_again": "otra-clave-larga"})
    assert differs.status_code == 422 and backend.calls == []
    saved = client.post(link, data={"csrf_token": csrf(client, link), "password": "una-clave-larga",
                                    "password_again": "una-clave-larga"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/"
    assert backend.calls == [("set_password", token, "una-clave-larga")]
    assert "Contraseña guardada" in client.get("/").get_data(as_text=True)


def test_the_training_link_opens_the_induction_course_form_whose_post_reaches_intake(app, backend):
    client = app.test_client()
    assert client.get("/training").status_code == 302
    client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                "password": "mesa-demo", "desk": "SOPORTE"})
    token = csrf(client, "/training")
    r = client.post("/training", data={"csrf_token": token, "modules": ["NOMINA", "SOCIOS"], "participants": "4",
                                       "note": "Personal nuevo"})
    assert r.status_code == 302
    assert backend.calls[-1] == ("request_training", {"modules": ["NOMINA", "SOCIOS"], "participants": 4,
                                                      "note": "Personal nuevo"})


def test_a_login_never_sends_the_reader_off_the_site(app):
    client = app.test_client()
    with client.session_transaction() as s:
        s["next"] = "//evil.example/x"
    r = client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                    "password": "mesa-demo", "desk": "SOPORTE"})
    assert r.headers["Location"] == "/tickets"


def test_the_closed_mails_new_ticket_link_opens_the_form_quoting_the_closed_ticket(app):
    client = app.test_client()
    link = path_of(LINKS.new_ticket_url("SOP-42"))
    assert client.get(link).status_code == 302
    login = client.post("/login", data={"csrf_token": csrf(client), "email": "maria@clubcaracas.com.ve",
                                        "password": "mesa-demo", "desk": "SOPORTE"})
    assert login.headers["Location"] == link
    assert re.search(r'id="previous_ticket"[^>]*value="SOP-42"', client.get(link).get_data(as_text=True))
