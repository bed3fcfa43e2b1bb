"""The SLA service's Prometheus series, read from its tables at each scrape (the timer loop is a
separate process without an HTTP port): timers pending, overdue and fired, and this month's
share of responses given within target."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .timers import AUTO_CLOSE_WARNING, AUTO_CLOSED, RESPONSE_OVERDUE

TIMER_KINDS = (RESPONSE_OVERDUE, AUTO_CLOSE_WARNING, AUTO_CLOSED)
# Months are the desk's calendar months (Caracas), as the monthly reports count them.
MONTHS_ZONE = ZoneInfo("America/Caracas")
# The month's compliance scans every ticket's clock history: computed at most this often.
COMPLIANCE_EVERY_S = 300.0


def month_bounds(now: datetime, zone: ZoneInfo = MONTHS_ZONE) -> tuple[datetime, datetime]:
    """The start of the calendar month holding `now` in `zone`, and the start of the next one."""
    local = now.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start, following


def timers(conn, now: datetime) -> Iterable[Metric]:
    """mesa_sla_timers_pending, mesa_sla_timers_overdue_seconds and mesa_sla_timers_fired_total{kind}."""
    # Both read the partial index clocks_due (next_due is not null), not every ticket ever opened.
    row = conn.execute("""select (select count(*) from clocks where next_due is not null) as pending,
                                 (select min(next_due) from clocks where next_due is not null and next_due < %s)
                                   as oldest_overdue""", (now,)).fetchone()
    pending = GaugeMetricFamily("mesa_sla_timers_pending", "Tickets with an SLA timer not fired yet")
    pending.add_metric([], row["pending"])
    overdue = GaugeMetricFamily("mesa_sla_timers_overdue_seconds",
                                "How long the oldest due SLA timer has waited to fire (0: none due)")
    overdue.add_metric([], (now - row["oldest_overdue"]).total_seconds() if row["oldest_overdue"] else 0.0)
    fired = {kind: 0 for kind in TIMER_KINDS}
    for r in conn.execute("select kind, count(*) as n from fired_timers group by kind").fetchall():
        fired[r["kind"]] = r["n"]
    fired_total = CounterMetricFamily("mesa_sla_timers_fired", "SLA timers fired, per kind", labels=["kind"])
    for kind, n in sorted(fired.items()):
        fired_total.add_metric([kind], n)
    return [pending, overdue, fired_total]


def compliance(conn, now: datetime) -> Iterable[Metric]:
    """mesa_sla_responses_month{desk,outcome} (met/late) and mesa_sla_response_compliance_ratio{desk}:
    responses (first and next) given this month, and the share given by their deadline."""
    start, end = month_bounds(now)
    rows = conn.execute("""
        select c.state->>'desk' as desk,
               count(*) filter (where (h->>'met_at')::timestamptz <= (h->>'due_at')::timestamptz) as met,
               count(*) filter (where (h->>'met_at')::timestamptz > (h->>'due_at')::timestamptz) as late
        from clocks c, jsonb_array_elements(c.state->'history') h
        where h->>'met_at' is not null
          and (h->>'met_at')::timestamptz >= %s and (h->>'met_at')::timestamptz < %s
        group by 1 order by 1""", (start, end)).fetchall()
    counts = GaugeMetricFamily("mesa_sla_responses_month", "Responses given this month, by deadline kept or not",
                               labels=["desk", "outcome"])
    ratio = GaugeMetricFamily("mesa_sla_response_compliance_ratio",
                              "Share of this month's responses given by their deadline", labels=["desk"])
    for r in rows:
        counts.add_metric([r["desk"], "met"], r["met"])
        counts.add_metric([r["desk"], "late"], r["late"])
        if r["met"] + r["late"]:
            ratio.add_metric([r["desk"]], r["met"] / (r["met"] + r["late"]))
    return [counts, ratio]
