"""The notifier's OpenAPI 3.1 document, served at /openapi.json: its few read routes for staff."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec

_BEARER = [{"bearer": []}]


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "refused", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in sorted(set(codes))}


_NUMBER = [{"name": "ticket_number", "in": "path", "required": True, "schema": {"type": "string"}}]


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = APISpec(title="Mesa notifier", version="1", openapi_version="3.1.0", info={
        "description": "What was mailed about a ticket, and the mail templates. Every refusal is "
                       "`{code, field, message: {es, en}}`."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "field": {"type": ["string", "null"]},
        "message": {"type": "object", "required": ["es", "en"],
                    "properties": {"es": {"type": "string"}, "en": {"type": "string"}}}}})
    # 400 on routes with a path: a NUL or lone surrogate is refused before any view runs (web.install);
    # 403 for customers before any lookup, 404 for a ticket not on the caller's desks.
    paths = {
        "/api/templates": {"get": {
            "summary": "The mail templates (staff)", "security": _BEARER,
            "responses": {"200": {"description": "the templates"}, **_errors(401, 403)}}},
        "/api/mails/{ticket_number}": {"get": {
            "summary": "What each person was sent about a ticket of the caller's desks (staff)",
            "security": _BEARER, "parameters": _NUMBER,
            "responses": {"200": {"description": "the mails"}, **_errors(400, 401, 403, 404)}}},
        "/api/tickets/{ticket_number}/refused-replies": {"get": {
            "summary": "E-mail replies refused because another address sent them (staff of its desk)",
            "security": _BEARER, "parameters": _NUMBER,
            "responses": {"200": {"description": "the refused replies"}, **_errors(400, 401, 403, 404)}}},
        "/healthz": {"get": {"summary": "Health", "responses": {"200": {"description": "ok"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
