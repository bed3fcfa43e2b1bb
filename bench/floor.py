"""The floor under issue 11's CPU target: what the parts the design card prescribes cost one ticket on
this machine before any line of Mesa's own code runs.

Run: `python bench/floor.py [--seconds 10] [--records 20000] [--mails 2000] [--save]`
(needs PostgreSQL and Kafka on 127.0.0.1, as `bin/stack up` runs them, wrk on PATH, and PYTHONPATH
naming the checkout's shared/ folder and bench/).

Issue 11 asks for at most 3 ms of CPU a ticket summed over every process, and 500 accepted tickets a
second on two cores. This bench measures each primitive a ticket cannot do without, at its cheapest
(nothing rendered, validated or decided; batches where the design batches), and adds them up along
the shortest chain a ticket must take through the services SPEC.md describes:

| primitive | how it is measured (CPU of every process involved, from /proc) |
|---|---|
| http_request | bench/bare_app.py (Flask + marshmallow, no database) under gunicorn, 2 sync workers, driven by wrk -c16: the workers' and master's CPU a request (wrk's own CPU not counted) |
| pg_read | an autocommitted one-row read by primary key: client + backend |
| pg_durable_write | a one-statement transaction inserting one 700-byte row, committed (flushed): client + backend |
| pg_batched_row | 100 rows of 700 bytes a transaction (one VALUES statement and a commit), a row: client + backend |
| kafka_produce | kafka-python's producer, 700-byte records, acks=all, linger 5 ms: a record, client |
| kafka_consume | kafka-python's consumer reading them back in batches of 500: a record, client |
| kafka_broker | the broker JVM's CPU over both phases, less its idle rate, a record produced and consumed |
| smtp_send | smtplib's `sendmail` of a 5 kB message on one kept connection to an aiosmtpd sink (its own process, not counted): a mail, client |

The chain (`CHAIN` below) counts what SPEC.md makes every new ticket do, and nothing the product
adds beyond that: one HTTP request (the issue's mixed load adds about 0.6 more a ticket), the token's
revocation check and rule 6's read of the module's open cases, the append of TicketOpened (event store
and outbox in one transaction), the SLA's clock change and the desk queue's mail each published once,
the query, SLA and notifier each applying TicketOpened with its offset, query applying the deadline
and the NotificationSent, one mail sent and marked sent durably (so a restart does not send it twice).
`MIX` adds what the issue's mixed load brings a ticket (0.25 more requests, 0.15 more mails). The
customer's receipt mail, the relays' reads, JSON and marshmallow in the consumers, Jinja, MIME,
rule 6's scoring and every log line are left out: the floor is lower than any implementation of the
card's design can reach.
"""
from __future__ import annotations

import argparse
import email.policy
import json
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from email.message import EmailMessage
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpdesk_shared.localstack import PG_BASE_URL  # noqa: E402
from intake_throughput import check_wrk, once, start_bare_app, wrk_version  # noqa: E402
from issue11 import smtp_sink  # noqa: E402
from machine import machine_info, print_block, proc_cpu_s, save_results  # noqa: E402

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ROW = b"x" * 700  # about a TicketOpened's stored bytes

# Per ticket: how many of each primitive the shortest chain through SPEC.md's services takes, and why.
CHAIN = {
    "http_request": (1, "POST /api/tickets (the mixed load's messages, answers and closes not counted)"),
    "pg_read": (2, "the bearer token's revocation check; rule 6's open cases of the organisation's module"),
    "pg_durable_write": (2, "TicketOpened appended (store = outbox); the queue mail marked sent after SMTP"),
    "pg_batched_row": (5, "query, SLA and notifier apply TicketOpened; query applies the deadline and the NotificationSent"),
    "kafka_produce": (3, "TicketOpened, the SLA's deadline set, NotificationSent"),
    "kafka_consume": (5, "TicketOpened by query, SLA and notifier; the deadline and NotificationSent by query"),
    "kafka_broker": (3, "each record produced once and read back (the broker's CPU a record, both ways)"),
    "smtp_send": (1, "the mail to the desk's queue (SPEC rule 3); the customer's receipt not counted"),
}
# What the issue's mixed load adds to a ticket (bench/issue11.lua: of every 100 requests 80 open a
# ticket, 8 are customers' messages, 8 agents' answers, 4 closes; so 0.25 more requests a ticket):
# each request its HTTP, token check, snapshot read, append, record and three consumers' rows; an
# agent's answer and a close each mail the customer (0.15 mails a ticket), marked, published, applied.
MIX = {
    "http_request": 0.25, "pg_read": 0.5, "pg_durable_write": 0.25 + 0.15, "pg_batched_row": 0.75 + 0.15,
    "kafka_produce": 0.25 + 0.15, "kafka_consume": 0.75 + 0.15, "kafka_broker": 0.25 + 0.15, "smtp_send": 0.15,
}
TARGET_MS = 3.0


def _server_cpu_s(conn: psycopg.Connection) -> float:
    return proc_cpu_s(conn.info.backend_pid) or 0.0


def measure_pg(n: int) -> dict:
    """pg_read, pg_durable_write and pg_batched_row in ms of CPU (client + backend), on a scratch database."""
    name = f"mesa_floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        with psycopg.connect(f"{PG_BASE_URL}/{name}", autocommit=True) as conn:
            conn.execute("create table rows (id bigserial primary key, k text not null, payload bytea not null)")
            conn.execute("create table users (id text primary key, disabled boolean not null, valid_after timestamptz)")
            conn.execute("insert into users select 'u' || i, false, now() from generate_series(1, 1000) i")

            def timed(work, count: int) -> float:
                work(min(count, 200))  # warm: prepared statements, caches
                client, server = time.process_time(), _server_cpu_s(conn)
                work(count)
                return 1000 * ((time.process_time() - client) + (_server_cpu_s(conn) - server)) / count

            def reads(count: int) -> None:
                for i in range(count):
                    conn.execute("select disabled, valid_after from users where id = %s", (f"u{i % 1000 + 1}",)).fetchone()

            def durable(count: int) -> None:
                for i in range(count):
                    conn.execute("insert into rows (k, payload) values (%s, %s)", (str(i), ROW))

            def batched(count: int) -> None:
                values = ", ".join(["(%s, %s)"] * 100)
                for start in range(0, count, 100):
                    params = [p for i in range(start, start + 100) for p in (str(i), ROW)]
                    with conn.transaction():
                        conn.execute(f"insert into rows (k, payload) values {values}", params)

            return {"pg_read": timed(reads, n), "pg_durable_write": timed(durable, n),
                    "pg_batched_row": timed(batched, n * 10)}
    finally:
        with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


def _broker_pid() -> int | None:
    out = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def measure_kafka(records: int) -> dict:
    """kafka_produce, kafka_consume and kafka_broker in ms of CPU a record."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"floor-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
    broker = _broker_pid()
    try:
        idle_from, idle_at = proc_cpu_s(broker), time.monotonic()
        time.sleep(5)  # not a test: the broker's idle rate is what it spends in this window
        idle_rate = (proc_cpu_s(broker) - idle_from) / (time.monotonic() - idle_at)
        broker_from, window_from = proc_cpu_s(broker), time.monotonic()
        producer = KafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=5)
        keys = [str(i % 997).encode() for i in range(records)]
        began = time.process_time()
        for key in keys:
            producer.send(topic, key=key, value=ROW)
        producer.flush()
        produce = time.process_time() - began
        producer.close()
        consumer = KafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, max_poll_records=500)
        read, began = 0, time.process_time()
        deadline = time.monotonic() + 120
        while read < records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                read += len(batch)
        consume = time.process_time() - began
        consumer.close()
        if read < records:
            raise RuntimeError(f"read back {read} of {records} records")
        broker_s = proc_cpu_s(broker) - broker_from - idle_rate * (time.monotonic() - window_from)
        return {"kafka_produce": 1000 * produce / records, "kafka_consume": 1000 * consume / records,
                "kafka_broker": 1000 * broker_s / records, "kafka_broker_idle_ms_per_s": 1000 * idle_rate}
    finally:
        admin.delete_topics([topic])
        admin.close()


def measure_smtp(mails: int, workdir: Path, cleanup: ExitStack) -> dict:
    """smtp_send in ms of CPU a mail (the client's; the sink runs in its own process)."""
    port = smtp_sink(workdir, cleanup)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "mesa@example.com", "soporte@example.com", "Ticket SOP-1"
    message.set_content("Línea de texto del aviso.\n" * 200, cte="quoted-printable")
    raw = message.as_bytes(policy=email.policy.SMTP)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(50):
            smtp.sendmail("mesa@example.com", ["soporte@example.com"], raw)
        began = time.process_time()
        for _ in range(mails):
            smtp.sendmail("mesa@example.com", ["soporte@example.com"], raw)
        return {"smtp_send": 1000 * (time.process_time() - began) / mails, "smtp_message_bytes": len(raw)}


def measure_http(seconds: float, workdir: Path, cleanup: ExitStack) -> dict:
    """http_request in ms of CPU a request: the bare app's gunicorn master and workers under wrk."""
    proc, url = start_bare_app(2, workdir)
    cleanup.callback(once(proc.kill))
    body = json.dumps({"desk": "SOPORTE", "subject": "Nómina, el cálculo de vacaciones no cuadra",
                       "description": "Al calcular las vacaciones de un empleado el sistema muestra otro monto.",
                       "contact": {"name": "Ana Pérez", "email": "ana@example.com", "phone": "+58 212 555 1234"}})
    script = workdir / "floor.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n')
    pids = [proc.popen.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.popen.pid)], capture_output=True,
                                                               text=True).stdout.split()]

    def wrk(duration: float) -> str:
        return subprocess.run(["wrk", "-t1", "-c16", f"-d{max(1, round(duration))}s", "-s", str(script),
                               f"{url}/tickets"], capture_output=True, text=True, check=True).stdout

    wrk(3)
    before = sum(proc_cpu_s(p) or 0.0 for p in pids)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = wrk(seconds)
    used = sum(proc_cpu_s(p) or 0.0 for p in pids) - before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    if "Non-2xx" in out:
        raise RuntimeError("the bare app refused the floor's body:\n" + out)
    # wrk's own CPU is not the pipeline's, but it shares the two cores in bench/run's throughput phase.
    return {"http_request": 1000 * used / requests, "http_requests_per_s": round(requests / seconds),
            "wrk_per_request": 1000 * load / requests}


def chain(costs: dict) -> dict:
    """Each primitive's count times its cost, and the sums: the floor of a ticket's CPU, opened alone
    and under the issue's mixed load."""
    parts = {name: round(count * costs[name], 3) for name, (count, _) in CHAIN.items()}
    alone = sum(parts.values())
    mixed = alone + sum(count * costs[name] for name, count in MIX.items())
    return {"per_ticket_ms": parts, "floor_ms": round(alone, 3), "floor_with_the_mix_ms": round(mixed, 3),
            "target_ms": TARGET_MS, "tickets_per_s_on_two_cores_at_the_floor": round(2000 / alone),
            "tickets_per_s_on_two_cores_at_the_floor_with_the_mix": round(2000 / mixed)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of wrk against the bare app (10)")
    p.add_argument("--statements", type=int, default=3000, help="statements of each PostgreSQL kind (3000)")
    p.add_argument("--records", type=int, default=20000, help="Kafka records produced and read back (20000)")
    p.add_argument("--mails", type=int, default=2000, help="mails sent to the SMTP sink (2000)")
    p.add_argument("--save", action="store_true", help="write bench/results/floor-<time>.json")
    args = p.parse_args(argv)
    check_wrk()
    machine = {**machine_info(packages=("flask", "gunicorn", "marshmallow", "psycopg", "kafka-python", "crc32c"),
                              pg_settings=("synchronous_commit", "wal_sync_method")), "wrk": wrk_version()}
    print_block("machine", machine)
    costs: dict = {}
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="mesa-floor-"))
        costs.update(measure_http(args.seconds, workdir, cleanup))
        costs.update(measure_pg(args.statements))
        costs.update(measure_kafka(args.records))
        costs.update(measure_smtp(args.mails, workdir, cleanup))
    costs = {k: round(v, 4) if isinstance(v, float) else v for k, v in costs.items()}
    print_block("ms of CPU a primitive", costs)
    result = chain(costs)
    result["chain"] = {name: {"count": count, "with_the_mix": count + MIX[name], "why": why}
                       for name, (count, why) in CHAIN.items()}
    print_block("the floor of a ticket", result)
    if args.save:
        save_results("floor", {"machine": machine, "settings": vars(args), "costs": costs, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
