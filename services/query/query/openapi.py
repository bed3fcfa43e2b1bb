"""Query's OpenAPI 3.1 document, served at /openapi.json.

The list's filters and their values come from `filters.py`, the module that checks them, so the
document names exactly what the list accepts.
"""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, new_spec, path_param

from helpdesk_shared.schemas import DESKS, URGENCIES

from . import filters, queue, queue_params, reports





def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _filters() -> list[dict]:
    text = {"type": "string", "maxLength": filters.MAX_ID}
    return [_query("status", {"enum": list(filters.STATUSES)}), _query("desk", {"enum": list(DESKS)}),
            _query("module", {"type": "string", "pattern": filters._MODULE.pattern}),
            _query("organisation_id", text), _query("organisation", text),
            _query("urgency", {"enum": list(URGENCIES)}),
            _query("assigned_to", {"type": "string", "description": "a user id, `me` or `none`"}),
            _query("out_of_hours", {"enum": ["true", "false"]}),
            _query("q", {"type": "string", "maxLength": filters.MAX_TEXT}),
            *(_query(name, {"type": "integer", "minimum": 1, "maximum": maximum})
              for name, maximum in filters.PAGING.items())]


def _page(*extra: dict) -> list[dict]:
    """A desk page's filters, then its cursor and limit."""
    return [*extra, _query("cursor", {"type": "string", "description": "the previous page's next_cursor"}),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": queue_params.MAX_LIMIT})]


def _desk_pages() -> dict:
    desk = path_param("desk")
    refused = errors(400, 401, 403, 404, 422)
    return {
        "/api/desks/{desk}/queue": {"get": {
            "summary": "The desk's open tickets by nearest deadline, with business time left and flags "
                       "(staff of the desk only); flag `out_of_hours` is the desk's billable mark when set, "
                       "else the customer's request (each item's `billable`: {requested, marked})",
            "security": BEARER,
            "parameters": [desk, *_page(
                _query("flag", {"enum": list(queue.QUEUE_FLAGS)}),
                _query("module", {"type": "string", "pattern": filters._MODULE.pattern}),
                _query("assigned_to", {"type": "string", "description": "a user id, `me` or `none`"}),
                _query("organisation_id", {"type": "string", "maxLength": filters.MAX_ID}))],
            "responses": {"200": {"description": "a page of the queue"}, **refused}}},
        "/api/desks/{desk}/auto-close": {"get": {
            "summary": "The desk's tickets that auto-close within the next business day "
                       f"(at most {queue.BUSINESS_DAY_SECONDS} counted seconds left), by due_at", "security": BEARER,
            "parameters": [desk, *_page()],
            "responses": {"200": {"description": "a page of tickets about to auto-close"}, **refused}}},
        "/api/desks/{desk}/workload": {"get": {
            "summary": "Per agent of the desk: open, waiting, answered today (Caracas); and the unassigned count",
            "security": BEARER, "parameters": [desk],
            "responses": {"200": {"description": "the workload"}, **refused}}},
        "/api/tickets/{number}/timeline": {"get": {
            "summary": "Every event of the ticket in order, with who, why (correlation, causation) and the "
                       "policy and calendar versions (staff of its desk only; a customer of its organisation "
                       "403, anyone else 404)", "security": BEARER,
            "parameters": [path_param("number"), *_page()],
            "responses": {"200": {"description": "a page of the timeline"}, **refused}}},
    }
def _report_parameters(report: str) -> list[dict]:
    """The parameters of a report, from reports.PARAMETERS (the module that checks them)."""
    day = {"type": "string", "format": "date"}
    month = {"type": "string", "pattern": reports._MONTH.pattern}
    schemas = {"from": day if report == "backlog" else month, "to": day if report == "backlog" else month,
               "desk": {"enum": list(DESKS)}, "module": {"type": "string", "pattern": filters._MODULE.pattern},
               "organisation_id": {"type": "string", "maxLength": filters.MAX_ID},
               "agent": {"type": "string", "maxLength": filters.MAX_ID, "description": "a user id or `me`"},
               "group_by": {"type": "string", "description": "comma-separated: " + ", ".join(reports.DIMENSIONS)},
               "cursor": {"type": "string", "description": "the previous page's next_cursor"},
               "limit": {"type": "integer", "minimum": 1, "maximum": reports.MAX_LIMIT}}
    return [_query(name, schemas[name]) for name in reports.PARAMETERS[report]]


def _report(summary: str, report: str, described: str, *refusals: int, content: dict | None = None) -> dict:
    ok = {"description": described, **({"content": content} if content else {})}
    return {"get": {"summary": summary, "security": BEARER, "parameters": _report_parameters(report),
                    "responses": {"200": ok, **errors(400, 401, 403, 422, *refusals)}}}


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = new_spec("Mesa query", "Read API of Mesa's help desk. Every refusal is `{code, field, message: {es, en}}`.")
    # 400: a NUL or lone surrogate in a path or filter is refused before any view runs (web.install).
    paths = {
        "/api/tickets": {"get": {
            "summary": "Tickets the caller may see; an unknown filter or value is a 422 listing the valid ones",
            "security": BEARER, "parameters": _filters(),
            "responses": {"200": {"description": "a page of tickets"}, **errors(400, 401, 422)}}},
        "/api/tickets/{number}": {"get": {
            "summary": "One ticket with its thread (another organisation's answers 404 like a missing one)",
            "security": BEARER, "parameters": [path_param("number")],
            "responses": {"200": {"description": "the ticket"}, **errors(400, 401, 404)}}},
        "/api/desks/{desk}/agents": {"get": {
            "summary": "The agents and supervisors of a desk (its staff only)", "security": BEARER,
            "parameters": [path_param("desk")],
            "responses": {"200": {"description": "the agents"}, **errors(400, 401, 403, 404)}}},
        "/api/organisations": {"get": {
            "summary": "The caller's organisation; for staff, those of their desks", "security": BEARER,
            "responses": {"200": {"description": "the organisations"}, **errors(401)}}},
        **_desk_pages(),
        "/api/reports/backlog": _report(
            "Staff: tickets not closed by status, desk, module, organisation and agent; per Caracas day "
            "(from..to, default the last 30, at most 366) opened, closed by reason and open at the day's end",
            "backlog", "the backlog"),
        "/api/reports/compliance": _report(
            "Staff: share of first and next responses within target, median and p90 business hours, per clock "
            "and the group_by dimensions, months from..to (YYYY-MM, Caracas); median and p90 of the answered "
            "times truncated to the whole minute", "compliance", "the compliance"),
        "/api/reports/compliance/breaches": _report(
            "Staff: each response that missed its target (met late, or overdue and never answered), with a "
            "link to its ticket's timeline; a page per cursor", "breaches", "a page of breaches"),
        "/api/reports/auto-closed": _report(
            "Staff: tickets auto-closed per Caracas month and module", "auto_closed", "the counts"),
        "/api/reports/out-of-hours": _report(
            "Out-of-hours billing per organisation and month: requests, staff answers outside business hours "
            "and their hours (a customer: his organisation's; another organisation answers 404)",
            "out_of_hours", "the billing rows", 404),
        "/api/reports/out-of-hours.csv": _report(
            "The out-of-hours billing as CSV: Spanish headers, ';', decimal comma, UTF-8 with BOM, CRLF",
            "out_of_hours", "the CSV file", 404, content={"text/csv": {"schema": {"type": "string"}}}),
        "/healthz": HEALTHZ,
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
