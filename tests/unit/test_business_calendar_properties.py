"""Properties of the business calendar, checked with hypothesis on random instants.

The closed-form arithmetic in business_calendar.py is checked against a slow oracle that
walks the calendar day by day and interval by interval, written here independently, and
against the algebra deadlines must obey (monotone, additive, invertible).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_shared.business_calendar import Calendar, venezuela_default

UTC = timezone.utc
MICROSECOND = timedelta(microseconds=1)

VE = venezuela_default(range(2024, 2030))
LUNCH = Calendar(
    weekly=tuple((day, s, e) for day in range(5)
                 for s, e in ((time(9), time(12)), (time(13), time(17)))),
    closed_days=VE.closed_days,
)
NEW_YORK = Calendar(
    tz="America/New_York",
    weekly=tuple((day, time(8, 30), time(17, 45)) for day in range(5))
    + ((5, time(10), time(13)),),
    closed_days={date(2026, 3, 9): "closure after spring-forward",
                 date(2026, 11, 2): "closure after fall-back"},
)
CALENDARS = st.sampled_from([VE, LUNCH, NEW_YORK])

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
# Whole minutes mostly, as policies are written; now and then an arbitrary microsecond.
durations = st.one_of(
    st.integers(0, 60 * 60).map(lambda m: timedelta(minutes=m)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=60)),
)
positive = durations.filter(lambda d: d > timedelta(0))

property_settings = settings(max_examples=200, deadline=None)


# -- the oracle: plain walking, no arithmetic shortcuts -----------------------------------


def open_periods(calendar: Calendar, start: datetime):
    """Open periods (UTC start, UTC end) of the calendar from start's local day on."""
    zone = ZoneInfo(calendar.tz)
    day = start.astimezone(zone).date() - timedelta(days=1)
    while True:
        if day not in calendar.closed_days:
            for weekday, s, e in calendar.weekly:
                if weekday == day.weekday():
                    end_day = day + timedelta(days=1) if e == time(0) else day
                    yield (datetime.combine(day, s, zone).astimezone(UTC),
                           datetime.combine(end_day, e, zone).astimezone(UTC))
        day += timedelta(days=1)


def oracle_add(calendar: Calendar, t: datetime, d: timedelta) -> datetime:
    """t plus d by walking the open periods one by one."""
    for s, e in open_periods(calendar, t):
        if e <= t:
            continue
        begin = max(s, t)
        if d == timedelta(0):
            return begin
        if e - begin >= d:
            return begin + d
        d -= e - begin
    raise AssertionError("unreachable")


def oracle_between(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """Open time in [a, b) by walking the open periods."""
    total = timedelta(0)
    for s, e in open_periods(calendar, a):
        if s >= b:
            return total
        total += max(timedelta(0), min(e, b) - max(s, a))


def oracle_is_open(calendar: Calendar, t: datetime) -> bool:
    """Whether some open period contains t."""
    for s, e in open_periods(calendar, t):
        if s > t:
            return False
        if s <= t < e:
            return True


# -- agreement with the oracle --------------------------------------------------------------


@property_settings
@given(CALENDARS, instants, durations)
def test_add_agrees_with_walking_the_calendar(calendar, t, d):
    assert calendar.add(t, d) == oracle_add(calendar, t, d)


@property_settings
@given(CALENDARS, instants, instants)
def test_business_between_agrees_with_walking_the_calendar(calendar, a, b):
    a, b = sorted((a, b))
    b = min(b, a + timedelta(days=60))
    assert calendar.business_between(a, b) == oracle_between(calendar, a, b)


@property_settings
@given(CALENDARS, instants)
def test_is_open_agrees_with_walking_the_calendar(calendar, t):
    assert calendar.is_open(t) == oracle_is_open(calendar, t)


# -- algebra ---------------------------------------------------------------------------------


@property_settings
@given(CALENDARS, instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
       durations)
def test_adding_is_monotone_in_the_start(calendar, t, later_by, d):
    assert calendar.add(t, d) <= calendar.add(t + later_by, d)


@property_settings
@given(CALENDARS, instants, durations, durations)
def test_adding_is_monotone_in_the_duration(calendar, t, d1, d2):
    d1, d2 = sorted((d1, d2))
    assert calendar.add(t, d1) <= calendar.add(t, d2)


@property_settings
@given(CALENDARS, instants, durations, positive)
def test_adding_in_two_steps_is_adding_the_sum(calendar, t, a, b):
    # b > 0: add(x, 0) moves a closing-time x on to the next opening, by design.
    assert calendar.add(calendar.add(t, a), b) == calendar.add(t, a + b)


@property_settings
@given(CALENDARS, instants, durations)
def test_business_between_a_start_and_its_deadline_is_the_duration(calendar, t, d):
    assert calendar.business_between(t, calendar.add(t, d)) == d


@property_settings
@given(CALENDARS, instants, durations)
def test_a_deadline_never_lands_inside_closed_time(calendar, t, d):
    due = calendar.add(t, d)
    assert due >= t
    assert calendar.is_open(due) or calendar.is_open(due - MICROSECOND)


@property_settings
@given(CALENDARS, instants, positive)
def test_a_positive_duration_lands_strictly_later_and_not_past_a_closing(calendar, t, d):
    due = calendar.add(t, d)
    assert due > t
    assert calendar.is_open(due - MICROSECOND)


@property_settings
@given(CALENDARS, instants)
def test_the_next_opening_is_open_and_nothing_is_open_before_it(calendar, t):
    opening = calendar.next_opening(t)
    assert calendar.is_open(opening)
    assert calendar.business_between(t, opening) == timedelta(0)
    assert opening == t or not calendar.is_open(opening - MICROSECOND)


@property_settings
@given(CALENDARS, instants, instants)
def test_skipped_closed_days_are_closed_days_between_the_two_instants(calendar, a, b):
    a, b = sorted((a, b))
    zone = ZoneInfo(calendar.tz)
    for day, note in calendar.skipped_closed_days(a, b):
        assert calendar.closed_days[day] == note
        assert a.astimezone(zone).date() <= day <= b.astimezone(zone).date()
        assert day.weekday() in {weekday for weekday, _, _ in calendar.weekly}
