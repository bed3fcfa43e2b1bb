"""The notifier's OpenAPI 3.1 document, served at /openapi.json: its few read routes for staff."""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, json_body, new_spec, path_param

from . import template_api
from .messages import LANGUAGES, TEMPLATES




_NUMBER = [path_param("ticket_number")]
_TEMPLATE = [path_param("name", {"enum": list(TEMPLATES)}), path_param("language", {"enum": list(LANGUAGES)})]
_BODY_REFUSALS = (400, 413, 415, 422)


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = new_spec("Mesa notifier", "What was mailed about a ticket, and the mail templates. Every refusal is "
                       "`{code, field, message: {es, en}}`.")
    spec.components.schema("TextEdit", schema=template_api.TextEdit)
    spec.components.schema("TextPreview", schema=template_api.TextPreview)
    # 400 on routes with a path: a NUL or lone surrogate is refused before any view runs (web.install);
    # 403 for customers before any lookup, 404 for a ticket not on the caller's desks.
    paths = {
        "/api/templates": {"get": {
            "summary": "The mail templates (staff)", "security": BEARER,
            "responses": {"200": {"description": "the templates"}, **errors(401, 403)}}},
        "/api/templates/{name}/{language}": {
            "get": {"summary": "A template's packaged and current texts, placeholders, a sample and its versions "
                               "(supervisors)", "security": BEARER, "parameters": _TEMPLATE,
                    "responses": {"200": {"description": "the template's texts"}, **errors(400, 401, 403, 404)}},
            "put": {"summary": "Keep a supervisor's subject and body (a new version, against the version read); "
                               "refused 422 for an unknown placeholder, a failing sample render or a dropped link",
                    "security": BEARER, "parameters": _TEMPLATE, "requestBody": json_body("TextEdit"),
                    "responses": {"200": {"description": "saved"}, **errors(401, 403, 404, 409, *_BODY_REFUSALS)}},
            "delete": {"summary": "Back to the packaged text (the versions are kept)", "security": BEARER,
                       "parameters": [*_TEMPLATE, {"name": "version", "in": "query", "required": True,
                                                   "schema": {"type": "integer", "minimum": 0, "maximum": 1000000}}],
                       "responses": {"200": {"description": "reset"}, **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/templates/{name}/{language}/preview": {"post": {
            "summary": "Render a subject and body with the template's sample mail, checked as a save (nothing "
                       "stored)", "security": BEARER, "parameters": _TEMPLATE, "requestBody": json_body("TextPreview"),
            "responses": {"200": {"description": "subject, text and HTML"}, **errors(401, 403, 404, *_BODY_REFUSALS)}}},
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
