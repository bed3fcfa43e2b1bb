"""Issue 7, item 2: Kafka going away and coming back is ridden out by the relay, the consumers
and the SLA timers, and nothing accepted meanwhile is lost or applied twice.

The shared broker is never stopped: this test starts a broker of its own (same jars and
settings as bin/stack, other ports, a data folder under tmp), kills it with SIGKILL, and
starts it again on the same data.
"""
from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from helpdesk_shared import outbox, pg
from helpdesk_shared.localstack import free_port, wait_until
from helpdesk_shared.outage import Backoff
from helpdesk_shared.topics import create_topics
from query import consumer as query_consumer, store as query_store
from sla.consumer import TimerService
from configs import query_config, sla_config

from intake import handlers
from samples import ticket_body

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LIB = Path(os.environ.get("MESA_KAFKA_LIB", ROOT / "infra" / "kafka" / "lib"))
OUTAGE_SECONDS = float(os.environ.get("MESA_KAFKA_OUTAGE_SECONDS", "20"))


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivateBroker:
    """A single-node KRaft broker of the test's own, killable without disturbing anyone."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port, controller = free_port(), free_port()
        folder.mkdir(parents=True, exist_ok=True)
        props = (ROOT / "infra" / "kafka" / "server.properties.in").read_text()
        props = (props.replace("@DATA_DIR@", str(folder)).replace("127.0.0.1:9092", f"127.0.0.1:{self.port}")
                 .replace("127.0.0.1:9093", f"127.0.0.1:{controller}"))
        self.properties = folder / "server.properties"
        self.properties.write_text(props)
        self.java = ["java", "-Xms128m", "-Xmx384m", "-XX:+UseG1GC", f"-Dkafka.logs.dir={folder}",
                     f"-Dlog4j2.configurationFile={ROOT / 'infra' / 'kafka' / 'log4j2.xml'}", "-cp", f"{KAFKA_LIB}/*"]
        cluster_id = "-"
        while cluster_id.startswith("-"):  # the storage tool would read it as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        subprocess.run(self.java + ["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                                    "-c", str(self.properties)], check=True, capture_output=True, timeout=180)
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        with open(self.folder / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(self.java + ["kafka.Kafka", str(self.properties)], stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_until(lambda: _answers(self.port), 180, "the private broker to listen", interval=0.2)

    def kill(self) -> None:
        """SIGKILL, as a crashed broker or a pulled cable looks to its clients."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=60)


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test's own on free ports, with Mesa's topics."""
    if not (KAFKA_LIB / ".complete").exists() and not any(KAFKA_LIB.glob("kafka_*.jar")):
        pytest.skip(f"no Kafka jars in {KAFKA_LIB} (bin/stack install fetches them; or set MESA_KAFKA_LIB)")
    broker = PrivateBroker(tmp_path / "kafka")
    broker.start()
    create_topics(broker.bootstrap, wait_seconds=120)
    yield broker
    broker.kill()


def open_ticket(url: str, now) -> tuple[str, list]:
    """Open a ticket as a demo customer; return its number and its events' ids."""
    with pg.connect(url) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        opened = handlers.open_ticket(conn, maria, ticket_body("Factura mal cargada en el banco Mercantil"), now)
        conn.commit()
        return opened.data["number"], [opened.event_id]


def post_messages(url: str, number: str, now, count: int) -> list:
    """Post `count` customer messages on the ticket; return their events' ids."""
    with pg.connect(url) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        ids = [handlers.post_message(conn, maria, number, {"body": f"mensaje {i}"}, now).event_id
               for i in range(count)]
        conn.commit()
        return ids


@pytest.fixture
def sla_db(fresh_database) -> str:
    """A fresh SLA database, migrated as `mesa migrate sla` would (the timers only check it)."""
    from sla import store
    url = fresh_database("sla")
    store.migrate(url)
    return url


def test_relay_consumers_and_sla_timers_ride_out_a_broker_outage_and_lose_or_double_nothing(
        private_broker, intake_db, query_db, sla_db, now):
    bootstrap = private_broker.bootstrap
    stop = threading.Event()
    quick = dict(first=0.2, most=2.0)
    relay = threading.Thread(target=outbox.run_relay, daemon=True, kwargs=dict(
        database_url=intake_db, bootstrap=bootstrap, topic_prefix="", lock_id=99_002, stop=stop,
        watermark_source="intake", backoff=Backoff(**quick)))
    consumer = query_consumer.build(replace(query_config(query_db), kafka_bootstrap_servers=bootstrap))
    consumer.backoff = Backoff(**quick)
    timers = TimerService(replace(sla_config(sla_db), kafka_bootstrap_servers=bootstrap))
    timers.loop.backoff = Backoff(**quick)
    threads = [relay, threading.Thread(target=consumer.run, args=(stop,), daemon=True),
               threading.Thread(target=timers.run, args=(stop,), daemon=True)]
    for t in threads:
        t.start()

    def applied() -> int:
        with pg.connect(query_db) as conn:
            return query_store.stats(conn)["applied_events"]

    try:
        number, before = open_ticket(intake_db, now)
        before += post_messages(intake_db, number, now, 2)
        wait_until(lambda: applied() == len(before), 120, "the tickets before the outage applied")

        private_broker.kill()
        during = post_messages(intake_db, number, now, 3)  # accepted: intake needs PostgreSQL, not Kafka
        stop.wait(OUTAGE_SECONDS)  # the outage itself, not a wait for an outcome
        assert applied() == len(before)
        assert all(t.is_alive() for t in threads), "a process died of the outage"

        private_broker.start()
        back = time.monotonic()
        wait_until(lambda: applied() == len(before) + len(during), 180, "the events of the outage applied")
        print(f"\nbroker down {OUTAGE_SECONDS:.0f} s; everything applied {time.monotonic() - back:.1f} s after "
              f"it listened again")
        wait_until(lambda: timers.loop.applied_records >= len(before) + len(during), 120, "the SLA timers caught up")
        assert all(t.is_alive() for t in threads), "a process died after the outage"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    with pg.connect(query_db) as conn:
        assert query_store.stats(conn)["applied_events"] == len(before) + len(during)
        assert conn.execute("select count(*) as n from thread").fetchone()["n"] == len(before) + len(during)
