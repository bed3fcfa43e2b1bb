"""The consumers' fast path for reading an envelope our own producers wrote (pure).

Our producers validate every event through its marshmallow schema and write `data` in its
serialised form (`schemas.validate_data`), so a consumer that loads and dumps it again through
marshmallow (~200 µs an event, most of a rebuild's decoding time) learns nothing new about a
message in that form. `decode(doc)` checks cheaply that the document *is* in that form — known
type, schema version 1, every field of the right JSON type, canonical (UTC instants, lower-case
UUIDs, defaults present), every field validator passing — and builds the envelope from it
without a load+dump round trip. Anything else (another form, a schema hook, an unknown field, a
missing one, a value a validator refuses) returns None, and the caller takes marshmallow's path,
which normalises the document or refuses it (`UndecodableEvent`: the consumer parks it).

So the fast path never accepts what marshmallow refuses, and returns what marshmallow would
(tests/unit/test_trusted_decode.py checks both over every event type and mutations of them).
The checks are compiled once from the marshmallow schemas, so a new field or type needs nothing here.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields
from marshmallow.utils import missing

from .envelope_types import Actor, Envelope
from .schemas import ACTOR_ROLES, EVENT_DATA_SCHEMAS, SCHEMA_VERSION, Upper, UtcDateTime

Check = Callable[[Any], bool]


def _utc_instant(value: Any) -> datetime | None:
    """The instant of a canonical UTC ISO 8601 text ("…+00:00", as our producers write it), else None."""
    if type(value) is not str or not value.endswith("+00:00"):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.isoformat() == value else None


def _canonical_date(value: Any) -> bool:
    try:
        return type(value) is str and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: Any) -> uuid.UUID | None:
    """The UUID of a canonical (lower-case, hyphenated) text, else None."""
    if type(value) is not str or not _CANONICAL_UUID.fullmatch(value):
        return None
    return uuid.UUID(value)


def _validated(check: Check, validators) -> Check:
    if not validators:
        return check

    def run(value: Any) -> bool:
        if not check(value):
            return False
        try:
            for validator in validators:
                validator(value)
        except ValidationError:
            return False
        return True
    return run


def _field_check(field: fields.Field) -> Check | None:
    """A check that a value of `field` is canonical and valid; None for a field this path does not know."""
    if isinstance(field, UtcDateTime):
        base: Check | None = lambda v: _utc_instant(v) is not None  # noqa: E731
    elif isinstance(field, (fields.DateTime, fields.Time)):
        base = None  # other instants: marshmallow's path
    elif isinstance(field, fields.Date):
        base = _canonical_date
    elif isinstance(field, Upper):
        base = lambda v: type(v) is str and v == v.strip().upper()  # noqa: E731
    elif isinstance(field, fields.UUID):
        base = lambda v: _uuid(v) is not None  # noqa: E731
    elif isinstance(field, fields.String):
        base = lambda v: type(v) is str  # noqa: E731
    elif isinstance(field, fields.Boolean):
        base = lambda v: type(v) is bool  # noqa: E731
    elif isinstance(field, fields.Integer):
        base = lambda v: type(v) is int  # noqa: E731
    elif isinstance(field, fields.Nested):
        base = schema_check(field.schema) if not field.many else None
    elif isinstance(field, fields.List):
        inner = _field_check(field.inner)
        base = None if inner is None else (lambda v: type(v) is list and all(inner(x) for x in v))
    elif isinstance(field, fields.Dict):
        base = None if (field.key_field or field.value_field) else (lambda v: type(v) is dict)
    elif type(field) is fields.Raw:
        base = lambda v: True  # noqa: E731
    else:
        base = None
    if base is None:
        return None
    checked = _validated(base, field.validators)
    if field.allow_none:
        return lambda v: v is None or checked(v)
    return lambda v: v is not None and checked(v)


def _has_hooks(schema: Schema) -> bool:
    return any(getattr(schema, "_hooks", {}).values())


def schema_check(schema: Schema) -> Check | None:
    """A check that a dict is `schema`'s serialised form, valid; None when the schema has hooks or
    fields this path does not know (such documents always take marshmallow's path)."""
    if _has_hooks(schema) or schema.unknown != "raise":
        return None
    required, defaulted, checks = [], [], {}
    for name, field in schema.fields.items():
        if field.data_key not in (None, name) or field.load_only or field.dump_only:
            return None
        check = _field_check(field)
        if check is None:
            return None
        checks[name] = check
        if field.required:
            required.append(name)
        elif field.load_default is not missing:
            defaulted.append(name)  # the serialised form carries it
    must = frozenset(required + defaulted)
    known = frozenset(checks)
    items = tuple(checks.items())

    def check_dict(value: Any) -> bool:
        if type(value) is not dict:
            return False
        keys = value.keys()
        if not must <= keys or not keys <= known:
            return False
        for name, check in items:
            if name in value and not check(value[name]):
                return False
        return True
    return check_dict


def _copier(field: fields.Field) -> Callable[[Any], Any]:
    """A copy of a checked value laid out as the schema's dump lays it out (nested fields in order)."""
    if isinstance(field, fields.Nested):
        return _schema_copier(field.schema)
    if isinstance(field, fields.List):
        inner = _copier(field.inner)
        return lambda v: None if v is None else [inner(x) for x in v]
    if isinstance(field, fields.Dict):
        return lambda v: None if v is None else dict(v)
    return lambda v: v


def _schema_copier(schema: Schema) -> Callable[[Any], Any]:
    copiers = tuple((name, _copier(field)) for name, field in schema.fields.items())

    def copy(value: Any) -> Any:
        if value is None:
            return None
        return {name: copier(value[name]) for name, copier in copiers if name in value}
    return copy


_DATA_CHECKS: dict[str, Check] = {}
_DATA_COPIERS: dict[str, Callable[[Any], Any]] = {}
for _type, _schema_class in EVENT_DATA_SCHEMAS.items():
    _check = schema_check(_schema_class())
    if _check is not None:
        _DATA_CHECKS[_type] = _check
        _DATA_COPIERS[_type] = _schema_copier(_schema_class())


def serialised_data(type_: str, data: Any) -> dict | None:
    """`data` of an event `type_` a producer builds, as `schemas.validate_data` would return it (a
    copy in the schema's field order), when it is already in the serialised form and valid; None
    otherwise (a datetime or UUID object, a missing default, a refused value...: marshmallow's path).

    Producers build most events' data from texts and numbers already in that form, and a
    marshmallow load+dump of it was ~5 % of an opening's CPU in intake."""
    check = _DATA_CHECKS.get(type_)
    if check is None or not check(data):
        return None
    return _DATA_COPIERS[type_](data)

_ENVELOPE_KEYS = frozenset({"event_id", "type", "schema_version", "stream_id", "stream_version", "occurred_at",
                            "correlation_id", "causation_id", "actor", "data"})
_REQUIRED_KEYS = _ENVELOPE_KEYS - {"causation_id"}
_ACTOR_KEYS = frozenset({"id", "role"})


def decode(doc: Any) -> Envelope | None:
    """The envelope of a document in our producers' serialised form, or None (take marshmallow's path)."""
    if type(doc) is not dict:
        return None
    keys = doc.keys()
    if not _REQUIRED_KEYS <= keys or not keys <= _ENVELOPE_KEYS:
        return None
    type_, version, stream_id, actor = doc["type"], doc["stream_version"], doc["stream_id"], doc["actor"]
    check = _DATA_CHECKS.get(type_) if type(type_) is str else None
    if check is None or type(doc["schema_version"]) is not int or doc["schema_version"] != SCHEMA_VERSION:
        return None
    if type(stream_id) is not str or not stream_id or type(version) is not int or version < 1:
        return None
    if type(actor) is not dict or actor.keys() != _ACTOR_KEYS or type(actor["id"]) is not str or not actor["id"] \
            or actor["role"] not in ACTOR_ROLES:
        return None
    occurred_at = _utc_instant(doc["occurred_at"])
    event_id, correlation_id = _uuid(doc["event_id"]), _uuid(doc["correlation_id"])
    causation = doc.get("causation_id")
    causation_id = None if causation is None else _uuid(causation)
    if occurred_at is None or event_id is None or correlation_id is None or (causation is not None
                                                                            and causation_id is None):
        return None
    if not check(doc["data"]):
        return None
    return Envelope(type=type_, stream_id=stream_id, stream_version=version, occurred_at=occurred_at,
                    actor=Actor(actor["id"], actor["role"]), data=doc["data"], event_id=event_id,
                    schema_version=SCHEMA_VERSION, correlation_id=correlation_id, causation_id=causation_id)
