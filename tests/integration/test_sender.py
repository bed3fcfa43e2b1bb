"""The notifier's sender on real PostgreSQL and a real SMTP server: once per mail, never dropped."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller

from helpdesk_shared import pg
from helpdesk_shared.localstack import free_port
from notifier import sender, store
from configs import notifier_config
from notifier.config import Config
from notifier.mailer import Mailer

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


class Sink:
    """An SMTP server that records Message-IDs and refuses `rechazado@` for good."""

    def __init__(self):
        self.ids = Counter()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rechazado@"):
            return "550 5.1.1 No existe ese buzón"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mid = next(line for line in envelope.content.decode().splitlines() if line.startswith("Message-ID:"))
        with self.lock:
            self.ids[mid] += 1
        return "250 OK"


def config_for(url: str, port: int) -> Config:
    """A Config pointing at the test database and SMTP port."""
    return notifier_config(url, kafka_bootstrap_servers="", kafka_topic_prefix="", smtp_host="127.0.0.1",
                           smtp_port=port, smtp_starttls=False, smtp_username="", smtp_password="",
                           mail_from="Mesa <soporte@mesa.test>", inbound_host="127.0.0.1", inbound_port=0,
                           reply_domain="mesa.test", intake_url="", public_url="", templates_dir="",
                           staff_address="", supervisor_address="", queue_addresses={}, office_phones={})


def queue(url: str, recipients: list[str]) -> None:
    """Pending mails, as the consumer records them."""
    with pg.connect(url) as conn:
        for i, recipient in enumerate(recipients):
            key = f"{uuid.uuid4()}:{recipient}:ticket_received"
            conn.execute("""insert into mails (key, cause_event_id, template, recipient, language, subject, body_text,
                                               body_html, message_id, next_attempt_at, created_at)
                            values (%s, %s, 'ticket_received', %s, 'es', %s, 'texto', '<p>texto</p>', %s, %s, %s)""",
                         (key, uuid.uuid4(), recipient, f"[SOP-{i}] Recibimos su ticket", store.message_id(key, "mesa.test"),
                          NOW, NOW))


def drain(config: Config, until: datetime) -> None:
    """Run a sender until nothing is due at `until`."""
    with pg.connect(config.database_url) as conn:
        mailer = Mailer(config)
        while sender.send_due(conn, mailer, until, max_backoff=1.0):
            pass
        mailer.close()


def test_two_senders_deliver_each_mail_exactly_once(notifier_db):
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queue(notifier_db, [f"socio{i}@club.test" for i in range(60)])
        config = config_for(notifier_db, port)
        threads = [threading.Thread(target=drain, args=(config, NOW)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        controller.stop()
    assert len(sink.ids) == 60 and set(sink.ids.values()) == {1}
    with pg.connect(notifier_db) as conn:
        assert conn.execute("select count(*) as n from mails where status = 'sent'").fetchone()["n"] == 60
        assert conn.execute("select count(*) as n from outbox").fetchone()["n"] == 60  # one NotificationSent each


def test_a_server_that_is_down_postpones_and_a_refused_mailbox_fails_for_good(notifier_db):
    port = free_port()
    queue(notifier_db, ["maria@club.test", "rechazado@club.test"])
    config = config_for(notifier_db, port)
    drain(config, NOW)  # nobody listens on the port
    with pg.connect(notifier_db) as conn:
        rows = {r["recipient"]: r for r in conn.execute("select recipient, status, attempts, next_attempt_at from mails")}
    assert all(r["status"] == "pending" and r["attempts"] == 1 and r["next_attempt_at"] > NOW for r in rows.values())

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        drain(config, NOW + timedelta(minutes=10))
    finally:
        controller.stop()
    with pg.connect(notifier_db) as conn:
        status = {r["recipient"]: r["status"] for r in conn.execute("select recipient, status from mails")}
        failed = conn.execute("select payload from outbox").fetchall()
    assert status == {"maria@club.test": "sent", "rechazado@club.test": "failed"}
    assert len(sink.ids) == 1
    assert any(b"NotificationFailed" in bytes(r["payload"]) for r in failed)


def test_the_sender_rides_out_its_database_connections_being_killed_and_sends_each_mail_once(notifier_db):
    from helpdesk_shared.localstack import wait_until
    from helpdesk_shared.outage import Backoff
    from test_database_outages import kill_connections

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    runner = threading.Thread(target=sender.run, daemon=True,
                              args=(config_for(notifier_db, port), stop, lambda: NOW, Backoff(0.1, 1.0)))
    runner.start()
    try:
        queue(notifier_db, [f"antes{i}@club.test" for i in range(5)])
        wait_until(lambda: len(sink.ids) == 5, 60, "the first mails sent")
        assert kill_connections(notifier_db) >= 1
        queue(notifier_db, [f"despues{i}@club.test" for i in range(5)])
        wait_until(lambda: len(sink.ids) == 10, 60, "the later mails sent after the reconnect")
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=30)
        controller.stop()
    assert set(sink.ids.values()) == {1}


class Crash(BaseException):
    """The sender dying (SIGKILL) right after the server took a mail, before its transaction commits."""


class CrashingAfterTheServerTookIt(Mailer):
    def send(self, mail):
        super().send(mail)
        raise Crash


def test_a_sender_that_dies_after_the_server_took_a_mail_sends_that_mail_again_with_the_same_message_id(
        notifier_db):
    # The e2e kill test's one legitimate repeat: SMTP's "250 taken" and our commit cannot be one act,
    # and not sending again would lose the mails of a crash just before the server took them.
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queue(notifier_db, ["maria@club.test", "jose@club.test"])
        config = config_for(notifier_db, port)
        with pg.connect(notifier_db) as conn, pytest.raises(Crash):
            sender.send_due(conn, CrashingAfterTheServerTookIt(config), NOW, max_backoff=1.0)
        drain(config, NOW)
    finally:
        controller.stop()
    assert sorted(sink.ids.values()) == [1, 2]  # the mail in flight twice, as one Message-ID; the other once
    with pg.connect(notifier_db) as conn:
        assert conn.execute("select count(*) as n from mails where status = 'sent'").fetchone()["n"] == 2


def test_a_mail_costs_one_statement_that_marks_it_queues_its_event_and_wakes_the_relay(notifier_db):
    """Issue 11: the mark, its outbox row and NOTIFY were three statements in pipeline mode, whose
    bookkeeping in psycopg cost the sender more CPU than the round trips it saved; then BEGIN, the
    row's lock, one statement and COMMIT a mail. Now the mails are held by session locks for the
    round (claim, read, release) and a mail costs one autocommitted statement (CTEs and pg_notify);
    the sent, failed and outbox rows are as before."""
    from unittest import mock
    from psycopg import Connection, Cursor
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sent, pipelines, transactions = [], [], []
    execute, executemany = Cursor.execute, Cursor.executemany
    pipeline, transaction = Connection.pipeline, Connection.transaction

    def counting(real):
        def call(self, query, *args, **kwargs):
            sent.append(" ".join(str(query).split())[:40])
            return real(self, query, *args, **kwargs)
        return call

    try:
        queue(notifier_db, ["socio1@club.test", "rechazado@club.test", "socio2@club.test"])
        with pg.connect(notifier_db) as conn:
            conn.execute("listen outbox")
            conn.commit()
            with mock.patch.object(Cursor, "execute", counting(execute)), \
                    mock.patch.object(Cursor, "executemany", counting(executemany)), \
                    mock.patch.object(Connection, "pipeline", lambda self: pipelines.append(1) or pipeline(self)), \
                    mock.patch.object(Connection, "transaction",
                                      lambda self, *a, **k: transactions.append(1) or transaction(self, *a, **k)):
                drain(config_for(notifier_db, port), NOW)
            woken = list(conn.notifies(timeout=5, stop_after=1))
            statuses = dict((r["recipient"], r["status"]) for r in conn.execute("select recipient, status from mails"))
            queued = conn.execute("select count(*) as n from outbox").fetchone()["n"]
    finally:
        controller.stop()
    assert statuses == {"socio1@club.test": "sent", "rechazado@club.test": "failed", "socio2@club.test": "sent"}
    assert queued == 3 and woken and woken[0].channel == "outbox"
    assert sum(sink.ids.values()) == 2
    assert not pipelines and not transactions
    marks = [q for q in sent if q.startswith("with change as")]
    assert len(marks) == 3, sent
    assert len(sent) == 3 + 3 + 1, sent  # claim, read, release and the marks; then a claim that holds nothing


def _rows_read(plan: dict) -> int:
    """Rows the plan's scans produced or threw away (EXPLAIN ANALYZE, FORMAT JSON)."""
    own = 0
    if "Scan" in plan["Node Type"]:
        own = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
    return own + sum(_rows_read(child) for child in plan.get("Plans", []))


def test_the_senders_statements_read_a_handful_of_rows_whatever_the_backlog(notifier_db):
    """Issue 11: with mails waiting, the lock of one mail cost 1.7 ms and the list of due mails 11 ms
    (pg_stat_statements, bench/cpu_profile.py at 40 tickets/s). The sender's connection lives long
    and keeps its statements' plans; a plan made while the table was nearly empty took the lock of
    one mail through the pending-mails index (`status = 'pending'` matched its predicate) and read
    every pending mail to find one key; and the list sorted every due mail to return twenty. The
    claim and the read of the held rows are planned here as a kept plan is, on an empty table, then
    run over 2,000 pending mails."""
    with pg.connect(notifier_db, autocommit=True) as conn:
        conn.execute("set plan_cache_mode = force_generic_plan")
        conn.execute(f"prepare claim as {pg._numbering(store.CLAIM_MAILS)}")
        conn.execute(f"prepare held as {pg._numbering(store.HELD_MAILS.format(keys='%s'))}")
        conn.execute(f"execute claim('{NOW.isoformat()}', 20)")  # planned now, on the empty table
        conn.execute("execute held('none')")
        conn.execute("""insert into mails (key, cause_event_id, template, recipient, language, subject, body_text,
                                           body_html, message_id, next_attempt_at, created_at)
                        select 'k' || g, gen_random_uuid(), 'ticket_received', 'socio' || g || '@club.test', 'es',
                               'asunto', 'texto', '<p>texto</p>', '<m' || g || '@mesa.test>',
                               %s - g / 4 * interval '1 second', %s - g / 4 * interval '1 second'
                        from generate_series(1, 2000) g""", (NOW, NOW))  # an event's mails share their times
        conn.execute("update mails set status = 'sent' where key like 'k1%%'")  # some sent, as a day leaves them
        claimed = conn.execute(f"explain (analyze, format json) execute claim('{NOW.isoformat()}', 20)").fetchone()
        held = conn.execute("explain (analyze, format json) execute held('k999')").fetchone()
        conn.execute("select pg_advisory_unlock_all()")
    claim_plan, held_plan = claimed["QUERY PLAN"][0]["Plan"], held["QUERY PLAN"][0]["Plan"]
    assert claim_plan["Actual Rows"] == 20
    assert _rows_read(claim_plan) <= 20, claim_plan
    assert held_plan["Actual Rows"] == 1
    assert _rows_read(held_plan) <= 1, held_plan


def test_senders_claim_different_mails_and_a_mail_let_go_of_after_its_mark_is_not_sent_again(notifier_db):
    queue(notifier_db, [f"socio{i}@club.test" for i in range(30)])
    with pg.connect(notifier_db, autocommit=True) as a, pg.connect(notifier_db, autocommit=True) as b, \
            pg.connect(notifier_db, autocommit=True) as c:
        held_a, mails_a = store.claim_mails(a, NOW, 20)
        held_b, mails_b = store.claim_mails(b, NOW, 20)
        assert (held_a, len(mails_a), held_b, len(mails_b)) == (20, 20, 10, 10)
        assert not {m["key"] for m in mails_a} & {m["key"] for m in mails_b}
        assert store.claim_mails(c, NOW, 20) == (0, [])  # every due mail is held
        store.mark_sent(a, mails_a[0], NOW)
        store.release_mails(a)
        held_c, mails_c = store.claim_mails(c, NOW, 20)
    assert (held_c, len(mails_c)) == (19, 19)  # what a let go of, but the mail it sent
    assert mails_a[0]["key"] not in {m["key"] for m in mails_c}
