"""SMTP out (adapter): one multipart text + HTML mail per call, errors sorted into
"try again later" and "this address will never work"."""
from __future__ import annotations

import base64
import binascii
import functools
import io
import random
import smtplib
import ssl
import sys
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


# What the sender puts on the wire is built by hand below (mime_bytes), not through EmailMessage:
# the standard library parses every header it is given into a token tree and folds it back on
# output, 80 % of the sender's CPU in issue 11's profile (~3 ms a mail). build_message and
# wire_bytes stay as the reference the tests hold mime_bytes to, byte for byte.
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


@functools.lru_cache(maxsize=4096)  # the sender's own address on every mail, a desk's or customer's on many
def _address(value: str) -> str:
    """An address header's value: a display name outside ASCII as encoded words, the address as written."""
    if value.isascii() and "=?" not in value:
        return _header_value(value)
    name, address = parseaddr(value)
    if not address or not name:
        return _header_value(value)
    return f"{_header_value(name)} <{address}>"


# A text part's body, encoded as EmailMessage.set_content encodes it under policy.default
# (email.contentmanager._encode_text with policy.default: lines of at most 78 characters, "\n"
# line ends, 8bit allowed), in one pass. The standard library quotes every character through a
# 256-entry table and, for a body of more than ten lines, quoted-printable-encodes its first ten
# lines once to choose the encoding and then the whole body again: 37 % of the sender's CPU at
# rate 80 (stop 19). Here binascii escapes, each line is wrapped once, and the choice is made
# from the first ten lines' share of that result.
# tests/unit/test_notifier_mime_bytes.py holds it to _encode_text byte for byte.
_MAX_LINE = policy.default.max_line_length  # 78


def _qp_wrap(line: str, out: list[str]) -> None:
    """quoprimime.body_encode's wrapping of one escaped line: soft breaks ("=") under 78
    characters, never inside an escape, a trailing space or tab escaped or kept before a break."""
    start = 0
    laststart = len(line) - 1 - _MAX_LINE
    while start <= laststart:
        stop = start + _MAX_LINE - 1
        if line[stop - 2] == "=":
            out.append(line[start:stop - 1])
            start = stop - 2
        elif line[stop - 1] == "=":
            out.append(line[start:stop])
            start = stop - 1
        else:
            out.append(line[start:stop] + "=")
            start = stop
    if line and line[-1] in " \t":
        room = start - laststart
        if room >= 3:
            tail = "=%02X" % ord(line[-1])
        elif room == 2:
            tail = line[-1] + "=\n"
        else:
            tail = "=\n" + "=%02X" % ord(line[-1])
        out.append(line[start:-1] + tail)
    else:
        out.append(line[start:])


def _encode_body(content: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, body) exactly as _encode_text(content, "utf-8", None, policy.default)."""
    lines = content.encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    if max(map(len, lines), default=0) <= _MAX_LINE:
        return ("7bit", body.decode("ascii")) if body.isascii() else ("8bit", body.decode("ascii", "surrogateescape"))
    # Escaped by binascii (in C), asked to escape the line ends too ("=0A") so that its own
    # soft breaks ("=\n") are the only raw line ends: they go, and the text splits at each "=0A"
    # (a literal "=" is "=3D", so neither can be text). Its one escape quoprimime does not make,
    # a lone "." at a line's start ("=2E"), is undone.
    escaped = binascii.b2a_qp(body, istext=False).replace(b"=\n", b"").replace(b"=2E", b".").decode("ascii")
    out: list[str] = []
    sniffed = 0  # how many encoded lines the first ten input lines became
    for number, line in enumerate(escaped.split("=0A")[:-1]):  # [-1]: the "" after the final line end
        if len(line) <= _MAX_LINE and line[-1:] not in (" ", "\t"):
            out.append(line)  # what _qp_wrap does with it
        else:
            _qp_wrap(line, out)
        if number == 9:
            sniffed = len(out)
    if len(lines) <= 10:
        sniffed = len(out)
    sniff_qp = len("\n".join(out[:sniffed])) + 1  # + the final line end
    if sniff_qp > len(binascii.b2a_base64(b"\n".join(lines[:10]) + b"\n")):
        step = _MAX_LINE // 4 * 3
        return "base64", "".join(binascii.b2a_base64(body[i:i + step]).decode("ascii")
                                 for i in range(0, len(body), step))
    out.append("")
    return "quoted-printable", "\n".join(out)


def _part(content: str, subtype: str) -> bytes:
    """A text part (headers and body) as EmailMessage.set_content encodes it: 7bit, 8bit,
    quoted-printable or base64, by the same heuristics (see _encode_body)."""
    cte, body = _encode_body(content)
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
