"""The SLA service's store on real PostgreSQL (issue 7 items 17 and 18): a new ticket's first
deadline is queued as DeadlineSet once; an away customer's return date survives the store."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.schemas import load_envelope
from sla import store, timers

pytestmark = pytest.mark.integration

CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
SATURDAY = datetime(2026, 11, 28, 14, 0, tzinfo=timezone.utc)  # 10:00 in Caracas


@pytest.fixture
def sla_db(fresh_database) -> str:
    url = fresh_database("sla")
    store.migrate(url)
    return url


def opened():
    return new_event("TicketOpened", "t1", 1, {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "organisation_id": "club", "opened_by": CUSTOMER.id,
        "module": "BANCOS", "case": "Factura mal cargada", "subject": "BANCOS, Factura mal cargada",
        "description": "...", "urgency": "normal",
        "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}}, actor=CUSTOMER, occurred_at=SATURDAY)


def apply(url: str, *events) -> None:
    with pg.connect(url) as conn:
        store.apply_batch(conn, [Record("t", 0, n, e) for n, e in enumerate(events)], store.load_settings(conn))


def queued(url: str) -> list:
    with pg.connect(url) as conn:
        return [load_envelope(json.loads(bytes(r["payload"])))
                for r in conn.execute("select payload from outbox order by id")]


def test_a_new_ticket_queues_its_first_deadline_once_with_the_calendar_it_used(sla_db):
    apply(sla_db, opened())
    apply(sla_db, opened())  # a republished TicketOpened
    (event,) = queued(sla_db)
    assert (event.type, event.stream_id, event.stream_version) == ("DeadlineSet", "sla-t1", 1)
    assert event.data["counts_from"] == "2026-11-30T13:00:00+00:00"  # Monday's opening
    assert event.data["due_at"] == "2026-11-30T21:00:00+00:00" and event.data["calendar_version"] == 1


def test_the_away_customers_return_survives_the_store_and_moves_the_auto_close(sla_db):
    back = datetime(2026, 12, 7, 13, 0, tzinfo=timezone.utc)  # Monday 7 December, 09:00 in Caracas
    apply(sla_db, opened(),
          new_event("MessagePosted", "t1", 2, {"message_id": "m2", "author_id": AGENT.id, "author_role": "agent",
                                               "body": "¿Puede enviar el reporte?", "internal": False},
                    actor=AGENT, occurred_at=SATURDAY + timedelta(days=2)))
    apply(sla_db, new_event("CustomerAway", "t1", 3, {"back_at": back, "note": None}, actor=CUSTOMER,
                            occurred_at=SATURDAY + timedelta(days=2, hours=1)))
    with pg.connect(sla_db) as conn:
        row = conn.execute("select state, next_due from clocks where ticket_id = 't1'").fetchone()
        clocks = store.clocks_from_doc(row["state"], store.load_settings(conn))
    assert clocks.away_until == back and clocks.waiting.away_until == back
    close = {t.kind: t for t in timers.pending_timers(clocks)}["auto_closed"]
    assert close.due_at == datetime(2026, 12, 8, 21, 0, tzinfo=timezone.utc)  # two business days from Monday 7
    assert row["next_due"] == datetime(2026, 12, 7, 21, 0, tzinfo=timezone.utc)  # the warning, one day after
