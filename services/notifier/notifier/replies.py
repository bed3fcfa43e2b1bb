"""E-mail replies into tickets (adapter): the `accept` callback of the inbound SMTP server.

A reply becomes the customer's message on the ticket through intake's API, with an
Idempotency-Key derived from the mail's Message-ID, so a sending server that retries
(or our own crash after posting) never posts it twice.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from email import policy
from email.parser import BytesParser
from typing import Callable

import requests
from marshmallow import ValidationError, validate

from helpdesk_shared import pg

from . import inbound, store
from .config import Config
from .messages import Mail, Recipient

log = logging.getLogger(__name__)

INVALID_ADDRESS = (550, "5.7.1 Direccion de respuesta invalida o vencida / Invalid or expired reply address")
TRY_LATER = (451, "4.3.0 Intente mas tarde / Try again later")
OK = (250, "2.0.0 OK")


def _answerable(address: str) -> bool:
    """Whether we may write to `address`: the test the NotificationSent event's schema applies,
    so that the mail's own record can never be refused after it was sent."""
    try:
        validate.Email()(address)
    except ValidationError:
        return False
    return len(address) <= 254


class ReplyIntake:
    """Turns an accepted SMTP message into a ticket message; answers with an SMTP status."""

    def __init__(self, config: Config, clock: Callable[[], datetime], render: Callable[[Mail], tuple],
                 http: requests.Session | None = None):
        self.config = config
        self.clock = clock
        self.render = render
        self.http = http or requests.Session()

    def accept(self, mail_from: str, content: bytes, rcpt_tos: list[str]) -> tuple[int, str]:
        """Decide on one inbound mail (called by the SMTP handler at DATA)."""
        msg = BytesParser(policy=policy.default).parsebytes(content)
        reason = inbound.is_automatic(msg, mail_from)
        if reason:
            # Accepted and dropped: refusing would make the other side send a bounce (a loop).
            log.info("automatic mail ignored", extra={"reason": reason, "from": mail_from})
            return OK
        token = next((t for t in (inbound.token_of(r) for r in rcpt_tos) if t), None)
        now = self.clock()
        with pg.connect(self.config.database_url) as conn:
            claims = store.reply_token_claims(conn, self.config.reply_secret, token, now)
            if claims is None:
                log.warning("reply with a forged or expired token refused", extra={"from": mail_from})
                return INVALID_ADDRESS
            user = conn.execute("select * from users where user_id = %s", (claims["user_id"],)).fetchone()
            if user is None:
                return INVALID_ADDRESS
            mail_id = str(msg.get("Message-ID", "")).strip() or hashlib.sha256(content).hexdigest()
            if conn.execute("select 1 from inbound_messages where message_id = %s", (mail_id,)).fetchone():
                return OK  # the sending server retried a mail we already took in
            from_header = str(msg.get("From", ""))
            mismatch = inbound.sender_mismatch(mail_from, from_header, claims["email"])
            if mismatch:
                self._refuse_sender(conn, claims["ticket_number"], mail_from, from_header, mail_id, mismatch, now)
                return OK  # accepted, not refused: a 5xx would bounce to whoever the sender claims to be
            reply = inbound.extract(msg)
            outcome = self._post(conn, user, claims["ticket_number"], reply, mail_id, now)
            if outcome is None:
                return TRY_LATER
            conn.execute("insert into inbound_messages (message_id, received_at, outcome) values (%s, %s, %s)",
                         (mail_id, now, outcome))
        return OK

    def _links(self):
        """The URLs the planned mails use too (notifier.consumer.links), so every mail links the same pages."""
        from .consumer import links  # the consumer module is the entry point that builds them
        return links(self.config, self.clock)

    def _refuse_sender(self, conn, number: str, mail_from: str, from_header: str, mail_id: str, reason: str,
                       now: datetime) -> None:
        """Record a reply from someone other than the token's recipient (agents see it) and answer
        the envelope sender once a day per ticket, saying nothing of the ticket."""
        envelope_sender = inbound.normalised_address(mail_from)
        log.warning("reply from another sender refused", extra={"ticket": number, "from": envelope_sender,
                                                                "reason": reason})
        conn.execute("""insert into inbound_messages (message_id, received_at, outcome, ticket_number, sender,
                                                      envelope_sender, reason)
                        values (%s, %s, 'refused:SENDER_MISMATCH', %s, %s, %s, %s)""",
                     (mail_id, now, number, inbound.normalised_address(from_header)[:254] or None,
                      envelope_sender[:254] or None, reason))
        if not _answerable(envelope_sender):
            return
        recipient = Recipient(email=envelope_sender, name="", language="es", user_id=None)
        mail = Mail(template="reply_sender_refused", recipient=recipient, ticket_id=None, reply_ticket=None,
                    context={"portal_url": self._links().portal_url})
        # One answer per sender, ticket and day: a second mail (or a loop with a machine that
        # slipped past is_automatic) gets nothing more.
        key = f"inbound-refused:{envelope_sender}:{number}:{now.date().isoformat()}"
        subject, text, html = self.render(mail)
        inserted = conn.execute(
            """insert into mails (key, cause_event_id, template, recipient, language, ticket_id, subject, body_text,
                                  body_html, reply_to, message_id, next_attempt_at, created_at)
               values (%s, gen_random_uuid(), %s, %s, %s, null, %s, %s, %s, null, %s, %s, %s)
               on conflict (key) do nothing""",
            (key, mail.template, recipient.email, recipient.language, subject, text, html,
             store.message_id(key, self.config.reply_domain), now, now)).rowcount
        if inserted:
            conn.execute("notify mails")

    def _post(self, conn, user: dict, number: str, reply: inbound.Reply, mail_id: str, now: datetime) -> str | None:
        """Post the reply to intake; the outcome to record, or None to have the sender retry later.

        Through intake's internal e-mail reply route and INBOUND_SECRET, never a bearer token:
        the notifier cannot act as the customer in any other way (only intake mints tokens).
        """
        intake = self.config.intake_url.rstrip("/")
        key = "mail-" + hashlib.sha256(mail_id.encode()).hexdigest()[:40]
        files = [("file", (a.filename or "adjunto", a.content, a.content_type_declared)) for a in reply.attachments]
        try:
            r = self.http.post(f"{intake}/api/internal/email-replies", timeout=60,
                               headers={"Authorization": f"Inbound {self.config.inbound_secret}",
                                        "Idempotency-Key": key},
                               data={"ticket": number, "user_id": user["user_id"], "body": reply.text or ""},
                               files=files or None)
        except requests.RequestException as exc:
            log.warning("intake unreachable; the sending server will retry", extra={"error": str(exc)})
            return None
        if r.status_code == 201:
            return "posted"
        if r.status_code >= 500:
            return None
        if r.status_code == 401:  # INBOUND_SECRET differs from intake's: a configuration error, not the mail's
            log.error("intake refused the notifier's INBOUND_SECRET; replies wait until it is fixed")
            return None
        code = r.json().get("code")
        if code == "TICKET_CLOSED":
            self._tell_ticket_closed(conn, user, number, mail_id, now)
        log.info("reply refused by intake", extra={"code": code, "ticket": number})
        return f"refused:{code}"

    def _tell_ticket_closed(self, conn, user: dict, number: str, mail_id: str, now: datetime) -> None:
        """Queue the "this ticket is closed: open a new one quoting it" mail to the sender."""
        recipient = Recipient(email=user["email"], name=user["name"], language=user["language"],
                              user_id=user["user_id"])
        mail = Mail(template="reply_to_closed", recipient=recipient, ticket_id=None, reply_ticket=None,
                    context={"number": number, "new_ticket_url": self._links().new_ticket_url(number),
                             "customer_name": user["name"]})
        key = f"inbound:{mail_id}:{recipient.email}:reply_to_closed"
        subject, text, html = self.render(mail)
        conn.execute(
            """insert into mails (key, cause_event_id, template, recipient, language, ticket_id, subject, body_text,
                                  body_html, reply_to, message_id, next_attempt_at, created_at)
               values (%s, gen_random_uuid(), %s, %s, %s, null, %s, %s, %s, null, %s, %s, %s)
               on conflict (key) do nothing""",
            (key, mail.template, recipient.email, recipient.language, subject, text, html,
             store.message_id(key, self.config.reply_domain), now, now))
        conn.execute("notify mails")
