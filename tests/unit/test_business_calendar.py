"""The business calendar, one hand-checked case per test (SPEC §2 "hours", §3).

Every expected value below was worked out by hand on a paper calendar; the instants are
frozen (no clock is read anywhere). Caracas is UTC-4 all year.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk_shared.business_calendar import (
    BEGINNING,
    DEFAULT_WEEKLY,
    Calendar,
    CalendarError,
    CalendarHistory,
    venezuela_default,
)

CARACAS = ZoneInfo("America/Caracas")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc

VE = venezuela_default(range(2025, 2028))


def caracas(*fields: int) -> datetime:
    """An instant given as Caracas wall time."""
    return datetime(*fields, tzinfo=CARACAS)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# -- the SPEC's examples ----------------------------------------------------------------


def test_friday_1600_plus_8_business_hours_is_monday_1600():
    assert VE.add(caracas(2026, 3, 6, 16), hours(8)) == caracas(2026, 3, 9, 16)


def test_saturday_1000_plus_8_business_hours_is_monday_1700():
    assert VE.add(caracas(2026, 3, 7, 10), hours(8)) == caracas(2026, 3, 9, 17)


def test_a_deadline_landing_exactly_on_a_closing_time_is_that_closing_time():
    assert VE.add(caracas(2026, 3, 6, 16), hours(1)) == caracas(2026, 3, 6, 17)
    assert VE.add(caracas(2026, 3, 9, 9), hours(16)) == caracas(2026, 3, 10, 17)


def test_one_minute_past_a_closing_time_carries_to_the_next_opening():
    assert VE.add(caracas(2026, 3, 6, 16), timedelta(minutes=61)) == caracas(2026, 3, 9, 9, 1)


def test_results_are_aware_and_in_utc():
    due = VE.add(caracas(2026, 3, 6, 16), hours(8))
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 9, 20, tzinfo=UTC)


def test_the_instant_not_its_time_zone_decides():
    in_utc = datetime(2026, 3, 6, 20, tzinfo=UTC)          # Friday 16:00 in Caracas
    in_madrid = in_utc.astimezone(ZoneInfo("Europe/Madrid"))
    assert VE.add(in_utc, hours(8)) == VE.add(in_madrid, hours(8)) == caracas(2026, 3, 9, 16)


# -- starts at the edges of the day -------------------------------------------------------


def test_the_desk_opens_at_0900_and_is_closed_at_1700_exactly():
    assert VE.is_open(caracas(2026, 3, 9, 9))
    assert VE.is_open(caracas(2026, 3, 9, 16, 59, 59))
    assert not VE.is_open(caracas(2026, 3, 9, 17))
    assert not VE.is_open(caracas(2026, 3, 9, 8, 59))


def test_a_start_at_1700_exactly_counts_from_the_next_opening():
    monday_1700 = caracas(2026, 3, 9, 17)
    assert VE.next_opening(monday_1700) == caracas(2026, 3, 10, 9)
    assert VE.add(monday_1700, hours(8)) == caracas(2026, 3, 10, 17)
    assert VE.add(monday_1700, timedelta(minutes=1)) == caracas(2026, 3, 10, 9, 1)


def test_a_start_at_0859_counts_from_0900_the_same_day():
    monday_0859 = caracas(2026, 3, 9, 8, 59)
    assert VE.next_opening(monday_0859) == caracas(2026, 3, 9, 9)
    assert VE.add(monday_0859, hours(8)) == caracas(2026, 3, 9, 17)
    assert VE.add(monday_0859, hours(1)) == caracas(2026, 3, 9, 10)


def test_a_zero_duration_starts_the_clock_at_the_next_opening():
    assert VE.add(caracas(2026, 3, 7, 10), timedelta(0)) == caracas(2026, 3, 9, 9)
    assert VE.add(caracas(2026, 3, 6, 17), timedelta(0)) == caracas(2026, 3, 9, 9)
    assert VE.add(caracas(2026, 3, 9, 11, 30), timedelta(0)) == caracas(2026, 3, 9, 11, 30)


def test_next_opening_of_an_open_instant_is_that_instant():
    t = caracas(2026, 3, 9, 9, 0, 0, 1)
    assert VE.next_opening(t) == t


def test_seconds_and_microseconds_are_kept():
    t = caracas(2026, 3, 9, 16, 59, 30, 250)
    assert VE.add(t, timedelta(seconds=45)) == caracas(2026, 3, 10, 9, 0, 15, 250)


# -- Venezuelan holidays, as the `holidays` data has them ----------------------------------


def test_christmas_eve_and_christmas_day_are_closed_in_the_ve_data():
    assert VE.closed_days[date(2026, 12, 24)] == "Nochebuena"
    assert VE.closed_days[date(2026, 12, 25)] == "Día de Navidad"
    assert not VE.is_open(caracas(2026, 12, 24, 10))


def test_wednesday_23_december_1600_plus_8_hours_skips_christmas_to_monday_28():
    # Thu 24 and Fri 25 closed, then the weekend.
    assert VE.add(caracas(2026, 12, 23, 16), hours(8)) == caracas(2026, 12, 28, 16)


def test_new_years_eve_and_new_years_day_are_closed_in_the_ve_data():
    assert VE.closed_days[date(2026, 12, 31)] == "Fiesta de Fin de Año"
    assert VE.closed_days[date(2027, 1, 1)] == "Año Nuevo"


def test_wednesday_30_december_1600_plus_8_hours_is_monday_4_january():
    # Thu 31 Dec and Fri 1 Jan closed, then the weekend.
    assert VE.add(caracas(2026, 12, 30, 16), hours(8)) == caracas(2027, 1, 4, 16)


def test_carnival_monday_and_tuesday_2026_are_skipped():
    assert VE.closed_days[date(2026, 2, 16)] == "Lunes de Carnaval"
    assert VE.closed_days[date(2026, 2, 17)] == "Martes de Carnaval"
    assert VE.add(caracas(2026, 2, 13, 16), hours(8)) == caracas(2026, 2, 18, 16)


def test_holy_thursday_and_good_friday_2026_are_skipped():
    assert VE.closed_days[date(2026, 4, 2)] == "Jueves Santo"
    assert VE.closed_days[date(2026, 4, 3)] == "Viernes Santo"
    assert VE.add(caracas(2026, 4, 1, 16), hours(8)) == caracas(2026, 4, 6, 16)


def test_the_battle_of_carabobo_on_24_june_is_skipped():
    assert VE.closed_days[date(2026, 6, 24)] == "Batalla de Carabobo"
    assert VE.add(caracas(2026, 6, 23, 16), hours(8)) == caracas(2026, 6, 25, 16)


def test_carnival_and_holy_week_2027_are_in_the_data():
    for day in (date(2027, 2, 8), date(2027, 2, 9), date(2027, 3, 25), date(2027, 3, 26)):
        assert day in VE.closed_days


def test_a_holiday_on_a_sunday_changes_no_deadline():
    # 5 July 2026 (Independence Day) is a Sunday.
    assert date(2026, 7, 5) in VE.closed_days
    assert VE.add(caracas(2026, 7, 3, 16), hours(8)) == caracas(2026, 7, 6, 16)
    assert VE.skipped_closed_days(caracas(2026, 7, 3, 16), caracas(2026, 7, 6, 16)) == []


def test_movable_feasts_are_closed_in_every_year_the_holidays_package_knows():
    from dateutil.easter import easter

    calendar = venezuela_default(range(1910, 2101))
    for year in range(1910, 2101):
        for offset in (-48, -47, -3, -2):
            assert easter(year) + timedelta(days=offset) in calendar.closed_days, year


def test_movable_feasts_missing_from_the_package_are_added_from_easter(monkeypatch):
    import holidays

    real = holidays.country_holidays

    def without_easter_feasts(*args, **kwargs):
        data = real(*args, **kwargs)
        for day in (date(2026, 2, 16), date(2026, 2, 17), date(2026, 4, 2), date(2026, 4, 3)):
            data.pop(day)
        return data

    monkeypatch.setattr(holidays, "country_holidays", without_easter_feasts)
    calendar = venezuela_default([2026])
    assert calendar.closed_days[date(2026, 2, 16)] == "Lunes de Carnaval"
    assert calendar.closed_days[date(2026, 4, 3)] == "Viernes Santo"


def test_years_the_holidays_package_does_not_know_are_refused():
    with pytest.raises(CalendarError):
        venezuela_default([1850])


# -- supervisor closures --------------------------------------------------------------------


def test_a_supervisor_closure_is_skipped_and_keeps_its_note():
    calendar = venezuela_default(range(2026, 2027), {date(2026, 3, 9): "Inventario anual"})
    assert calendar.closed_days[date(2026, 3, 9)] == "Inventario anual"
    assert not calendar.is_open(caracas(2026, 3, 9, 10))
    assert calendar.add(caracas(2026, 3, 6, 16), hours(8)) == caracas(2026, 3, 10, 16)
    assert calendar.skipped_closed_days(caracas(2026, 3, 6, 16), caracas(2026, 3, 10, 16)) == [
        (date(2026, 3, 9), "Inventario anual")
    ]


def test_a_closure_on_a_holiday_keeps_both_notes():
    calendar = venezuela_default([2026], {date(2026, 6, 24): "Mudanza de oficina"})
    assert calendar.closed_days[date(2026, 6, 24)] == "Batalla de Carabobo; Mudanza de oficina"


def test_with_closure_makes_a_new_version_and_leaves_the_old_one_alone():
    edited = VE.with_closure(date(2026, 3, 9), "Corte eléctrico", version=2,
                             effective_from=datetime(2026, 3, 5, tzinfo=UTC))
    assert edited.version == 2 and date(2026, 3, 9) in edited.closed_days
    assert date(2026, 3, 9) not in VE.closed_days
    assert VE.add(caracas(2026, 3, 6, 16), hours(8)) == caracas(2026, 3, 9, 16)


# -- several intervals a day ----------------------------------------------------------------

LUNCH = Calendar(weekly=tuple(
    (day, start, end)
    for day in range(5)
    for start, end in ((time(9), time(12)), (time(13), time(17)))
))


def test_a_lunch_break_is_closed_and_reopens_at_1300():
    assert LUNCH.is_open(caracas(2026, 3, 9, 11, 59))
    assert not LUNCH.is_open(caracas(2026, 3, 9, 12, 30))
    assert LUNCH.next_opening(caracas(2026, 3, 9, 12, 30)) == caracas(2026, 3, 9, 13)


def test_a_lunch_break_calendar_skips_the_break_and_stops_at_1200():
    assert LUNCH.add(caracas(2026, 3, 9, 11), hours(2)) == caracas(2026, 3, 9, 14)
    assert LUNCH.add(caracas(2026, 3, 9, 11), hours(1)) == caracas(2026, 3, 9, 12)
    assert LUNCH.add(caracas(2026, 3, 9, 16), hours(7)) == caracas(2026, 3, 10, 16)


def test_a_lunch_break_day_has_7_business_hours():
    assert LUNCH.business_between(caracas(2026, 3, 9, 0), caracas(2026, 3, 10, 0)) == hours(7)


# -- business time between two instants -----------------------------------------------------


def test_business_between_skips_a_weekend_and_a_holiday():
    # Fri 19 Jun 15:00 -> Thu 25 Jun 10:00: Fri 2 h + Mon 8 h + Tue 8 h + Wed 24 Jun
    # (Carabobo) 0 h + Thu 1 h.
    between = VE.business_between(caracas(2026, 6, 19, 15), caracas(2026, 6, 25, 10))
    assert between == hours(19)


def test_business_between_a_saturday_and_a_sunday_is_zero():
    assert VE.business_between(caracas(2026, 3, 7, 10), caracas(2026, 3, 8, 20)) == timedelta(0)


def test_business_between_backwards_is_negative():
    assert VE.business_between(caracas(2026, 3, 9, 12), caracas(2026, 3, 9, 10)) == -hours(2)


# -- the open spans between two instants (what a deadline fact carries) ----------------------


def test_open_intervals_skip_a_weekend_and_the_battle_of_carabobo():
    # The same span as above: Fri 19 Jun 15:00 -> Thu 25 Jun 10:00 in Caracas (UTC-4).
    spans = VE.open_intervals(caracas(2026, 6, 19, 15), caracas(2026, 6, 25, 10))
    assert spans == [
        (datetime(2026, 6, 19, 19, tzinfo=UTC), datetime(2026, 6, 19, 21, tzinfo=UTC)),  # Fri 15:00-17:00
        (datetime(2026, 6, 22, 13, tzinfo=UTC), datetime(2026, 6, 22, 21, tzinfo=UTC)),  # Mon 09:00-17:00
        (datetime(2026, 6, 23, 13, tzinfo=UTC), datetime(2026, 6, 23, 21, tzinfo=UTC)),  # Tue; Wed 24 closed
        (datetime(2026, 6, 25, 13, tzinfo=UTC), datetime(2026, 6, 25, 14, tzinfo=UTC)),  # Thu 09:00-10:00
    ]
    assert sum((hi - lo for lo, hi in spans), timedelta(0)) == hours(19)


def test_open_intervals_of_a_closed_span_are_none_and_backwards_too():
    assert VE.open_intervals(caracas(2026, 3, 7, 10), caracas(2026, 3, 8, 20)) == []  # a weekend
    assert VE.open_intervals(caracas(2026, 3, 9, 12), caracas(2026, 3, 9, 10)) == []


def test_open_intervals_leave_out_the_lunch_break():
    assert LUNCH.open_intervals(caracas(2026, 3, 9, 11), caracas(2026, 3, 9, 14)) == [
        (caracas(2026, 3, 9, 11), caracas(2026, 3, 9, 12)), (caracas(2026, 3, 9, 13), caracas(2026, 3, 9, 14))]


def test_open_intervals_join_an_evening_to_the_next_early_morning():
    evenings = Calendar(weekly=((0, time(18), time(0)), (1, time(0), time(2))))
    assert evenings.open_intervals(caracas(2026, 3, 9, 12), caracas(2026, 3, 10, 12)) == [
        (caracas(2026, 3, 9, 18), caracas(2026, 3, 10, 2))]


def test_open_intervals_stop_past_their_limit_on_a_calendar_open_one_minute_a_week():
    sparse = Calendar(weekly=((0, time(9), time(9, 1)),))
    a = caracas(2026, 3, 9, 0)
    spans = sparse.open_intervals(a, sparse.add(a, hours(1000)), limit=3)  # 60,000 weeks away
    assert spans == [(caracas(2026, 3, 9 + 7 * k, 9), caracas(2026, 3, 9 + 7 * k, 9, 1)) for k in range(4)]


def test_open_intervals_always_sum_to_the_business_time_they_span():
    start = caracas(2026, 12, 23, 16, 30)  # before Christmas Eve, Christmas, the weekend, New Year
    for n in (1, 8, 17, 40, 200):
        due = VE.add(start, hours(n))
        spans = VE.open_intervals(VE.next_opening(start), due)
        assert sum((hi - lo for lo, hi in spans), timedelta(0)) == hours(n)
        assert spans[-1][1] == due


# -- explaining a deadline ------------------------------------------------------------------


def test_skipped_closed_days_lists_holy_thursday_and_good_friday_with_their_notes():
    skipped = VE.skipped_closed_days(caracas(2026, 3, 30, 9), caracas(2026, 4, 7, 17))
    assert skipped == [(date(2026, 4, 2), "Jueves Santo"), (date(2026, 4, 3), "Viernes Santo")]


def test_skipped_closed_days_ignores_a_closed_day_whose_hours_fall_outside_the_span():
    # From Holy Thursday 17:00: Thursday's would-be hours are already over.
    skipped = VE.skipped_closed_days(caracas(2026, 4, 2, 17), caracas(2026, 4, 6, 12))
    assert skipped == [(date(2026, 4, 3), "Viernes Santo")]
    # Up to Good Friday 09:00: Friday's would-be hours had not started.
    skipped = VE.skipped_closed_days(caracas(2026, 4, 1, 12), caracas(2026, 4, 3, 9))
    assert skipped == [(date(2026, 4, 2), "Jueves Santo")]


# -- versions -------------------------------------------------------------------------------

V2_FROM = datetime(2026, 3, 10, 12, tzinfo=UTC)
HISTORY = CalendarHistory((
    VE,
    VE.with_closure(date(2026, 3, 11), "Jornada de formación", version=2,
                    effective_from=V2_FROM),
))


def test_calendar_history_picks_the_version_in_force_when_the_clock_started():
    assert HISTORY.at(caracas(2026, 3, 10, 7, 59)).version == 1
    assert HISTORY.at(caracas(2026, 3, 10, 8)).version == 2     # 12:00 UTC is 08:00 here
    assert HISTORY.at(V2_FROM).version == 2
    assert HISTORY.latest.version == 2


def test_a_calendar_edited_today_does_not_change_yesterdays_deadline():
    opened = caracas(2026, 3, 10, 7)
    due = HISTORY.at(opened).add(opened, hours(16))
    assert due == caracas(2026, 3, 11, 17)              # version 1: the 11th is open
    opened_later = caracas(2026, 3, 10, 9)
    assert HISTORY.at(opened_later).add(opened_later, hours(16)) == caracas(2026, 3, 12, 17)


def test_calendar_history_has_nothing_before_its_first_version():
    with pytest.raises(LookupError):
        HISTORY.at(BEGINNING - timedelta(seconds=1))


def test_a_new_version_cannot_take_effect_before_the_latest():
    stale = VE.with_closure(date(2026, 3, 12), "x", version=3,
                            effective_from=V2_FROM - timedelta(days=1))
    with pytest.raises(CalendarError):
        HISTORY.with_version(stale)


def test_a_new_version_needs_a_higher_number():
    same_number = VE.with_closure(date(2026, 3, 12), "x", version=2,
                                  effective_from=V2_FROM + timedelta(days=1))
    with pytest.raises(CalendarError):
        HISTORY.with_version(same_number)


# -- a history measures each instant on the version in force then (issue 8) ------------------
# HISTORY: version 2 closes Wednesday 11 March 2026 and takes effect Tuesday 10 March 08:00.


def test_a_deadline_across_a_change_counts_the_old_hours_then_skips_the_new_closure():
    # Monday 16:00-17:00 1 h and Tuesday 8 h (version 1, then 2: alike so far), Wednesday closed
    # on version 2, Thursday 09:00-16:00 the other 7 h.
    assert HISTORY.add(caracas(2026, 3, 9, 16), hours(16)) == caracas(2026, 3, 12, 16)
    assert VE.add(caracas(2026, 3, 9, 16), hours(16)) == caracas(2026, 3, 11, 16)  # version 1 alone


def test_a_history_counts_business_time_and_spans_piece_by_piece():
    a, b = caracas(2026, 3, 9, 16), caracas(2026, 3, 12, 16)
    assert HISTORY.business_between(a, b) == hours(16) and HISTORY.business_between(b, a) == -hours(16)
    assert HISTORY.open_intervals(a, b) == [
        (datetime(2026, 3, 9, 20, tzinfo=UTC), datetime(2026, 3, 9, 21, tzinfo=UTC)),
        (datetime(2026, 3, 10, 13, tzinfo=UTC), datetime(2026, 3, 10, 21, tzinfo=UTC)),
        (datetime(2026, 3, 12, 13, tzinfo=UTC), datetime(2026, 3, 12, 20, tzinfo=UTC))]
    assert HISTORY.skipped_closed_days(a, b) == [(date(2026, 3, 11), "Jornada de formación")]
    assert not HISTORY.is_open(caracas(2026, 3, 11, 10)) and HISTORY.is_open(caracas(2026, 3, 10, 10))
    assert (HISTORY.version, HISTORY.weekly, HISTORY.tz) == (2, VE.weekly, "America/Caracas")


def test_a_closure_of_a_day_before_the_change_takes_effect_rewrites_nothing():
    late = CalendarHistory((VE, VE.with_closure(date(2026, 3, 10), "Cierre", version=2,
                                                effective_from=caracas(2026, 3, 11, 12))))
    # Tuesday 10 March still counts on version 1: Monday, Tuesday and Wednesday 8 h each.
    assert late.business_between(caracas(2026, 3, 9, 9), caracas(2026, 3, 11, 17)) == hours(24)
    assert late.add(caracas(2026, 3, 9, 9), hours(16)) == caracas(2026, 3, 10, 17)


def test_saturday_hours_from_saturday_1000_open_the_desk_at_that_instant():
    saturdays = Calendar(weekly=DEFAULT_WEEKLY + ((5, time(9), time(13)),), closed_days=VE.closed_days, version=2,
                         effective_from=caracas(2026, 3, 14, 10))
    history = CalendarHistory((VE, saturdays))
    assert history.next_opening(caracas(2026, 3, 14, 8)) == caracas(2026, 3, 14, 10)
    assert history.next_opening(caracas(2026, 3, 13, 18)) == caracas(2026, 3, 14, 10)
    assert history.add(caracas(2026, 3, 13, 16), hours(2)) == caracas(2026, 3, 14, 11)
    assert history.next_opening(caracas(2026, 3, 14, 13)) == caracas(2026, 3, 16, 9)


def test_a_history_before_its_first_version_measures_on_the_first():
    assert HISTORY.add(BEGINNING - timedelta(days=1), hours(1)) == VE.add(BEGINNING - timedelta(days=1), hours(1))


# -- a zone with daylight saving time -------------------------------------------------------

NY = Calendar(tz="America/New_York")


def test_friday_1600_plus_2_hours_across_spring_forward_is_monday_1000_edt():
    # Clocks go 02:00 EST -> 03:00 EDT on Sunday 8 March 2026, outside opening hours.
    friday = datetime(2026, 3, 6, 16, tzinfo=NEW_YORK)             # 21:00 UTC (EST)
    due = NY.add(friday, hours(2))
    assert due == datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)
    assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)             # EDT, UTC-4
    assert NY.business_between(friday, due) == hours(2)


def test_friday_1600_plus_2_hours_across_fall_back_is_monday_1000_est():
    friday = datetime(2026, 10, 30, 16, tzinfo=NEW_YORK)           # EDT
    due = NY.add(friday, hours(2))
    assert due == datetime(2026, 11, 2, 15, tzinfo=UTC)            # 10:00 EST, UTC-5
    assert NY.next_opening(datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)) == \
        datetime(2026, 11, 2, 9, tzinfo=NEW_YORK)


# -- bad input ------------------------------------------------------------------------------


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        VE.add(datetime(2026, 3, 9, 10), hours(1))
    with pytest.raises(ValueError):
        VE.is_open(datetime(2026, 3, 9, 10))


def test_a_negative_duration_is_refused():
    with pytest.raises(ValueError):
        VE.add(caracas(2026, 3, 9, 10), -hours(1))


@pytest.mark.parametrize("weekly", [
    (),
    ((0, time(9), time(9)),),
    ((0, time(9), time(13)), (0, time(12), time(17))),
    ((7, time(9), time(17)),),
])
def test_a_calendar_without_usable_hours_is_refused(weekly):
    with pytest.raises(CalendarError):
        Calendar(weekly=weekly)


def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day():
    evenings = Calendar(weekly=((0, time(18), time(0)), (1, time(0), time(2))))
    assert evenings.add(caracas(2026, 3, 9, 23), hours(2)) == caracas(2026, 3, 10, 1)
    assert evenings.business_between(caracas(2026, 3, 9), caracas(2026, 3, 11)) == hours(8)


def test_calendars_are_frozen_values():
    assert venezuela_default(range(2025, 2028)) == VE
    assert hash(venezuela_default(range(2025, 2028))) == hash(VE)
    with pytest.raises(TypeError):
        VE.closed_days[date(2026, 3, 9)] = "x"          # type: ignore[index]
