"""The SLA timer process on real Kafka and PostgreSQL looks for due timers only when one may be due
(issue 11, "polling that costs nothing when idle"; sla.due_watch), and still fires it then."""
from __future__ import annotations

from datetime import timedelta

import pytest

from configs import sla_config
from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event, to_json_bytes
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.topics import TICKETS
from sla import store
from sla.consumer import TimerService

pytestmark = pytest.mark.integration

CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")


@pytest.fixture
def sla_db(fresh_database) -> str:
    url = fresh_database("sla")
    store.migrate(url)
    return url


def test_an_idle_timer_process_leaves_the_database_alone_until_its_next_deadline_then_fires_it(
        sla_db, topic_prefix, kafka_bootstrap, clock):
    config = sla_config(sla_db, kafka_topic_prefix=topic_prefix, kafka_bootstrap_servers=kafka_bootstrap,
                        require_intake_watermark=False, consumer_mode="single")
    service = TimerService(config, clock=clock)
    opened = new_event("TicketOpened", "t1", 1, {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "organisation_id": "club", "opened_by": CUSTOMER.id,
        "module": "BANCOS", "case": "Factura mal cargada", "subject": "BANCOS, Factura mal cargada",
        "description": "...", "urgency": "platform_down",
        "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}}, actor=CUSTOMER,
        occurred_at=clock.now)
    producer = make_producer(kafka_bootstrap)
    producer.send(topic_prefix + TICKETS, key="t1", value=to_json_bytes(opened)).get(timeout=60)
    producer.close()

    def step() -> int:
        service.loop.poll_once()
        return service.fire(service.loop)

    def due():
        with pg.connect(sla_db) as conn:
            return conn.execute("select next_due from clocks where ticket_id = 't1'").fetchone()

    try:
        wait_until(lambda: step() >= 0 and due() is not None, 60, "the ticket's clocks")
        deadline = due()["next_due"]
        step()  # the check after the batch reads the next due instant back
        checks = service.checks
        for _ in range(5):
            assert step() == 0
        clock.now = deadline - timedelta(minutes=1)
        assert step() == 0
        assert service.checks == checks, "looked for due timers with none due"

        clock.now = deadline + timedelta(seconds=config.grace_seconds)  # a jump past the deadline
        assert step() == 1
        assert service.checks == checks + 1
        with pg.connect(sla_db) as conn:
            kinds = [r["kind"] for r in conn.execute("select kind from fired_timers")]
        assert len(kinds) == 1
    finally:
        service.loop.close()


def test_a_calendar_change_by_the_sla_api_makes_the_idle_timer_process_look_again(
        sla_db, topic_prefix, kafka_bootstrap, clock):
    config = sla_config(sla_db, kafka_topic_prefix=topic_prefix, kafka_bootstrap_servers=kafka_bootstrap,
                        require_intake_watermark=False, consumer_mode="single")
    service = TimerService(config, clock=clock)
    try:
        wait_until(lambda: service.loop.poll_once() >= 0 and service.loop.holds(), 60, "the partitions")
        service.fire(service.loop)
        checks = service.checks
        service.fire(service.loop)
        assert service.checks == checks  # nothing pending: no check
        with pg.connect(sla_db) as conn:
            store.change_calendar(conn, "SOPORTE", {"closures": [{"date": "2026-12-01", "note": "Inventario"}]},
                                  clock.now, AGENT, clock.now)
        wait_until(lambda: service.loop.poll_once() >= 0 and service.fire(service.loop) >= 0
                   and service.checks > checks, 30, "a check after the calendar change")
    finally:
        service.loop.close()
