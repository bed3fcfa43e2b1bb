"""Query's Prometheus series from its read models, at each scrape: the size of each desk's queue."""
from __future__ import annotations

from typing import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from helpdesk_shared.lifecycle import CLOSED


def open_tickets(conn) -> Iterable[Metric]:
    """mesa_open_tickets{desk}: tickets not closed (open or waiting for the customer), per desk."""
    rows = conn.execute("""select desk, count(*) filter (where status <> %s) as n
                           from tickets group by desk order by desk""", (CLOSED,)).fetchall()
    family = GaugeMetricFamily("mesa_open_tickets", "Tickets not closed, per desk (the queue's size)",
                               labels=["desk"])
    for r in rows:
        family.add_metric([r["desk"]], r["n"])
    return [family]
