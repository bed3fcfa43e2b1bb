"""Every service's OpenAPI 3.1 document, generated from its routes (issue 10, item 1).

Each view declares next to its route what it loads and answers (`documented(...)`): the
marshmallow schema of its JSON body and of its query string, the schema of each answer and the
refusal statuses. `document(app, ...)` walks the app's URL map and writes one operation per
rule and method from those declarations, with the path parameters taken from the rule itself,
so a route cannot be missing from the document nor a documented path missing from the app.
The body a view declares is the one `web.load_body` must be given (it refuses another), so
the document says what the route really accepts.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, jsonify
from marshmallow import Schema

from . import fields

BEARER = [{"bearer": []}]
ERROR = {"$ref": "#/components/schemas/Error"}
# Every JSON body may be refused before its route runs: malformed (400), too large (413),
# not JSON (415), a field of the wrong type or size (422).
BODY_REFUSALS = (400, 413, 415, 422)
# The attribute of a view function that holds its declaration.
ATTRIBUTE = "openapi"

# How apispec should describe the strict fields the request schemas are built from.
_FIELD_TYPES = ((fields.Text, ("string", None)), (fields.Flag, ("boolean", None)), (fields.Count, ("integer", None)),
                (fields.Number, ("number", None)), (fields.Instant, ("string", "date-time")),
                (fields.Day, ("string", "date")), (fields.QueryCount, ("integer", None)))


def _schema_name(schema) -> str:
    """A component's name: its class's. Two classes of one name would be renamed `Name1` by apispec
    (a warning only): refused, so a client's generated types keep the names the code uses."""
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__


def new_spec(title: str, description: str) -> APISpec:
    """A document with the marshmallow plugin, the bearer scheme and the `{code, field, message}` error."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title=title, version="1", openapi_version="3.1.0", plugins=[plugin],
                   info={"description": description})
    for field_class, type_and_format in _FIELD_TYPES:
        plugin.map_to_openapi_type(field_class, *type_and_format)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "field": {"type": ["string", "null"]},
        "message": {"type": "object", "required": ["es", "en"],
                    "properties": {"es": {"type": "string"}, "en": {"type": "string"}}}}})
    return spec


def errors(*codes: int, description: str = "refused") -> dict:
    """Responses for refusal statuses, each with the error body."""
    return {str(c): {"description": description, "content": {"application/json": {"schema": ERROR}}}
            for c in sorted(set(codes))}


def query_param(name: str, schema: dict, required: bool = False, description: str | None = None) -> dict:
    """A query parameter described by a JSON schema (for query strings checked by a pure parser)."""
    return {"name": name, "in": "query", "required": required, "schema": schema,
            **({"description": description} if description else {})}


# ---------------------------------------------------------------- declarations

@dataclass(frozen=True)
class Operation:
    """What one view accepts and answers, as its route declares it.

    `body`: the marshmallow schema of its JSON body (`web.load_body` checks it is the one loaded);
    `query`: the schema of its query string, or a list of OpenAPI parameters when a pure parser
    checks it; `path`: JSON schemas of path parameters narrower than the rule's converter;
    `responses`: status -> a response schema, a media-type map (`{"text/csv": {...}}`), or a
    description only; `refusals`: statuses answered with the `{code, field, message}` body;
    `request_body`: a raw OpenAPI request body (forms, uploads)."""

    summary: str
    responses: Mapping[int, object] = field(default_factory=dict)
    refusals: tuple[int, ...] = ()
    body: type[Schema] | None = None
    query: type[Schema] | list | None = None
    path: Mapping[str, dict] = field(default_factory=dict)
    description: str | None = None
    request_body: dict | None = None
    security: list | None = None


def documented(summary: str, *, responses: Mapping[int, object] | None = None, refusals=(), body=None, query=None,
               path: Mapping[str, dict] | None = None, description: str | None = None,
               request_body: dict | None = None, security: list | None = None) -> Callable:
    """Decorator: the view's declaration for the document. A view with a `body` refuses bodies
    before it runs (BODY_REFUSALS are added); a view behind `require_auth` gets the bearer scheme and 401."""
    operation = Operation(summary, dict(responses or {}), tuple(refusals), body, query, dict(path or {}),
                          description, request_body, security)

    def mark(view):
        setattr(view, ATTRIBUTE, operation)
        return view
    return mark


def declaration(view) -> Operation | None:
    """The declaration of a view function (None when it has none)."""
    return getattr(view, ATTRIBUTE, None)


# ---------------------------------------------------------------- the document

_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}
METHODS = ("get", "put", "post", "patch", "delete")


def openapi_path(rule: str) -> str:
    """A Flask rule written as an OpenAPI path: `/api/tickets/<number>` -> `/api/tickets/{number}`."""
    return _ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str, narrower: Mapping[str, dict]) -> list[dict]:
    return [{"name": name, "in": "path", "required": True,
             "schema": narrower.get(name) or _CONVERTER_TYPES.get(converter or "", {"type": "string"})}
            for converter, name in _ARGUMENT.findall(rule)]


def _response(status: int, answer) -> dict:
    if isinstance(answer, str):
        return {"description": answer}
    if isinstance(answer, Mapping) and "description" in answer:
        return dict(answer)
    if isinstance(answer, Mapping):  # media type -> {schema}
        return {"description": "the answer", "content": dict(answer)}
    schema = answer if isinstance(answer, type) else type(answer)
    summary = (schema.__doc__ or schema.__name__).strip().splitlines()[0]
    return {"description": summary, "content": {"application/json": {"schema": answer}}}


def _operation(rule: str, operation: Operation, bearer: bool) -> dict:
    # 400 everywhere: a NUL or lone surrogate in the path or the query string is refused before any
    # view runs (web.install).
    refusals = {400, *operation.refusals, *(BODY_REFUSALS if operation.body else ()), *((401,) if bearer else ())}
    parameters = _path_parameters(rule, operation.path)
    if isinstance(operation.query, list):
        parameters += operation.query
    elif operation.query is not None:
        parameters.append({"in": "query", "schema": operation.query})
    out = {"summary": operation.summary,
           "responses": {**errors(*refusals, description="refused; nothing changed"),
                         **{str(s): _response(s, a) for s, a in operation.responses.items()}}}
    if operation.description:
        out["description"] = operation.description
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": operation.body}}}
    elif operation.request_body is not None:
        out["requestBody"] = operation.request_body
    if operation.security is not None:
        out["security"] = operation.security
    elif bearer:
        out["security"] = BEARER
    return out


class Undocumented(Exception):
    """A route without a declaration: the document would not be the API."""


def document(app: Flask, title: str, description: str) -> dict:
    """The OpenAPI document of every rule of `app` (static files aside), from its views' declarations."""
    spec = new_spec(title, description)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        operation = declaration(view)
        if operation is None:
            raise Undocumented(f"{rule.rule} ({rule.endpoint}) declares nothing: add @documented(...)")
        for method in sorted(m.lower() for m in rule.methods or () if m.lower() in METHODS):
            paths.setdefault(openapi_path(rule.rule), {})[method] = _operation(
                rule.rule, operation, getattr(view, "requires_bearer", False))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Multiple schemas resolved to the name")
        for path, operations in paths.items():
            spec.path(path=path, operations=operations)
    return spec.to_dict()


def serve(app: Flask, title: str, description: str) -> None:
    """Serve the app's document at /openapi.json (built on first request, once: the routes are fixed by then)."""
    built: list[dict] = []

    @documented("This document", responses={200: {"description": "OpenAPI 3.1",
                                                   "content": {"application/json": {"schema": {"type": "object"}}}}})
    def openapi_json():
        if not built:
            built.append(document(app, title, description))
        return jsonify(built[0])

    app.add_url_rule("/openapi.json", "openapi_json", openapi_json, methods=["GET"])


_HEALTH = {"type": "object", "required": ["service", "status", "database", "kafka", "consumers"], "properties": {
    "service": {"type": "string"},
    "status": {"enum": ["ok", "degraded", "unavailable"]},
    "database": {"type": "object", "required": ["ok"],
                 "properties": {"ok": {"type": "boolean"}, "error": {"type": "string"}}},
    "kafka": {"type": "object", "required": ["ok"],
              "properties": {"ok": {"type": ["boolean", "null"]}, "error": {"type": "string"}}},
    "consumers": {"type": "array", "items": {"type": "object", "required": ["name", "lag", "caught_up"], "properties": {
        "name": {"type": "string"}, "lag": {"type": ["integer", "null"]}, "caught_up": {"type": ["boolean", "null"]},
        "topics": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}}}}}}}
# /healthz of every service (helpdesk_shared.health): the service's own figures come as further fields.
HEALTHZ = documented("Health: database, Kafka and the lag of the service's consumers", responses={
    200: {"description": "ok, or degraded: it serves, but Kafka is away or a consumer is far behind",
          "content": {"application/json": {"schema": _HEALTH}}},
    503: {"description": "unavailable: the database does not answer",
          "content": {"application/json": {"schema": _HEALTH}}}})
METRICS = documented("Prometheus metrics", responses={200: "text"})
