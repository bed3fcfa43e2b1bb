"""What a service's /healthz and /metrics say about its reach: whether its database and Kafka
answer, and how far each of its consumers is behind the topics it reads.

A consumer stores its next offsets in the service's own database (kafka.ConsumerLoop), so its
lag is the topics' end offsets minus those stored offsets. Nothing here waits longer than
PROBE_TIMEOUT_S: a probe that hangs makes an orchestrator restart a healthy service, so a
slow broker is reported as unreachable instead. Kafka's end offsets are cached for
END_OFFSETS_TTL_S, so a storm of scrapes and probes costs the broker one request per period.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
END_OFFSETS_TTL_S = 5.0
# A consumer further behind than this makes the service "degraded": it answers, with stale reads.
DEGRADED_LAG = 1000

OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"

Partition = tuple[str, int]  # (topic, partition)


# --- pure -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TopicOffsets:
    """The first and next-to-write offset of every partition of some topics, as the broker said."""

    begin: Mapping[Partition, int]
    end: Mapping[Partition, int]


def lag_by_topic(topics: Iterable[str], stored: Mapping[Partition, int], offsets: TopicOffsets) -> dict[str, int]:
    """Events not yet applied per topic: end offset minus the stored next offset, per partition.

    A partition the consumer never stored an offset for is read from its beginning, so all of
    it counts; a stored offset past the end (a topic recreated) counts as nothing.
    """
    lag = {topic: 0 for topic in topics}
    for (topic, partition), end in offsets.end.items():
        if topic in lag:
            start = stored.get((topic, partition), offsets.begin.get((topic, partition), 0))
            lag[topic] += max(0, end - start)
    return lag


def consumer_report(name: str, topics: Iterable[str], stored: Mapping[Partition, int],
                    offsets: TopicOffsets | None) -> dict:
    """`{name, lag, caught_up, topics}` for /healthz; lag and caught_up are None when Kafka did not answer."""
    if offsets is None:
        return {"name": name, "lag": None, "caught_up": None, "topics": {t: None for t in topics}}
    by_topic = lag_by_topic(topics, stored, offsets)
    total = sum(by_topic.values())
    return {"name": name, "lag": total, "caught_up": total == 0, "topics": by_topic}


def overall_status(database_ok: bool, kafka_ok: bool | None, consumers: list[dict],
                   degraded_lag: int = DEGRADED_LAG) -> str:
    """unavailable without the database (it cannot serve); degraded when Kafka is unreachable or a
    consumer is more than `degraded_lag` events behind (it serves stale reads); ok otherwise.
    `kafka_ok` None means the service reads no topic."""
    if not database_ok:
        return UNAVAILABLE
    if kafka_ok is False or any((c["lag"] or 0) > degraded_lag for c in consumers):
        return DEGRADED
    return OK


# --- adapters -------------------------------------------------------------------------------

class KafkaOffsets:
    """The begin and end offsets of `topics`, fetched in a background thread, cached `ttl` seconds.

    `get()` waits at most `timeout` seconds: kafka-python can block without bound on metadata
    of a broker that went away, so the fetch runs in its own daemon thread and one fetch at a
    time is in flight; a caller that waited in vain gets None (Kafka unreachable) and a later
    caller the result once it lands. A failure is cached too, so a dead broker is not hammered.
    """

    def __init__(self, bootstrap: str, topics: Iterable[str], ttl: float = END_OFFSETS_TTL_S,
                 timeout: float = PROBE_TIMEOUT_S, monotonic: Callable[[], float] = time.monotonic):
        self.bootstrap = bootstrap
        self.topics = sorted(set(topics))
        self.ttl = ttl
        self.timeout = timeout
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, TopicOffsets | None, str | None] | None = None  # (at, offsets, error)
        self._inflight: threading.Event | None = None
        self._consumer = None
        self.fetches = 0  # how many times the broker was asked (tests check the cache with it)

    def get(self) -> tuple[TopicOffsets | None, str | None]:
        """(offsets, None), or (None, why) when Kafka did not answer within the timeout."""
        with self._lock:
            if self._cached and self.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1], self._cached[2]
            done = self._inflight
            if done is None:
                done = self._inflight = threading.Event()
                threading.Thread(target=self._refresh, args=(done,), name="kafka-offsets", daemon=True).start()
        if not done.wait(self.timeout):
            return None, f"no answer from Kafka within {self.timeout:g} s"
        with self._lock:
            cached = self._cached
        return (cached[1], cached[2]) if cached else (None, "no answer from Kafka")

    def _refresh(self, done: threading.Event) -> None:
        offsets, error = None, None
        try:
            offsets = self._fetch()
        except Exception as exc:  # any client failure means "unreachable" here; logged, cached, retried after ttl
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("kafka offsets unavailable", extra={"error": error})
            self._close_consumer()
        with self._lock:
            self._cached = (self.monotonic(), offsets, error)
            self._inflight = None
        done.set()

    def _fetch(self) -> TopicOffsets:
        from kafka import KafkaConsumer, TopicPartition
        self.fetches += 1
        timeout_ms = int(self.timeout * 1000)
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                           client_id="mesa-health", bootstrap_timeout_ms=timeout_ms,
                                           request_timeout_ms=max(timeout_ms, 1000), fetch_max_wait_ms=100,
                                           reconnect_backoff_ms=100, reconnect_backoff_max_ms=2000,
                                           metadata_max_age_ms=30_000)
        partitions = []
        for topic in self.topics:
            found = self._consumer.partitions_for_topic(topic)
            if not found:
                raise LookupError(f"topic {topic} not found")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        end = self._consumer.end_offsets(partitions, timeout_ms=timeout_ms)
        begin = self._consumer.beginning_offsets(partitions, timeout_ms=timeout_ms)
        return TopicOffsets(begin={(tp.topic, tp.partition): o for tp, o in begin.items()},
                            end={(tp.topic, tp.partition): o for tp, o in end.items()})

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception:  # closing a client of a dead broker may fail; it is dropped either way
                pass


def stored_offsets(conn, consumers: Iterable[str]) -> dict[str, dict[Partition, int]]:
    """Each consumer's stored next offsets (the table kafka.ConsumerLoop writes with every batch)."""
    names = list(consumers)
    result: dict[str, dict[Partition, int]] = {name: {} for name in names}
    rows = conn.execute("select consumer, topic, partition, next_offset from consumer_offsets "
                        "where consumer = any(%s)", (names,)).fetchall()
    for r in rows:
        result[r["consumer"]][(r["topic"], r["partition"])] = r["next_offset"]
    return result


def _database_errors() -> tuple[type[BaseException], ...]:
    import psycopg
    from psycopg_pool import PoolClosed, PoolTimeout
    return psycopg.Error, PoolTimeout, PoolClosed


class ServiceProbe:
    """/healthz of one service: its database, Kafka, and the lag of the consumers whose offsets
    its database holds. `pool_of()` gives the service's current pool (tests swap it), `extra()`
    the service's own fields (mail counts, applied events), kept as they were before."""

    def __init__(self, service: str, pool_of: Callable, consumers: Mapping[str, Iterable[str]] | None = None,
                 kafka: KafkaOffsets | None = None, extra: Callable[[], dict] | None = None,
                 timeout: float = PROBE_TIMEOUT_S):
        self.service = service
        self.pool_of = pool_of
        self.consumers = {name: list(topics) for name, topics in (consumers or {}).items()}
        self.kafka = kafka
        self.extra = extra
        self.timeout = timeout

    def _stored(self) -> dict[str, dict[Partition, int]]:
        with self.pool_of().connection(timeout=self.timeout) as conn:
            # A probe never waits on a stuck query longer than on a connection.
            conn.execute(f"set local statement_timeout = {int(self.timeout * 1000)}")
            conn.execute("select 1")
            return stored_offsets(conn, self.consumers)

    def report(self) -> tuple[dict, int]:
        """The /healthz body and its HTTP status: 503 when the database does not answer."""
        database: dict = {"ok": True}
        stored: dict[str, dict[Partition, int]] = {}
        extra: dict = {}
        try:
            stored = self._stored()
            extra = self.extra() if self.extra else {}
        except _database_errors() as exc:
            database = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        kafka: dict | None = None
        offsets = None
        if self.kafka is not None:
            offsets, error = self.kafka.get()
            kafka = {"ok": offsets is not None, **({"error": error} if error else {})}
        consumers = [consumer_report(name, topics, stored.get(name, {}), offsets if database["ok"] else None)
                     for name, topics in self.consumers.items()]
        status = overall_status(database["ok"], kafka["ok"] if kafka else None, consumers)
        body = {"service": self.service, "status": status, "database": database,
                "kafka": kafka if kafka is not None else {"ok": None}, "consumers": consumers, **extra}
        return body, 503 if status == UNAVAILABLE else 200

    def lags(self, conn) -> list[tuple[str, str, int]] | None:
        """(consumer, topic, lag) for every consumer and topic, their stored offsets read on `conn`;
        None when Kafka is away."""
        if not self.consumers or self.kafka is None:
            return []
        stored = stored_offsets(conn, self.consumers)
        offsets, _ = self.kafka.get()
        if offsets is None:
            return None
        return [(name, topic, lag) for name, topics in self.consumers.items()
                for topic, lag in lag_by_topic(topics, stored.get(name, {}), offsets).items()]
