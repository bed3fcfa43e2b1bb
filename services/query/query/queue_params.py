"""Query strings of the desk pages (queue, auto-close, workload) and the ticket timeline, and their
cursors (pure).

Checked name by name as the ticket list's are (filters.py): an unknown parameter is a 422 that
lists the valid ones, a value no ticket can have is a 422 naming it. A cursor is opaque to the
caller: the sort key and ticket (or event) id of the last row served, so the next page starts
right after it whatever was added or removed meanwhile.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping, Sequence

from helpdesk_shared.errors import Message, RuleViolation

from . import filters
from .queue import QUEUE_FLAGS

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_MAX_CURSOR = 500

Check = Callable[[str, str], object]

QUEUE_FILTERS: dict[str, Check] = {
    "flag": filters._one_of("flag", QUEUE_FLAGS),
    "module": filters._module,
    "assigned_to": filters._assignee,
    "organisation_id": filters._identifier("organisation_id"),
}


@dataclass(frozen=True)
class PageQuery:
    """What a desk page asks for: its filters, where to start, how many."""

    filters: dict = field(default_factory=dict)
    cursor: list | None = None
    limit: int = DEFAULT_LIMIT


def encode_cursor(key: Sequence) -> str:
    """The opaque cursor of a sort key (JSON values only)."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _bad_cursor() -> RuleViolation:
    return RuleViolation("INVALID_CURSOR", "cursor", Message(
        es="El cursor no es válido: use el «next_cursor» de la página anterior tal como llegó.",
        en="The cursor is not valid: use the previous page's 'next_cursor' as it came."))


def decode_cursor(raw: str, shape: Sequence[Callable[[object], bool]]) -> list:
    """The sort key in a cursor whose values pass `shape` one by one, or a 422 naming `cursor`
    (a forged cursor never reaches SQL)."""
    if len(raw) > _MAX_CURSOR:
        raise _bad_cursor()
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(key, list) or len(key) != len(shape) or not all(ok(v) for ok, v in zip(shape, key)):
        raise _bad_cursor()
    return key


def instant(value: object, infinity: bool = False) -> bool:
    """An aware ISO 8601 instant (or "infinity" where allowed)."""
    if not isinstance(value, str):
        return False
    if infinity and value == "infinity":
        return True
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def identifier(value: object) -> bool:
    """A ticket id as stored: printable text of bounded length."""
    return isinstance(value, str) and 0 < len(value) <= filters.MAX_ID and not filters._UNPRINTABLE.search(value)


def small_int(value: object) -> bool:
    """A non-negative int a PostgreSQL int holds."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 31


def event_id(value: object) -> bool:
    """A UUID in text."""
    try:
        uuid.UUID(str(value))
        return isinstance(value, str)
    except ValueError:
        return False


# (due_at or "infinity" for a ticket without a running deadline, ticket id)
QUEUE_CURSOR = (lambda v: instant(v, infinity=True), identifier)
# (due_at, ticket id)
AUTO_CLOSE_CURSOR = (instant, identifier)
# (occurred_at, causal rank, stream version, event id)
TIMELINE_CURSOR = (instant, small_int, small_int, event_id)


def reject_unknown(args: Mapping[str, Sequence[str]], valid: Sequence[str], page_name: Message) -> dict[str, str]:
    """Each parameter's one value, or a 422 for a parameter the page does not know or one given twice."""
    single: dict[str, str] = {}
    for name, values in args.items():
        if name not in valid:
            listed = ", ".join(valid) or "—"
            shown = filters._shown(name)
            raise RuleViolation("UNKNOWN_FILTER", shown, Message(
                es=f"{page_name.es} no tiene el filtro «{shown}». Filtros válidos: {listed}.",
                en=f"{page_name.en} has no filter '{shown}'. Valid filters: {listed}."), extra={"valid": list(valid)})
        if len(values) > 1:
            raise RuleViolation("FILTER_REPEATED", name, Message(
                es=f"El filtro «{name}» se dio más de una vez; dé un solo valor.",
                en=f"The filter '{name}' was given more than once; give one value."))
        single[name] = values[0] if values else ""
    return single


def parse_page_query(args: Mapping[str, Sequence[str]], caller_id: str, checks: Mapping[str, Check],
                     page_name: Message, cursor_shape: Sequence[Callable[[object], bool]]) -> PageQuery:
    """The request in `args` for a page with the filters `checks` (plus cursor and limit), or a
    RuleViolation naming the parameter. `page_name` names the page in both languages."""
    single = reject_unknown(args, (*checks, "cursor", "limit"), page_name)
    chosen = {name: check(single[name], caller_id) for name, check in checks.items() if single.get(name)}
    cursor = decode_cursor(single["cursor"], cursor_shape) if single.get("cursor") else None
    return PageQuery(filters=chosen, cursor=cursor,
                     limit=filters._positive_int("limit", single.get("limit"), DEFAULT_LIMIT, MAX_LIMIT))


QUEUE = Message(es="La cola de la mesa", en="The desk's queue")
AUTO_CLOSE = Message(es="La lista de cierres automáticos", en="The auto-close list")
WORKLOAD = Message(es="La carga de los agentes", en="The agents' workload")
TIMELINE = Message(es="La cronología del ticket", en="The ticket's timeline")
