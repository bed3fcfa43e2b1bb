"""Business calendars: opening hours, closed days and business-time arithmetic (pure).

A calendar is data (SPEC §2 "hours", §3): a time zone, weekly opening intervals, closed
days (public holidays plus supervisor closures, each with a note) and the version and
instant it takes effect from. It answers four questions, each in one small method:

- ``is_open(t)``                  is the desk open at instant t?
- ``next_opening(t)``             the first open instant at or after t (t itself when open)
- ``add(t, d)``                   t plus a business duration d (the SLA deadline)
- ``business_between(a, b)``      how much business time lies between two instants
- ``open_intervals(a, b)``        the open spans between two instants (what a deadline counts)

``CalendarHistory`` answers the same questions across versions, each instant on the version
in force then: how a ticket's deadlines follow a calendar edited after it opened.

Conventions (SPEC §3):

- Open intervals are half-open, ``[start, end)``: open at 09:00, closed at 17:00.
- ``add(t, 0)`` is ``next_opening(t)``: a ticket filed outside hours starts its clock at
  the next opening.
- ``add(t, d)`` with d > 0 returns the *earliest* instant by which d of business time has
  elapsed, so a deadline that lands exactly on a closing time is that closing time
  (Friday 16:00 + 1 h = Friday 17:00, not Monday 09:00).
- Every method takes aware datetimes and returns them in UTC.

How it is fast (no stepping minute by minute, nor day by day): every instant has a
*business coordinate* B(t) = business microseconds since 0001-01-01 local time. B is a
closed-form function of the local date and time of day: whole weeks times the weekly open
time, plus a prefix sum over the week's intervals, minus the open time of the closed days
before that date (a sorted list and ``bisect``). B is flat across closed time and rises
one-for-one across open time, so

    business_between(a, b) = B(b) - B(a)
    add(t, d)              = earliest s with B(s) = B(t) + d       (d > 0)
    next_opening(t)        = latest   s with B(s) = B(t)

and both inverses are again closed form (divmod by the weekly open time, ``bisect`` in the
week's cumulative table, ``bisect`` in the closed days). The cost is the same for one
hour or one year, a few microseconds.

Daylight saving time: the arithmetic runs on the local wall clock and converts with
``zoneinfo`` only at the edges, so a zone with DST (America/New_York) is handled as long
as its transitions fall outside opening hours, as they do in every zone in practice
(they happen around 00:00-03:00). If an open interval did cover a transition, business
time would be measured on the wall clock: a skipped hour (gap) would count as business
time that never elapses, and a repeated hour (overlap) would count once; a wall time
that falls in a gap or overlap is converted with ``fold=0`` (PEP 495: the offset in
force before the transition). America/Caracas has had no DST since 2016 (UTC-4).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

__all__ = [
    "BEGINNING", "Calendar", "CalendarError", "CalendarHistory", "DEFAULT_TZ",
    "DEFAULT_WEEKLY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY",
    "SUNDAY", "venezuela_default",
]

UTC = timezone.utc
DEFAULT_TZ = "America/Caracas"

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)

# Mon-Fri 09:00-17:00, the rules page's hours.
DEFAULT_WEEKLY: tuple[tuple[int, time, time], ...] = tuple(
    (day, time(9), time(17)) for day in range(MONDAY, SATURDAY)
)

# Before any calendar is edited: in force since the Unix epoch.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

_DAY_US = 86_400 * 1_000_000
_WEEK_US = 7 * _DAY_US
# Ordinal 1 (0001-01-01) is a Monday, so a date's week is (ordinal - 1) // 7 and its
# weekday (ordinal - 1) % 7; every coordinate below is counted from that midnight.
_EPOCH = datetime(1, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)


class CalendarError(ValueError):
    """A calendar's data is unusable (no opening hours, overlapping intervals, ...)."""


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


@dataclass(frozen=True)
class Calendar:
    """One version of a desk's business calendar: data plus the four operations."""

    tz: str = DEFAULT_TZ
    # (weekday 0=Monday..6, start, end); several a day allowed (a lunch break); an end of
    # time(0) means midnight at the end of that day (24:00).
    weekly: tuple[tuple[int, time, time], ...] = DEFAULT_WEEKLY
    # date -> note: public holidays and supervisor closures, in local dates.
    closed_days: Mapping[date, str] = field(default_factory=dict)
    version: int = 1
    effective_from: datetime = BEGINNING
    _t: "_Tables" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None or self.effective_from.utcoffset() is None:
            raise CalendarError("effective_from must be an aware datetime")
        weekly = tuple(sorted((int(d), s, e) for d, s, e in self.weekly))
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closed_days", MappingProxyType(dict(self.closed_days)))
        object.__setattr__(self, "_t", _Tables(ZoneInfo(self.tz), weekly, self.closed_days))

    def __hash__(self) -> int:
        return hash((self.tz, self.weekly, tuple(sorted(self.closed_days.items())),
                     self.version, self.effective_from))

    # -- the four operations ------------------------------------------------------------

    def is_open(self, t: datetime) -> bool:
        """Whether the desk is open at instant t (opening included, closing excluded)."""
        tb = self._t
        ordinal, tod = tb.local(t)
        if ordinal in tb.closed_set:
            return False
        wm = ((ordinal - 1) % 7) * _DAY_US + tod
        k = bisect_right(tb.starts, wm) - 1
        return k >= 0 and wm < tb.ends[k]

    def next_opening(self, t: datetime) -> datetime:
        """The first open instant at or after t, in UTC (t itself when open)."""
        tb = self._t
        return tb.latest(tb.business(t))

    def add(self, t: datetime, duration: timedelta) -> datetime:
        """t plus a business duration, in UTC; 0 gives next_opening(t), a closing stays."""
        d = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
        tb = self._t
        if d > 0:
            return tb.earliest(tb.business(t) + d)
        if d == 0:
            return tb.latest(tb.business(t))
        raise ValueError("a business duration cannot be negative")

    def business_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from a to b (negative when b is before a)."""
        tb = self._t
        return timedelta(0, 0, tb.business(b) - tb.business(a))

    def open_intervals(self, a: datetime, b: datetime, limit: int | None = None) -> list[tuple[datetime, datetime]]:
        """The open spans of [a, b], in UTC and in order; spans that touch (an interval ending
        at 24:00 and the next day's from 00:00) are joined, so the sum of their lengths is
        ``business_between(a, b)`` and a reader needs no calendar to count time left. With a
        ``limit``, it stops as soon as it has more spans than that (a sparse calendar's far
        deadline would otherwise walk years day by day)."""
        if b <= a:
            return []
        zone = self._t.zone
        by_weekday: dict[int, list[tuple[time, time]]] = {}
        for day, start, end in self.weekly:
            by_weekday.setdefault(day, []).append((start, end))
        spans: list[tuple[datetime, datetime]] = []
        # One step per local date (a 60-day target is a few hundred steps); closed days have no spans.
        day, last = a.astimezone(zone).date(), b.astimezone(zone).date()
        while day <= last:
            if day not in self.closed_days:
                for start, end in by_weekday.get(day.weekday(), ()):
                    lo = datetime.combine(day, start, zone).astimezone(UTC)
                    hi = datetime.combine(day + timedelta(days=1) if end == time(0) else day, end, zone
                                          ).astimezone(UTC)
                    lo, hi = max(lo, a.astimezone(UTC)), min(hi, b.astimezone(UTC))
                    if lo >= hi:
                        continue
                    if spans and spans[-1][1] == lo:
                        spans[-1] = (spans[-1][0], hi)
                    else:
                        spans.append((lo, hi))
            if limit is not None and len(spans) > limit:
                return spans
            day += timedelta(days=1)
        return spans

    # -- explaining a deadline ----------------------------------------------------------

    def skipped_closed_days(self, a: datetime, b: datetime) -> list[tuple[date, str]]:
        """Closed days between a and b on which the desk would otherwise have been open."""
        if b <= a:
            return []
        tb = self._t
        (day_a, tod_a), (day_b, tod_b) = tb.local(a), tb.local(b)
        skipped = []
        for i in range(bisect_left(tb.closed_ords, day_a), bisect_right(tb.closed_ords, day_b)):
            ordinal = tb.closed_ords[i]
            lo = tod_a if ordinal == day_a else 0
            hi = tod_b if ordinal == day_b else _DAY_US
            if tb.would_be_open_us(ordinal, lo, hi) > 0:
                day = date.fromordinal(ordinal)
                skipped.append((day, self.closed_days[day]))
        return skipped

    # -- editing (a new version; this one never changes) --------------------------------

    def with_closure(self, day: date, note: str, *, version: int,
                     effective_from: datetime) -> Calendar:
        """A new version of this calendar with one more closed day (a supervisor's)."""
        closed = dict(self.closed_days)
        closed[day] = f"{closed[day]}; {note}" if day in closed else note
        return Calendar(self.tz, self.weekly, closed, version, effective_from)


class _Tables:
    """The precomputed tables behind a Calendar; all coordinates are in microseconds."""

    __slots__ = ("zone", "starts", "ends", "cum_start", "cum_end", "weekly_us",
                 "day_prefix", "day_open", "closed_ords", "closed_set", "closed_cum",
                 "closed_b")

    def __init__(self, zone: ZoneInfo, weekly: Iterable[tuple[int, time, time]],
                 closed_days: Mapping[date, str]) -> None:
        self.zone = zone
        starts: list[int] = []
        ends: list[int] = []
        for day, start, end in weekly:
            if not 0 <= day <= 6:
                raise CalendarError(f"weekday {day} is not 0 (Monday) .. 6 (Sunday)")
            s = _time_us(start)
            e = _time_us(end) or _DAY_US
            if e <= s:
                raise CalendarError(f"interval {start}-{end} on weekday {day} is empty")
            if ends and day * _DAY_US + s < ends[-1]:
                raise CalendarError(f"interval {start}-{end} on weekday {day} overlaps another")
            starts.append(day * _DAY_US + s)
            ends.append(day * _DAY_US + e)
        if not starts:
            raise CalendarError("a calendar needs at least one opening interval")
        self.starts, self.ends = starts, ends
        self.cum_start, self.cum_end = [], []
        total = 0
        for s, e in zip(starts, ends):
            self.cum_start.append(total)
            total += e - s
            self.cum_end.append(total)
        self.weekly_us = total
        self.day_prefix = [self.week_open_us(day * _DAY_US) for day in range(8)]
        self.day_open = [self.day_prefix[d + 1] - self.day_prefix[d] for d in range(7)]

        # Only closed days that would have had opening hours shift the arithmetic.
        self.closed_ords = sorted(
            day.toordinal() for day in closed_days
            if self.day_open[day.weekday()] > 0
        )
        self.closed_set = frozenset(self.closed_ords)
        self.closed_cum = [0]            # open time of closed days before index i
        self.closed_b = []               # business coordinate at closed day i's midnight
        for ordinal in self.closed_ords:
            self.closed_b.append(self.raw_midnight(ordinal) - self.closed_cum[-1])
            self.closed_cum.append(self.closed_cum[-1] + self.day_open[(ordinal - 1) % 7])

    # -- the template week --------------------------------------------------------------

    def week_open_us(self, wm: int) -> int:
        """Open time from Monday 00:00 to wm (microseconds into the week)."""
        k = bisect_right(self.starts, wm) - 1
        if k < 0:
            return 0
        return self.cum_start[k] + min(wm - self.starts[k], self.ends[k] - self.starts[k])

    def raw_midnight(self, ordinal: int) -> int:
        """Open time from the epoch to a date's midnight, closed days not subtracted."""
        weeks, weekday = divmod(ordinal - 1, 7)
        return weeks * self.weekly_us + self.day_prefix[weekday]

    def would_be_open_us(self, ordinal: int, lo: int, hi: int) -> int:
        """Template open time on a date between two times of day, closures ignored."""
        base = ((ordinal - 1) % 7) * _DAY_US
        return self.week_open_us(base + hi) - self.week_open_us(base + lo)

    # -- instant <-> business coordinate (the hot path: locals, no helper calls) --------

    def local(self, t: datetime) -> tuple[int, int]:
        """(local date ordinal, microseconds since local midnight) of an aware instant."""
        if t.tzinfo is None:
            raise ValueError("business calendar operations need aware datetimes")
        lt = t.astimezone(self.zone)
        return lt.toordinal(), (
            ((lt.hour * 60 + lt.minute) * 60 + lt.second) * 1_000_000 + lt.microsecond)

    def business(self, t: datetime) -> int:
        """B(t): business time from the epoch to t, closed days subtracted."""
        if t.tzinfo is None:
            raise ValueError("business calendar operations need aware datetimes")
        lt = t.astimezone(self.zone)
        ordinal = lt.toordinal()
        closed_ords = self.closed_ords
        j = bisect_left(closed_ords, ordinal)
        weeks, weekday = divmod(ordinal - 1, 7)
        raw = weeks * self.weekly_us
        if j < len(closed_ords) and closed_ords[j] == ordinal:
            raw += self.day_prefix[weekday]          # flat all day on a closed day
        else:
            wm = weekday * _DAY_US + (
                ((lt.hour * 60 + lt.minute) * 60 + lt.second) * 1_000_000 + lt.microsecond)
            k = bisect_right(self.starts, wm) - 1
            if k >= 0:
                s = self.starts[k]
                e = self.ends[k]
                raw += self.cum_start[k] + (wm - s if wm < e else e - s)
        return raw - self.closed_cum[j]

    # earliest() and latest() end by turning a local wall time (microseconds since the
    # epoch) into a UTC instant: ZoneInfo.utcoffset of the naive wall time is the offset
    # that replace(tzinfo=zone).astimezone(UTC) would use (fold=0), at a third of the cost.

    def earliest(self, x: int) -> datetime:
        """The earliest instant s with B(s) = x > 0: inside open time or at a closing."""
        r = x + self.closed_cum[bisect_left(self.closed_b, x)]
        weeks, rem = divmod(r, self.weekly_us)
        if rem == 0:                                 # the week's last closing
            weeks -= 1
            rem = self.weekly_us
        k = bisect_left(self.cum_end, rem)
        wall = timedelta(0, 0, weeks * _WEEK_US + self.starts[k] + (rem - self.cum_start[k]))
        return _EPOCH_UTC + (wall - self.zone.utcoffset(_EPOCH + wall))

    def latest(self, x: int) -> datetime:
        """The latest instant s with B(s) = x: inside open time or at an opening."""
        r = x + self.closed_cum[bisect_right(self.closed_b, x)]
        weeks, rem = divmod(r, self.weekly_us)
        k = bisect_right(self.cum_start, rem) - 1
        wall = timedelta(0, 0, weeks * _WEEK_US + self.starts[k] + (rem - self.cum_start[k]))
        return _EPOCH_UTC + (wall - self.zone.utcoffset(_EPOCH + wall))


@dataclass(frozen=True)
class CalendarHistory:
    """A desk's calendar versions, oldest first; a deadline uses the one in force (and, across a
    change, each version while it is in force: see the operations below)."""

    versions: tuple[Calendar, ...]

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.versions, key=lambda c: (c.effective_from, c.version)))
        if not ordered:
            raise CalendarError("a calendar history needs at least one version")
        object.__setattr__(self, "versions", ordered)

    def at(self, t: datetime) -> Calendar:
        """The version in force at instant t (the latest effective_from at or before t)."""
        i = bisect_right([c.effective_from for c in self.versions], t)
        if i == 0:
            raise LookupError(f"no calendar version in force at {t.isoformat()}")
        return self.versions[i - 1]

    @property
    def latest(self) -> Calendar:
        """The most recent version (what a supervisor edits next)."""
        return self.versions[-1]

    def with_version(self, calendar: Calendar) -> CalendarHistory:
        """This history plus a newer version; earlier instants keep their calendar."""
        if calendar.effective_from < self.latest.effective_from:
            raise CalendarError("a new calendar version cannot take effect in the past")
        if calendar.version <= self.latest.version:
            raise CalendarError("a new calendar version needs a higher version number")
        return CalendarHistory(self.versions + (calendar,))

    # -- a calendar that changes over time ------------------------------------------------
    #
    # The same operations as a Calendar, each instant measured on the version in force then
    # (the first version also before its effective_from): a deadline that spans a change
    # counts the time before it on the old version and the rest on the new one, so a version
    # added later never rewrites time already past. A ticket's clocks pin such a history.

    @property
    def version(self) -> int:
        """The newest version number in the history (what a deadline fact names)."""
        return max(c.version for c in self.versions)

    @property
    def weekly(self) -> tuple[tuple[int, time, time], ...]:
        """The weekly hours of the version in force last."""
        return self.latest.weekly

    @property
    def tz(self) -> str:
        """The time zone of the version in force last."""
        return self.latest.tz

    def _segments(self, a: datetime, b: datetime) -> list[tuple[Calendar, datetime, datetime]]:
        """(version, from, to) pieces of [a, b], in order, each measured on one version."""
        cuts = [c.effective_from for c in self.versions]
        i = max(bisect_right(cuts, a) - 1, 0)
        pieces = []
        while True:
            end = cuts[i + 1] if i + 1 < len(cuts) else None
            hi = b if end is None or b < end else end
            if a < hi:
                pieces.append((self.versions[i], a, hi))
            if end is None or b <= end:
                return pieces
            a, i = max(a, end), i + 1

    def is_open(self, t: datetime) -> bool:
        """Whether the desk is open at t, on the version in force then."""
        return self._segments(t, t + timedelta(microseconds=1))[0][0].is_open(t)

    def business_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from a to b, each piece on its version (negative when b is before a)."""
        if b < a:
            return -self.business_between(b, a)
        return sum((c.business_between(lo, hi) for c, lo, hi in self._segments(a, b)), timedelta(0))

    def next_opening(self, t: datetime) -> datetime:
        """The first open instant at or after t, each piece on its version."""
        cuts = [c.effective_from for c in self.versions]
        i = max(bisect_right(cuts, t) - 1, 0)
        while True:
            opening = self.versions[i].next_opening(t)
            if i + 1 == len(cuts) or opening < cuts[i + 1]:
                return opening
            t, i = max(t, cuts[i + 1]), i + 1

    def add(self, t: datetime, duration: timedelta) -> datetime:
        """t plus a business duration, counted on each version while it is in force."""
        if duration < timedelta(0):
            raise ValueError("a business duration cannot be negative")
        if duration == timedelta(0):
            return self.next_opening(t)
        cuts = [c.effective_from for c in self.versions]
        i = max(bisect_right(cuts, t) - 1, 0)
        while True:
            due = self.versions[i].add(t, duration)
            if i + 1 == len(cuts) or due <= cuts[i + 1]:
                return due
            if cuts[i + 1] > t:
                duration -= self.versions[i].business_between(t, cuts[i + 1])
                t = cuts[i + 1]
            i += 1

    def open_intervals(self, a: datetime, b: datetime, limit: int | None = None) -> list[tuple[datetime, datetime]]:
        """The open spans of [a, b], each piece on its version, joined where they touch (``limit``
        as for a Calendar)."""
        spans: list[tuple[datetime, datetime]] = []
        for c, lo, hi in self._segments(a, b):
            for span in c.open_intervals(lo, hi, limit):
                if spans and spans[-1][1] == span[0]:
                    spans[-1] = (spans[-1][0], span[1])
                else:
                    spans.append(span)
            if limit is not None and len(spans) > limit:
                break
        return spans

    def skipped_closed_days(self, a: datetime, b: datetime) -> list[tuple[date, str]]:
        """Closed days between a and b that would have been open, each piece on its version."""
        days: dict[date, str] = {}
        for c, lo, hi in self._segments(a, b):
            for day, note in c.skipped_closed_days(lo, hi):
                days.setdefault(day, note)
        return sorted(days.items())


def venezuela_default(
    years: Iterable[int],
    extra_closures: Mapping[date, str] | None = None,
    version: int = 1,
    effective_from: datetime = BEGINNING,
    *,
    language: str = "es",
) -> Calendar:
    """The default desk calendar: Caracas, Mon-Fri 09:00-17:00, VE holidays plus closures.

    Holidays come from the ``holidays`` package (country VE, notes in ``language``),
    which knows 1910-2100 and includes the movable feasts (Carnival Monday and Tuesday,
    Holy Thursday, Good Friday). Should a release of the package ever lack one of those
    for a year, it is added here from the date of Easter, so they never go missing.
    Supervisor closures (``extra_closures``: date -> note) are merged in; a closure on a
    holiday keeps both notes.
    """
    import holidays                      # data source only; the arithmetic needs none
    from dateutil.easter import easter   # a dependency of ``holidays``

    years = sorted(set(years))
    ve = holidays.country_holidays("VE", years=years, language=language)
    known = range(ve.start_year, ve.end_year + 1)
    if unknown := [y for y in years if y not in known]:
        raise CalendarError(f"the holidays package knows VE only for {known.start}-"
                            f"{known.stop - 1}, not {unknown}")
    closed = {day: str(name) for day, name in ve.items()}
    movable = ((-48, "Lunes de Carnaval"), (-47, "Martes de Carnaval"),
               (-3, "Jueves Santo"), (-2, "Viernes Santo"))
    for year in years:
        for offset, note in movable:
            closed.setdefault(easter(year) + timedelta(days=offset), note)
    for day, note in (extra_closures or {}).items():
        closed[day] = f"{closed[day]}; {note}" if day in closed else note
    return Calendar(DEFAULT_TZ, DEFAULT_WEEKLY, closed, version, effective_from)
