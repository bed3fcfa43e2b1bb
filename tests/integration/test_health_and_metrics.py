"""Issue 8, ops: every service's /healthz says whether it reaches PostgreSQL and Kafka and how far
its consumers are behind (503 without its database, never a hung probe), and /metrics carries
events applied, consumer lag, SLA timers and mails — series that move when the work happens.

Real PostgreSQL and the real broker, with this test's own prefixed topics.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import timedelta

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.topics import TICKETS
from configs import intake_config, notifier_config, query_config, sla_config

from test_database_outages import drain
from test_relay import store_tickets

pytestmark = pytest.mark.integration

SERVICES = ("intake", "query", "sla", "notifier")


def build_app(service: str, fresh_database, request, tmp_path, clock, prefix: str):
    """The service's Flask app in-process, on a fresh database, reading this test's topics."""
    if service == "intake":
        from intake.app import create_app
        intake_db = request.getfixturevalue("intake_db")  # the demo users take seconds: only when needed
        return create_app(intake_config(intake_db, tmp_path / "att", kafka_topic_prefix=prefix), migrate_first=True, clock=clock)
    url = fresh_database(service)
    if service == "query":
        from query.app import create_app
        return create_app(query_config(url, kafka_topic_prefix=prefix), migrate_first=True, clock=clock)
    if service == "sla":
        from sla.app import create_app
        return create_app(sla_config(url, kafka_topic_prefix=prefix), migrate_first=True, clock=clock)
    from notifier.app import create_app
    return create_app(notifier_config(url, kafka_topic_prefix=prefix), migrate_first=True, clock=clock)


@pytest.fixture
def make_app(fresh_database, request, tmp_path, clock, topic_prefix):
    """A factory of service apps on this test's topics; their pools are closed afterwards."""
    apps = []

    def make(service: str):
        app = build_app(service, fresh_database, request, tmp_path, clock, topic_prefix)
        apps.append(app)
        return app

    yield make
    for app in apps:
        probe = app.extensions["mesa.probe"]
        probe.pool_of().close()


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(m.group(3))
    return None


def scrape(app) -> str:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- /healthz -------------------------------------------------------------------------------

EXISTING_FIELDS = {"intake": set(), "query": {"applied_events", "skipped_events"},
                   "sla": {"open_tickets", "fired_timers"}, "notifier": {"mails"}}
CONSUMERS = {"intake": "intake-sla-decisions", "query": "query-tickets", "sla": "sla-timers", "notifier": "notifier"}


@pytest.mark.parametrize("service", SERVICES)
def test_healthz_says_the_database_kafka_and_each_consumer_are_fine_when_all_is_up(service, make_app):
    app = make_app(service)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["service"] == service and body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["kafka"] == {"ok": True}
    assert [(c["name"], c["lag"], c["caught_up"]) for c in body["consumers"]] == [(CONSUMERS[service], 0, True)]
    assert EXISTING_FIELDS[service] <= set(body), "the fields health() gave before are kept"
    documented(app_document(app), body, 200)


def app_document(app) -> dict:
    """The document the app serves at /openapi.json."""
    return app.test_client().get("/openapi.json").get_json()


def documented(document: dict, body: dict, status: int) -> None:
    """The body matches the schema the service's OpenAPI document gives /healthz for that status."""
    import jsonschema
    schema = document["paths"]["/healthz"]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, schema)


@pytest.mark.parametrize("service", ("intake", "query", "sla"))
def test_healthz_is_503_unavailable_within_seconds_when_the_database_is_unreachable(service, make_app):
    app = make_app(service)
    ctx = app.extensions[service]
    ctx.pool.close()
    ctx.pool = pg.make_pool("postgresql://mesa:mesa@127.0.0.1:9/mesa_nowhere", min_size=1, timeout=1.0)
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert time.monotonic() - started < 5, "a probe never hangs"
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["database"]["ok"] is False and body["database"]["error"]
    assert body["kafka"]["ok"] is True  # it says which part is away
    documented(app_document(app), body, 503)
    # /metrics still answers, without the series the database gives, after one bounded wait
    started = time.monotonic()
    text = scrape(app)
    assert time.monotonic() - started < 5, "a scrape waits on the database once, not once per series"
    assert "mesa_events_applied_total" not in text and "mesa_consumer_lag" not in text


def test_the_notifiers_healthz_is_503_when_its_pool_is_gone(make_app):
    app = make_app("notifier")
    app.extensions["mesa.probe"].pool_of().close()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
    assert "mesa_mails_total" not in scrape(app)


def test_healthz_is_degraded_not_hung_when_kafka_is_unreachable(make_app):
    from helpdesk_shared.health import KafkaOffsets
    app = make_app("query")
    probe = app.extensions["mesa.probe"]
    probe.kafka = KafkaOffsets("127.0.0.1:9", probe.kafka.topics, timeout=1.0)
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert time.monotonic() - started < 4
    assert response.status_code == 200  # it still serves what it has
    body = response.get_json()
    assert body["status"] == "degraded" and body["kafka"]["ok"] is False and body["kafka"]["error"]
    assert body["consumers"][0]["lag"] is None


def test_kafkas_end_offsets_are_fetched_once_per_period_however_many_probes(make_app):
    app = make_app("query")
    client = app.test_client()
    for _ in range(20):
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
    assert app.extensions["mesa.probe"].kafka.fetches == 1


# --- /metrics that move ---------------------------------------------------------------------

def test_consumer_lag_grows_while_the_consumer_is_stopped_and_is_zero_once_it_catches_up(
        make_app, intake_db, kafka_bootstrap, topic_prefix, now):
    from query import consumer as query_consumer
    app = make_app("query")
    app.extensions["mesa.probe"].kafka.ttl = 0  # this test wants every probe fresh
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass  # the demo accounts
    topic = topic_prefix + TICKETS
    stored = store_tickets(intake_db, now, tickets=2, messages=2)
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass

    def lag() -> float | None:
        return sample(scrape(app), "mesa_consumer_lag", consumer="query-tickets", topic=topic)

    assert lag() == len(stored)
    health = app.test_client().get("/healthz").get_json()
    assert health["consumers"][0]["caught_up"] is False and health["consumers"][0]["lag"] >= len(stored)

    loop = query_consumer.build(query_config(app.extensions["query"].config.database_url,
                                             kafka_topic_prefix=topic_prefix))
    try:
        wait_until(lambda: loop.poll_once() == 0 and lag() == 0, 60, "the consumer caught up")
    finally:
        loop.close()
    health = app.test_client().get("/healthz").get_json()
    assert health["consumers"][0] == {**health["consumers"][0], "lag": 0, "caught_up": True}


@pytest.fixture
def consumer_log():
    """The records the consumer loop logs (the apps' logs.setup replaces the root handlers, caplog's too)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("helpdesk_shared.kafka")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_events_applied_per_type_increase_when_a_consumer_applies_a_batch_and_each_is_logged_with_its_correlation_id(
        make_app, intake_db, kafka_bootstrap, topic_prefix, now, consumer_log):
    from query import consumer as query_consumer
    app = make_app("query")

    def applied(kind: str) -> float:
        return sample(scrape(app), "mesa_events_applied_total", consumer="query-tickets", type=kind) or 0

    assert applied("TicketOpened") == 0
    store_tickets(intake_db, now, tickets=2, messages=3)
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass
    loop = query_consumer.build(query_config(app.extensions["query"].config.database_url,
                                             kafka_topic_prefix=topic_prefix))
    try:
        wait_until(lambda: loop.poll_once() >= 0 and applied("MessagePosted") == 6, 60, "six messages applied")
    finally:
        loop.close()
    assert applied("TicketOpened") == 2
    with pg.connect(intake_db) as conn:
        correlations = {str(r["correlation_id"]) for r in conn.execute(
            "select correlation_id from events where type in ('TicketOpened', 'MessagePosted')")}
    logged = {r.correlation_id for r in consumer_log
              if r.getMessage() == "event applied" and r.consumer == "query-tickets"
              and r.type in ("TicketOpened", "MessagePosted")}
    assert logged == correlations


AGENT = Actor("u-carlos", "agent")
CUSTOMER = Actor("u-maria", "customer")


def test_sla_timers_pending_overdue_and_fired_move_with_the_clocks(make_app, clock, now):
    from sla import store
    app = make_app("sla")
    url = app.extensions["sla"].config.database_url
    text = scrape(app)
    assert sample(text, "mesa_sla_timers_pending") == 0
    assert sample(text, "mesa_sla_timers_fired_total", kind="response_overdue") == 0

    def opened(ticket: str, number: str):
        return new_event("TicketOpened", ticket, 1, {
            "ticket_id": ticket, "number": number, "desk": "SOPORTE", "organisation_id": "club",
            "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada",
            "subject": "BANCOS, Factura mal cargada", "description": "...", "urgency": "normal",
            "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}},
            actor=CUSTOMER, occurred_at=now)

    def answered(ticket: str, at):
        return new_event("MessagePosted", ticket, 2, {"message_id": f"m-{ticket}", "author_id": AGENT.id,
                                                     "author_role": "agent", "body": "Lo revisamos.",
                                                     "internal": False}, actor=AGENT, occurred_at=at)

    with pg.connect(url) as conn:
        settings = store.load_settings(conn)
        store.apply_batch(conn, [Record("t", 0, 0, opened("t1", "SOP-1")), Record("t", 0, 1, opened("t2", "SOP-2"))],
                          settings)
    assert sample(scrape(app), "mesa_sla_timers_pending") == 2
    # t1 answered within minutes; t2 never: its response deadline passes
    with pg.connect(url) as conn:
        store.apply_batch(conn, [Record("t", 0, 2, answered("t1", now + timedelta(minutes=10)))], settings)
    clock.advance(days=2)  # Friday 27th: still November, t2's first response is overdue
    text = scrape(app)
    assert sample(text, "mesa_sla_timers_overdue_seconds") > 0  # due, the timer loop has not fired it
    with pg.connect(url) as conn:
        fired = store.fire_due(conn, settings, [0], clock(), clock())
    assert fired >= 1
    text = scrape(app)
    assert sample(text, "mesa_sla_timers_fired_total", kind="response_overdue") == 1
    assert sample(text, "mesa_sla_timers_overdue_seconds") == 0


def test_mails_sent_and_failed_counters_move_when_the_sender_sends(make_app, now):
    from notifier import sender, store
    from notifier.mailer import PermanentFailure
    app = make_app("notifier")
    url = app.extensions["mesa.probe"].pool_of().conninfo
    text = scrape(app)
    assert sample(text, "mesa_mails_total", status="sent") == 0
    assert sample(text, "mesa_mails_total", status="failed") == 0

    with pg.connect(url) as conn:
        for recipient in ("maria@clubcaracas.com.ve", "rechazado@clubcaracas.com.ve"):
            key = f"{uuid.uuid4()}:{recipient}:ticket_received"
            conn.execute("""insert into mails (key, cause_event_id, template, recipient, language, subject, body_text,
                                               body_html, message_id, next_attempt_at, created_at)
                            values (%s, %s, 'ticket_received', %s, 'es', 'Recibimos su ticket', 'texto',
                                    '<p>texto</p>', %s, %s, %s)""",
                         (key, uuid.uuid4(), recipient, store.message_id(key, "mesa.test"), now, now))
    assert sample(scrape(app), "mesa_mails_pending") == 2

    class Mailer:
        """Takes every mail except the refused mailbox's."""

        def send(self, mail):
            if mail.recipient.startswith("rechazado@"):
                raise PermanentFailure("550 5.1.1 No existe ese buzón")

    with pg.connect(url) as conn:
        assert sender.send_due(conn, Mailer(), now, max_backoff=1.0) == 2
    text = scrape(app)
    assert sample(text, "mesa_mails_total", status="sent") == 1
    assert sample(text, "mesa_mails_total", status="failed") == 1
    assert sample(text, "mesa_mails_pending") == 0


def test_query_exposes_the_open_tickets_of_each_desk(make_app, intake_db, kafka_bootstrap, topic_prefix, now):
    from query import consumer as query_consumer
    app = make_app("query")
    store_tickets(intake_db, now, tickets=3, messages=0)
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass
    loop = query_consumer.build(query_config(app.extensions["query"].config.database_url,
                                             kafka_topic_prefix=topic_prefix))
    try:
        wait_until(lambda: loop.poll_once() == 0 and sample(scrape(app), "mesa_open_tickets", desk="SOPORTE") == 3,
                   60, "three open tickets on SOPORTE")
    finally:
        loop.close()


def test_intakes_outbox_backlog_grows_with_stored_events_and_empties_when_the_relay_publishes(
        make_app, intake_db, kafka_bootstrap, topic_prefix, now):
    app = make_app("intake")
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass  # the demo accounts
    assert sample(scrape(app), "mesa_outbox_unpublished") == 0
    stored = store_tickets(intake_db, now, tickets=1, messages=2)
    text = scrape(app)
    assert sample(text, "mesa_outbox_unpublished") == len(stored)
    assert sample(text, "mesa_outbox_oldest_unpublished_seconds") >= 0
    while drain(intake_db, kafka_bootstrap, topic_prefix):
        pass
    assert sample(scrape(app), "mesa_outbox_unpublished") == 0


def test_query_exposes_this_months_compliance_per_desk_and_clock_as_the_report_counts_it(query_db):
    """The reports' story (tests/integration/test_query_reports.py), seen on 20 December 2026: SOPORTE's
    first responses A in time, B late, E in time, D never answered -> 2 of 4; its next responses 2 of 2;
    IMPLANTACIONES' first response F in time."""
    from datetime import datetime, timezone
    from harness import Clock
    from query.app import create_app
    from test_query_reports import accounts, feed, story
    app = create_app(query_config(query_db), migrate_first=True, clock=Clock(datetime(2026, 12, 20, 15, tzinfo=timezone.utc)))
    try:
        assert sample(scrape(app), "mesa_sla_compliance_ratio", desk="SOPORTE", clock="first_response") is None
        feed(query_db, accounts() + story())
        text = scrape(app)
        assert sample(text, "mesa_sla_compliance_ratio", desk="SOPORTE", clock="first_response") == 0.5
        assert sample(text, "mesa_sla_responses_month", desk="SOPORTE", clock="first_response", outcome="missed") == 2
        assert sample(text, "mesa_sla_compliance_ratio", desk="SOPORTE", clock="next_response") == 1.0
        assert sample(text, "mesa_sla_compliance_ratio", desk="IMPLANTACIONES", clock="first_response") == 1.0
    finally:
        app.extensions["query"].pool.close()
