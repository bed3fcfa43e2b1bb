"""The SLA admin API's OpenAPI 3.1 document, served at /openapi.json.

Request bodies are generated from the marshmallow schemas the routes load (`requests.py`), the
desks and urgency classes from `api.py`, so the document names what the routes accept.
"""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from helpdesk_shared import fields

from . import api, requests

_BEARER = [{"bearer": []}]
# Every JSON body may be refused before its route runs: malformed (400), too large (413),
# not JSON (415), a field of the wrong type or size, or a calendar or policy that means nothing (422).
_BODY_REFUSALS = (400, 413, 415, 422)


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "refused; nothing stored", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in sorted(set(codes))}


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Mesa SLA", version="1", openapi_version="3.1.0", plugins=[plugin], info={
        "description": "Calendars, policies and the reasons for a ticket's deadlines. Every refusal is "
                       "`{code, field, message: {es, en}}` and stores nothing."})
    for field_class, type_and_format in ((fields.Text, ("string", None)), (fields.Count, ("integer", None)),
                                         (fields.Number, ("number", None)),
                                         (fields.Instant, ("string", "date-time"))):
        plugin.map_to_openapi_type(field_class, *type_and_format)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "field": {"type": ["string", "null"]},
        "message": {"type": "object", "required": ["es", "en"],
                    "properties": {"es": {"type": "string"}, "en": {"type": "string"}}}}})
    spec.components.schema("ChangeCalendar", schema=requests.ChangeCalendar)
    spec.components.schema("ChangePolicy", schema=requests.ChangePolicy)
    desk = {**_path("desk"), "schema": {"type": "string", "description": f"one of {', '.join(api.DESKS)}"}}
    urgency_class = {**_path("urgency_class"),
                     "schema": {"type": "string", "description": f"one of {', '.join(api.CLASSES)}"}}
    # 400 on every route with a path: a NUL or lone surrogate is refused before any view runs (web.install).
    paths = {
        "/api/calendars": {"get": {
            "summary": "The calendar versions of the caller's desks (staff)", "security": _BEARER,
            "responses": {"200": {"description": "the versions"}, **_errors(401, 403)}}},
        "/api/calendars/{desk}": {"put": {
            "summary": "A new calendar version for one of the supervisor's desks", "security": _BEARER,
            "parameters": [desk], "requestBody": _json("ChangeCalendar"),
            "responses": {"201": {"description": "the new version"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/policies": {"get": {
            "summary": "The policy versions of the caller's desks (staff)", "security": _BEARER,
            "responses": {"200": {"description": "the versions"}, **_errors(401, 403)}}},
        "/api/policies/{desk}/{urgency_class}": {"put": {
            "summary": "A new policy version for one of the supervisor's desks", "security": _BEARER,
            "parameters": [desk, urgency_class], "requestBody": _json("ChangePolicy"),
            "responses": {"201": {"description": "the new version"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/tickets/{number}/sla": {"get": {
            "summary": "Why a ticket's deadlines are where they are (staff of its desk)", "security": _BEARER,
            "parameters": [_path("number")],
            "responses": {"200": {"description": "each clock explained"}, **_errors(400, 401, 403, 404)}}},
        "/healthz": {"get": {"summary": "Health", "responses": {"200": {"description": "ok"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
