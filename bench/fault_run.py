"""A fault run (issue 7, item 2): a stream of customer messages into a running Mesa while every
PostgreSQL backend of its databases is terminated again and again; then count what was lost
or doubled on the read side.

    python bench/fault_run.py --intake http://127.0.0.1:8001 --query http://127.0.0.1:8002 \\
        --databases mesa_intake,mesa_query,mesa_sla,mesa_notifier --seconds 60 --kill-every 10

It terminates backends (pg_terminate_backend), it never stops the server. Kafka outages are
covered by tests/e2e/test_kafka_outage.py. Prints one JSON object of figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from samples import distinct_cases, ticket_body  # noqa: E402


def terminate(pg_base: str, databases: list[str]) -> int:
    """Terminate every backend of the databases; return how many."""
    with psycopg.connect(f"{pg_base}/postgres", autocommit=True) as admin:
        return len(admin.execute("""select pg_terminate_backend(pid) from pg_stat_activity
                                    where datname = any(%s) and pid <> pg_backend_pid()""", (databases,)).fetchall())


def main() -> None:
    """Run the stream and the kills; print the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--intake", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--pg", default="postgresql://mesa:mesa@127.0.0.1:5432")
    p.add_argument("--databases", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--kill-every", type=float, default=10)
    p.add_argument("--tickets", type=int, default=3)
    args = p.parse_args()
    databases = args.databases.split(",")
    session = requests.Session()
    token = session.post(f"{args.intake}/api/auth/login", timeout=30,
                         json={"email": "jose@clubcaracas.com.ve", "password": "mesa-demo"}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    numbers = []
    cases = distinct_cases()
    while len(numbers) < args.tickets:
        module, case = next(cases)
        r = session.post(f"{args.intake}/api/tickets", headers=headers, json=ticket_body(case, module), timeout=30)
        if r.status_code == 201:
            numbers.append(r.json()["number"])
    statuses, errors, accepted = Counter(), Counter(), Counter()
    stop = threading.Event()
    kills = []

    def killer():
        while not stop.wait(args.kill_every):
            kills.append(terminate(args.pg, databases))

    threading.Thread(target=killer, daemon=True).start()
    deadline, i = time.monotonic() + args.seconds, 0
    while time.monotonic() < deadline:
        number = numbers[i % len(numbers)]
        body = f"fault-run message {i}"
        try:
            r = session.post(f"{args.intake}/api/tickets/{number}/messages", headers=headers, json={"body": body},
                             timeout=30)
            statuses[r.status_code] += 1
            if r.status_code == 201:
                accepted[body] += 1
                i += 1
            elif r.status_code == 503:
                time.sleep(min(float(r.headers.get("Retry-After", 1)), 1.0))
        except requests.RequestException as exc:
            errors[type(exc).__name__] += 1
            time.sleep(0.5)
    stop.set()

    def read_side() -> Counter:
        seen = Counter()
        for number in numbers:
            r = session.get(f"{args.query}/api/tickets/{number}", headers=headers, timeout=30)
            if r.status_code == 200:
                seen.update(m["body"] for m in r.json()["thread"] if m["body"].startswith("fault-run"))
        return seen

    settle = time.monotonic() + 180
    while (seen := read_side()) != accepted and time.monotonic() < settle:
        time.sleep(1)
    print(json.dumps({"seconds": args.seconds, "backend_kills": len(kills), "backends_terminated": sum(kills),
                      "http_statuses": dict(statuses), "client_errors": dict(errors),
                      "accepted_messages": sum(accepted.values()),
                      "lost": sorted(set(accepted) - set(seen)), "doubled": sorted(b for b, n in seen.items() if n > 1),
                      "settled_in_s": round(180 - max(0, settle - time.monotonic()), 1)}))


if __name__ == "__main__":
    main()
