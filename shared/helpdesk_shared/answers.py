"""The building blocks of the services' response schemas (pure marshmallow, documentation only).

A route's answer is declared as a schema next to the route (`openapi.documented(responses=...)`)
and the OpenAPI document is generated from it; tests validate real answers against the document,
so a field added to an answer without its schema, or a schema promising a field that is not
sent, fails. Answers are dumped by `jsonify`, never by these schemas.
"""
from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, fields


class ResponseSchema(Schema):
    """An answer object: exactly these fields (the document says `additionalProperties: false`)."""

    class Meta:
        unknown = RAISE


class OpenSchema(Schema):
    """An answer read with `select *` from a read model: at least these fields, maybe more (a new
    column is not a breaking change of the API)."""

    class Meta:
        unknown = INCLUDE


def string(**kwargs) -> fields.String:
    """A required text (pass `allow_none=True` for one that may be null)."""
    return fields.String(required=True, **kwargs)


def optional_string(**kwargs) -> fields.String:
    """A text that is always present and may be null."""
    return fields.String(required=True, allow_none=True, **kwargs)


def integer(**kwargs) -> fields.Integer:
    """A required whole number."""
    return fields.Integer(required=True, **kwargs)


def flag(**kwargs) -> fields.Boolean:
    """A required boolean."""
    return fields.Boolean(required=True, **kwargs)


def instant(**kwargs) -> fields.DateTime:
    """A required ISO 8601 date-time (`IsoJSONProvider` writes datetimes so)."""
    return fields.DateTime(required=True, **kwargs)


def strings(**kwargs) -> fields.List:
    """A required list of strings."""
    return fields.List(fields.String(), required=True, **kwargs)


def list_of(schema, **kwargs) -> fields.List:
    """A required list of objects of `schema`."""
    return fields.List(fields.Nested(schema), required=True, **kwargs)


def anything(**kwargs) -> fields.Raw:
    """A required JSON value of any type (a stored document, a sample context)."""
    return fields.Raw(required=True, **kwargs)


class Bilingual(ResponseSchema):
    """A text a person reads, Spanish first."""

    es = string()
    en = string()


class Notice(ResponseSchema):
    """A warning that does not refuse the request: its code and text."""

    code = string()
    message = fields.Nested(Bilingual, required=True)
