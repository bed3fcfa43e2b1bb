"""The reports' pure parts: statistics, Caracas days and months, parameters, the daily walk, the CSV."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest

from helpdesk_shared.errors import RuleViolation
from query import reports, work_time

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------------ statistics

def test_the_median_of_an_odd_count_is_the_middle_value_whatever_the_order():
    assert reports.median([5, 1, 3]) == 3


def test_the_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    assert reports.median([1, 2, 3, 10]) == 2.5


def test_p90_interpolates_between_the_closest_ranks_like_percentile_cont():
    # ranks 0..9 of 10, 11, ..., 19: position (10 - 1) * 0.9 = 8.1 -> 18 + 0.1 * (19 - 18)
    assert reports.p90(list(range(10, 20))) == pytest.approx(18.1)
    assert reports.p90([7200]) == 7200


def test_no_answered_responses_have_no_median_nor_p90():
    assert reports.median([]) is None and reports.p90([]) is None


def test_seconds_read_as_hours_with_two_decimals_rounded_half_up():
    assert reports.hours(5400) == 1.5
    assert reports.hours(18) == 0.01      # 0.005 h rounds up
    assert reports.hours(17) == 0.0
    assert reports.hours(None) is None


# ------------------------------------------------------------------ Caracas days and months

def test_an_instant_after_8pm_in_caracas_on_the_last_day_belongs_to_that_month_not_the_next_utc_one():
    # 2026-11-30 21:30 in Caracas (UTC-4) is 2026-12-01 01:30 UTC.
    late = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
    assert reports.month_of(late) == "2026-11"
    assert reports.local_day(late) == date(2026, 11, 30)


def test_the_first_hours_of_a_caracas_month_are_in_that_month():
    assert reports.month_of(datetime(2027, 1, 1, 4, 0, tzinfo=timezone.utc)) == "2027-01"   # 00:00 local
    assert reports.month_of(datetime(2027, 1, 1, 3, 59, tzinfo=timezone.utc)) == "2026-12"  # 23:59 local


def test_months_shift_and_count_across_a_year_end():
    assert reports.month_shift("2026-11", 2) == "2027-01"
    assert reports.month_shift("2026-01", -1) == "2025-12"
    assert reports.months_between("2026-11", "2027-02") == 4


# ------------------------------------------------------------------ parameters

def parse(report, **args):
    return reports.parse_report_query(report, {k: [v] for k, v in args.items()}, "u-carlos", NOW)


def test_the_backlog_defaults_to_the_last_30_caracas_days_ending_today():
    q = parse("backlog")
    assert (q.first, q.last) == (date(2026, 10, 27), date(2026, 11, 25))


def test_the_monthly_reports_default_to_the_last_12_months_ending_this_one():
    q = parse("compliance")
    assert (q.first, q.last, q.group_by) == ("2025-12", "2026-11", ("month", "desk"))


@pytest.mark.parametrize("report, args, field", [
    ("backlog", {"from": "2025-01-01", "to": "2026-01-02"}, "from"),         # 367 days
    ("backlog", {"from": "2026-02-01", "to": "2026-01-01"}, "from"),         # backwards
    ("backlog", {"from": "2026-02-30"}, "from"),
    ("compliance", {"from": "2026-13"}, "from"),
    ("compliance", {"group_by": "month,colour"}, "group_by"),
    ("compliance", {"group_by": "desk,desk"}, "group_by"),
    ("compliance", {"desk": "soporte"}, "desk"),
    ("compliance", {"estado": "x"}, "estado"),
    ("auto_closed", {"agent": "u-1"}, "agent"),                              # not a parameter of that report
    ("breaches", {"cursor": "not-a-cursor"}, "cursor"),
    ("breaches", {"limit": "0"}, "limit"),
])
def test_a_wrong_report_parameter_is_a_422_naming_it(report, args, field):
    with pytest.raises(RuleViolation) as refused:
        parse(report, **args)
    assert refused.value.status == 422 and refused.value.field == field
    assert refused.value.message.es and refused.value.message.en


def test_a_period_of_exactly_366_days_is_accepted():
    q = parse("backlog", **{"from": "2025-01-01", "to": "2026-01-01"})
    assert (q.last - q.first).days == 365


def test_an_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(RuleViolation) as refused:
        parse("out_of_hours", agent="me")
    assert refused.value.code == "UNKNOWN_FILTER"
    assert refused.value.extra["valid"] == ["from", "to", "desk", "organisation_id"]


def test_a_cursor_names_the_row_after_which_the_next_page_starts():
    cursor = reports.encode_cursor(("2026-11-25T14:00:00+00:00", "t-1", "first_response"))
    assert parse("breaches", cursor=cursor).cursor == (
        datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc), "t-1", "first_response")


# ------------------------------------------------------------------ backlog and compliance shapes

def test_each_day_carries_the_open_count_forward_from_the_tickets_open_before_the_period():
    rows = [{"day": date(2026, 11, 2), "movement": "opened", "n": 3},
            {"day": date(2026, 11, 3), "movement": "auto_closed", "n": 1},
            {"day": date(2026, 11, 3), "movement": "closed_by_agent", "n": 2}]
    days = reports.daily_movement(rows, 4, date(2026, 11, 1), date(2026, 11, 3))
    assert [(d["day"], d["opened"], d["closed"], d["open_at_end"]) for d in days] == [
        ("2026-11-01", 0, 0, 4), ("2026-11-02", 3, 0, 7), ("2026-11-03", 0, 3, 4)]
    assert days[2]["closed_by_reason"] == {"solved_by_customer": 0, "auto_closed": 1, "closed_by_agent": 2,
                                           "needs_training": 0, "merged": 0}


def test_a_duplicate_merged_away_leaves_the_backlog_like_any_close():
    rows = [{"day": date(2026, 11, 2), "movement": "opened", "n": 2},
            {"day": date(2026, 11, 3), "movement": "merged", "n": 1}]
    days = reports.daily_movement(rows, 0, date(2026, 11, 2), date(2026, 11, 3))
    assert [(d["closed"], d["open_at_end"]) for d in days] == [(0, 2), (1, 1)]
    assert days[1]["closed_by_reason"]["merged"] == 1


def group(clock="first_response", agent="u-carlos", count=1, met=1, seconds=(3600,)):
    return {"clock": clock, "month": "2026-11", "desk": "SOPORTE", "module": "BANCOS", "agent": agent,
            "agent_name": "Carlos" if agent else None, "organisation_id": "club-caracas",
            "organisation_name": "Club", "count": count, "met": met, "seconds": list(seconds) if seconds else None}


def test_compliance_counts_breaches_never_answered_but_times_only_the_answered_ones():
    # three due: one in time (1 h), one late (10 h), one never answered
    items = reports.compliance([group(count=3, met=1, seconds=(3600, 36000))], ("month",))
    assert items == [{"month": "2026-11", "clock": "first_response", "count": 3, "met": 1, "missed": 2,
                      "share": 0.3333, "answered": 2, "median_business_hours": 5.5, "p90_business_hours": 9.1}]


def test_a_group_with_no_answered_response_has_no_times():
    items = reports.compliance([group(agent=None, met=0, seconds=None)], ("agent",))
    assert items[0]["share"] == 0.0 and items[0]["median_business_hours"] is None and items[0]["answered"] == 0


def test_compliance_orders_groups_by_the_chosen_dimensions_then_clock_unknown_agents_last():
    items = reports.compliance([group(agent=None, seconds=None, met=0), group(clock="next_response"),
                                group(agent="u-elena"), group()], ("agent",))
    assert [(i["agent"], i["clock"]) for i in items] == [
        ("u-carlos", "first_response"), ("u-carlos", "next_response"), ("u-elena", "first_response"),
        (None, "first_response")]
    assert items[0]["agent_name"] == "Carlos" and "desk" not in items[0]


# ------------------------------------------------------------------ the CSV

BILL = [{"organisation_id": "club-caracas", "organisation_name": 'Club "Social"; Caracas', "tax_id": "J-1",
         "month": "2026-11", "requests": 2, "answers_outside_hours": 3, "outside_hours_seconds": 5400,
         "billable_tickets": 2, "billable_work_seconds": 2700},
        {"organisation_id": "x", "organisation_name": "=HYPERLINK(1)", "tax_id": None,
         "month": "2026-12", "requests": 0, "answers_outside_hours": 1, "outside_hours_seconds": 45}]


def test_the_csv_starts_with_a_bom_and_spanish_headers_separated_by_semicolons_and_crlf():
    data = reports.out_of_hours_csv(BILL)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n")[0] == (
        "Organización;RIF;Mes;Solicitudes fuera de horario;Respuestas fuera de horario;Horas fuera de horario;"
        "Tickets marcados facturables;Horas registradas fuera de horario (facturables)")
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")


def test_the_csv_writes_hours_with_a_decimal_comma_and_quotes_names_with_semicolons_or_quotes():
    text = reports.out_of_hours_csv(BILL).decode("utf-8-sig")
    assert '"Club ""Social""; Caracas";J-1;2026-11;2;3;1,50;2;0,75\r\n' in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[1] == ['Club "Social"; Caracas', "J-1", "2026-11", "2", "3", "1,50", "2", "0,75"]
    assert rows[2][7] == "0,00"      # no time recorded
    assert rows[2][5] == "0,01"      # 45 s = 0.0125 h


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text():
    rows = list(csv.reader(io.StringIO(reports.out_of_hours_csv(BILL).decode("utf-8-sig"), newline=""),
                           delimiter=";"))
    assert rows[2][0] == "'=HYPERLINK(1)"


def test_an_empty_bill_is_the_header_line_alone():
    assert reports.out_of_hours_csv([]).decode("utf-8-sig").count("\r\n") == 1


@pytest.mark.parametrize("report, args", [("backlog", {"to": "0001-01-05"}), ("compliance", {"to": "0001-03"}),
                                          ("backlog", {"from": "9999-12-31", "to": "9999-12-31"})])
def test_a_period_at_the_edge_of_the_calendar_is_a_422_not_an_overflow(report, args):
    with pytest.raises(RuleViolation) as refused:
        parse(report, **args)
    assert refused.value.status == 422


# ------------------------------------------------------------------ median and p90 from hour and minute counts

def test_median_and_p90_from_hour_and_minute_counts_equal_those_of_every_value_in_whole_minutes():
    import random
    from collections import Counter

    from query.reports import hour_groups, hours_to_read, minute_quantiles, percentile
    rng = random.Random(8)
    for size in (1, 2, 3, 10, 11, 97, 1000):
        minutes = [int(rng.expovariate(1 / 150)) for _ in range(size)]
        per_hour = Counter(m // 60 for m in minutes)
        hours = sorted(per_hour)
        group = hour_groups([{"clock": "first_response", "count": size + 3, "met": 1, "hours": hours,
                              "ns": [per_hour[h] for h in hours]}], ["clock"])[("first_response",)]
        wanted = hours_to_read(group)
        assert len(wanted) <= 4 and group["answered"] == size
        read = {h: dict(Counter(m for m in minutes if m // 60 == h)) for h in wanted}
        got = minute_quantiles(group, read)
        seconds = [m * 60 for m in minutes]
        assert got["median_seconds"] == pytest.approx(percentile(seconds, 0.5))
        assert got["p90_seconds"] == pytest.approx(percentile(seconds, 0.9))


def test_a_group_with_nothing_answered_has_no_median_or_p90():
    from query.reports import hour_groups, hours_to_read, minute_quantiles
    group = hour_groups([{"clock": "first_response", "count": 2, "met": 0, "hours": None, "ns": None}],
                        ["clock"])[("first_response",)]
    assert hours_to_read(group) == set()
    assert minute_quantiles(group, {}) == {"median_seconds": None, "p90_seconds": None}


def test_seconds_read_as_hours_exactly_as_the_decimal_rounding_does_at_and_around_every_half():
    # hours() rounds without Decimal (fast for big reports): the same floats as Decimal's half-up
    # quantize, for whole and fractional seconds, at every half hundredth and one ulp either side.
    from decimal import ROUND_HALF_UP, Decimal
    for seconds in [*range(0, 100_000, 7), *range(17, 400_000, 36), *range(18, 400_000, 36), 10**9 + 18]:
        expected = float((Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        assert reports.hours(seconds) == expected, seconds
    import math
    import random
    rng = random.Random(8)
    floats = [rng.uniform(0, 200_000) for _ in range(20_000)] + [k * 36 + 18.0 for k in range(5_000)]
    floats += [math.nextafter(x, d) for x in floats[-5_000:] for d in (0, math.inf)]   # one ulp each side of a half
    floats += [9000 + 0.8 * (43200 - 9000), 5400 + 0.9 * 12600, 0.0, 17.999999999999996]
    for seconds in floats:
        expected = float((Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        assert reports.hours(seconds) == expected, seconds
    assert reports.hours(17.9999) == 0.0 and reports.hours(18.0) == 0.01 and reports.hours(36360.0) == 10.1


def test_the_percentile_of_values_already_sorted_is_that_of_the_values():
    values = [43200, 3600, 9000, 5400, 18000, 4500]
    for q in (0.0, 0.5, 0.9, 1.0):
        assert reports.percentile_of_sorted(sorted(values), q) == reports.percentile(values, q)
    assert reports.percentile_of_sorted([], 0.5) is None


@pytest.mark.parametrize("group_by, filters, expected", [
    (("month", "desk"), {}, ""), (("desk",), {"desk": "SOPORTE"}, ""), ((), {}, ""),
    (("agent",), {"desk": "SOPORTE"}, "agent"), (("month",), {"module": "NOMINA"}, "module"),
    (("module",), {"module": "NOMINA"}, "module"),
    (("organisation",), {}, None), (("month",), {"organisation_id": "club-caracas"}, None),
    (("module", "agent"), {}, None), (("agent",), {"module": "NOMINA"}, None),
])
def test_a_compliance_report_is_read_from_the_counts_that_keep_every_dimension_it_names(group_by, filters, expected):
    assert reports.counted_dimension(group_by, filters) == expected


def test_a_compliance_page_follows_on_after_its_cursor_with_no_value_sorting_last():
    from query.reports import compliance_page, group_cursor
    items = [{"agent": a, "clock": c} for a, c in (("u-a", "first_response"), ("u-a", "next_response"),
                                                      ("u-b", "first_response"), (None, "first_response"))]
    first, cursor = compliance_page(items, ("agent",), None, 2)
    assert first == items[:2] and cursor
    second, cursor = compliance_page(items, ("agent",), group_cursor(cursor, ("agent",)), 1)
    assert second == [items[2]]
    last, cursor = compliance_page(items, ("agent",), group_cursor(cursor, ("agent",)), 1)
    assert last == [items[3]] and cursor is None


def test_recorded_time_is_shaped_per_agent_organisation_and_month_in_minutes_and_hours():
    groups = [{"agent_id": "u-rosa", "organisation_id": "club-caracas", "month": "2026-12", "entries": 1,
               "minutes": 20, "outside_seconds": 50, "billable_seconds": 0},
              {"agent_id": "u-carlos", "organisation_id": "club-caracas", "month": "2026-12", "entries": 3,
               "minutes": 135, "outside_seconds": 8100, "billable_seconds": 2700}]
    items = work_time.time_rows(groups, {"u-carlos": "Carlos", "u-rosa": None}, {"club-caracas": {"name": "Club"}})
    assert [(i["agent_name"], i["minutes"], i["outside_hours_minutes"], i["billable_minutes"], i["hours"],
             i["billable_hours"]) for i in items] == [("Carlos", 135, 135.0, 45.0, 2.25, 0.75),
                                                      (None, 20, 0.83, 0.0, 0.33, 0.0)]   # by name, the unnamed by id
