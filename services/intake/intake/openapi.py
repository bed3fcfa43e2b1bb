"""Intake's OpenAPI 3.1 document, served at /openapi.json."""
from __future__ import annotations

from .catalog import DESKS, URGENCIES

_ERROR = {"$ref": "#/components/schemas/Error"}
_BEARER = [{"bearer": []}]


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "refused; nothing stored", "content": {"application/json": {"schema": _ERROR}}}
            for c in codes}


def _json(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def document() -> dict:
    """The whole document."""
    modules = sorted({m for d in DESKS.values() for m in d.modules})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mesa intake", "version": "1",
                 "description": "Command API of Mesa's help desk. Every refusal is "
                                "`{code, field, message: {es, en}}` and stores nothing."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "field": {"type": ["string", "null"]},
                    "message": {"type": "object", "properties": {"es": {"type": "string"}, "en": {"type": "string"}}}}},
                "Contact": {"type": "object", "required": ["name", "email", "phone"], "properties": {
                    "name": {"type": "string"}, "email": {"type": "string", "format": "email"},
                    "phone": {"type": "string"}}},
                "OpenTicket": {"type": "object", "required": ["desk", "subject", "description", "contact"],
                               "properties": {
                    "desk": {"enum": sorted(DESKS)},
                    "subject": {"type": "string", "description": f"`MODULE, case`; modules: {', '.join(modules)}"},
                    "description": {"type": "string"},
                    "contact": {"$ref": "#/components/schemas/Contact"},
                    "urgency": {"enum": list(URGENCIES), "default": "normal"},
                    "organisation_id": {"type": "string", "description": "agents filing for a customer"},
                    "member_number": {"type": "string", "description": "número de acción"},
                    "dates": {"type": "array", "items": {"type": "string", "format": "date"}},
                    "vouchers": {"type": "array", "items": {"type": "string"}},
                    "menu_path": {"type": "string"},
                    "attachments": {"type": "array", "items": {"type": "string", "description": "upload_id of an upload (or, older clients, its sha256)"}},
                    "previous_ticket": {"type": "string"},
                    "confirmed_different_case": {"type": "boolean"},
                    "out_of_hours_requested": {"type": "boolean"}}},
                "PostMessage": {"type": "object", "required": ["body"], "properties": {
                    "body": {"type": "string"}, "internal": {"type": "boolean"},
                    "attachments": {"type": "array", "items": {"type": "string"}},
                    "out_of_hours_requested": {"type": "boolean"}}},
            }},
        "paths": {
            "/api/auth/login": {"post": {
                "summary": "Log in", "requestBody": _json({"type": "object", "required": ["email", "password"],
                                                          "properties": {"email": {"type": "string"},
                                                                         "password": {"type": "string"}}}),
                "responses": {"200": {"description": "a bearer token"}, **_errors(400, 401, 403, 429)}}},
            "/api/auth/logout": {"post": {
                "summary": "Log out: every bearer token of the caller ends", "security": _BEARER,
                "responses": {"204": {"description": "logged out"}, **_errors(401)}}},
            "/api/users/{user_id}": {"patch": {
                "summary": "Disable/enable a user or change his role, desks or organisation (supervisors); "
                           "his bearer tokens end", "security": _BEARER,
                "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"type": "object", "minProperties": 1, "additionalProperties": False,
                                      "properties": {"disabled": {"type": "boolean"},
                                                     "role": {"enum": ["customer", "agent", "supervisor"]},
                                                     "desks": {"type": "array", "minItems": 1, "uniqueItems": True,
                                                               "items": {"enum": sorted(DESKS)}},
                                                     "organisation_id": {"type": ["string", "null"]}}}),
                "responses": {"200": {"description": "the user after the change"},
                              **_errors(400, 401, 403, 404, 422)}}},
            "/api/tickets": {"post": {
                "summary": "Open a ticket", "security": _BEARER,
                "requestBody": _json({"$ref": "#/components/schemas/OpenTicket"}),
                "responses": {"201": {"description": "opened"}, **_errors(400, 401, 403, 409, 422)}}},
            "/api/tickets/{number}": {"get": {
                "summary": "The ticket's current state (the `link` of a 201); its thread is on the query service",
                "security": _BEARER,
                "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the ticket"}, **_errors(401, 404)}}},
            "/api/tickets/{number}/messages": {"post": {
                "summary": "Post a message or internal note", "security": _BEARER,
                "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"$ref": "#/components/schemas/PostMessage"}),
                "responses": {"201": {"description": "posted"}, **_errors(400, 401, 403, 404, 409, 422)}}},
            "/api/tickets/{number}/resolution": {"post": {
                "summary": "Rule 8: solved (closes) or not solved with what is still wrong", "security": _BEARER,
                "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"type": "object", "required": ["solved"], "properties": {
                    "solved": {"type": "boolean"}, "body": {"type": "string"}}}),
                "responses": {"201": {"description": "recorded"}, **_errors(401, 403, 404, 409, 422)}}},
            **{f"/api/tickets/{{number}}/{action}": {"post": {
                "summary": summary, "security": _BEARER,
                "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"type": "object", "properties": props}),
                "responses": {"201": {"description": "recorded"}, **_errors(400, 401, 403, 404, 409, 422)}}}
               for action, summary, props in (
                   ("assignment", "An agent takes the ticket or gives it to a colleague of its desk",
                    {"agent_id": {"type": "string"}}),
                   ("away", "The customer says he has to leave (rule: avise si se tiene que marchar)",
                    {"back_at": {"type": "string", "format": "date-time"}, "note": {"type": "string"}}),
                   ("close", "An agent closes the ticket",
                    {"reason": {"enum": ["closed_by_agent", "needs_training"]}, "note": {"type": "string"}}))},
            "/api/attachments": {"post": {
                "summary": "Upload a file to attach", "security": _BEARER,
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": {"description": "stored; attach it by its upload_id"},
                              **_errors(400, 401, 413, 415)}}},
            "/api/tickets/{number}/attachments/{sha256}": {"get": {
                "summary": "Download an attachment", "security": _BEARER,
                "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                               for n in ("number", "sha256")],
                "responses": {"200": {"description": "the file, as an attachment"}, **_errors(401, 404)}}},
            "/api/access-requests": {
                "post": {"summary": "\"No poseo login\": request access (no login needed)",
                         "requestBody": _json({"type": "object", "required": ["name", "email", "phone",
                                                                                "organisation_name", "desk"],
                                               "properties": {k: {"type": "string"} for k in (
                                                   "name", "email", "phone", "organisation_name", "desk", "note")}}),
                         "responses": {"202": {"description": "received (the same answer when the e-mail "
                                                               "already has a user or a pending request)"},
                                       **_errors(400, 422, 429)}},
                "get": {"summary": "Pending access requests (staff)", "security": _BEARER,
                        "responses": {"200": {"description": "the requests"}, **_errors(401, 403)}}},
            "/api/access-requests/{request_id}/grant": {"post": {
                "summary": "Approve a request into a customer user (staff)", "security": _BEARER,
                "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"type": "object", "required": ["organisation_id"],
                                      "properties": {"organisation_id": {"type": "string"}}}),
                "responses": {"201": {"description": "granted; the user gets a set-password link by mail"},
                              **_errors(400, 401, 403, 404, 409)}}},
            "/api/access-requests/{request_id}/reject": {"post": {
                "summary": "Turn a request down with a reason (staff)", "security": _BEARER,
                "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": _json({"type": "object", "required": ["reason"],
                                      "properties": {"reason": {"type": "string", "maxLength": 500}}}),
                "responses": {"201": {"description": "rejected"}, **_errors(400, 401, 403, 404, 409, 422)}}},
            "/api/training-requests": {"post": {
                "summary": "Rule 10: request an induction course", "security": _BEARER,
                "requestBody": _json({"type": "object", "required": ["modules", "participants"], "properties": {
                    "modules": {"type": "array", "items": {"type": "string"}},
                    "participants": {"type": "integer", "minimum": 1, "maximum": 50}, "note": {"type": "string"}}}),
                "responses": {"201": {"description": "filed"}, **_errors(401, 422)}}},
            "/api/special-processes": {"post": {
                "summary": "Announce a special process in advance", "security": _BEARER,
                "requestBody": _json({"type": "object", "required": ["kind", "description", "starts_at", "ends_at"],
                                      "properties": {"kind": {"enum": ["carnetizacion", "other"]},
                                                     "description": {"type": "string"},
                                                     "starts_at": {"type": "string", "format": "date-time"},
                                                     "ends_at": {"type": "string", "format": "date-time"},
                                                     "organisation_id": {"type": "string"}}}),
                "responses": {"201": {"description": "announced"}, **_errors(400, 401, 422)}}},
            "/healthz": {"get": {"summary": "Health", "responses": {"200": {"description": "ok"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
        },
    }
