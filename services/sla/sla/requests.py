"""The SLA admin API's request bodies as marshmallow schemas: types and bounds only (pure).

What a calendar or policy means (weekday 0-6, intervals that end after they start, known
clocks, a warning before the close) is checked by `calendars.calendar_from_doc` and
`policy.policy_from_doc`, with their own texts; here a wrong JSON type is refused before it
reaches them, and every text and list is bounded. Loaded values stay plain JSON (texts, not
dates): the documents are stored and published as they came.
"""
from __future__ import annotations

from helpdesk_shared.fields import Count, Instant, Items, Number, Object, RequestSchema, Text

from .policy import MAX_MINUTES, TARGET_NAMES


def _optional(field):
    field.required = False
    field.allow_none = True
    return field


class Interval(RequestSchema):
    """One opening interval of a week: `{"weekday": 0, "start": "09:00", "end": "17:00"}`."""

    weekday = Count(-1000, 1000, required=True)  # 0-6 is the calendar's rule, with its own text
    start = Text(8, required=True)
    end = Text(8, required=True)


class Closure(RequestSchema):
    """A day the desk is closed: `{"date": "2026-12-07", "note": "Inventario anual"}`."""

    date = Text(10, required=True)
    note = Text(200, required=True)


class CalendarDoc(RequestSchema):
    """A desk's calendar document (see `sla.calendars`)."""

    tz = Text(64)
    weekly = Items(Object(Interval), 70)
    public_holidays = _optional(Text(8))  # null: no public holidays
    closures = Items(Object(Closure), 400)


class ChangeCalendar(RequestSchema):
    """PUT /api/calendars/{desk}."""

    calendar = Object(CalendarDoc, required=True)
    effective_from = _optional(Instant())


class TargetDoc(RequestSchema):
    """One SLA target: `{"minutes": 480, "clock": "business" | "24x7"}`."""

    minutes = Number(-MAX_MINUTES, 10 * MAX_MINUTES, required=True)
    clock = Text(16, required=True)


PolicyDoc = RequestSchema.from_dict({name: _optional(Object(TargetDoc)) for name in TARGET_NAMES},
                                    name="PolicyDoc")


class ChangePolicy(RequestSchema):
    """PUT /api/policies/{desk}/{urgency_class}."""

    policy = Object(PolicyDoc, required=True)
    effective_from = _optional(Instant())
