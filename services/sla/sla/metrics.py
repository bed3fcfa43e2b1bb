"""The SLA service's Prometheus series, read from its tables at each scrape (the timer loop is a
separate process without an HTTP port): timers pending, overdue and fired. (Compliance comes from
query's reports, which count responses from the SLA's own facts.)"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .timers import AUTO_CLOSE_WARNING, AUTO_CLOSED, RESPONSE_OVERDUE

TIMER_KINDS = (RESPONSE_OVERDUE, AUTO_CLOSE_WARNING, AUTO_CLOSED)


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
