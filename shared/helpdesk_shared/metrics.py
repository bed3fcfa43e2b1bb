"""Prometheus collectors that read the service's database at each scrape.

Consumers, relays and timer loops are separate processes without an HTTP port, so what they
did is counted in the database they share with the API (in the transaction that did it) and
read here when Prometheus scrapes. A scrape while the database is away leaves these series
out rather than failing /metrics (Prometheus then shows a gap, and `up` stays 1).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .health import PROBE_TIMEOUT_S, ServiceProbe, _database_errors

log = logging.getLogger(__name__)

# (conn) -> metric families; runs inside a read transaction with a statement timeout.
SqlMetrics = Callable[[object], Iterable[Metric]]


class SqlCollector:
    """Runs each `read(conn)` on ONE pooled connection per scrape; a database that is away costs the
    scrape one bounded wait (not one per series) and leaves every database-backed series out.

    Readers run in order in one transaction with a statement timeout; when one fails, the ones
    after it are left out of this scrape and the families already read are kept.
    """

    def __init__(self, pool_of: Callable, reads: Iterable[SqlMetrics], timeout: float = PROBE_TIMEOUT_S):
        self.pool_of = pool_of
        self.reads = list(reads)
        self.timeout = timeout

    def collect(self):
        """The families the readers build, or none."""
        families: list[Metric] = []
        try:
            with self.pool_of().connection(timeout=self.timeout) as conn:
                conn.execute(f"set local statement_timeout = {int(self.timeout * 1000)}")
                for read in self.reads:
                    families += list(read(conn))
        except _database_errors() as exc:
            log.warning("metrics left out: database unavailable", extra={"error": str(exc)[:300]})
        yield from families


def consumer_lag(probe: ServiceProbe) -> SqlMetrics:
    """A reader of `mesa_consumer_lag{consumer,topic}`: events on the topic the consumer has not applied
    yet (its stored offsets from this connection, the topics' end offsets from the probe's cache)."""
    def read(conn) -> Iterable[Metric]:
        lags = probe.lags(conn)
        if not lags:
            return
        family = GaugeMetricFamily("mesa_consumer_lag", "Events on the topic the consumer has not applied yet",
                                   labels=["consumer", "topic"])
        for consumer, topic, lag in lags:
            family.add_metric([consumer, topic], lag)
        yield family
    return read


DEAD_LETTER_TABLES = ("outbox_dead_letters", "consumer_dead_letters")


def dead_letters(conn) -> Iterable[Metric]:
    """`mesa_dead_letters{table}`: rows parked in this database (by relays and consumers, which have no
    HTTP port of their own), one sample per dead-letter table the database has."""
    counts = {table: conn.execute(f"select count(*) as n from {table}").fetchone()["n"]
              for table in DEAD_LETTER_TABLES
              if conn.execute("select to_regclass(%s) as t", (table,)).fetchone()["t"]}
    family = GaugeMetricFamily("mesa_dead_letters", "Records parked as undeliverable or unreadable",
                               labels=["table"])
    for table, n in counts.items():
        family.add_metric([table], n)
    yield family


def events_applied(conn) -> Iterable[Metric]:
    """`mesa_events_applied_total{consumer,type}` from the counts kafka.ConsumerLoop keeps with its offsets."""
    if not conn.execute("select to_regclass('consumer_events_applied') as t").fetchone()["t"]:
        return
    rows = conn.execute("select consumer, type, applied from consumer_events_applied order by consumer, type"
                        ).fetchall()
    family = CounterMetricFamily("mesa_events_applied", "Events applied by the service's consumers, per type",
                                 labels=["consumer", "type"])
    for r in rows:
        family.add_metric([r["consumer"], r["type"]], r["applied"])
    yield family


def outbox_backlog(conn) -> Iterable[Metric]:
    """`mesa_outbox_unpublished` and `mesa_outbox_oldest_unpublished_seconds`: events stored and not on
    Kafka yet (the relay is down or the broker away), when this database has an outbox (or is one)."""
    from .outbox import EventLog, OutboxTable  # the relay's own view of what waits
    tables = conn.execute("select to_regclass('outbox') as o, to_regclass('relay_cursor') as c").fetchone()
    if not (tables["o"] or tables["c"]):
        return
    row = (EventLog() if tables["c"] else OutboxTable()).backlog(conn)
    unpublished = GaugeMetricFamily("mesa_outbox_unpublished", "Events stored and not published to Kafka yet")
    unpublished.add_metric([], row["n"])
    oldest = GaugeMetricFamily("mesa_outbox_oldest_unpublished_seconds",
                               "Age of the oldest event not published yet (0: none waiting)")
    oldest.add_metric([], max(0.0, float(row["age"] or 0)))
    yield unpublished
    yield oldest


def with_now(read: Callable[[object, datetime], Iterable[Metric]], clock: Callable[[], datetime]) -> SqlMetrics:
    """A `read(conn, now)` given the service's clock (time is an argument, not now())."""
    return lambda conn: read(conn, clock())
