"""Issue 7 item 5: a mail to a valid reply address from someone else is not the customer's message.

ReplyIntake.accept on real PostgreSQL; intake's HTTP API is a recording fake (what would
have been posted is all that matters here).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from configs import bearer, notifier_config
from helpdesk_shared.auth_tokens import Claims
from notifier import store
from notifier.consumer import renderer
from notifier.messages import Recipient
from notifier.replies import OK, ReplyIntake

pytestmark = pytest.mark.integration

MARIA = Recipient(email="maria@clubcaracas.com.ve", name="María Pérez", language="es", user_id="u-maria")
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


class FakeIntake:
    """Records what the notifier posts to intake; every post succeeds."""

    def __init__(self):
        self.posts = []

    def post(self, url, **kwargs):
        self.posts.append((url, kwargs.get("json") or kwargs.get("data")))
        return FakeResponse()


class FakeResponse:
    status_code = 201

    @staticmethod
    def json():
        return {"message_id": "m1"}


@pytest.fixture
def setup(notifier_db):
    """A notifier database knowing María, her ticket SOP-7 (SOPORTE) and a reply token made for her."""
    from helpdesk_shared import pg
    config = notifier_config(notifier_db)
    with pg.connect(notifier_db) as conn:
        conn.execute("""insert into users (user_id, email, name, role, language, organisation_id, desks)
                        values ('u-maria', 'maria@clubcaracas.com.ve', 'María Pérez', 'customer', 'es',
                                'club-caracas', '{SOPORTE}')""")
        conn.execute("""insert into tickets (ticket_id, number, desk, subject, organisation_id, opened_by, contact,
                                             language, urgency, status, opened_at, version)
                        values ('t7', 'SOP-7', 'SOPORTE', 'BANCOS, x', 'club-caracas', 'u-maria', '{}', 'es',
                                'normal', 'open', %s, 1)""", (NOW,))
        token = store.new_reply_token(conn, config.reply_secret, "SOP-7", MARIA, NOW + timedelta(days=30))
    clock = {"now": NOW}
    render = renderer(config)
    fake = FakeIntake()
    intake = ReplyIntake(config, lambda: clock["now"], lambda mail: tuple(render.render(mail)), http=fake)
    return {"config": config, "address": f"reply+{token}@{config.reply_domain}", "intake": intake, "fake": fake,
            "clock": clock, "db": notifier_db}


def mail(from_header: str, message_id: str, to: str, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = from_header
    msg["To"] = to
    msg["Subject"] = "Re: [SOP-7] BANCOS"
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Soy otra persona y escribo en el ticket de María.")
    return msg.as_bytes()


def refusal_mails(db: str) -> list[dict]:
    from helpdesk_shared import pg
    with pg.connect(db) as conn:
        return conn.execute("select * from mails where template = 'reply_sender_refused'").fetchall()


def test_a_mail_from_another_address_is_not_posted_and_gets_one_short_answer(setup):
    s = setup
    status = s["intake"].accept("intruso@otro.example", mail("intruso@otro.example", "<a1@otro>", s["address"]),
                                [s["address"]])
    assert status == OK  # accepted: a refusal at SMTP would send a bounce to whoever the sender claims to be
    assert s["fake"].posts == []
    [answer] = refusal_mails(s["db"])
    assert answer["recipient"] == "intruso@otro.example" and answer["reply_to"] is None
    for text in (answer["subject"], answer["body_text"], answer["body_html"]):
        assert "SOP-7" not in text and "María" not in text and "BANCOS" not in text  # nothing of the ticket


def test_a_forged_from_header_with_the_customers_address_is_refused_too(setup):
    s = setup
    s["intake"].accept("intruso@otro.example", mail("María <maria@clubcaracas.com.ve>", "<a2@otro>", s["address"]),
                       [s["address"]])
    assert s["fake"].posts == []
    assert len(refusal_mails(s["db"])) == 1


def test_the_answer_goes_at_most_once_a_day_per_sender_and_ticket_and_never_to_a_machine(setup):
    s = setup
    for n in range(3):
        s["intake"].accept("intruso@otro.example", mail("intruso@otro.example", f"<b{n}@otro>", s["address"]),
                           [s["address"]])
    s["intake"].accept("robot@otro.example", mail("robot@otro.example", "<c1@otro>", s["address"],
                                                  Auto_Submitted="auto-replied"), [s["address"]])
    assert len(refusal_mails(s["db"])) == 1
    s["clock"]["now"] = NOW + timedelta(days=1)
    s["intake"].accept("intruso@otro.example", mail("intruso@otro.example", "<b9@otro>", s["address"]),
                       [s["address"]])
    assert len(refusal_mails(s["db"])) == 2
    assert s["fake"].posts == []


def test_the_customer_herself_still_gets_her_reply_posted_in_any_letter_case(setup):
    s = setup
    s["intake"].accept("MARIA@clubcaracas.com.ve", mail("María <Maria@ClubCaracas.com.ve>", "<ok@club>",
                                                        s["address"]), [s["address"]])
    # Through intake's internal e-mail reply route (INBOUND_SECRET), naming the token's ticket.
    assert [(url, sent["ticket"]) for url, sent in s["fake"].posts] == [
        (f"{s['config'].intake_url.rstrip('/')}/api/internal/email-replies", "SOP-7")]
    assert refusal_mails(s["db"]) == []


def test_agents_of_the_desk_see_the_refused_mail_and_others_do_not(setup):
    from notifier.app import create_app
    s = setup
    s["intake"].accept("intruso@otro.example", mail("Intruso <intruso@otro.example>", "<d1@otro>", s["address"]),
                       [s["address"]])
    app = create_app(s["config"], migrate_first=True, clock=lambda: NOW)
    client = app.test_client()

    def as_(role, desks, organisation_id=None):
        claims = Claims(user_id=f"u-{role}", role=role, organisation_id=organisation_id, desks=tuple(desks),
                        name=role, email=f"{role}@x.example", language="es")
        return client.get("/api/tickets/SOP-7/refused-replies", headers=bearer(claims, NOW))

    seen = as_("agent", ["SOPORTE"])
    assert seen.status_code == 200, seen.get_json()
    [item] = seen.get_json()["items"]
    assert item["sender"] == "intruso@otro.example" and item["envelope_sender"] == "intruso@otro.example"
    assert item["reason"] and item["received_at"]
    assert as_("agent", ["IMPLANTACIONES"]).status_code == 404
    assert as_("customer", ["SOPORTE"], "club-caracas").status_code == 403
