"""bench/rebuild_bench.py and bench/query_apply_profile.py run end to end on a small log (real Kafka
and PostgreSQL): a benchmark the README names must not break silently when the schema moves (both
failed from migration 0007 until this stop, unnoticed for a stop)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_shared import localstack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_rebuild_bench_rebuilds_a_small_log_and_prints_its_share_of_the_ceiling(kafka_bootstrap):
    env = {**os.environ, "PG_BASE_URL": localstack.PG_BASE_URL, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run([sys.executable, "bench/rebuild_bench.py", "--events", "600"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    saved = re.search(r"saved (bench/results/rebuild-[0-9-]+\.json)", done.stdout)
    if saved:
        (ROOT / saved.group(1)).unlink()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rebuilt = re.search(r'"events": (\d+),\s*"seconds": [\d.]+,\s*"events_per_s"', done.stdout.split("== rebuild")[1])
    assert rebuilt and int(rebuilt.group(1)) == 600
    assert '"rebuild_share_of_ceiling"' in done.stdout


def test_the_query_apply_profile_applies_a_small_log_into_a_migrated_database():
    # The same defect in bench/query_apply_profile.py: schema.sql alone has no ticket_search table.
    env = {**os.environ, "PG_BASE_URL": localstack.PG_BASE_URL}
    done = subprocess.run([sys.executable, "bench/query_apply_profile.py", "--events", "500"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"[\d,]+ events; decode: CPU [\d.]+ µs/event; apply: wall \d+ µs/event", done.stdout)
