"""What the timer process learns of its next due instant from the store (issue 11, sla.due_watch):
the earliest due a batch wrote, the earliest due per partition, and a NOTIFY when the SLA API moves clocks."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.kafka import Record
from sla import store

pytestmark = pytest.mark.integration

CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
MONDAY_10 = datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)  # 10:00 in Caracas


@pytest.fixture
def sla_db(fresh_database) -> str:
    url = fresh_database("sla")
    store.migrate(url)
    return url


def opened(ticket_id: str, urgency: str = "normal"):
    return new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": f"SOP-{ticket_id[1:]}", "desk": "SOPORTE", "organisation_id": "club",
        "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada",
        "subject": "BANCOS, Factura mal cargada", "description": "...", "urgency": urgency,
        "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}}, actor=CUSTOMER, occurred_at=MONDAY_10)


def test_a_batch_returns_the_earliest_due_instant_it_wrote_and_the_store_reads_it_per_partition(sla_db):
    with pg.connect(sla_db) as conn:
        settings = store.load_settings(conn)
        written = store.apply_batch(conn, [Record("t", 0, 0, opened("t1")), Record("t", 3, 0, opened("t2", "platform_down"))],
                                    settings)
        due = {r["partition"]: r["next_due"] for r in conn.execute("select partition, next_due from clocks")}
        assert written == min(due.values())
        assert store.earliest_due(conn, [0]) == due[0]
        assert store.earliest_due(conn, [0, 3]) == min(due.values())
        assert store.earliest_due(conn, [5]) is None
        # A republished TicketOpened writes nothing, so it brings nothing earlier.
        assert store.apply_batch(conn, [Record("t", 0, 1, opened("t1"))], settings) is None


def test_a_calendar_change_notifies_the_timer_processes_at_its_commit(sla_db):
    with pg.connect(sla_db) as conn:
        store.apply_batch(conn, [Record("t", 0, 0, opened("t1"))], store.load_settings(conn))
    with pg.connect(sla_db, autocommit=True) as listener:
        listener.execute(f"listen {store.CLOCKS_MOVED}")
        with pg.connect(sla_db) as conn:
            store.change_calendar(conn, "SOPORTE", {"closures": [{"date": "2026-12-01", "note": "Inventario"}]},
                                  MONDAY_10, AGENT, MONDAY_10)
        assert [n.channel for n in listener.notifies(timeout=10, stop_after=1)] == [store.CLOCKS_MOVED]
