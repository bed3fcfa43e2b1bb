"""The business calendar at the edges the hand-checked cases do not reach.

Opening hours written to the minute, second and microsecond, calendars whose week does not
start on a Monday or end on a Friday, closed days at the ends of the range, and the
calendar's own guards. Each expected value is worked out by hand in the test's comment.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone, tzinfo
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
    TUESDAY,
    Calendar,
    CalendarError,
    CalendarHistory,
    venezuela_default,
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


# -- the calendar's own guards -----------------------------------------------------------


class _Floating(tzinfo):
    """A time zone that knows no offset: such a datetime has a tzinfo but is not aware."""

    def utcoffset(self, dt):
        return None


def test_a_version_taking_effect_at_a_naive_or_floating_instant_is_refused():
    for when in (datetime(2026, 3, 1), datetime(2026, 3, 1, tzinfo=_Floating())):
        with pytest.raises(CalendarError, match="^effective_from must be an aware datetime$"):
            Calendar(effective_from=when)


def test_a_negative_duration_is_refused_saying_so():
    with pytest.raises(ValueError, match="^a business duration cannot be negative$"):
        Calendar().add(caracas(2026, 3, 9, 10), -timedelta(hours=1))


def test_the_order_in_which_the_weekly_hours_are_written_does_not_matter():
    backwards = Calendar(weekly=((FRIDAY, time(13), time(17)), (MONDAY, time(9), time(12)),
                                 (MONDAY, time(8), time(9))))
    assert backwards.weekly == ((MONDAY, time(8), time(9)), (MONDAY, time(9), time(12)),
                                (FRIDAY, time(13), time(17)))
    assert backwards == Calendar(weekly=tuple(sorted(backwards.weekly)))
    assert backwards.business_between(caracas(2026, 3, 9), caracas(2026, 3, 14)) == timedelta(hours=8)


# -- every day of the week ------------------------------------------------------------------


@pytest.mark.parametrize(("day", "is_open"), [
    (9, True), (10, True), (11, True), (12, True), (13, True), (14, False), (15, False),
])
def test_the_default_desk_is_open_at_ten_from_monday_to_friday_and_closed_at_the_weekend(day, is_open):
    # 9 March 2026 is a Monday.
    assert Calendar().is_open(caracas(2026, 3, day, 10)) is is_open
    assert Calendar().is_open(caracas(2026, 3, day, 8, 59)) is False


def test_a_duration_given_in_days_counts_24_business_hours_a_day():
    # Monday 09:00 + 24 business hours = three eight-hour days: Wednesday at closing.
    assert Calendar().add(caracas(2026, 3, 9, 9), timedelta(days=1)) == caracas(2026, 3, 11, 17)
    assert Calendar().add(caracas(2026, 3, 9, 9), timedelta(days=1, microseconds=1)) == \
        caracas(2026, 3, 12, 9, 0, 0, 1)


# -- closed days at the ends of a span ---------------------------------------------------


def test_a_second_closure_on_an_already_closed_day_keeps_both_notes():
    calendar = Calendar(closed_days={date(2026, 12, 25): "Día de Navidad"})
    edited = calendar.with_closure(date(2026, 12, 25), "Inventario anual", version=2,
                                   effective_from=datetime(2026, 12, 1, tzinfo=UTC))
    assert edited.closed_days[date(2026, 12, 25)] == "Día de Navidad; Inventario anual"
    assert calendar.closed_days[date(2026, 12, 25)] == "Día de Navidad"


NIGHTS = Calendar(weekly=((MONDAY, time(18), time(0)), (TUESDAY, time(0), time(2))),
                  closed_days={date(2026, 3, 10): "Mantenimiento"})        # Tuesday 10 March 2026


def test_a_closed_day_whose_hours_start_at_midnight_is_skipped_by_a_span_reaching_one_microsecond_into_it():
    monday_night = caracas(2026, 3, 9, 23)
    assert NIGHTS.skipped_closed_days(monday_night, caracas(2026, 3, 10, 0, 0, 0, 1)) == \
        [(date(2026, 3, 10), "Mantenimiento")]
    assert NIGHTS.skipped_closed_days(monday_night, caracas(2026, 3, 10)) == []


def test_sunday_is_weekday_6_and_weekdays_outside_0_to_6_are_refused_naming_the_day():
    sundays = Calendar(weekly=((SUNDAY, time(10), time(14)),))
    assert sundays.business_between(caracas(2026, 3, 9), caracas(2026, 3, 16)) == timedelta(hours=4)
    assert sundays.is_open(caracas(2026, 3, 15, 10))                     # a Sunday
    for day in (-1, 7):
        with pytest.raises(CalendarError, match=rf"^weekday {day} is not 0 \(Monday\) \.\. 6 \(Sunday\)$"):
            Calendar(weekly=((day, time(10), time(14)),))


@pytest.mark.parametrize(("weekly", "says"), [
    ((), "a calendar needs at least one opening interval"),
    (((MONDAY, time(9), time(9)),), "interval 09:00:00-09:00:00 on weekday 0 is empty"),
    (((MONDAY, time(9), time(13)), (MONDAY, time(12), time(17))),
     "interval 12:00:00-17:00:00 on weekday 0 overlaps another"),
])
def test_unusable_hours_are_refused_saying_what_is_wrong_with_them(weekly, says):
    with pytest.raises(CalendarError, match=f"^{says}$"):
        Calendar(weekly=weekly)


def test_hours_that_touch_without_overlapping_are_accepted():
    touching = Calendar(weekly=((MONDAY, time(9), time(12)), (MONDAY, time(12), time(17))))
    assert touching.business_between(caracas(2026, 3, 9), caracas(2026, 3, 10)) == timedelta(hours=8)


def test_a_closure_takes_away_even_a_single_microsecond_of_opening():
    blink = Calendar(weekly=((MONDAY, time(9), time(9, 0, 0, 1)),),
                     closed_days={date(2026, 3, 9): "Cierre"})
    assert not blink.is_open(caracas(2026, 3, 9, 9))
    assert blink.is_open(caracas(2026, 3, 16, 9))
    assert blink.business_between(caracas(2026, 3, 9), caracas(2026, 3, 17)) == timedelta(microseconds=1)


def test_the_desk_is_open_seconds_and_microseconds_after_opening():
    assert Calendar().is_open(caracas(2026, 3, 9, 9, 0, 30))
    assert Calendar().is_open(caracas(2026, 3, 9, 9, 0, 0, 1))


def test_naive_instants_are_refused_saying_why():
    for operation in (Calendar().is_open, Calendar().next_opening):
        with pytest.raises(ValueError, match="^business calendar operations need aware datetimes$"):
            operation(datetime(2026, 3, 9, 10))


def test_business_time_counted_from_inside_a_closed_day_starts_at_the_next_opening():
    # Christmas Day 2026 is a Friday: from its morning to Monday 28 December 10:00 is 1 hour.
    christmas = Calendar(closed_days={date(2026, 12, 25): "Día de Navidad"})
    assert christmas.business_between(caracas(2026, 12, 25, 10), caracas(2026, 12, 28, 10)) == timedelta(hours=1)
    assert christmas.business_between(caracas(2026, 12, 24, 16), caracas(2026, 12, 25, 12)) == timedelta(hours=1)
    assert christmas.add(caracas(2026, 12, 25, 10), timedelta(hours=2)) == caracas(2026, 12, 28, 11)


def test_a_deadline_on_the_eve_of_a_closed_day_lands_on_the_eve():
    christmas = Calendar(closed_days={date(2026, 12, 25): "Día de Navidad"})
    assert christmas.add(caracas(2026, 12, 24, 10), timedelta(hours=2)) == caracas(2026, 12, 24, 12)
    assert christmas.next_opening(caracas(2026, 12, 24, 10)) == caracas(2026, 12, 24, 10)


def test_every_closed_wednesday_of_a_wednesday_only_desk_is_listed_as_skipped():
    wednesdays = [date(2026, 3, 4) + timedelta(weeks=n) for n in range(8)]
    calendar = Calendar(weekly=((2, time(9), time(17)),), closed_days={d: f"cierre {d}" for d in wednesdays})
    skipped = calendar.skipped_closed_days(caracas(2026, 3, 2), caracas(2026, 5, 1))
    assert skipped == [(d, f"cierre {d}") for d in wednesdays]


# -- a desk's history of versions -------------------------------------------------------


def test_a_history_given_its_versions_out_of_order_still_picks_the_one_in_force():
    v1 = Calendar(version=1)
    v2 = v1.with_closure(date(2026, 3, 11), "Formación", version=2,
                         effective_from=datetime(2026, 3, 10, tzinfo=UTC))
    history = CalendarHistory((v2, v1))
    assert history.versions == (v1, v2)
    assert history.at(datetime(2026, 3, 9, tzinfo=UTC)).version == 1
    assert history.latest.version == 2


def test_an_empty_history_is_refused_and_a_history_cannot_be_changed_in_place():
    with pytest.raises(CalendarError, match="^a calendar history needs at least one version$"):
        CalendarHistory(())
    history = CalendarHistory((Calendar(),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        history.versions = ()                    # type: ignore[misc]


def test_an_instant_before_the_first_version_is_refused_naming_the_instant():
    with pytest.raises(LookupError, match=r"^no calendar version in force at 1969-12-31T23:59:59\+00:00$"):
        CalendarHistory((Calendar(),)).at(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))


def test_a_history_grows_by_newer_versions_and_earlier_instants_keep_their_calendar():
    v1 = Calendar()
    v2 = v1.with_closure(date(2026, 3, 11), "Formación", version=2, effective_from=datetime(2026, 3, 10, tzinfo=UTC))
    v3 = v2.with_closure(date(2026, 3, 12), "Inventario", version=3, effective_from=datetime(2026, 3, 10, tzinfo=UTC))
    history = CalendarHistory((v1,)).with_version(v2).with_version(v3)    # v3 from the same instant as v2
    assert history.versions == (v1, v2, v3)
    assert history.latest is v3
    assert history.at(datetime(2026, 3, 9, tzinfo=UTC)) is v1
    assert history.at(datetime(2026, 3, 10, tzinfo=UTC)) is v3


def test_a_version_from_the_past_or_without_a_higher_number_is_refused_saying_which():
    history = CalendarHistory((Calendar(effective_from=datetime(2026, 3, 10, tzinfo=UTC)),))
    with pytest.raises(CalendarError, match="^a new calendar version cannot take effect in the past$"):
        history.with_version(Calendar(version=2, effective_from=datetime(2026, 3, 9, tzinfo=UTC)))
    with pytest.raises(CalendarError, match="^a new calendar version needs a higher version number$"):
        history.with_version(Calendar(version=1, effective_from=datetime(2026, 3, 11, tzinfo=UTC)))


# -- the Venezuelan default -------------------------------------------------------------


def test_years_outside_the_holidays_package_are_refused_naming_its_range_and_the_years():
    with pytest.raises(CalendarError, match=r"^the holidays package knows VE only for 1910-2100, not \[1850, 2101\]$"):
        venezuela_default([1850, 2026, 2101])


def test_each_movable_feast_missing_from_the_package_is_added_on_its_day_with_its_name(monkeypatch):
    import holidays

    real = holidays.country_holidays

    def without_movable_feasts(*args, **kwargs):
        data = real(*args, **kwargs)
        for day in (date(2026, 2, 16), date(2026, 2, 17), date(2026, 4, 2), date(2026, 4, 3)):
            data.pop(day)
        return data

    monkeypatch.setattr(holidays, "country_holidays", without_movable_feasts)
    closed = venezuela_default([2026]).closed_days               # Easter Sunday 2026: 5 April
    assert set(closed) == set(real("VE", years=[2026]))             # those four days, no others
    assert [closed[day] for day in (date(2026, 2, 16), date(2026, 2, 17), date(2026, 4, 2), date(2026, 4, 3))] == [
        "Lunes de Carnaval", "Martes de Carnaval", "Jueves Santo", "Viernes Santo"]
