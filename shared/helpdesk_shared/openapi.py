"""The parts every service's OpenAPI 3.1 document shares: the spec with Mesa's strict fields
mapped, the bearer scheme, the error body, and small builders for parameters and responses."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from . import fields

BEARER = [{"bearer": []}]
ERROR = {"$ref": "#/components/schemas/Error"}

# How apispec should describe the strict fields the request schemas are built from.
_FIELD_TYPES = ((fields.Text, ("string", None)), (fields.Flag, ("boolean", None)), (fields.Count, ("integer", None)),
                (fields.Number, ("number", None)), (fields.Instant, ("string", "date-time")),
                (fields.Day, ("string", "date")))


def new_spec(title: str, description: str) -> APISpec:
    """A document with the marshmallow plugin, the bearer scheme and the `{code, field, message}` error."""
    plugin = MarshmallowPlugin()
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


def path_param(name: str, schema: dict | None = None) -> dict:
    """A required path parameter (a string unless `schema` says otherwise)."""
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def json_body(schema: str) -> dict:
    """A required JSON request body described by the component schema `schema`."""
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


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
HEALTHZ = {"get": {"summary": "Health: database, Kafka and the lag of the service's consumers", "responses": {
    "200": {"description": "ok, or degraded: it serves, but Kafka is away or a consumer is far behind",
            "content": {"application/json": {"schema": _HEALTH}}},
    "503": {"description": "unavailable: the database does not answer",
            "content": {"application/json": {"schema": _HEALTH}}}}}}
