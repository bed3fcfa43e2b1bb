"""E-mail replies to notifications, read into ticket messages (pure: stdlib `email` only, no I/O).

A notification's Reply-To is `reply+<token>@<domain>`; the token says which ticket the
answer belongs to (SPEC §2 rule 7). This module finds the token, recognises mail that a
machine sent (so an auto-reply can never start a loop with our own notifications), and
keeps only what the person wrote: no quoted history, no signature, no HTML.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Iterator

REPLY_MARKER_ES = "## Responda por encima de esta línea ##"
REPLY_MARKER_EN = "## Reply above this line ##"


@dataclass(frozen=True)
class Attachment:
    """A file that came with a reply; its type is only what the sender declared."""

    filename: str
    content_type_declared: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """What a person wrote in an e-mail reply, ready to become a message on the ticket."""

    text: str
    attachments: list[Attachment]
    message_id: str | None
    subject: str
    sender: str


# --- reply addresses --------------------------------------------------------------------

_TOKEN = re.compile(r"reply\+([^@\s<>\"]+)@", re.IGNORECASE)


def reply_address(token: str, domain: str) -> str:
    """The address a notification asks the customer to answer to."""
    return f"reply+{token}@{domain}"


def token_of(address: str) -> str | None:
    """The token in a reply address ("Mesa <reply+TOKEN@host>" too), or None."""
    match = _TOKEN.search(address or "")
    return match.group(1) if match else None


# --- loop prevention --------------------------------------------------------------------

_PRECEDENCE_AUTOMATIC = {"bulk", "list", "junk", "auto_reply"}
# Values Outlook/Exchange put in X-Auto-Response-Suppress on mail that a machine sent.
_SUPPRESS_AUTOMATIC = {"all", "oof", "autoreply"}
_SYSTEM_SENDERS = {"mailer-daemon", "postmaster"}


def _local_part(address: str) -> str:
    addr_spec = parseaddr(address)[1].lower()
    return addr_spec.rpartition("@")[0] or addr_spec


def _is_delivery_report(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report" and (
        str(msg.get_param("report-type", "")).lower() == "delivery-status"
    ):
        return True
    return any(part.get_content_type() == "message/delivery-status" for part in msg.walk())


def is_automatic(msg: EmailMessage, mail_from: str) -> str | None:
    """Why this mail must be ignored (a machine sent it), or None when a person did.

    Answering machines must not be answered, or two of them reply to each other forever:
    https://www.rfc-editor.org/rfc/rfc3834#section-2 and #section-5.
    """
    if mail_from.strip() in ("", "<>"):
        return "null sender (bounce)"
    auto_submitted = str(msg.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if "Auto-Submitted" in msg and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in _PRECEDENCE_AUTOMATIC:
        return f"Precedence: {precedence}"
    for header in ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond"):
        if header in msg:
            return f"{header} header"
    suppress = {v.strip().lower() for v in str(msg.get("X-Auto-Response-Suppress", "")).split(",")}
    if suppress & _SUPPRESS_AUTOMATIC:
        return f"X-Auto-Response-Suppress: {msg['X-Auto-Response-Suppress']}"
    if _is_delivery_report(msg):
        return "delivery status report"
    for address in (mail_from, str(msg.get("From", ""))):
        if _local_part(address) in _SYSTEM_SENDERS:
            return f"system sender {parseaddr(address)[1]}"
    return None


# --- who may answer -------------------------------------------------------------------

def normalised_address(value: str) -> str:
    """The bare address of "Name <Addr@Host>" (or of "<addr@host>"), lower case."""
    return parseaddr(value or "")[1].strip().lower()


def sender_mismatch(mail_from: str, from_header: str, expected: str) -> str | None:
    """Why this mail is not from the person its reply token was made for, or None when it is.

    Both the envelope sender (MAIL FROM) and the From header must be that one address,
    compared without letter case: a reply address that leaked (a forwarded mail, a CC) must
    not let someone else write on the customer's ticket as the customer. A From header with
    several authors is refused too.
    """
    expected = normalised_address(expected)
    authors = [address.strip().lower() for _, address in getaddresses([from_header or ""]) if address.strip()]
    if len(authors) != 1 or authors[0] != expected:
        return "From header is not the reply address's recipient"
    if normalised_address(mail_from) != expected:
        return "envelope sender is not the reply address's recipient"
    return None


# --- quoted history and signatures ------------------------------------------------------

# "On Mon, Nov 30, 2026 at 10:00 AM Mesa <x@y> wrote:" / "El lun, 30 nov 2026 a las 10:00,
# Mesa (<x@y>) escribió:". The digit (a date) keeps "On the other hand..." from matching.
_ATTRIBUTION = re.compile(r"^(on|el)\s.*\d.*\b(wrote|escribió|escribio)\s*:$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^-{3,}\s*(original message|mensaje original)\s*-{3,}$", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^_{10,}$")
_HEADER_FROM = re.compile(r"^\*?(from|de)\s*:", re.IGNORECASE)
_HEADER_SENT = re.compile(r"(^|\s)\*?(sent|enviado)\s*:", re.IGNORECASE)
_MARKERS = {REPLY_MARKER_ES.lower(), REPLY_MARKER_EN.lower()}


def _next_nonblank(lines: list[str], start: int) -> str:
    for line in lines[start:]:
        if line.strip():
            return line.strip()
    return ""


def _starts_quote(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if not line:
        return False
    if line.startswith(">") or line.lower() in _MARKERS:
        return True
    if _ATTRIBUTION.match(line):
        return True
    # Gmail wraps long attributions: "On Mon, ... Mesa <\nsoporte@mesa.example> wrote:".
    if i + 1 < len(lines) and _ATTRIBUTION.match(f"{line} {lines[i + 1].strip()}"):
        return True
    if _ORIGINAL_MESSAGE.match(line):
        return True
    if _UNDERSCORES.match(line) and _HEADER_FROM.match(_next_nonblank(lines, i + 1)):
        return True
    # Outlook without a separator: "De: ...", then "Enviado: ..." (or both on one line).
    if _HEADER_FROM.match(line):
        following = [line] + [candidate.strip() for candidate in lines[i + 1 : i + 3]]
        if any(_HEADER_SENT.search(candidate) for candidate in following):
            return True
    return False


def strip_quoted(text: str) -> str:
    """The new part of a reply: cut at the quoted history, drop a "-- " signature, trim."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i in range(len(lines)):
        if _starts_quote(lines, i):
            lines = lines[:i]
            break
    # RFC 3676 §4.3 signature separator; clients that trim trailing spaces leave "--".
    separators = [i for i, line in enumerate(lines) if line.rstrip() == "--"]
    if separators:
        lines = lines[: separators[-1]]
    return "\n".join(lines).strip()


# --- HTML to text -----------------------------------------------------------------------

_BLOCK = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "tr", "ul",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre"}
_INVISIBLE = {"head", "script", "style", "title", "template"}


class _TextOfHtml(HTMLParser):
    """Visible text with line breaks where the browser would break; quotes get "> "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._quote = 0

    def _break(self, blank: bool = False) -> None:
        text = "".join(self._line).strip(" ")
        self._line = []
        if text:
            self.lines.append("> " * self._quote + text)
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag == "br":
            if not "".join(self._line).strip():
                self.lines.append("> " * self._quote)
                self._line = []
            else:
                self._break()
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)
            self._pre += tag == "pre"
            self._quote += tag == "blockquote"

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br" or tag in _BLOCK:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = data.replace("\xa0", " ")
        if self._pre:
            first, *rest = data.split("\n")
            self._line.append(first)
            for piece in rest:
                self._break()
                self._line.append(piece)
            return
        # Outside <pre>, runs of whitespace (newlines included) are one space in HTML.
        collapsed = re.sub(r"\s+", " ", data)
        current = "".join(self._line)
        if not current or current.endswith(" "):
            collapsed = collapsed.lstrip(" ")
        self._line.append(collapsed)

    def text(self) -> str:
        self.close()
        self._break()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in self.lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: tags gone, entities unescaped, line breaks kept."""
    parser = _TextOfHtml()
    parser.feed(html)
    return parser.text()


# --- reading a message ------------------------------------------------------------------

def _decode_text(part: Message) -> str:
    """The text of a part, undoing quoted-printable/base64 and the charset.

    Mail clients mislabel charsets; when the declared one fails, UTF-8 and then
    Windows-1252 (a superset of Latin-1 for printable text) are the likely truths.
    """
    raw = part.get_payload(decode=True) or b""
    declared = part.get_content_charset()
    for charset in filter(None, (declared, "utf-8")):
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("cp1252", errors="replace")


def _leaves(part: Message) -> Iterator[Message]:
    """The non-multipart parts, not descending into attached messages."""
    if part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            yield from _leaves(sub)
    else:
        yield part


def _part_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if payload is not None:
        return payload
    inner = part.get_payload()  # message/rfc822 and friends: a list of messages
    if isinstance(inner, list):
        return b"".join(sub.as_bytes() for sub in inner)
    return str(inner).encode()


def _body_part(msg: EmailMessage, subtype: str) -> Message | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return part


def extract(msg: EmailMessage) -> Reply:
    """The reply a person wrote: new text only, the files attached, and who sent it."""
    plain = _body_part(msg, "plain")
    html = _body_part(msg, "html")
    body: Message | None = None
    text = ""
    if plain is not None and _decode_text(plain).strip():
        body, text = plain, _decode_text(plain)
    elif html is not None:
        body, text = html, html_to_text(_decode_text(html))
    attachments = []
    for part in _leaves(msg):
        if part is body or part is plain or part is html:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition == "attachment" or (disposition == "inline" and filename):
            attachments.append(
                Attachment(
                    filename=filename or "attachment",
                    content_type_declared=part.get_content_type(),
                    content=_part_bytes(part),
                )
            )
    message_id = str(msg.get("Message-ID", "")).strip() or None
    return Reply(
        text=strip_quoted(text),
        attachments=attachments,
        message_id=message_id,
        subject=str(msg.get("Subject", "")).strip(),
        sender=parseaddr(str(msg.get("From", "")))[1],
    )
