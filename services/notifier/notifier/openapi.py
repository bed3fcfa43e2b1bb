"""The notifier's OpenAPI 3.1 document, served at /openapi.json: its few read routes for staff."""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, new_spec, path_param




_NUMBER = [path_param("ticket_number")]


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = new_spec("Mesa notifier", "What was mailed about a ticket, and the mail templates. Every refusal is "
                       "`{code, field, message: {es, en}}`.")
    # 400 on routes with a path: a NUL or lone surrogate is refused before any view runs (web.install);
    # 403 for customers before any lookup, 404 for a ticket not on the caller's desks.
    paths = {
        "/api/templates": {"get": {
            "summary": "The mail templates (staff)", "security": BEARER,
            "responses": {"200": {"description": "the templates"}, **errors(401, 403)}}},
        "/api/mails/{ticket_number}": {"get": {
            "summary": "What each person was sent about a ticket of the caller's desks (staff)",
            "security": BEARER, "parameters": _NUMBER,
            "responses": {"200": {"description": "the mails"}, **errors(400, 401, 403, 404)}}},
        "/api/tickets/{ticket_number}/refused-replies": {"get": {
            "summary": "E-mail replies refused because another address sent them (staff of its desk)",
            "security": BEARER, "parameters": _NUMBER,
            "responses": {"200": {"description": "the refused replies"}, **errors(400, 401, 403, 404)}}},
        "/healthz": HEALTHZ,
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
