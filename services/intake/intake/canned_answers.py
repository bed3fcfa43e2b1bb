"""Each desk's canned answers (respuestas predefinidas, issue 12): list them, save one.

Event-sourced like the rules page: a save is a `CannedAnswerSaved` event on the stream
"canned-<desk>-<answer_id>" whose version is the answer's (the event store's unique
(stream_id, stream_version) refuses the second of two editors who read the same version), and
the `canned_answers` row is written in the same unit of work. Staff of the desk (agents and
supervisors) keep them; customers never see them. A message started from one names it
(`MessagePosted.canned_answer_id`, `handlers.post_message`) and counts as a use.
"""
from __future__ import annotations

import re
from datetime import datetime

from helpdesk_shared import canned
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.errors import NotFound

from .catalog import DESKS
from .messages import violation
from .unit_of_work import UnitOfWork, VersionConflict

ANSWER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _stream(desk: str, answer_id: str) -> str:
    return f"canned-{desk}-{answer_id}"


def _staff_of(user: Claims, desk: str) -> str:
    """The desk, when `user` is staff of it: 404 for a desk that does not exist, 403 otherwise."""
    if desk not in DESKS:
        raise NotFound("desk")
    if not user.is_staff or desk not in user.desks:
        raise violation("FORBIDDEN", None, status=403)
    return desk


def listed(uow: UnitOfWork, user: Claims, desk: str, include_retired: bool = False) -> list[dict]:
    """The desk's canned answers by title, with their uses (staff of the desk only)."""
    rows = uow.canned_answers.of_desk(_staff_of(user, desk))
    return [r for r in rows if include_retired or not r["retired"]]


def offered(uow: UnitOfWork, desk: str, answer_id: str) -> dict | None:
    """The answer when the desk offers it (exists, not retired)."""
    row = uow.canned_answers.get(desk, answer_id)
    return row if row and not row["retired"] else None


def save(uow: UnitOfWork, user: Claims, desk: str, answer_id: str, body: dict, now: datetime) -> dict:
    """Create (against version 0), edit or retire one of the desk's canned answers.

    `body` is loaded by `requests.CannedAnswerSave`. 403 for anyone but staff of the desk; 409
    CANNED_ANSWER_CHANGED when someone saved in between; 422 for an empty title or text, a wrong
    identifier or a placeholder that does not exist. Nothing is stored when refused."""
    desk = _staff_of(user, desk)
    if not ANSWER_ID.match(answer_id):
        raise violation("CANNED_ANSWER_ID_INVALID", "answer_id")
    title, text = body["title"].strip(), body["body"].strip()
    if not title or not text:
        raise violation("CANNED_TEXT_REQUIRED", "title" if not title else "body")
    unknown = canned.unknown(text)
    if unknown:
        raise violation("CANNED_PLACEHOLDER_UNKNOWN", "body", unknown=", ".join("{%s}" % n for n in unknown),
                        valid=", ".join("{%s}" % n for n in canned.PLACEHOLDERS))
    stream = _stream(desk, answer_id)
    current = uow.streams.version(stream)
    if body["version"] != current:
        raise violation("CANNED_ANSWER_CHANGED", "version", current=current)
    retired = body.get("retired") is True
    event = new_event("CannedAnswerSaved", stream, current + 1,
                      {"desk": desk, "answer_id": answer_id, "title": title, "body": text, "retired": retired,
                       "version": current + 1, "saved_by": user.user_id},
                      actor=Actor(id=user.user_id, role=user.role), occurred_at=now)
    try:
        uow.streams.append([event], expected_version=current)
    except VersionConflict:  # an editor who read the same version committed first
        raise violation("CANNED_ANSWER_CHANGED", "version", current=current + 1) from None
    uow.canned_answers.save({"desk": desk, "answer_id": answer_id, "title": title, "body": text,
                             "version": current + 1, "retired": retired, "edited_by": user.user_id,
                             "edited_at": now})
    return uow.canned_answers.get(desk, answer_id)
