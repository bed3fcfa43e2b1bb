"""Calendars as JSON documents a supervisor edits, and back (pure).

    {"tz": "America/Caracas",
     "weekly": [{"weekday": 0, "start": "09:00", "end": "17:00"}, ...],   # 0 = Monday; "24:00" allowed
     "public_holidays": "VE",                                              # or null: none
     "closures": [{"date": "2026-12-07", "note": "Inventario anual"}]}
"""
from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk_shared.business_calendar import Calendar, CalendarError, venezuela_default
from helpdesk_shared.errors import Message, RuleViolation

# Years whose public holidays a calendar knows; the holidays package covers them all.
HOLIDAY_YEARS = range(2000, 2101)

DEFAULT_DOC = {
    "tz": "America/Caracas",
    "weekly": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
    "public_holidays": "VE",
    "closures": [],
}


def _invalid(field: str, es: str, en: str) -> RuleViolation:
    return RuleViolation("SLA_CALENDAR_INVALID", field, Message(es=es, en=en), status=422)


def _clock_time(value, field: str) -> time:
    if value == "24:00":
        return time(0)  # the calendar reads an end of 00:00 as midnight at the end of the day
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(field, "La hora debe tener el formato HH:MM.", "The time must be HH:MM.") from None


@lru_cache(maxsize=8)
def _public_holidays(country: str) -> tuple[tuple[date, str], ...]:
    return tuple(venezuela_default(HOLIDAY_YEARS).closed_days.items()) if country == "VE" else ()


def calendar_from_doc(doc: dict, version: int, effective_from: datetime) -> Calendar:
    """A validated Calendar from its document; raises RuleViolation SLA_CALENDAR_INVALID."""
    if not isinstance(doc, dict):
        raise _invalid("calendar", "El calendario debe ser un objeto.", "The calendar must be an object.")
    unknown = sorted(set(doc) - set(DEFAULT_DOC))
    if unknown:
        raise _invalid(unknown[0], f"Campo desconocido «{unknown[0]}».", f"Unknown field '{unknown[0]}'.")
    tz = doc.get("tz", DEFAULT_DOC["tz"])
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise _invalid("tz", "Zona horaria desconocida.", "Unknown time zone.") from None
    weekly = []
    for i, interval in enumerate(doc.get("weekly", DEFAULT_DOC["weekly"])):
        field = f"weekly[{i}]"
        if not isinstance(interval, dict) or interval.get("weekday") not in range(7):
            raise _invalid(field, "Cada intervalo indica día (0 = lunes … 6 = domingo), inicio y fin.",
                           "Each interval gives a weekday (0 = Monday … 6 = Sunday), a start and an end.")
        start, end = _clock_time(interval.get("start"), f"{field}.start"), _clock_time(interval.get("end"),
                                                                                     f"{field}.end")
        if end != time(0) and end <= start:
            raise _invalid(field, "El intervalo debe terminar después de empezar.",
                           "The interval must end after it starts.")
        weekly.append((interval["weekday"], start, end))
    if not weekly:
        raise _invalid("weekly", "El calendario necesita al menos un intervalo de atención.",
                       "The calendar needs at least one opening interval.")
    country = doc.get("public_holidays", "VE")
    if country not in ("VE", None):
        raise _invalid("public_holidays", "Solo se admiten los feriados de Venezuela («VE») o ninguno.",
                       "Only Venezuela's holidays ('VE') or none are supported.")
    closed = dict(_public_holidays(country)) if country else {}
    for i, closure in enumerate(doc.get("closures", [])):
        try:
            day = date.fromisoformat(closure["date"])
            note = str(closure["note"]).strip()
        except (TypeError, KeyError, ValueError):
            day, note = None, ""
        if day is None or not note:
            raise _invalid(f"closures[{i}]", "Cada cierre indica fecha (AAAA-MM-DD) y una nota.",
                           "Each closure gives a date (YYYY-MM-DD) and a note.")
        closed[day] = f"{closed[day]}; {note}" if day in closed else note
    try:
        return Calendar(tz, tuple(weekly), closed, version, effective_from)
    except CalendarError as exc:
        raise _invalid("weekly", "Los intervalos no son válidos (¿se solapan?).",
                       f"The intervals are not valid: {exc}") from None
