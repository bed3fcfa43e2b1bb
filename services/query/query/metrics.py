"""Query's Prometheus series from its read models, at each scrape: the size of each desk's queue and
this month's SLA compliance (from the reports' responses, as /api/reports/compliance counts them)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from helpdesk_shared.lifecycle import CLOSED

from .reports import month_of


def open_tickets(conn) -> Iterable[Metric]:
    """mesa_open_tickets{desk}: tickets not closed (open or waiting for the customer), per desk."""
    rows = conn.execute("""select desk, count(*) filter (where status <> %s) as n
                           from tickets group by desk order by desk""", (CLOSED,)).fetchall()
    family = GaugeMetricFamily("mesa_open_tickets", "Tickets not closed, per desk (the queue's size)",
                               labels=["desk"])
    for r in rows:
        family.add_metric([r["desk"]], r["n"])
    return [family]


def compliance(conn, now: datetime) -> Iterable[Metric]:
    """mesa_sla_responses_month{desk,clock,outcome} (met/missed) and mesa_sla_compliance_ratio{desk,clock}:
    the responses of this Caracas month and the share within target, counted as the compliance report
    counts them (a superseded overdue row is not a second response; an unanswered overdue one is missed)."""
    # The per-hour counts the report reads (kept with report_responses: no superseded row, desk known).
    rows = conn.execute("""select desk, clock, sum(n)::int as count, sum(met)::int as met
                           from report_compliance_hours where month = %s
                           group by desk, clock having sum(n) > 0 order by desk, clock""",
                        (month_of(now),)).fetchall()
    responses = GaugeMetricFamily("mesa_sla_responses_month", "Responses due or given this month, in time or not",
                                  labels=["desk", "clock", "outcome"])
    ratio = GaugeMetricFamily("mesa_sla_compliance_ratio", "Share of this month's responses within target",
                              labels=["desk", "clock"])
    for r in rows:
        responses.add_metric([r["desk"], r["clock"], "met"], r["met"])
        responses.add_metric([r["desk"], r["clock"], "missed"], r["count"] - r["met"])
        ratio.add_metric([r["desk"], r["clock"]], r["met"] / r["count"])
    return [responses, ratio]


def deflections(conn, now: datetime) -> Iterable[Metric]:
    """mesa_kb_attempts{desk,module,outcome}: new-ticket forms that opened a suggested article of the
    module, by outcome (deflected, ticketed, pending), as GET /api/reports/deflections counts them (issue 12)."""
    from . import articles, articles_store  # only this collector needs them
    report = articles_store.deflections(conn, None, now, articles.DEFLECTION_WINDOW)
    family = GaugeMetricFamily("mesa_kb_attempts", "New-ticket forms that opened a suggested article, by outcome",
                               labels=["desk", "module", "outcome"])
    for m in report["modules"]:
        for outcome in ("deflected", "ticketed", "pending"):
            family.add_metric([m["desk"], m["module"], outcome], m[outcome])
    return [family]
