"""The supervisor's reports, the pure parts: report parameters checked name by name, days and
months in Caracas time, response-time statistics, the daily backlog walk and the out-of-hours CSV.

Business time is never computed here: a response's `business_seconds` and `outside_hours_seconds`
are the SLA service's own figures (DeadlineMet), so a report and the SLA never disagree.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from helpdesk_shared.errors import Message, RuleViolation

from .filters import FILTERS, _invalid, single_values

# Every desk's calendar is in Caracas (SPEC §3): a report's days and months are Caracas ones,
# so a ticket closed on the 31st at 21:00 local (01:00 UTC the 1st) counts in the month it was closed.
CARACAS = ZoneInfo("America/Caracas")
# "merged" (issue 12): a duplicate merged into the open ticket of its case leaves the backlog too.
CLOSE_REASONS = ("solved_by_customer", "auto_closed", "closed_by_agent", "needs_training", "merged")
DIMENSIONS = ("month", "desk", "module", "agent", "organisation")
MAX_DAYS = 366
MAX_MONTHS = 36
DEFAULT_DAYS = 30
DEFAULT_MONTHS = 12
MAX_LIMIT = 200
# Years a report may name: wide enough for any ticket, narrow enough that a default period or the
# day walk never runs off the calendar (date(1, 1, 1) - 29 days is an OverflowError, a 500).
YEARS = (1900, 2999)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


# ------------------------------------------------------------------ time buckets

def local_day(t: datetime) -> date:
    """The Caracas calendar day of an instant."""
    return t.astimezone(CARACAS).date()


def month_of(t: datetime) -> str:
    """The Caracas month of an instant, as YYYY-MM."""
    return t.astimezone(CARACAS).strftime("%Y-%m")


def months_between(first: str, last: str) -> int:
    """How many months `first`..`last` (YYYY-MM, inclusive) spans."""
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    return (y2 - y1) * 12 + (m2 - m1) + 1


def month_shift(month: str, delta: int) -> str:
    """The month `delta` months after `month` (YYYY-MM)."""
    year, mon = map(int, month.split("-"))
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# ------------------------------------------------------------------ statistics

def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between closest ranks (PostgreSQL's
    percentile_cont, numpy's default), None for no values."""
    return percentile_of_sorted(sorted(values), q)


def percentile_of_sorted(ordered: Sequence[float], q: float) -> float | None:
    """percentile() of values already in ascending order (one sort serves the median and the p90)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count)."""
    return percentile(values, 0.5)


def p90(values: Sequence[float]) -> float | None:
    """The value 90 % of the responses took at most (interpolated)."""
    return percentile(values, 0.9)


def hours(seconds: float | None) -> float | None:
    """Seconds as hours rounded half-up to two decimals (5400 -> 1.5)."""
    if seconds is None:
        return None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < 2 ** 53:
        # The same figure without Decimal (a report rounds thousands of these): an hour's hundredth is
        # 36 s, half of one 18 s. Python compares an int with a float exactly, so k is the exact floor of
        # seconds / 36 and the half-up test exact too; k / 100 is the float nearest k hundredths, as
        # float(Decimal) is. (Decimal's 28-digit division cannot cross a half: a double that is not on
        # one lies at least one part in 2**53 from it.)
        k = int(seconds // 36)
        k += (seconds >= 36 * (k + 1)) - (seconds < 36 * k)
        return (k + (seconds >= 36 * k + 18)) / 100
    return float((Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def hours_text(seconds: float) -> str:
    """Hours with two decimals and a decimal comma, as a Venezuelan spreadsheet reads them (5400 -> '1,50')."""
    value = (Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:.2f}".replace(".", ",")


# ------------------------------------------------------------------ parameters

@dataclass(frozen=True)
class ReportQuery:
    """What a report asks for: a period, equality filters, dimensions and a page."""

    first: object                       # a date (backlog) or a YYYY-MM month
    last: object
    filters: dict = field(default_factory=dict)  # desk, module, organisation_id, agent
    group_by: tuple[str, ...] = ()
    cursor: tuple | None = None
    limit: int = 50


def _group_by(value: str, caller: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in value.split(","))
    listed = ", ".join(DIMENSIONS)
    for part in chosen:
        if part not in DIMENSIONS:
            raise _invalid("group_by", part, DIMENSIONS, f"use una lista separada por comas de: {listed}",
                           f"use a comma-separated list of: {listed}")
    if len(set(chosen)) != len(chosen):
        raise _invalid("group_by", value, DIMENSIONS, "nombre cada dimensión una sola vez",
                       "name each dimension once")
    return chosen


def _checked_id(name: str, value: str) -> str:
    if len(value) > 100 or re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", value):
        raise _invalid(name, value, None, "use un identificador de hasta 100 caracteres",
                       "use an identifier of up to 100 characters")
    return value


def _day(name: str) -> Callable[[str, str], date]:
    def check(value: str, caller: str) -> date:
        try:
            if not _DAY.match(value) or not YEARS[0] <= int(value[:4]) <= YEARS[1]:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise _invalid(name, value, None, f"use una fecha AAAA-MM-DD entre {YEARS[0]} y {YEARS[1]}",
                           f"use a date YYYY-MM-DD between {YEARS[0]} and {YEARS[1]}") from None
    return check


def _month(name: str) -> Callable[[str, str], str]:
    def check(value: str, caller: str) -> str:
        if not _MONTH.match(value) or not 1 <= int(value[5:]) <= 12 or not YEARS[0] <= int(value[:4]) <= YEARS[1]:
            raise _invalid(name, value, None, f"use un mes AAAA-MM entre {YEARS[0]} y {YEARS[1]}",
                           f"use a month YYYY-MM between {YEARS[0]} and {YEARS[1]}")
        return value
    return check


def _limit(value: str, caller: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise _invalid("limit", value, None, f"use un entero entre 1 y {MAX_LIMIT}",
                       f"use an integer between 1 and {MAX_LIMIT}")
    return int(value)


def encode_cursor(key: Sequence) -> str:
    """An opaque, URL-safe cursor for the row after which the next page starts."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _cursor(value: str, caller: str) -> tuple:
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
            raise ValueError(value)
        return (datetime.fromisoformat(key[0]), key[1], key[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("cursor", value, None, "use el next_cursor de la página anterior",
                       "use the previous page's next_cursor") from None


_CHECKS: dict[str, Callable[[str, str], object]] = {
    "desk": FILTERS["desk"], "module": FILTERS["module"], "organisation_id": FILTERS["organisation_id"],
    "agent": lambda value, caller: caller if value == "me" else _checked_id("agent", value),
    "group_by": _group_by, "cursor": _cursor, "limit": _limit,
}

# The parameters of each report: anything else is a 422 listing these.
PARAMETERS = {
    "backlog": ("from", "to", "desk", "module", "organisation_id"),
    "compliance": ("from", "to", "desk", "module", "organisation_id", "agent", "group_by", "cursor", "limit"),
    "breaches": ("from", "to", "desk", "module", "organisation_id", "agent", "cursor", "limit"),
    "auto_closed": ("from", "to", "desk", "module"),
    "out_of_hours": ("from", "to", "desk", "organisation_id"),
    "time": ("from", "to", "desk", "organisation_id", "agent"),
    # The customer's verdict (issue 12): staff only, like compliance.
    "satisfaction": ("from", "to", "desk", "module", "organisation_id", "agent", "group_by", "cursor", "limit"),
    "satisfaction_comments": ("from", "to", "desk", "module", "organisation_id", "agent", "cursor", "limit"),
}
# The reports grouped by group_by and paged by reports.group_cursor.
GROUPED_REPORTS = ("compliance", "satisfaction")
DEFAULT_GROUP_BY = ("month", "desk")


def _single(args: Mapping[str, Sequence[str]], valid: Sequence[str]) -> dict[str, str]:
    return single_values(args, valid, Message(es="Este informe", en="This report"),
                         aliases={"organisation": "organisation_id"})


def _bad_period(maximum: int, unit_es: str, unit_en: str) -> RuleViolation:
    return RuleViolation("INVALID_PERIOD", "from", Message(
        es=f"El período debe ir de «from» a «to» (inclusive) y abarcar de 1 a {maximum} {unit_es}.",
        en=f"The period must run from 'from' to 'to' (inclusive) and span 1 to {maximum} {unit_en}."))


def parse_report_query(report: str, args: Mapping[str, Sequence[str]], caller_id: str, now: datetime) -> ReportQuery:
    """The parameters of `report` (a key of PARAMETERS) in `args`, or a 422 naming the wrong one.
    The backlog's period is in days (YYYY-MM-DD, default the last 30 ending today), the others'
    in months (YYYY-MM, default the last 12 ending this month), both inclusive and in Caracas time."""
    valid = PARAMETERS[report]
    single = _single(args, valid)
    # A compliance cursor names a group of the report's own group_by: checked once that is known.
    checks = {**_CHECKS, "cursor": lambda value, caller: value} if report in GROUPED_REPORTS else _CHECKS
    values = {name: checks[name](single[name], caller_id) for name in checks if single.get(name)}
    if report == "backlog":
        last = _day("to")(single["to"], caller_id) if single.get("to") else local_day(now)
        first = (_day("from")(single["from"], caller_id) if single.get("from")
                 else last - timedelta(days=DEFAULT_DAYS - 1))
        span = (last - first).days + 1
        if span < 1 or span > MAX_DAYS:
            raise _bad_period(MAX_DAYS, "días", "days")
    else:
        last = _month("to")(single["to"], caller_id) if single.get("to") else month_of(now)
        first = (_month("from")(single["from"], caller_id) if single.get("from")
                 else month_shift(last, -(DEFAULT_MONTHS - 1)))
        span = months_between(first, last)
        if span < 1 or span > MAX_MONTHS:
            raise _bad_period(MAX_MONTHS, "meses", "months")
    filters = {k: values[k] for k in ("desk", "module", "organisation_id", "agent") if k in values}
    group_by = values.get("group_by", DEFAULT_GROUP_BY) if report in GROUPED_REPORTS else ()
    cursor = values.get("cursor")
    if report in GROUPED_REPORTS and cursor is not None:
        cursor = group_cursor(cursor, group_by)
    return ReportQuery(first, last, filters, group_by, cursor, values.get("limit", 50))


# ------------------------------------------------------------------ backlog

def current_counts(rows: Iterable[Mapping]) -> dict:
    """Tickets not closed, counted by status, desk, module, organisation and agent, from rows
    grouped finest (status, desk, module, organisation_id, organisation_name, agent, agent_name, n)."""
    by: dict[str, dict] = {"status": {}, "desk": {}, "module": {}, "organisation": {}, "agent": {}}
    for r in rows:
        for dimension, key, extra in (("status", r["status"], {}), ("desk", r["desk"], {}),
                                      ("module", r["module"], {}),
                                      ("organisation", r["organisation_id"], {"name": r["organisation_name"]}),
                                      ("agent", r["agent"], {"name": r["agent_name"]})):
            entry = by[dimension].setdefault(key, {"id": key, **extra, "count": 0})
            entry["count"] += r["n"]
    ordered = lambda d: sorted(d.values(), key=lambda e: (-e["count"], e["id"] is None, e["id"] or ""))
    return {"open": sum(e["count"] for e in by["status"].values()),
            **{f"by_{name}": ordered(entries) for name, entries in by.items()}}


def daily_movement(rows: Iterable[Mapping], open_before: int, first: date, last: date) -> list[dict]:
    """Each day of `first`..`last`: tickets opened, closed (by reason) and open at the day's end,
    from the daily table's (day, movement, n) rows and the tickets open before `first`."""
    moves: dict[date, dict[str, int]] = defaultdict(dict)
    for r in rows:
        moves[r["day"]][r["movement"]] = moves[r["day"]].get(r["movement"], 0) + r["n"]
    days, still_open, day = [], open_before, first
    while day <= last:
        opened = moves[day].get("opened", 0)
        closed = {reason: moves[day].get(reason, 0) for reason in CLOSE_REASONS}
        still_open += opened - sum(closed.values())
        days.append({"day": day.isoformat(), "opened": opened, "closed": sum(closed.values()),
                     "closed_by_reason": closed, "open_at_end": still_open})
        day += timedelta(days=1)
    return days


# ------------------------------------------------------------------ compliance

_NAMES = {"agent": "agent_name", "organisation": "organisation_name"}
GROUP_KEYS = {"month": "month", "desk": "desk", "module": "module", "agent": "agent",
              "organisation": "organisation_id"}


# How each dimension is read from report_responses r (reports_store).
DIMENSION_COLUMNS = {"month": "r.month", "desk": "r.desk", "module": "r.module", "agent": "r.answered_by",
                     "organisation": "r.organisation_id"}


# The dimensions report_compliance_hours and _minutes keep (reports_store reads them when a report needs
# no other), and the statistics of the answered times.
MINUTE_DIMENSIONS = ("month", "desk")
QUANTILES = (("median", 0.5), ("p90", 0.9))
# The dimensions report_compliance_dimension_hours and _minutes keep besides month and desk (each is
# also the name of the report's filter on it).
COUNTED_DIMENSIONS = ("module", "agent")


def counted_dimension(group_by: Sequence[str], filters: Mapping[str, object]) -> str | None:
    """Which kept counts answer a compliance report: "" those per month and desk, "module" or "agent"
    those per one dimension more; None when only the responses themselves can (the organisation, or
    two dimensions besides month and desk, grouped or filtered)."""
    extra = (set(group_by) - set(MINUTE_DIMENSIONS)) | (set(filters) - {"desk"})
    if not extra:
        return ""
    if len(extra) == 1 and (only := next(iter(extra))) in COUNTED_DIMENSIONS:
        return only
    return None


def interpolated(low: float | None, high: float | None, count: int, q: float) -> float | None:
    """The q-quantile of `count` ordered values, given the values at ranks floor and ceil of
    (count - 1) * q (0-based): percentile() without holding every value."""
    if not count or low is None or high is None:
        return None
    position = (count - 1) * q
    return low + (high - low) * (position - math.floor(position))


def quantile_ranks(count: int) -> set[int]:
    """The 0-based ranks of `count` ordered values that the median and p90 interpolate between."""
    if not count:
        return set()
    return {f(((count - 1) * q)) for _, q in QUANTILES for f in (math.floor, math.ceil)}


def hour_groups(rows: Iterable[Mapping], keys: Sequence[str]) -> dict[tuple, dict]:
    """Per group (the values of `keys`): responses due, met in time, answered, and answered per
    business hour, from rows (keys..., count, met, hours, ns): the answered hours and their counts."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        hours = dict(zip(r["hours"] or (), r["ns"] or ()))
        groups[tuple(r[k] for k in keys)] = {"count": r["count"], "met": r["met"], "answered": sum(hours.values()),
                                             "hours": hours}
    return groups


def place(counts: Mapping[int, int], rank: int) -> tuple[int, int]:
    """The bucket (of bucket -> count) holding the 0-based `rank` in bucket order, and the rank within it."""
    seen = 0
    for bucket in sorted(counts):
        if rank < seen + counts[bucket]:
            return bucket, rank - seen
        seen += counts[bucket]
    raise ValueError(f"rank {rank} beyond {seen} values")


def hours_to_read(group: Mapping) -> set[int]:
    """The business hours whose minutes a group's median and p90 need."""
    return {place(group["hours"], rank)[0] for rank in quantile_ranks(group["answered"])}


def minute_quantiles(group: Mapping, minutes: Mapping[int, Mapping[int, int]]) -> dict:
    """A group's median and p90 in seconds (of whole minutes), from its hours and the minutes
    (hour -> minute -> count) of the hours hours_to_read named."""
    at = {}
    for rank in quantile_ranks(group["answered"]):
        hour, within = place(group["hours"], rank)
        at[rank] = place(minutes[hour], within)[0] * 60
    n = group["answered"]
    return {f"{name}_seconds": interpolated(at.get(math.floor((n - 1) * q)), at.get(math.ceil((n - 1) * q)), n, q)
            for name, q in QUANTILES}


def group_order(values: Sequence[str | None], clock: str) -> tuple:
    """Where a compliance item (its group_by values, in order, and clock) sorts: each value in code
    point order with no value (None) last, then the clock. reports_store's SQL orders and pages by the
    same key (`is null`, `coalesce(…, '') collate "C"`), so a page read there continues one cut here."""
    return (*[(v is None, v or "") for v in values], clock)


def group_cursor(value: str, group_by: Sequence[str]) -> tuple:
    """A compliance page's cursor: the group_by values and clock of the last item of the page before,
    as compliance_page encoded them; anything else (another group_by's, a breaches cursor) is a 422."""
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not (isinstance(key, list) and len(key) == len(group_by) + 1 and isinstance(key[-1], str)
                and all(k is None or isinstance(k, str) for k in key)
                and all(k is None or (len(k) <= 100 and not re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", k))
                        for k in key)):
            raise ValueError(value)
        return tuple(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("cursor", value, None, "use el next_cursor de la página anterior con el mismo group_by",
                       "use the previous page's next_cursor with the same group_by") from None


def compliance_page(items: list[dict], group_by: Sequence[str], cursor: tuple | None, limit: int
                    ) -> tuple[list[dict], str | None]:
    """The items (in compliance()'s order) after `cursor`, at most `limit`, and the cursor of the page
    after them (None on the last page)."""
    keys = [GROUP_KEYS[d] for d in group_by]
    if cursor is not None:
        after = group_order(cursor[:-1], cursor[-1])
        items = [i for i in items if group_order([i[k] for k in keys], i["clock"]) > after]
    page = items[:limit]
    if len(items) <= limit:
        return page, None
    return page, encode_cursor([*(page[-1][k] for k in keys), page[-1]["clock"]])


def compliance(groups: Iterable[Mapping], group_by: Sequence[str]) -> list[dict]:
    """Per the chosen dimensions and response clock: responses due, met in time, their share, and
    the median and p90 of the answered ones' business time in hours.

    Each group (counted by the database): the dimensions' values (agent and organisation with their
    names), clock, count (answered or not: a response never answered is a breach), met (in time),
    and either seconds, the answered ones' business_seconds (None or empty when none was answered),
    or answered, median_seconds and p90_seconds already worked out (quantiles_from_ranks)."""
    items = []
    keys = [GROUP_KEYS[d] for d in group_by]
    for g in sorted(groups, key=lambda g: group_order([g[k] for k in keys], g["clock"])):
        if "seconds" in g:
            seconds = sorted(g["seconds"] or ())   # in no order from the database (no sort per group there)
            answered = len(seconds)
            middle, ninetieth = percentile_of_sorted(seconds, 0.5), percentile_of_sorted(seconds, 0.9)
        else:
            answered, middle, ninetieth = g["answered"], g["median_seconds"], g["p90_seconds"]
        items.append({**{GROUP_KEYS[d]: g[GROUP_KEYS[d]] for d in group_by},
                      **{_NAMES[d]: g.get(_NAMES[d]) for d in group_by if d in _NAMES},
                      "clock": g["clock"], "count": g["count"], "met": g["met"], "missed": g["count"] - g["met"],
                      "share": round(g["met"] / g["count"], 4), "answered": answered,
                      "median_business_hours": hours(middle), "p90_business_hours": hours(ninetieth)})
    return items


def breach_kind(met_at, cleared_at) -> str:
    """Why a response is a breach: answered late, the ticket closed unanswered, or still unanswered."""
    if met_at is not None:
        return "met_late"
    return "closed_unanswered" if cleared_at is not None else "unanswered"


# ------------------------------------------------------------------ out-of-hours billing

def billing_rows(requests: Iterable[Mapping], answers: Iterable[Mapping], organisations: Mapping[str, Mapping],
                 billable: Iterable[Mapping] = (), work: Iterable[Mapping] = ()) -> list[dict]:
    """Per organisation and month: out-of-hours requests, staff answers outside hours and their time,
    and the time staff recorded outside hours on tickets billed for it (issue 12).
    `requests`: (organisation_id, month, n); `answers`: (organisation_id, month, n, seconds);
    `work`: (organisation_id, month, seconds); `organisations`: id -> {name, tax_id}."""
    rows: dict[tuple[str, str], dict] = {}

    def row(org: str, month: str) -> dict:
        known = organisations.get(org, {})
        return rows.setdefault((org, month), {
            "organisation_id": org, "organisation_name": known.get("name"), "tax_id": known.get("tax_id"),
            "month": month, "requests": 0, "answers_outside_hours": 0, "outside_hours_seconds": 0,
            "billable_tickets": 0, "billable_work_seconds": 0})

    for r in requests:
        row(r["organisation_id"], r["month"])["requests"] += r["n"]
    for a in answers:
        entry = row(a["organisation_id"], a["month"])
        entry["answers_outside_hours"] += a["n"]
        entry["outside_hours_seconds"] += a["seconds"]
    for b in billable:
        row(b["organisation_id"], b["month"])["billable_tickets"] += b["n"]
    for w in work:
        row(w["organisation_id"], w["month"])["billable_work_seconds"] += w["seconds"]
    for entry in rows.values():
        entry["outside_hours"] = hours(entry["outside_hours_seconds"])
        entry["billable_work_minutes"] = round(entry["billable_work_seconds"] / 60, 2)
        entry["billable_work_hours"] = hours(entry["billable_work_seconds"])
    return sorted(rows.values(), key=lambda e: ((e["organisation_name"] or e["organisation_id"]).casefold(),
                                                e["organisation_id"], e["month"]))


CSV_HEADERS = ("Organización", "RIF", "Mes", "Solicitudes fuera de horario", "Respuestas fuera de horario",
               "Horas fuera de horario", "Tickets marcados facturables",
               "Horas registradas fuera de horario (facturables)")
# A cell a spreadsheet would read as a formula (=, +, -, @) is a CSV injection: quoted as text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(_FORMULA) else text


def out_of_hours_csv(rows: Iterable[Mapping]) -> bytes:
    """The billing rows as a Venezuelan spreadsheet opens them: UTF-8 with BOM (Excel otherwise
    reads it as Windows-1252), ';' between fields and a decimal comma (',' is the decimal
    separator in es-VE), CRLF line ends, fields with ';', quotes or line breaks quoted (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quotechar='"', lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADERS)
    for r in rows:
        writer.writerow((_text_cell(r["organisation_name"] or r["organisation_id"]), _text_cell(r["tax_id"]),
                         r["month"], r["requests"], r["answers_outside_hours"],
                         hours_text(r["outside_hours_seconds"]), r.get("billable_tickets", 0),
                         hours_text(r.get("billable_work_seconds", 0))))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_filename(first: str, last: str) -> str:
    """The download's name: the period in it, ASCII only."""
    return f"fuera-de-horario_{first}_{last}.csv"
