"""SMTP out (adapter): one multipart text + HTML mail per call, errors sorted into
"try again later" and "this address will never work"."""
from __future__ import annotations

import io
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from .config import Config


class TransientFailure(Exception):
    """The server is down or said 4xx: the mail waits and is retried."""


class PermanentFailure(Exception):
    """The server refused with 5xx (unknown mailbox, policy): retrying will not help."""


@dataclass(frozen=True)
class Outgoing:
    """A rendered mail ready for SMTP."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    reply_to: str | None
    language: str


def build_message(mail: Outgoing, sender: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, our Message-ID, auto-generated flags (RFC 3834)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = mail.message_id
    # Our mails are automatic: well-behaved autoresponders must not answer them (no loops).
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if mail.reply_to:
        msg["Reply-To"] = mail.reply_to
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    msg["Content-Language"] = mail.language  # after set_content, which drops Content-* headers
    return msg


# How a message goes on the wire. Headers are not folded: the standard library's folding of
# encoded words (non-ASCII subjects) doubles a space before one and drops the space after
# it; unfolded, a subject stays exactly as written (a bounded subject is far under RFC
# 5322's 998-character line limit).
_WIRE = policy.SMTP.clone(max_line_length=None)


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as sent: CRLF lines, and a body line starting "From " left as written
    (smtplib.send_message's generator would turn it into ">From ")."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_WIRE).flatten(msg)
    return buffer.getvalue()


class Mailer:
    """A connection to the configured SMTP server, opened on first use and reused."""

    def __init__(self, config: Config, timeout: float = 15.0):
        self.config = config
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.config.smtp_host, self.config.smtp_port, timeout=self.timeout)
        if self.config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if self.config.smtp_username:
            smtp.login(self.config.smtp_username, self.config.smtp_password)
        return smtp

    def send(self, mail: Outgoing) -> None:
        """Hand the mail to the server; TransientFailure or PermanentFailure when it does not take it."""
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.sendmail(parseaddr(self.config.mail_from)[1], [mail.recipient],
                               wire_bytes(build_message(mail, self.config.mail_from)))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise (PermanentFailure if all(c >= 500 for c in codes) else TransientFailure)(str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise (PermanentFailure if exc.smtp_code >= 500 else TransientFailure)(
                f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientFailure(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        """Drop the connection (a broken one is reopened on the next send)."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass  # already gone; nothing to tell
            self.smtp = None
