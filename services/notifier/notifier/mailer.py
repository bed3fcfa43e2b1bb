"""SMTP out (adapter): one multipart text + HTML mail per call, errors sorted into
"try again later" and "this address will never work"."""
from __future__ import annotations

import base64
import io
import random
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email import policy
from email.contentmanager import _encode_text
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


# What the sender puts on the wire is built by hand below (mime_bytes), not through EmailMessage:
# the standard library parses every header it is given into a token tree and folds it back on
# output, 80 % of the sender's CPU in issue 11's profile (~3 ms a mail). build_message and
# wire_bytes stay as the reference the tests hold mime_bytes to, byte for byte.
_BODY_POLICY = policy.default  # what EmailMessage.set_content encodes bodies with
_CRLF = b"\r\n"


def _header_value(value: str) -> str:
    """A header's value as ASCII: as written when it is ASCII, else RFC 2047 encoded words
    (base64, whole characters, each word at most 75 characters), on one unfolded line like
    _WIRE's; a reader joins adjacent encoded words, so spaces are kept exactly. ASCII text that
    looks like an encoded word ("=?") is encoded too, or a reader would decode what was written."""
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    if value.isascii() and "=?" not in value:
        return value
    words, chunk = [], ""
    for char in value:
        if len((chunk + char).encode()) > 45:  # 45 bytes -> 60 base64 characters + 12 of "=?utf-8?b??="
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{base64.b64encode(w.encode()).decode('ascii')}?=" for w in words)


def _address(value: str) -> str:
    """An address header's value: a display name outside ASCII as encoded words, the address as written."""
    if value.isascii() and "=?" not in value:
        return _header_value(value)
    name, address = parseaddr(value)
    if not address or not name:
        return _header_value(value)
    return f"{_header_value(name)} <{address}>"


def _part(content: str, subtype: str) -> bytes:
    """A text part (headers and body) as EmailMessage.set_content encodes it: 7bit, 8bit,
    quoted-printable or base64, by the same heuristics (the standard library's own function)."""
    cte, body = _encode_text(content, "utf-8", None, _BODY_POLICY)
    if cte == "8bit":
        raw = body.encode("ascii", "surrogateescape")
    else:
        raw = body.encode("ascii")
    lines = raw.splitlines()
    head = [f'Content-Type: text/{subtype}; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
    if subtype == "html":
        head.append("MIME-Version: 1.0")  # add_alternative's part carries it; kept for the same bytes
    return _CRLF.join(h.encode("ascii") for h in head) + _CRLF + _CRLF + _CRLF.join(lines) + _CRLF


def mime_bytes(mail: Outgoing, sender: str, date: str | None = None, boundary: str | None = None) -> bytes:
    """The mail as wire_bytes(build_message(mail, sender)) writes it (same headers in the same
    order, same part encodings, CRLF lines, no ">From"), built directly."""
    parts = [_part(mail.text, "plain"), _part(mail.html, "html")]
    while True:
        token = boundary or "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="
        if not any(b"--" + token.encode("ascii") in p for p in parts):
            break
        boundary = None  # the body holds it (as the generator checks): draw another
    head = [f"From: {_address(sender)}", f"To: {_address(mail.recipient)}", f"Subject: {_header_value(mail.subject)}",
            f"Date: {date or formatdate(localtime=False)}", f"Message-ID: {_header_value(mail.message_id)}",
            "Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All"]
    if mail.reply_to:
        head.append(f"Reply-To: {_address(mail.reply_to)}")
    head += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{token}"',
             f"Content-Language: {_header_value(mail.language)}"]
    delimiter = b"--" + token.encode("ascii")
    out = [_CRLF.join(h.encode("ascii") for h in head), _CRLF, _CRLF]
    for part in parts:
        out += [delimiter, _CRLF, part, _CRLF]
    out += [delimiter, b"--", _CRLF]
    return b"".join(out)


class Mailer:
    """A connection to the configured SMTP server, opened on first use and reused."""

    def __init__(self, config: Config, timeout: float = 15.0):
        self.config = config
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None
        self.envelope_from = parseaddr(config.mail_from)[1]  # parsed once, not per mail

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
            self.smtp.sendmail(self.envelope_from, [mail.recipient],
                               mime_bytes(mail, self.config.mail_from))
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
