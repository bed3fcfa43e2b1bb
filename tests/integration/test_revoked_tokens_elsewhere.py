"""Query, SLA and the notifier refuse a bearer token once they have read its user's
BearerTokensRevoked from helpdesk.accounts (apps in-process on real PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from configs import bearer, notifier_config, query_config, sla_config
from helpdesk_shared import pg, revocations
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import SYSTEM, new_event
from helpdesk_shared.kafka import Record

pytestmark = pytest.mark.integration

CARLOS = Claims(user_id="u-carlos", role="agent", organisation_id=None, desks=("SOPORTE",), name="Carlos",
                email="carlos@mesa.example")


def _revoked(clock) -> Record:
    event = new_event(revocations.EVENT, "user-u-carlos", 2,
                      {"user_id": CARLOS.user_id, "valid_after": clock(), "reason": "rights_changed"},
                      actor=SYSTEM, occurred_at=clock())
    return Record("t.helpdesk.accounts", 0, 7, event)


def _check(client, path: str, clock, apply) -> None:
    before = bearer(CARLOS, clock() - timedelta(seconds=5))
    assert client.get(path, headers=before).status_code == 200
    apply(_revoked(clock))
    assert client.get(path, headers=before).status_code == 401
    assert client.get(path, headers=bearer(CARLOS, clock())).status_code == 401  # issued at that very instant
    clock.advance(seconds=1)
    assert client.get(path, headers=bearer(CARLOS, clock())).status_code == 200
    apply(_older(clock))  # a replayed, older revocation moves nothing back
    assert client.get(path, headers=before).status_code == 401
    assert client.get(path, headers=bearer(CARLOS, clock())).status_code == 200


def _older(clock) -> Record:
    event = new_event(revocations.EVENT, "user-u-carlos", 2,
                      {"user_id": CARLOS.user_id, "valid_after": clock() - timedelta(hours=1),
                       "reason": "logout"}, actor=SYSTEM, occurred_at=clock())
    return Record("t.helpdesk.accounts", 0, 8, event)


def test_query_refuses_a_token_its_consumer_read_a_revocation_for(fresh_database, clock):
    from query import store
    from query.app import create_app
    app = create_app(query_config(fresh_database("query")), migrate_first=True, clock=clock)
    url = app.extensions["query"].config.database_url

    def apply(record):
        with pg.connect(url) as conn:
            store.apply_batch(conn, [record])
    try:
        _check(app.test_client(), "/api/tickets", clock, apply)
    finally:
        app.extensions["query"].pool.close()


def test_the_notifier_refuses_a_token_its_consumer_read_a_revocation_for(fresh_database, clock):
    from notifier import store
    from notifier.app import create_app
    config = notifier_config(fresh_database("notifier"))
    app = create_app(config, migrate_first=True, clock=clock)

    def apply(record):
        with pg.connect(config.database_url) as conn:
            store.record_batch(conn, [record], lambda *a: [], lambda m: ("", "", ""), secret=config.reply_secret,
                               reply_domain="mesa.test", token_days=30, now=clock())
    _check(app.test_client(), "/api/templates", clock, apply)


def test_the_sla_service_refuses_a_token_its_timer_consumer_read_a_revocation_for(fresh_database, clock):
    from sla.app import create_app
    from sla.consumer import TimerService
    config = sla_config(fresh_database("sla"))
    app = create_app(config, migrate_first=True, clock=clock)
    timers = TimerService.__new__(TimerService)  # its batch handler only; no Kafka needed
    timers.intake_through, timers.settings = None, None

    def apply(record):
        with pg.connect(config.database_url) as conn:
            timers.apply_batch(conn, [record])
    try:
        _check(app.test_client(), "/api/policies", clock, apply)
    finally:
        app.extensions["sla"].pool.close()


def test_querys_user_directory_follows_a_supervisors_change_of_role_and_desks(fresh_database, clock):
    from query import store
    from query.app import create_app
    app = create_app(query_config(fresh_database("query")), migrate_first=True, clock=clock)
    url = app.extensions["query"].config.database_url
    app.extensions["query"].pool.close()
    registered = new_event("UserRegistered", "user-u-carlos", 1, {
        "user_id": "u-carlos", "email": "carlos@mesa.example", "name": "Carlos", "role": "agent",
        "organisation_id": None, "desks": ["SOPORTE"], "language": "es", "phone": None}, actor=SYSTEM,
        occurred_at=clock())
    updated = new_event("UserUpdated", "user-u-carlos", 2, {
        "user_id": "u-carlos", "role": "supervisor", "organisation_id": None, "desks": ["SOPORTE", "IMPLANTACIONES"],
        "disabled": False, "changed_by": "u-rosa"}, actor=SYSTEM, occurred_at=clock())
    with pg.connect(url) as conn:
        store.apply_batch(conn, [Record("t.helpdesk.accounts", 0, 1, registered),
                                 Record("t.helpdesk.accounts", 0, 2, updated)])
        row = conn.execute("select role, desks from users where id = 'u-carlos'").fetchone()
    assert (row["role"], row["desks"]) == ("supervisor", ["SOPORTE", "IMPLANTACIONES"])
