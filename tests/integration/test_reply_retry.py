"""An e-mail reply retried after the notifier posted it but before it recorded it (real PostgreSQL, intake in-process).

The notifier's own dedupe (`inbound_messages`) answers a retry when the first attempt was
recorded; this is the other case, where only intake's Idempotency-Key stands between a
retried mail and a second message on the ticket.
"""
from __future__ import annotations

import io

from datetime import timedelta
from email.message import EmailMessage
from email import policy

import pytest

from configs import notifier_config
from harness import login
from helpdesk_shared import pg
from intake import eventstore
from notifier import inbound, store
from notifier.consumer import renderer
from notifier.messages import Recipient
from notifier.replies import OK, ReplyIntake
from samples import ticket_body

pytestmark = pytest.mark.integration

INTAKE_URL = "http://intake.test"


class Response:
    """What ReplyIntake reads of a `requests` response."""

    def __init__(self, flask_response):
        self.status_code = flask_response.status_code
        self._json = flask_response.get_json()

    def json(self):
        return self._json


class IntakeInProcess:
    """A `requests.Session` stand-in that hands ReplyIntake's calls to intake's Flask test client."""

    def __init__(self, client):
        self.client = client

    def post(self, url, headers=None, timeout=None, json=None, data=None, files=None):
        if json is not None:
            return Response(self.client.post(url.removeprefix(INTAKE_URL), headers=headers, json=json))
        form = dict(data or {})
        if files:  # requests' (field, (name, bytes, type)) tuples as the test client's multipart files
            form["file"] = [(io.BytesIO(content), name, kind) for _, (name, content, kind) in files]
        return Response(self.client.post(url.removeprefix(INTAKE_URL), headers=headers, data=form,
                                         content_type="multipart/form-data"))


class CrashAfterPosting(Exception):
    """The notifier dies after intake committed the message and before `inbound_messages` is written."""


def customer_messages(intake_db: str, number: str) -> list[str]:
    with pg.connect(intake_db) as conn:
        ticket_id = conn.execute("select ticket_id from tickets where number = %s", (number,)).fetchone()["ticket_id"]
        return [e.data["body"] for e in eventstore.load_stream(conn, ticket_id)
                if e.type == "MessagePosted" and e.data["author_role"] == "customer"]


def test_a_reply_retried_after_a_crash_between_posting_and_recording_is_posted_once(
        intake_app, intake_db, fresh_database, clock, monkeypatch):
    client = intake_app.test_client()
    maria = login(client, "maria@clubcaracas.com.ve")
    number = client.post("/api/tickets", json=ticket_body(), headers=maria).get_json()["number"]
    carlos = login(client, "carlos@mesa.example")
    assert client.post(f"/api/tickets/{number}/messages", json={"body": "¿Nos envía la captura?"},
                       headers=carlos).status_code == 201

    notifier_db = fresh_database("notifier")
    store.migrate(notifier_db)
    config = notifier_config(notifier_db, intake_url=INTAKE_URL)
    with pg.connect(intake_db) as conn:
        user = conn.execute("select id, email, name, role, language, organisation_id, desks from users "
                            "where email = 'maria@clubcaracas.com.ve'").fetchone()
    with pg.connect(notifier_db) as conn:
        conn.execute("insert into users (user_id, email, name, role, language, organisation_id, desks) "
                     "values (%s, %s, %s, %s, %s, %s, %s)",
                     (user["id"], user["email"], user["name"], user["role"], user["language"],
                      user["organisation_id"], user["desks"]))
        token = store.new_reply_token(conn, config.reply_secret, number,
                                      Recipient(user["email"], user["name"], user["language"], user["id"]),
                                      clock() + timedelta(days=30))

    reply = EmailMessage()
    reply["From"] = "María Pérez <maria@clubcaracas.com.ve>"
    reply["To"] = inbound.reply_address(token, config.reply_domain)
    reply["Subject"] = f"Re: [{number}] BANCOS"
    reply["Message-ID"] = f"<retry-{number}@clubcaracas.com.ve>"
    reply.set_content("Aquí va la captura del estado de cuenta.")
    content = reply.as_bytes(policy=policy.SMTP)

    intake = ReplyIntake(config, clock, renderer(config), http=IntakeInProcess(client))
    real_post = ReplyIntake._post

    def post_then_crash(self, *args, **kwargs):
        real_post(self, *args, **kwargs)
        raise CrashAfterPosting()

    monkeypatch.setattr(ReplyIntake, "_post", post_then_crash)
    with pytest.raises(CrashAfterPosting):
        intake.accept("maria@clubcaracas.com.ve", content, [str(reply["To"])])
    assert customer_messages(intake_db, number) == ["Aquí va la captura del estado de cuenta."]
    with pg.connect(notifier_db) as conn:  # the crash left no trace here: the retry is not deduped by the notifier
        assert conn.execute("select count(*) as n from inbound_messages").fetchone()["n"] == 0

    monkeypatch.setattr(ReplyIntake, "_post", real_post)
    assert intake.accept("maria@clubcaracas.com.ve", content, [str(reply["To"])]) == OK
    assert customer_messages(intake_db, number) == ["Aquí va la captura del estado de cuenta."]
    with pg.connect(notifier_db) as conn:
        assert conn.execute("select outcome from inbound_messages").fetchone()["outcome"] == "posted"
