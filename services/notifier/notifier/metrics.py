"""The notifier's Prometheus series, read from its mails table at each scrape (the sender is a
separate process without an HTTP port): mails sent and failed for good, and the ones waiting."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# A mail is recorded 'pending' and ends 'sent' or 'failed' (refused for good); neither goes back.
FINAL_STATUSES = ("sent", "failed")


def mails(conn, now: datetime) -> Iterable[Metric]:
    """mesa_mails_total{status}, mesa_mails_pending, mesa_mails_retrying, mesa_mails_oldest_pending_seconds."""
    rows = conn.execute("""select status, count(*) as n, count(*) filter (where attempts > 0) as retried,
                                  min(created_at) as oldest
                           from mails group by status""").fetchall()
    by = {r["status"]: r for r in rows}
    total = CounterMetricFamily("mesa_mails_total", "Mails sent, and mails refused for good (failed)",
                                labels=["status"])
    for status in FINAL_STATUSES:
        total.add_metric([status], by[status]["n"] if status in by else 0)
    pending = by.get("pending")
    waiting = GaugeMetricFamily("mesa_mails_pending", "Mails recorded and not sent yet")
    waiting.add_metric([], pending["n"] if pending else 0)
    retrying = GaugeMetricFamily("mesa_mails_retrying", "Pending mails whose sending failed at least once "
                                 "(SMTP server away or refusing for now)")
    retrying.add_metric([], pending["retried"] if pending else 0)
    oldest = GaugeMetricFamily("mesa_mails_oldest_pending_seconds", "Age of the oldest mail not sent yet")
    oldest.add_metric([], max(0.0, (now - pending["oldest"]).total_seconds()) if pending else 0.0)
    return [total, waiting, retrying, oldest]
