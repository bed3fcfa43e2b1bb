"""The knowledge base's articles on the write side (issue 12): draft, edit, publish, archive.

Event-sourced like the rules page (`intake.rules_page`): an article is the stream
"article-<id>" on helpdesk.knowledge, its state the fold of that stream (`article_state`, pure),
its version the stream's version. Every command names the version the editor read, and the
event store's unique (stream_id, stream_version) refuses the second of two editors who read the
same one (409 ARTICLE_CHANGED). No table of its own: the query service's read model answers
every list and search, and a command reads only its article's few events.

The lifecycle (`next_status`, pure): draft → published → archived. An archived article edited
comes back as a draft (it was withdrawn: it is reviewed again before customers see it); a
published article edited stays published (fixing a typo must not take the answer away from
customers); an archived or draft article may be published; a draft may be archived (dropped).

Who: agents of the article's desk and supervisors (of any desk, as they read every desk's
articles); customers never. An agent of another desk gets 404, as for a missing article.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, Envelope, new_event
from helpdesk_shared.errors import NotFound

from .catalog import DESKS
from .messages import violation
from .unit_of_work import UnitOfWork, VersionConflict

ACTIONS = ("edit", "publish", "archive")
# (status before, action) -> status after; a pair missing here is refused (409 ARTICLE_STATUS).
_TRANSITIONS = {
    ("draft", "edit"): "draft",
    ("published", "edit"): "published",
    ("archived", "edit"): "draft",
    ("draft", "publish"): "published",
    ("archived", "publish"): "published",
    ("draft", "archive"): "archived",
    ("published", "archive"): "archived",
}
_STATUS_OF_EVENT = {"ArticleDrafted": "draft", "ArticlePublished": "published", "ArticleArchived": "archived"}
_CONTENT = ("title_es", "body_es", "title_en", "body_en")


@dataclass(frozen=True)
class Article:
    """An article folded from its stream (pure)."""

    article_id: str
    desk: str
    module: str
    status: str
    version: int
    title_es: str
    body_es: str
    title_en: str
    body_en: str

    def as_dict(self) -> dict:
        return dict(vars(self))


def stream_of(article_id: str) -> str:
    """The article's stream id, which is also its Kafka key."""
    return f"article-{article_id}"


def article_state(events: list[Envelope]) -> Article | None:
    """The article as its events leave it (None before its first), pure."""
    state: dict | None = None
    for event in events:
        d = event.data
        if event.type == "ArticleDrafted":
            state = {"article_id": d["article_id"], "desk": d["desk"], "status": "draft"}
        if state is None:
            continue
        state.update(module=d["module"], version=event.stream_version)
        if event.type in ("ArticleDrafted", "ArticleEdited"):
            state.update({k: d.get(k, "") for k in _CONTENT})
        state["status"] = d["status"] if event.type == "ArticleEdited" else _STATUS_OF_EVENT.get(event.type,
                                                                                                 state["status"])
    return Article(**state) if state else None


def next_status(status: str, action: str) -> str | None:
    """The status `action` leaves an article in, or None when the lifecycle refuses it (pure)."""
    return _TRANSITIONS.get((status, action))


def _check_staff(user: Claims, desk: str) -> None:
    """Customers never write articles; an agent only on his desks (403 on creation, 404 on an article)."""
    if not user.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    if user.role == "agent" and desk not in user.desks:
        raise violation("FORBIDDEN", None, status=403)


def _check_module(uow: UnitOfWork, desk: str, module: str) -> None:
    """The module must be one of the desk's current (not retired) modules."""
    current = uow.catalogs.current(DESKS[desk])
    if module not in current.modules:
        raise violation("ARTICLE_UNKNOWN_MODULE", "module", modules=list(current.modules))


def _content(body: dict) -> dict:
    """The four texts, stripped; Spanish title and body are required (422 naming the empty one)."""
    texts = {k: (body.get(k) or "").strip() for k in _CONTENT}
    for name in ("title_es", "body_es"):
        if not texts[name]:
            raise violation("ARTICLE_SPANISH_REQUIRED", name)
    return texts


def _load(uow: UnitOfWork, user: Claims, article_id: str) -> Article:
    """The article for a staff member who may edit it; 404 when missing or of another agent's desk."""
    if not user.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    article = article_state(uow.streams.load(stream_of(article_id)))
    if article is None or (user.role == "agent" and article.desk not in user.desks):
        raise NotFound("article")
    return article


def _append(uow: UnitOfWork, event: Envelope, expected: int) -> None:
    try:
        uow.streams.append([event], expected_version=expected)
    except VersionConflict:  # an editor who read the same version committed first
        raise violation("ARTICLE_CHANGED", "version", current=expected + 1) from None


def _answer(article: Article) -> dict:
    return {"article_id": article.article_id, "desk": article.desk, "module": article.module,
            "status": article.status, "version": article.version}


def draft(uow: UnitOfWork, user: Claims, body: dict, now: datetime) -> dict:
    """A new article as a draft (`body` loaded by `requests.ArticleDraft`): staff of its desk only."""
    desk, module = body["desk"], body["module"].strip().upper()
    _check_staff(user, desk)
    _check_module(uow, desk, module)
    texts = _content(body)
    article_id = str(uuid.uuid4())
    event = new_event("ArticleDrafted", stream_of(article_id), 1,
                      {"article_id": article_id, "desk": desk, "module": module, "version": 1,
                       "by": user.user_id, **texts},
                      actor=Actor(id=user.user_id, role=user.role), occurred_at=now)
    _append(uow, event, 0)
    return _answer(article_state([event]))


def _check_version(article: Article, version: int) -> None:
    if version != article.version:
        raise violation("ARTICLE_CHANGED", "version", current=article.version)


def edit(uow: UnitOfWork, user: Claims, article_id: str, body: dict, now: datetime) -> dict:
    """New texts (and maybe module) against the version read (`requests.ArticleEdit`)."""
    article = _load(uow, user, article_id)
    _check_version(article, body["version"])
    module = (body.get("module") or article.module).strip().upper()
    if module != article.module:
        _check_module(uow, article.desk, module)
    texts = _content(body)
    status = next_status(article.status, "edit")
    event = new_event("ArticleEdited", stream_of(article_id), article.version + 1,
                      {"article_id": article_id, "desk": article.desk, "module": module,
                       "version": article.version + 1, "by": user.user_id, "status": status, **texts},
                      actor=Actor(id=user.user_id, role=user.role), occurred_at=now)
    _append(uow, event, article.version)
    return _answer(article_state([*uow.streams.load(stream_of(article_id))]))


def change_status(uow: UnitOfWork, user: Claims, article_id: str, action: str, version: int,
                  now: datetime) -> dict:
    """Publish or archive the article against the version read; 409 ARTICLE_STATUS when its
    status does not allow it (publishing a published article)."""
    article = _load(uow, user, article_id)
    _check_version(article, version)
    status = next_status(article.status, action)
    if status is None:
        raise violation("ARTICLE_STATUS", None, status_now=article.status)
    type_ = {"publish": "ArticlePublished", "archive": "ArticleArchived"}[action]
    event = new_event(type_, stream_of(article_id), article.version + 1,
                      {"article_id": article_id, "desk": article.desk, "module": article.module,
                       "version": article.version + 1, "by": user.user_id},
                      actor=Actor(id=user.user_id, role=user.role), occurred_at=now)
    _append(uow, event, article.version)
    return _answer(article_state(uow.streams.load(stream_of(article_id))))


# ------------------------------------------------------------------ deflection: a suggestion opened


def attempt_stream(attempt_id: str) -> str:
    """The stream of one new-ticket form load's opened suggestions (its Kafka key)."""
    return f"attempt-{attempt_id}"


def record_opened(uow: UnitOfWork, user: Claims, article_id: str, attempt_id: str, now: datetime) -> None:
    """A customer opened a published article of one of his desks from the new-ticket form's
    suggestions (`attempt_id`: the form's load). Staff are refused (403: they file for others, their
    reading is no deflection); an article he may not read is 404; an attempt that is another user's
    is 404 too (nobody writes into someone else's attempt)."""
    if user.role != "customer":
        raise violation("FORBIDDEN", None, status=403)
    article = article_state(uow.streams.load(stream_of(article_id)))
    if article is None or article.status != "published" or article.desk not in user.desks:
        raise NotFound("article")
    stream = attempt_stream(attempt_id)
    earlier = uow.streams.load(stream)
    if earlier and earlier[0].data["opened_by"] != user.user_id:
        raise NotFound("attempt")
    version = len(earlier)
    event = new_event("ArticleSuggestionOpened", stream, version + 1,
                      {"article_id": article_id, "desk": article.desk, "module": article.module,
                       "attempt_id": attempt_id, "opened_by": user.user_id,
                       "organisation_id": user.organisation_id},
                      actor=Actor(id=user.user_id, role=user.role), occurred_at=now)
    uow.streams.append([event], expected_version=version)  # a VersionConflict is run again (unit_of_work.run)
