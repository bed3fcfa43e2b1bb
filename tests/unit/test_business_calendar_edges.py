"""The business calendar at the edges the hand-checked cases do not reach.

Opening hours written to the minute, second and microsecond, calendars whose week does not
start on a Monday or end on a Friday, closed days at the ends of the range, and the
calendar's own guards. Each expected value is worked out by hand in the test's comment.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk_shared.business_calendar import (
    BEGINNING,
    DEFAULT_TZ,
    DEFAULT_WEEKLY,
    FRIDAY,
    MONDAY,
    SATURDAY,
    SUNDAY,
    Calendar,
    CalendarError,
    CalendarHistory,
)

CARACAS = ZoneInfo("America/Caracas")
UTC = timezone.utc


def caracas(*fields: int) -> datetime:
    """An instant given as Caracas wall time."""
    return datetime(*fields, tzinfo=CARACAS)


# -- the defaults -------------------------------------------------------------------------


def test_a_calendar_built_without_arguments_is_caracas_monday_to_friday_nine_to_five_version_1():
    default = Calendar()
    assert default.tz == DEFAULT_TZ == "America/Caracas"
    assert default.weekly == DEFAULT_WEEKLY == tuple((d, time(9), time(17)) for d in range(5))
    assert (MONDAY, FRIDAY, SATURDAY, SUNDAY) == (0, 4, 5, 6)
    assert dict(default.closed_days) == {}
    assert default.version == 1


def test_the_first_calendar_version_is_in_force_from_the_unix_epoch_on():
    history = CalendarHistory((Calendar(),))
    assert BEGINNING == datetime(1970, 1, 1, tzinfo=UTC)
    assert history.at(datetime(1970, 1, 1, tzinfo=UTC)).version == 1
    with pytest.raises(LookupError):
        history.at(datetime(1970, 1, 1, tzinfo=UTC) - timedelta(microseconds=1))


def test_a_calendar_version_cannot_be_changed_in_place():
    calendar = Calendar()
    with pytest.raises(dataclasses.FrozenInstanceError):
        calendar.version = 2                     # type: ignore[misc]
    assert "_t" not in repr(calendar)            # the tables are an implementation detail


# -- hours written to the minute, second and microsecond --------------------------------


PRECISE = Calendar(weekly=((MONDAY, time(9, 30, 15, 250), time(17, 45, 30, 500)),))


def test_an_opening_written_to_the_microsecond_opens_at_that_microsecond():
    assert not PRECISE.is_open(caracas(2026, 3, 9, 9, 30, 15, 249))
    assert PRECISE.is_open(caracas(2026, 3, 9, 9, 30, 15, 250))
    assert PRECISE.is_open(caracas(2026, 3, 9, 17, 45, 30, 499))
    assert not PRECISE.is_open(caracas(2026, 3, 9, 17, 45, 30, 500))


def test_a_day_open_from_0930_15_to_1745_30_holds_8_h_15_min_15_s_of_business_time():
    # 17:45:30.000500 - 09:30:15.000250 = 8 h 15 min 15 s 250 µs.
    day = PRECISE.business_between(caracas(2026, 3, 9), caracas(2026, 3, 10))
    assert day == timedelta(hours=8, minutes=15, seconds=15, microseconds=250)
    assert PRECISE.add(caracas(2026, 3, 9, 8), timedelta(0)) == caracas(2026, 3, 9, 9, 30, 15, 250)


def test_a_negative_duration_of_under_a_day_is_refused_too():
    # timedelta(microseconds=-1) is stored as days=-1, seconds=86399, microseconds=999999.
    with pytest.raises(ValueError):
        Calendar().add(caracas(2026, 3, 9, 10), timedelta(microseconds=-1))
    assert Calendar().add(caracas(2026, 3, 9, 10), timedelta(microseconds=1)) == \
        caracas(2026, 3, 9, 10, 0, 0, 1)
