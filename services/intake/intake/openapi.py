"""Intake's OpenAPI 3.1 document, served at /openapi.json.

The paths are written here; every request body is generated from the marshmallow schema the
route loads (`requests.py`, through apispec), so the document cannot drift from what is accepted.
"""
from __future__ import annotations

from functools import lru_cache

from helpdesk_shared.catalog import DESK_NAMES
from helpdesk_shared.openapi import BEARER, HEALTHZ, errors, json_body, new_spec, path_param

from . import requests

# Every JSON body may be refused before its route runs: malformed (400), too large (413),
# not JSON (415), a field of the wrong type or size (422).
_BODY_REFUSALS = (400, 413, 415, 422)


def _errors(*codes: int) -> dict:
    return errors(*codes, description="refused; nothing stored")



def _number() -> list[dict]:
    return [path_param("number", {"type": "string", "maxLength": 32})]


def _desk() -> dict:
    return path_param("desk", {"enum": list(DESK_NAMES)})


_SCHEMAS = {"Login": requests.Login, "Contact": requests.Contact, "OpenTicket": requests.OpenTicket,
            "PostMessage": requests.PostMessage, "Assign": requests.Assign, "Away": requests.Away,
            "Close": requests.Close, "Resolution": requests.Resolution, "SpecialProcess": requests.SpecialProcess,
            "AccessRequest": requests.AccessRequest, "Grant": requests.Grant, "Reject": requests.Reject,
            "TrainingRequest": requests.TrainingRequest, "RulesPageEdit": requests.RulesPageEdit,
            "Billable": requests.Billable, "CatalogModule": requests.CatalogModule,
            "ModuleCatalog": requests.ModuleCatalog, "NewOrganisation": requests.NewOrganisation,
            "NewUser": requests.NewUser}




@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document."""
    spec = new_spec("Mesa intake", "Command API of Mesa's help desk. Every refusal is `{code, field, message: {es, en}}` "
                       "and stores nothing.")
    for name, schema in _SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for path, operations in _paths().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _paths() -> dict:
    return {
        "/api/auth/login": {"post": {
            "summary": "Log in", "requestBody": json_body("Login"),
            "responses": {"200": {"description": "a bearer token"}, **_errors(401, 403, 429, *_BODY_REFUSALS)}}},
        "/api/auth/logout": {"post": {
            "summary": "Log out: every bearer token of the caller ends", "security": BEARER,
            "responses": {"204": {"description": "logged out"}, **_errors(401)}}},
        "/api/users/{user_id}": {"patch": {
            "summary": "Disable/enable a user or change his role, desks or organisation (supervisors); "
                       "his bearer tokens end", "security": BEARER,
            "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {"disabled": {"type": "boolean"}, "role": {"enum": ["customer", "agent", "supervisor"]},
                               "desks": {"type": "array", "minItems": 1, "uniqueItems": True,
                                         "items": {"enum": list(DESK_NAMES)}},
                               "organisation_id": {"type": ["string", "null"]}}}}}},
            "responses": {"200": {"description": "the user after the change"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/tickets": {"post": {
            "summary": "Open a ticket (staff name the customer's `organisation_id`: 404 when it is not on "
                       "their desks)", "security": BEARER, "requestBody": json_body("OpenTicket"),
            "responses": {"201": {"description": "opened"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/api/tickets/{number}": {"get": {
            "summary": "The ticket's current state (the `link` of a 201); its thread is on the query service",
            "security": BEARER, "parameters": _number(),
            "responses": {"200": {"description": "the ticket"}, **_errors(400, 401, 404)}}},
        "/api/tickets/{number}/messages": {"post": {
            "summary": "Post a message or internal note", "security": BEARER, "parameters": _number(),
            "requestBody": json_body("PostMessage"),
            "responses": {"201": {"description": "posted"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/api/tickets/{number}/resolution": {"post": {
            "summary": "Rule 8: solved (closes) or not solved with what is still wrong", "security": BEARER,
            "parameters": _number(), "requestBody": json_body("Resolution"),
            "responses": {"201": {"description": "recorded"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        **{f"/api/tickets/{{number}}/{action}": {"post": {
            "summary": summary, "security": BEARER, "parameters": _number(), "requestBody": json_body(schema),
            "responses": {"201": {"description": "recorded"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}}
           for action, summary, schema in (
               ("assignment", "An agent takes the ticket or gives it to a colleague of its desk", "Assign"),
               ("away", "The customer says he has to leave (rule: avise si se tiene que marchar)", "Away"),
               ("close", "An agent closes the ticket", "Close"))},
        "/api/tickets/{number}/billable": {"post": {
            "summary": "Staff of the ticket's desk mark it billable or not (out-of-hours work; overrides the "
                       "customer's request in the queue and the out-of-hours report)", "security": BEARER,
            "parameters": _number(), "requestBody": json_body("Billable"),
            "responses": {"201": {"description": "recorded (BillableMarked)"},
                          "200": {"description": "already marked so: nothing recorded"},
                          **_errors(401, 403, 404, *_BODY_REFUSALS)}}},
        "/api/attachments": {"post": {
            "summary": "Upload a file to attach", "security": BEARER,
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"201": {"description": "stored; attach it by its upload_id"},
                          **_errors(400, 401, 413, 415, 422)}}},
        "/api/tickets/{number}/attachments/{sha256}": {"get": {
            "summary": "Download an attachment", "security": BEARER,
            "parameters": [*_number(), {"name": "sha256", "in": "path", "required": True,
                                        "schema": {"type": "string", "maxLength": 64}}],
            "responses": {"200": {"description": "the file, as an attachment"}, **_errors(400, 401, 404)}}},
        "/api/access-requests": {
            "post": {"summary": "\"No poseo login\": request access (no login needed)",
                     "requestBody": json_body("AccessRequest"),
                     "responses": {"202": {"description": "received (the same answer when the e-mail already "
                                                           "has a user or a pending request)"},
                                   **_errors(429, *_BODY_REFUSALS)}},
            "get": {"summary": "Pending access requests (staff)", "security": BEARER,
                    "responses": {"200": {"description": "the requests"}, **_errors(401, 403)}}},
        "/api/access-requests/{request_id}/grant": {"post": {
            "summary": "Approve a request into a customer user (staff)", "security": BEARER,
            "parameters": [{"name": "request_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 64}}],
            "requestBody": json_body("Grant"),
            "responses": {"201": {"description": "granted; the user gets a set-password link by mail"},
                          **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/api/access-requests/{request_id}/reject": {"post": {
            "summary": "Turn a request down with a reason (staff)", "security": BEARER,
            "parameters": [{"name": "request_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 64}}],
            "requestBody": json_body("Reject"),
            "responses": {"201": {"description": "rejected"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/api/training-requests": {"post": {
            "summary": "Rule 10: request an induction course (staff: for an `organisation_id` of their desks, "
                       "else 404)", "security": BEARER,
            "requestBody": json_body("TrainingRequest"),
            "responses": {"201": {"description": "filed"}, **_errors(401, 404, *_BODY_REFUSALS)}}},
        "/api/special-processes": {"post": {
            "summary": "Announce a special process in advance (staff: for an `organisation_id` of their desks, "
                       "else 404)", "security": BEARER,
            "requestBody": json_body("SpecialProcess"),
            "responses": {"201": {"description": "announced"}, **_errors(401, 404, *_BODY_REFUSALS)}}},
        "/api/desks/{desk}/rules-page": {
            "get": {"summary": "The desk's rules page, Markdown and sanitised HTML (public: the entry page shows it)",
                    "parameters": [_desk(),
                                   {"name": "lang", "in": "query", "required": False,
                                    "schema": {"enum": ["es", "en"], "default": "es"}}],
                    "responses": {"200": {"description": "the page"}, **_errors(400, 404, 422)}},
            "put": {"summary": "Replace the desk's rules page in one language (supervisors of the desk), against "
                               "the version read (409 when someone saved in between)", "security": BEARER,
                    "parameters": [_desk()],
                    "requestBody": json_body("RulesPageEdit"),
                    "responses": {"200": {"description": "the page as saved"},
                                  **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        # Supervisors: desks' module catalogs, organisations, users (issue 9).
        "/api/desks/{desk}/modules": {
            "get": {"summary": "The desk's module catalog now, retired modules marked (anyone allowed on the desk)",
                    "security": BEARER, "parameters": [_desk()],
                    "responses": {"200": {"description": "`{desk, version, modules: [{code, name, retired}]}`"},
                                  **_errors(401, 403, 404)}},
            "put": {"summary": "Replace the desk's module list: add, rename (the name; a code never changes), "
                               "retire (valid on existing tickets, refused on new ones); never remove "
                               "(supervisors of the desk; 409 when edited since `expected_version`)",
                    "security": BEARER, "parameters": [_desk()], "requestBody": json_body("ModuleCatalog"),
                    "responses": {"200": {"description": "the catalog after the change (ModuleCatalogChanged)"},
                                  **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/api/organisations": {
            "get": {"summary": "The organisations of the supervisor's desks with their users, and his desks' staff",
                    "security": BEARER, "responses": {"200": {"description": "`{items, staff}`"},
                                                      **_errors(401, 403)}},
            "post": {"summary": "Register a customer organisation on the supervisor's desks (OrganisationRegistered)",
                     "security": BEARER, "requestBody": json_body("NewOrganisation"),
                     "responses": {"201": {"description": "registered"}, **_errors(401, 403, 409, *_BODY_REFUSALS)}}},
        "/api/users": {"post": {
            "summary": "Create a customer of an organisation (404 when not on the supervisor's desks) or an agent; "
                       "the user is mailed a set-password link (UserRegistered, AccessGranted)",
            "security": BEARER, "requestBody": json_body("NewUser"),
            "responses": {"201": {"description": "created"}, **_errors(401, 403, 404, 409, *_BODY_REFUSALS)}}},
        "/healthz": HEALTHZ,
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    }
