"""Query's HTTP API: ticket lists, a ticket with its thread, a desk's agents, the organisations."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from flask import Blueprint, Response, current_app, g, jsonify, request

from helpdesk_shared import revocations
from helpdesk_shared.errors import Message, NotFound, RuleViolation
from helpdesk_shared.schemas import DESKS
from helpdesk_shared.openapi import documented, query_param
from helpdesk_shared.schemas import URGENCIES
from helpdesk_shared.web import RequestConnection, require_auth

from . import filters, queue, queue_params, queue_store, reports, reports_store, responses, timeline_store, views, work_time
from . import satisfaction_store
from .queue import check_desk_staff
from .filters import parse_list_query

bp = Blueprint("query", __name__, url_prefix="/api")


def _ctx():
    return current_app.extensions["query"]


# The request's one pooled connection (web.RequestConnection): the token check and the view share it.
_REQUEST_CONNECTION = RequestConnection("query", lambda: _ctx().pool)
_held_connection = _REQUEST_CONNECTION.get


@bp.teardown_request
def _give_back(exc: BaseException | None = None) -> None:
    """Give the request's connection back to the pool."""
    _REQUEST_CONNECTION.give_back(exc)


@contextmanager
def _connection():
    """A view's connection: the request's (`_held_connection`); its transaction ends with the block
    (committed), or on an error the connection goes back to the pool, rolled back."""
    conn = _held_connection()
    try:
        yield conn
    except BaseException as err:
        _give_back(err)
        raise
    conn.commit()


def _revoked(claims) -> bool:
    conn = _held_connection()
    # One statement in autocommit: no transaction is left open for the view to inherit (a report
    # starts its own repeatable-read transaction on this connection: report_cache.snapshot_state).
    conn.autocommit = True
    try:
        revoked = revocations.is_revoked(conn, claims)
    except BaseException as err:
        if not conn.broken:
            conn.autocommit = False  # back to the pool as it was lent (autocommit leaves it idle)
        _give_back(err)
        raise
    conn.autocommit = False
    return revoked


auth = require_auth(lambda: _ctx().config.token_verify_key, lambda: _ctx().clock(), _revoked)


# The query strings are checked by pure parsers (filters, queue_params, reports), which give the
# 422s that list the valid values; the document describes them from those modules' own data.
_TEXT = {"type": "string", "maxLength": filters.MAX_ID}
_MODULE = {"type": "string", "pattern": filters._MODULE.pattern}
_ASSIGNEE = {"type": "string", "description": "a user id, `me` or `none`"}
LIST_PARAMETERS = [
    query_param("status", {"enum": list(filters.STATUSES)}), query_param("desk", {"enum": list(DESKS)}),
    query_param("module", _MODULE), query_param("organisation_id", _TEXT), query_param("organisation", _TEXT),
    query_param("urgency", {"enum": list(URGENCIES)}), query_param("assigned_to", _ASSIGNEE),
    query_param("out_of_hours", {"enum": ["true", "false"]}),
    query_param("q", {"type": "string", "maxLength": filters.MAX_TEXT}),
    *(query_param(name, {"type": "integer", "minimum": 1, "maximum": maximum})
      for name, maximum in filters.PAGING.items())]


def _page(*extra: dict) -> list[dict]:
    """A desk page's filters, then its cursor and limit."""
    return [*extra, query_param("cursor", {"type": "string", "description": "the previous page's next_cursor"}),
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": queue_params.MAX_LIMIT})]


def _report_parameters(report: str) -> list[dict]:
    """The parameters of a report, from reports.PARAMETERS (the module that checks them)."""
    day = {"type": "string", "format": "date"}
    month = {"type": "string", "pattern": reports._MONTH.pattern}
    schemas = {"from": day if report == "backlog" else month, "to": day if report == "backlog" else month,
               "desk": {"enum": list(DESKS)}, "module": _MODULE, "organisation_id": _TEXT,
               "agent": {**_TEXT, "description": "a user id or `me`"},
               "group_by": {"type": "string", "description": "comma-separated: " + ", ".join(reports.DIMENSIONS)},
               "cursor": {"type": "string", "description": "the previous page's next_cursor"},
               "limit": {"type": "integer", "minimum": 1, "maximum": reports.MAX_LIMIT}}
    return [query_param(name, schemas[name]) for name in reports.PARAMETERS[report]]


_DESK_PAGE = (400, 403, 404, 422)
_REPORT = (403, 422)

FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="Su rol o su mesa no permite esta consulta.",
    en="Your role or desk does not allow this request."), status=403)


@bp.get("/tickets")
@documented("Tickets the caller may see; an unknown filter or value is a 422 listing the valid ones",
           query=LIST_PARAMETERS, responses={200: responses.TicketPage}, refusals=(400, 422))
@auth
def list_tickets():
    """Tickets the caller may see; filters: status, desk, module, organisation_id, urgency, assigned_to
    (an id, `me` or `none`), out_of_hours (`true`/`false`), q (text search); page, per_page.
    An unknown filter or value is a 422 listing the valid ones."""
    query = parse_list_query(request.args.to_dict(flat=False), g.user.user_id)
    with _connection() as conn:
        return jsonify(views.list_tickets(conn, g.user, query))


@bp.get("/tickets/<number>")
@documented("One ticket with its thread (another organisation's answers 404 like a missing one)",
           responses={200: responses.TicketWithThread}, refusals=(404,))
@auth
def get_ticket(number: str):
    """One ticket with its thread; another organisation's ticket answers 404 like a missing one."""
    with _connection() as conn:
        ticket = views.ticket_with_thread(conn, g.user, number)
    if ticket is None:
        raise NotFound("ticket")
    return jsonify(ticket)


@bp.get("/desks/<desk>/agents")
@documented("The agents and supervisors of a desk (its staff only)", responses={200: responses.Agents},
           refusals=(403, 404))
@auth
def desk_agents(desk: str):
    """The agents and supervisors of a desk (staff of that desk only), to assign a ticket to one."""
    if not g.user.is_staff:
        raise FORBIDDEN
    if desk not in DESKS:
        raise NotFound("desk")
    if desk not in g.user.desks:
        raise FORBIDDEN
    with _connection() as conn:
        return jsonify({"desk": desk, "items": views.desk_agents(conn, desk)})


@bp.get("/organisations")
@documented("The caller's organisation; for staff, those of their desks",
           responses={200: responses.Organisations})
@auth
def list_organisations():
    """A customer's own organisation; for staff, those of their desks with their customers (to file for one)."""
    with _connection() as conn:
        return jsonify({"items": views.organisations(conn, g.user)})


# ---------------------------------------------------------------- the desk's pages (issue 8)

def _args() -> dict:
    return request.args.to_dict(flat=False)


@bp.get("/desks/<desk>/queue")
@documented("The desk's open tickets by nearest deadline, with business time left and flags (staff of the "
           "desk only); flag `out_of_hours` is the desk's billable mark when set, else the customer's request "
           "(each item's `billable`: {requested, marked})",
           query=_page(query_param("flag", {"enum": list(queue.QUEUE_FLAGS)}), query_param("module", _MODULE),
                       query_param("assigned_to", _ASSIGNEE), query_param("organisation_id", _TEXT)),
           responses={200: responses.DeskPage}, refusals=_DESK_PAGE)
@auth
def desk_queue(desk: str):
    """The desk's open tickets, nearest deadline first, with time left in business time and flags
    (staff of the desk only); filters flag, module, assigned_to, organisation_id; cursor, limit."""
    check_desk_staff(g.user, desk)
    query = queue_params.parse_page_query(_args(), g.user.user_id, queue_params.QUEUE_FILTERS, queue_params.QUEUE,
                                          queue_params.QUEUE_CURSOR)
    with _connection() as conn:
        return jsonify(queue_store.desk_queue(conn, desk, query, _ctx().clock()))


@bp.get("/desks/<desk>/auto-close")
@documented("The desk's tickets that auto-close within the next business day (at most "
           f"{queue.BUSINESS_DAY_SECONDS} counted seconds left), by due_at", query=_page(),
           responses={200: responses.DeskPage}, refusals=_DESK_PAGE)
@auth
def desk_auto_close(desk: str):
    """The desk's tickets that auto-close within the next business day, by due_at (staff of the desk only)."""
    check_desk_staff(g.user, desk)
    query = queue_params.parse_page_query(_args(), g.user.user_id, {}, queue_params.AUTO_CLOSE,
                                          queue_params.AUTO_CLOSE_CURSOR)
    with _connection() as conn:
        return jsonify(queue_store.auto_close_soon(conn, desk, query, _ctx().clock()))


@bp.get("/desks/<desk>/workload")
@documented("Per agent of the desk: open, waiting, answered today (Caracas); and the unassigned count",
           responses={200: responses.Workload}, refusals=_DESK_PAGE)
@auth
def desk_workload(desk: str):
    """Per agent of the desk: open, waiting and answered today; and how many nobody has (staff of the desk only)."""
    check_desk_staff(g.user, desk)
    queue_params.reject_unknown(_args(), (), queue_params.WORKLOAD)
    with _connection() as conn:
        return jsonify(queue_store.workload(conn, desk, _ctx().clock()))


@bp.get("/tickets/<number>/timeline")
@documented("Every event of the ticket in order, with who, why (correlation, causation) and the policy and "
           "calendar versions (staff of its desk only; a customer of its organisation 403, anyone else 404)",
           query=_page(), responses={200: responses.Timeline}, refusals=_DESK_PAGE)
@auth
def ticket_timeline(number: str):
    """Every event of the ticket in order, with who, why and the versions (staff of its desk only)."""
    query = queue_params.parse_page_query(_args(), g.user.user_id, {}, queue_params.TIMELINE,
                                          queue_params.TIMELINE_CURSOR)
    with _connection() as conn:
        return jsonify(timeline_store.ticket_timeline(conn, g.user, number, query))
# ------------------------------------------------------------------ reports (issue 8)

def _report_scope(report: str, *, customers: bool = False) -> tuple[list[str], reports.ReportQuery]:
    """The desks whose figures the caller reads and the report's checked parameters. Staff figures
    are for staff (a customer is refused before anything is read); a desk filter outside the
    caller's desks is a 403. A customer (out-of-hours only: his own bill) reads his organisation's."""
    user = g.user
    if not user.is_staff and not customers:
        raise FORBIDDEN
    query = reports.parse_report_query(report, request.args.to_dict(flat=False), user.user_id, _ctx().clock())
    desk = query.filters.get("desk")
    if desk is not None and desk not in user.desks:
        raise FORBIDDEN
    if not user.is_staff:
        # Another organisation's bill answers as a missing one would (SPEC §6: no telling it exists).
        if query.filters.get("organisation_id", user.organisation_id) != user.organisation_id:
            raise NotFound("organisation")
        query = replace(query, filters={**query.filters, "organisation_id": user.organisation_id})
    return ([desk] if desk else list(user.desks)), query


def _report(report: str, read, *, customers: bool = False):
    """A report's JSON: its scope and parameters checked, then `read(conn, desks, query)`."""
    desks, query = _report_scope(report, customers=customers)
    with _connection() as conn:
        return jsonify(read(conn, desks, query))


@bp.get("/reports/backlog")
@documented("Staff: tickets not closed by status, desk, module, organisation and agent; per Caracas day "
           "(from..to, default the last 30, at most 366) opened, closed by reason and open at the day's end",
           query=_report_parameters("backlog"), responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_backlog():
    """Tickets not closed by status, desk, module, organisation and agent; per Caracas day of
    `from`..`to` (default the last 30, at most 366) opened, closed by reason and open at the end."""
    return _report("backlog", reports_store.backlog)


@bp.get("/reports/compliance")
@documented("Staff: share of first and next responses within target, median and p90 business hours, per "
           "clock and the group_by dimensions, months from..to (YYYY-MM, Caracas); median and p90 of the "
           "answered times truncated to the whole minute; a page of `limit` items (default 50) in group "
           "order, the next one by `cursor` (the page's next_cursor, null on the last)",
           query=_report_parameters("compliance"),
           responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_compliance():
    """Share of first and next responses in time, with median and p90 business hours, per clock
    and the `group_by` dimensions (month, desk, module, agent, organisation)."""
    cache = _ctx().report_cache
    return _report("compliance", lambda conn, desks, query: reports_store.compliance(conn, desks, query, cache))


@bp.get("/reports/compliance/breaches")
@documented("Staff: each response that missed its target (met late, or overdue and never answered), with a "
           "link to its ticket's timeline; a page per cursor", query=_report_parameters("breaches"),
           responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_breaches():
    """Each response that missed its target, oldest deadline first, a page per `cursor`."""
    return _report("breaches", reports_store.breaches)


@bp.get("/reports/satisfaction")
@documented("Staff: the customers' verdicts on tickets closed as solved, good and bad and the share good, per "
           "the group_by dimensions (month of the rating, desk, module, agent: who last answered publicly, else "
           "the assignee at the close; organisation), months from..to; a page of `limit` groups by `cursor`",
           query=_report_parameters("satisfaction"), responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_satisfaction():
    """Good and bad ratings and the share good per month, desk, module, agent and organisation (staff only)."""
    return _report("satisfaction", satisfaction_store.report)


@bp.get("/reports/satisfaction/comments")
@documented("Staff: the customers' comments with their ratings, oldest first, each linking to its ticket's "
           "timeline; a page per cursor", query=_report_parameters("satisfaction_comments"),
           responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_satisfaction_comments():
    """The ratings that came with a comment, oldest first (staff only)."""
    return _report("satisfaction_comments", satisfaction_store.comments)


@bp.get("/reports/auto-closed")
@documented("Staff: tickets auto-closed per Caracas month and module", query=_report_parameters("auto_closed"),
           responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_auto_closed():
    """Tickets auto-closed per Caracas month and module."""
    return _report("auto_closed", reports_store.auto_closed)


@bp.get("/reports/out-of-hours")
@documented("Out-of-hours billing per organisation and month: requests, staff answers outside business "
           "hours and their hours (a customer: his organisation's; another organisation answers 404)",
           query=_report_parameters("out_of_hours"), responses={200: responses.Report}, refusals=(*_REPORT, 404))
@auth
def report_out_of_hours():
    """Out-of-hours billing per organisation and month (a customer: his organisation's)."""
    return _report("out_of_hours", reports_store.out_of_hours, customers=True)


@bp.get("/reports/time")
@documented("Staff: the minutes recorded with answers and notes per agent, organisation and Caracas month "
           "(from..to, YYYY-MM), with the part outside business hours and the part billed for out-of-hours "
           "work (tickets that asked for it, unless the desk marked them otherwise)",
           query=_report_parameters("time"), responses={200: responses.Report}, refusals=_REPORT)
@auth
def report_time():
    """Time recorded per agent, organisation and month, and its billable part (issue 12)."""
    return _report("time", work_time.report)


@bp.get("/reports/out-of-hours.csv")
@documented("The out-of-hours billing as CSV: Spanish headers, ';', decimal comma, UTF-8 with BOM, CRLF",
           query=_report_parameters("out_of_hours"), responses={200: responses.CSV}, refusals=(*_REPORT, 404))
@auth
def report_out_of_hours_csv():
    """The out-of-hours billing as a CSV a Venezuelan spreadsheet opens (';', decimal comma, BOM)."""
    desks, query = _report_scope("out_of_hours", customers=True)
    with _connection() as conn:
        rows = reports_store.out_of_hours(conn, desks, query)["items"]
    return Response(reports.out_of_hours_csv(rows), mimetype="text/csv", headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{reports.csv_filename(query.first, query.last)}"'})
