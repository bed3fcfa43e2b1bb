"""Opening a ticket on real PostgreSQL: rule 6's lock holds two racing copies of one case apart, and
the opening's reads cost as few statements as the rule allows (issue 11).

Rule 6 reads the organisation's open cases of the module after a lock that serialises openings, so
that two copies of one case sent at once cannot both pass the duplicate check: the second waits for
the first to commit, then reads it as an open case. The organisation's row, the desk's catalog and
that lock are one statement (they depend only on the request); the open cases follow in a statement
of their own, so their snapshot is taken after the lock is granted.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from unittest import mock

import pytest
from psycopg import _connection_base, _cursor_base

from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.errors import RuleViolation
from intake import handlers, postgres_uow, unit_of_work

from harness import login
from samples import DESCRIPTION, ticket_body

pytestmark = pytest.mark.integration

CASE = "Factura mal cargada en el banco Mercantil"


def _customer(intake_db: str) -> Claims:
    with pg.connect(intake_db) as conn:
        row = conn.execute("select id, organisation_id, name, email from users where email = %s",
                           ("maria@clubcaracas.com.ve",)).fetchone()
    return Claims(row["id"], "customer", row["organisation_id"], ("SOPORTE",), row["name"], row["email"])


def _advisory_waiters(intake_db: str) -> int:
    with pg.connect(intake_db, autocommit=True) as conn:
        return conn.execute("select count(*) as n from pg_locks where locktype = 'advisory' and not granted"
                            ).fetchone()["n"]


def test_two_copies_of_one_case_sent_at_once_open_one_ticket_and_the_other_is_told_its_number(intake_db, now):
    maria = _customer(intake_db)
    first = pg.connect(intake_db)
    opened = handlers.open_ticket(postgres_uow.PostgresUnitOfWork(first), maria, ticket_body(CASE), now)
    outcome: dict = {}

    def second_copy() -> None:
        @contextmanager
        def start():
            with pg.connect(intake_db) as conn:
                yield postgres_uow.PostgresUnitOfWork(conn)
        try:
            outcome["event"] = unit_of_work.run(start, lambda uow: handlers.open_ticket(
                uow, maria, {**ticket_body(CASE), "description": DESCRIPTION + " Sigue igual."}, now))
        except RuleViolation as err:
            outcome["refused"] = err

    racer = threading.Thread(target=second_copy, daemon=True)
    racer.start()
    deadline = time.monotonic() + 60
    while _advisory_waiters(intake_db) == 0:  # the copy waits for the first opening's lock
        assert racer.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.02)
    first.commit()
    first.close()
    racer.join(60)
    assert not racer.is_alive()
    assert "event" not in outcome, outcome
    refusal = outcome["refused"].as_dict()
    assert refusal["code"] == "R6_DUPLICATE_OPEN_CASE" and refusal["ticket"] == opened.data["number"]
    with pg.connect(intake_db) as conn:
        assert conn.execute("select count(*) as n from events where type = 'TicketOpened'").fetchone()["n"] == 1


def test_an_opening_sends_its_reads_the_lock_and_its_write_in_seven_statements(intake_app):
    client = intake_app.test_client()
    headers = login(client, "maria@clubcaracas.com.ve")
    sent: list[str] = []
    real_prepare, real_command = _cursor_base.BaseCursor._maybe_prepare_gen, _connection_base.BaseConnection._exec_command

    def prepare(self, pgq, *args, **kwargs):
        sent.append(bytes(pgq.query).decode()[:60])
        return real_prepare(self, pgq, *args, **kwargs)

    def command(self, text, *args, **kwargs):
        sent.append(bytes(text).decode() if isinstance(text, (bytes, bytearray)) else str(text))
        return real_command(self, text, *args, **kwargs)

    with mock.patch.object(_cursor_base.BaseCursor, "_maybe_prepare_gen", prepare), \
            mock.patch.object(_connection_base.BaseConnection, "_exec_command", command):
        response = client.post("/api/tickets", headers=headers, json=ticket_body(CASE))
    assert response.status_code == 201, response.get_json()
    # the token's check, BEGIN, organisation + catalog + lock, open cases, number, append, COMMIT
    assert len(sent) == 7, sent
