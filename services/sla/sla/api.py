"""The SLA service's admin API: calendars, policies, and why a ticket's deadlines are where they are."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, g, jsonify

from helpdesk_shared.envelope import Actor
from helpdesk_shared.errors import Message, NotFound, RuleViolation
from helpdesk_shared import revocations
from helpdesk_shared.answers import OpenSchema, ResponseSchema, list_of, string
from helpdesk_shared.openapi import documented
from helpdesk_shared.web import load_body, require_auth

from . import requests, store
from .policy import DEFAULT_POLICIES

bp = Blueprint("sla", __name__, url_prefix="/api")
DESKS = sorted({desk for desk, _ in DEFAULT_POLICIES})
CLASSES = ("normal", "urgent")

FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="No tiene permiso para esta operación.", en="You are not allowed to do this."), status=403)


def _ctx():
    return current_app.extensions["sla"]


def _revoked(claims) -> bool:
    with _ctx().pool.connection() as conn:
        return revocations.is_revoked(conn, claims)


auth = require_auth(lambda: _ctx().config.token_verify_key, lambda: _ctx().clock(), _revoked)


def _require(*roles: str) -> None:
    if g.user.role not in roles:
        raise FORBIDDEN


def _desk(desk: str) -> str:
    if desk not in DESKS:
        raise NotFound("desk")
    return desk


_CHANGE_CALENDAR, _CHANGE_POLICY = requests.ChangeCalendar(), requests.ChangePolicy()
DESK = {"type": "string", "description": f"one of {', '.join(DESKS)}"}


class Version(OpenSchema):
    """A calendar or policy version: desk, version, effective_from, the document, who changed it."""

    desk = string()


class Versions(ResponseSchema):
    """The versions, oldest first per desk."""

    items = list_of(Version)


class NewVersion(OpenSchema):
    """The version the change made."""

    desk = string()


class Explained(OpenSchema):
    """Each clock of the ticket explained: policy and calendar versions, start, due, pauses, days skipped."""

    desk = string()


def _own_desk(desk: str) -> str:
    """A desk the caller holds: a supervisor edits the calendars and policies of his desks only."""
    if _desk(desk) not in g.user.desks:
        raise FORBIDDEN
    return desk


def _effective_from(body: dict, now: datetime) -> datetime:
    """When a change takes effect: now, or a later instant; never the past (deadlines already computed stay).

    `body` is loaded: `effective_from` is an aware datetime or None."""
    when = body.get("effective_from")
    if when is None:
        return now
    if when < now:
        raise RuleViolation("SLA_EFFECTIVE_FROM_INVALID", "effective_from", Message(
            es="«effective_from» debe ser una fecha y hora ISO 8601 con zona, no anterior a ahora.",
            en="'effective_from' must be an ISO 8601 date-time with a zone, not before now."))
    return when


@bp.get("/calendars")
@documented("The calendar versions of the caller's desks (staff)", responses={200: Versions}, refusals=(403,))
@auth
def list_calendars():
    """The calendar versions of the caller's desks (staff only)."""
    _require("agent", "supervisor")
    with _ctx().pool.connection() as conn:
        rows = conn.execute("""select desk, version, effective_from, doc as calendar, changed_by from calendars
                               where desk = any(%s) order by desk, version""", (list(g.user.desks),)).fetchall()
    return jsonify({"items": rows})


@bp.put("/calendars/<desk>")
@documented("A new calendar version for one of the supervisor's desks", path={"desk": DESK},
           description="Open tickets of the desk follow it from its effective_from: running deadlines still ahead "
                       "move, each with a DeadlineMoved (calendar_changed) on helpdesk.sla.",
           body=requests.ChangeCalendar, responses={201: NewVersion}, refusals=(403, 404))
@auth
def change_calendar(desk: str):
    """A new calendar version for a desk (supervisors); body: {calendar, effective_from?}."""
    _require("supervisor")
    body, now = load_body(_CHANGE_CALENDAR), _ctx().clock()
    with _ctx().pool.connection() as conn:
        version = store.change_calendar(conn, _own_desk(desk), body.get("calendar"), _effective_from(body, now),
                                        Actor(g.user.user_id, g.user.role), now)
    return jsonify({"desk": desk, "version": version}), 201


@bp.get("/policies")
@documented("The policy versions of the caller's desks (staff)", responses={200: Versions}, refusals=(403,))
@auth
def list_policies():
    """The policy versions per urgency class of the caller's desks (staff only)."""
    _require("agent", "supervisor")
    with _ctx().pool.connection() as conn:
        rows = conn.execute("""select desk, urgency_class, version, effective_from, doc as policy, changed_by
                               from policies where desk = any(%s) order by desk, urgency_class, version""",
                            (list(g.user.desks),)).fetchall()
    return jsonify({"items": rows})


@bp.put("/policies/<desk>/<urgency_class>")
@documented("A new policy version for one of the supervisor's desks",
           path={"desk": DESK, "urgency_class": {"type": "string", "description": f"one of {', '.join(CLASSES)}"}},
           body=requests.ChangePolicy, responses={201: NewVersion}, refusals=(403, 404))
@auth
def change_policy(desk: str, urgency_class: str):
    """A new policy version (supervisors); body: {policy: {target: {minutes, clock}}, effective_from?}."""
    _require("supervisor")
    if urgency_class not in CLASSES:
        raise NotFound("urgency_class")
    body, now = load_body(_CHANGE_POLICY), _ctx().clock()
    with _ctx().pool.connection() as conn:
        version = store.change_policy(conn, _own_desk(desk), urgency_class, body.get("policy"),
                                      _effective_from(body, now), Actor(g.user.user_id, g.user.role), now)
    return jsonify({"desk": desk, "urgency_class": urgency_class, "version": version}), 201


@bp.get("/tickets/<number>/sla")
@documented("Why a ticket's deadlines are where they are (staff of its desk)",
           responses={200: Explained}, refusals=(403, 404))
@auth
def ticket_sla(number: str):
    """Each clock of a ticket: policy and calendar versions, start, due, pauses, closed days skipped (agents)."""
    _require("agent", "supervisor")
    with _ctx().pool.connection() as conn:
        explained = store.explain(conn, store.load_settings(conn), number)
    if explained is None or explained["desk"] not in g.user.desks:
        raise NotFound("ticket")
    return jsonify(explained)
