"""Strict marshmallow fields for request bodies, and their refusals in Spanish and English (pure).

JSON gives a request little type safety: `"false"` is a truthy string, `1 == True` in Python,
`datetime.fromisoformat` takes a date without a zone. These fields accept exactly one JSON type
each and every text and list has a bound, so a handler only ever sees the types it expects.

A field's error messages are our codes (`TEXT_TOO_LONG|200`: code and argument); `refusal`
turns marshmallow's ValidationError into the API's bilingual RuleViolation naming the field.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema

from .errors import Message, RuleViolation

# Code -> (status, Spanish, English); `{field}` and `{arg}` are filled in.
TEXTS: dict[str, tuple[int, str, str]] = {
    "FIELD_REQUIRED": (422, "Falta el dato «{field}»: es obligatorio.",
                       "'{field}' is missing: it is required."),
    "FIELD_NULL": (422, "El dato «{field}» no puede ser nulo.", "'{field}' cannot be null."),
    "FIELD_UNKNOWN": (422, "El dato «{field}» no existe en esta solicitud; revise el nombre.",
                      "'{field}' is not a field of this request; check its name."),
    "FIELD_NOT_TEXT": (422, "El dato «{field}» debe ser un texto.", "'{field}' must be a text (a JSON string)."),
    "FIELD_NOT_BOOLEAN": (422, "El dato «{field}» debe ser true o false (sin comillas).",
                          "'{field}' must be true or false (without quotes)."),
    "FIELD_NOT_INTEGER": (422, "El dato «{field}» debe ser un número entero.",
                          "'{field}' must be a whole number."),
    "FIELD_NOT_NUMBER": (422, "El dato «{field}» debe ser un número.", "'{field}' must be a number."),
    "FIELD_NOT_LIST": (422, "El dato «{field}» debe ser una lista.", "'{field}' must be a list (a JSON array)."),
    "FIELD_NOT_OBJECT": (422, "El dato «{field}» debe ser un objeto.", "'{field}' must be an object."),
    "FIELD_NOT_DATETIME": (
        422, "El dato «{field}» debe ser una fecha y hora ISO 8601 con zona horaria, "
             "por ejemplo 2026-11-30T09:00:00-04:00.",
        "'{field}' must be an ISO 8601 date and time with a time zone, for example 2026-11-30T09:00:00-04:00."),
    "FIELD_NOT_DATE": (422, "El dato «{field}» debe ser una fecha AAAA-MM-DD, por ejemplo 2026-11-30.",
                       "'{field}' must be a date as YYYY-MM-DD, for example 2026-11-30."),
    "FIELD_NOT_CHOICE": (422, "El dato «{field}» debe ser uno de estos valores: {arg}.",
                         "'{field}' must be one of: {arg}."),
    "FIELD_OUT_OF_RANGE": (422, "El dato «{field}» debe estar entre {arg}.", "'{field}' must be between {arg}."),
    "FIELD_INVALID": (422, "El dato «{field}» no es válido.", "'{field}' is not valid."),
    "FIELD_EMPTY": (422, "El dato «{field}» no puede ir vacío.", "'{field}' cannot be empty."),
    "TEXT_TOO_LONG": (422, "El dato «{field}» admite como máximo {arg} caracteres; acórtelo.",
                      "'{field}' takes at most {arg} characters; shorten it."),
    "LIST_TOO_LONG": (422, "La lista «{field}» admite como máximo {arg} elementos.",
                      "The list '{field}' takes at most {arg} items."),
    "TEXT_INVALID_CHARACTERS": (
        422, "El dato «{field}» contiene caracteres no permitidos (caracteres nulos o mal codificados).",
        "'{field}' contains characters that are not allowed (NUL or badly encoded characters)."),
    "EMAIL_INVALID": (422, "El correo electrónico «{field}» no es una dirección válida, por ejemplo "
                           "nombre@empresa.com.", "The e-mail '{field}' is not a valid address, e.g. name@company.com."),
    "NOTHING_TO_CHANGE": (422, "Indique al menos un dato que cambiar.", "Give at least one thing to change."),
    "UNKNOWN_PARAMETER": (422, "El parámetro «{field}» no existe aquí. Parámetros válidos: {arg}.",
                          "There is no parameter '{field}' here. Valid parameters: {arg}."),
    "PARAMETER_REPEATED": (422, "El parámetro «{field}» se dio más de una vez; dé un solo valor.",
                           "The parameter '{field}' was given more than once; give one value."),
    "ENDS_BEFORE_STARTS": (422, "El fin («{field}») debe ser posterior al inicio.",
                           "The end ('{field}') must come after the start."),
}

# NUL is refused by PostgreSQL's text and jsonb; a lone surrogate cannot be encoded as UTF-8.
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]{2,}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT_MAX = 40


def has_bad_characters(text: str) -> bool:
    """Whether `text` holds a NUL or a lone surrogate (neither can be stored)."""
    return _BAD_CHARACTERS.search(text) is not None


def _code(code: str, arg: object = "") -> str:
    return f"{code}|{arg}"


_COMMON = {"required": _code("FIELD_REQUIRED"), "null": _code("FIELD_NULL")}


class Text(fields.Field):
    """A JSON string of at most `max_length` characters, without NUL or lone surrogates."""

    def __init__(self, max_length: int, *, allow_empty: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.allow_empty = allow_empty
        self.metadata.setdefault("maxLength", max_length)
        self.error_messages.update(_COMMON)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError(_code("FIELD_NOT_TEXT"))
        if len(value) > self.max_length:
            raise ValidationError(_code("TEXT_TOO_LONG", self.max_length))
        if has_bad_characters(value):
            raise ValidationError(_code("TEXT_INVALID_CHARACTERS"))
        if not self.allow_empty and not value.strip():
            raise ValidationError(_code("FIELD_EMPTY"))
        return value


class Email(Text):
    """An e-mail address (a format check only; whether it exists is someone else's question)."""

    def __init__(self, **kwargs):
        super().__init__(254, **kwargs)
        self.metadata.setdefault("format", "email")

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not _EMAIL.match(value):
            raise ValidationError(_code("EMAIL_INVALID"))
        return value


class Choice(Text):
    """One of a fixed list of texts."""

    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        super().__init__(max(len(c) for c in self.choices), **kwargs)
        self.metadata["enum"] = list(self.choices)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or value not in self.choices:
            raise ValidationError(_code("FIELD_NOT_CHOICE", ", ".join(self.choices)))
        return value


class Flag(fields.Field):
    """A JSON true or false, nothing else: not "false", not 0."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.error_messages.update(_COMMON)
        self.metadata.setdefault("type", "boolean")

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise ValidationError(_code("FIELD_NOT_BOOLEAN"))


class Count(fields.Field):
    """A JSON integer between `minimum` and `maximum` (true is not 1, "3" is not 3)."""

    def __init__(self, minimum: int, maximum: int, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum
        self.error_messages.update(_COMMON)
        self.metadata.update(type="integer", minimum=minimum, maximum=maximum)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(_code("FIELD_NOT_INTEGER"))
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(_code("FIELD_OUT_OF_RANGE", f"{self.minimum} … {self.maximum}"))
        return value


class Number(fields.Field):
    """A JSON number (integer or fraction), not a boolean and not a text; finite and bounded."""

    def __init__(self, minimum: float, maximum: float, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum
        self.error_messages.update(_COMMON)
        self.metadata.update(type="number")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValidationError(_code("FIELD_NOT_NUMBER"))
        if not self.minimum <= value <= self.maximum:  # NaN fails both comparisons
            raise ValidationError(_code("FIELD_OUT_OF_RANGE", f"{self.minimum} … {self.maximum}"))
        return value


class Instant(fields.Field):
    """An ISO 8601 date-time with its zone, loaded as an aware datetime ("30/11/2026", "mañana" and
    zone-less times are refused: a deadline read in the wrong zone is hours off)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.error_messages.update(_COMMON)
        self.metadata.update(type="string", format="date-time")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > _INSTANT_MAX or has_bad_characters(value):
            raise ValidationError(_code("FIELD_NOT_DATETIME"))
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(_code("FIELD_NOT_DATETIME")) from None
        if when.tzinfo is None or "T" not in value.upper().replace(" ", "T"):
            raise ValidationError(_code("FIELD_NOT_DATETIME"))
        return when


class Day(fields.Field):
    """A calendar date written YYYY-MM-DD, kept as that text (it travels in events as JSON)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.error_messages.update(_COMMON)
        self.metadata.update(type="string", format="date")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _DAY.match(value):
            raise ValidationError(_code("FIELD_NOT_DATE"))
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValidationError(_code("FIELD_NOT_DATE")) from None


class QueryCount(Count):
    """A whole number written in a query string (ASCII digits only: "+3", " 3" and "٣" are not 3),
    between `minimum` and `maximum`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()) or len(value) > 12:
            raise ValidationError(_code("FIELD_NOT_INTEGER"))
        return super()._deserialize(int(value), attr, data, **kwargs)


class Items(fields.List):
    """A JSON array of at most `max_items` elements of one field type."""

    def __init__(self, inner: fields.Field, max_items: int, **kwargs):
        super().__init__(inner, **kwargs)
        self.max_items = max_items
        self.metadata.setdefault("maxItems", max_items)
        self.error_messages.update(_COMMON, invalid=_code("FIELD_NOT_LIST"))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and len(value) > self.max_items:
            raise ValidationError(_code("LIST_TOO_LONG", self.max_items))
        return super()._deserialize(value, attr, data, **kwargs)


class Object(fields.Nested):
    """A nested JSON object loaded by its own strict schema."""

    def __init__(self, nested, **kwargs):
        super().__init__(nested, **kwargs)
        self.error_messages.update(_COMMON, type=_code("FIELD_NOT_OBJECT"))


class RequestSchema(Schema):
    """A request body: unknown fields are refused (a misspelt `interna` must not be ignored)."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": _code("FIELD_UNKNOWN"), "type": _code("FIELD_NOT_OBJECT")}


class QuerySchema(RequestSchema):
    """A query string: each parameter once, none unknown (`web.load_query` says which are valid)."""


def ends_after_starts(start: str = "starts_at", end: str = "ends_at"):
    """A schema validator: `end` comes strictly after `start` (when both were given and valid)."""
    @validates_schema
    def _check(self, data, **kwargs):
        if data.get(start) is not None and data.get(end) is not None and data[end] <= data[start]:
            raise ValidationError(_code("ENDS_BEFORE_STARTS"), end)
    return _check


def _first(messages, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str]:
    """The first (field path, message) of marshmallow's nested error dict."""
    if isinstance(messages, dict):
        key = next(iter(messages))
        sub = () if key == "_schema" else (str(key),)
        return _first(messages[key], path + sub)
    if isinstance(messages, list):
        return _first(messages[0], path) if messages and not isinstance(messages[0], str) else (path, messages[0])
    return path, str(messages)


def text(code: str, field: str | None, arg: object = "") -> Message:
    """The bilingual text of an edge refusal."""
    _, es, en = TEXTS[code]
    shown = field or "?"
    return Message(es=es.format(field=shown, arg=arg), en=en.format(field=shown, arg=arg))


def refusal(error: ValidationError) -> RuleViolation:
    """A 422 naming the first refused field (`contact.email`, `dates.0`), in both languages."""
    path, raw = _first(error.messages)
    code, _, arg = raw.partition("|")
    if code not in TEXTS:  # a marshmallow default we did not override: still ours, still named
        code, arg = "FIELD_INVALID", ""
    field = ".".join(path) or None
    status = TEXTS[code][0]
    return RuleViolation(code=code, field=field, message=text(code, field, arg), status=status)
