"""Query's OpenAPI 3.1 document, served at /openapi.json.

The list's filters and their values come from `filters.py`, the module that checks them, so the
document names exactly what the list accepts.
"""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, new_spec, path_param

from helpdesk_shared.schemas import DESKS, URGENCIES

from . import filters





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
        "/healthz": HEALTHZ,
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
