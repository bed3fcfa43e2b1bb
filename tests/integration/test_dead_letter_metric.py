"""Ops see parked records as a Prometheus metric on every service's /metrics, not only in a log line."""
from __future__ import annotations

import uuid

import pytest

from helpdesk_shared import pg

pytestmark = pytest.mark.integration


def _metric(client, table: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    lines = [line for line in text.splitlines() if line.startswith(f'mesa_dead_letters{{table="{table}"}}')]
    assert len(lines) == 1, text
    return float(lines[0].split()[-1])


def test_parked_outbox_rows_and_consumer_messages_are_counted_on_intakes_metrics(intake_app, intake_db):
    client = intake_app.test_client()
    assert _metric(client, "outbox_dead_letters") == 0
    assert _metric(client, "consumer_dead_letters") == 0
    with pg.connect(intake_db) as conn:
        conn.execute("""insert into outbox_dead_letters (id, event_id, topic, key, payload, stored_at, error)
                        values (1, %s, 'helpdesk.tickets', 'k', 'x', now(), 'MessageSizeTooLargeError')""",
                     (uuid.uuid4(),))
        conn.cursor().executemany(
            """insert into consumer_dead_letters (consumer, topic, partition, "offset", value, error)
               values ('intake-sla', 'helpdesk.sla', 0, %s, 'garbage', 'undecodable')""", [(7,), (8,)])
    assert _metric(client, "outbox_dead_letters") == 1
    assert _metric(client, "consumer_dead_letters") == 2


def test_metrics_still_answer_while_the_database_is_unreachable(intake_app):
    intake_app.extensions["intake"].pool.close()  # as if PostgreSQL were gone
    response = intake_app.test_client().get("/metrics")
    assert response.status_code == 200
    assert "mesa_dead_letters" not in response.get_data(as_text=True)
