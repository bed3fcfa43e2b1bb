"""The SLA admin API's OpenAPI 3.1 document, served at /openapi.json.

Request bodies are generated from the marshmallow schemas the routes load (`requests.py`), the
desks and urgency classes from `api.py`, so the document names what the routes accept.
"""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, json_body, new_spec, path_param

from . import api, requests

# Every JSON body may be refused before its route runs: malformed (400), too large (413),
# not JSON (415), a field of the wrong type or size, or a calendar or policy that means nothing (422).
_BODY_REFUSALS = (400, 413, 415, 422)


def _errors(*codes: int) -> dict:
    return errors(*codes, description="refused; nothing stored")




@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = new_spec("Mesa SLA", "Calendars, policies and the reasons for a ticket's deadlines. Every refusal is "
                       "`{code, field, message: {es, en}}` and stores nothing.")
    spec.components.schema("ChangeCalendar", schema=requests.ChangeCalendar)
    spec.components.schema("ChangePolicy", schema=requests.ChangePolicy)
    desk = {**path_param("desk"), "schema": {"type": "string", "description": f"one of {', '.join(api.DESKS)}"}}
    urgency_class = {**path_param("urgency_class"),
                     "schema": {"type": "string", "description": f"one of {', '.join(api.CLASSES)}"}}
    # 400 on every route with a path: a NUL or lone surrogate is refused before any view runs (web.install).
    paths = {
        "/api/calendars": {"get": {
            "summary": "The calendar versions of the caller's desks (staff)", "security": BEARER,
            "responses": {"200": {"description": "the versions"}, **_errors(401, 403)}}},
        "/api/calendars/{desk}": {"put": {
            "summary": "A new calendar version for one of the supervisor's desks", "security": BEARER,
            "description": "Open tickets of the desk follow it from its effective_from: running deadlines "
                           "still ahead move, each with a DeadlineMoved (calendar_changed) on helpdesk.sla.",
            "parameters": [desk], "requestBody": json_body("ChangeCalendar"),
            "responses": {"201": {"description": "the new version"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/policies": {"get": {
            "summary": "The policy versions of the caller's desks (staff)", "security": BEARER,
            "responses": {"200": {"description": "the versions"}, **_errors(401, 403)}}},
        "/api/policies/{desk}/{urgency_class}": {"put": {
            "summary": "A new policy version for one of the supervisor's desks", "security": BEARER,
            "parameters": [desk, urgency_class], "requestBody": json_body("ChangePolicy"),
            "responses": {"201": {"description": "the new version"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/tickets/{number}/sla": {"get": {
            "summary": "Why a ticket's deadlines are where they are (staff of its desk)", "security": BEARER,
            "parameters": [path_param("number")],
            "responses": {"200": {"description": "each clock explained"}, **_errors(400, 401, 403, 404)}}},
        "/healthz": HEALTHZ,
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
