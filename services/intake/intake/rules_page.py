"""Each desk's rules page, content its supervisors edit (issue 9): read it, edit it.

Event-sourced like every other write of intake: an edit is a `RulesPageEdited` event on the
stream "rules-page-<desk>-<language>" whose version is the page's version (the unique
(stream_id, stream_version) of the event store refuses the second of two editors who read
the same version), and the `rules_pages` row is updated in the same unit of work. Before the
first edit the page is the packaged default text (version 0): today's rules, so a fresh
install shows the page it always showed.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.errors import NotFound
from helpdesk_shared.rich_text import to_html

from .catalog import DESKS
from .messages import violation
from .unit_of_work import UnitOfWork, VersionConflict

DEFAULTS = Path(__file__).with_name("rules_pages")
LANGUAGES = ("es", "en")


@lru_cache(maxsize=None)
def default_text(desk: str, language: str) -> str:
    """The packaged text of a desk's page (`<desk>.<lang>.md`, else `default.<lang>.md`)."""
    own = DEFAULTS / f"{desk}.{language}.md"
    return (own if own.exists() else DEFAULTS / f"default.{language}.md").read_text(encoding="utf-8")


def _stream(desk: str, language: str) -> str:
    return f"rules-page-{desk}-{language}"


def _desk(desk: str) -> str:
    if desk not in DESKS:
        raise NotFound("desk")
    return desk


def read(uow: UnitOfWork, desk: str, language: str) -> dict:
    """The page as the portal shows it: `text` (Markdown), `html` (sanitised), `version`, who and when.

    An English page edited to "" (or never written when the Spanish one was) shows the Spanish
    text: English is optional, Spanish is not. `shown_language` says which one `html` is in."""
    desk = _desk(desk)
    row = uow.rules_pages.get(desk, language)
    page = {"desk": desk, "language": language, "shown_language": language,
            "text": row["text"] if row else default_text(desk, language),
            "version": row["version"] if row else 0,
            "edited_by": row["edited_by"] if row else None,
            "edited_at": row["edited_at"] if row else None}
    if row:
        page["html"] = row["html"]
    elif language == "es" or uow.rules_pages.get(desk, "es") is None:
        page["html"] = to_html(page["text"])
    else:
        page["html"] = ""  # the Spanish page was edited: the English default no longer says the same
    if not page["html"]:
        spanish = read(uow, desk, "es")
        page.update(html=spanish["html"], shown_language="es")
    return page


def edit(uow: UnitOfWork, supervisor: Claims, desk: str, body: dict, now: datetime) -> dict:
    """A supervisor of the desk replaces its page in one language, against the version he read.

    `body` is loaded by `requests.RulesPageEdit`. 403 for anyone but a supervisor of the desk
    (the page is public: its existence is no secret); 409 RULES_PAGE_CHANGED when someone
    saved in between; 422 for an empty Spanish page. Nothing is stored when refused."""
    if supervisor.role != "supervisor":
        raise violation("FORBIDDEN", None, status=403)
    if _desk(desk) not in supervisor.desks:
        raise violation("FORBIDDEN", None, status=403)
    language, text = body["language"], body["text"].strip()
    if language == "es" and not text:
        raise violation("RULES_PAGE_TEXT_REQUIRED", "text")
    stream = _stream(desk, language)
    current = uow.streams.version(stream)
    if body["version"] != current:
        raise violation("RULES_PAGE_CHANGED", "version", current=current)
    event = new_event("RulesPageEdited", stream, current + 1,
                      {"desk": desk, "language": language, "text": text, "version": current + 1,
                       "edited_by": supervisor.user_id},
                      actor=Actor(id=supervisor.user_id, role=supervisor.role), occurred_at=now)
    try:
        uow.streams.append([event], expected_version=current)
    except VersionConflict:  # an editor who read the same version committed first
        raise violation("RULES_PAGE_CHANGED", "version", current=current + 1) from None
    uow.rules_pages.save({"desk": desk, "language": language, "text": text, "html": to_html(text),
                          "version": current + 1, "edited_by": supervisor.user_id, "edited_at": now})
    return read(uow, desk, language)
