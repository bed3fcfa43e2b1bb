"""Query's HTTP API: ticket lists and a ticket with its thread."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from helpdesk_shared import revocations
from helpdesk_shared.errors import Message, NotFound, RuleViolation
from helpdesk_shared.web import require_auth

from . import views

bp = Blueprint("query", __name__, url_prefix="/api")


def _ctx():
    return current_app.extensions["query"]


def _revoked(claims) -> bool:
    with _ctx().pool.connection() as conn:
        return revocations.is_revoked(conn, claims)


auth = require_auth(lambda: _ctx().config.token_verify_key, lambda: _ctx().clock(), _revoked)


def _positive_int(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise RuleViolation("INVALID_REQUEST", name, Message(
            es=f"«{name}» debe ser un entero entre 1 y {maximum}.",
            en=f"'{name}' must be an integer between 1 and {maximum}."), status=400)
    return int(raw)


@bp.get("/tickets")
@auth
def list_tickets():
    """Tickets the caller may see; filters: status, desk, module, organisation_id; page, per_page."""
    filters = {k: request.args.get(k) for k in views.LIST_FILTERS}
    filters["organisation_id"] = filters["organisation_id"] or request.args.get("organisation")
    page = _positive_int("page", 1, 100_000)
    per_page = _positive_int("per_page", 25, 200)
    with _ctx().pool.connection() as conn:
        return jsonify(views.list_tickets(conn, g.user, filters, page, per_page))


@bp.get("/tickets/<number>")
@auth
def get_ticket(number: str):
    """One ticket with its thread; another organisation's ticket answers 404 like a missing one."""
    with _ctx().pool.connection() as conn:
        ticket = views.ticket_with_thread(conn, g.user, number)
    if ticket is None:
        raise NotFound("ticket")
    return jsonify(ticket)
