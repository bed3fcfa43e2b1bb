"""The notifier's store on real PostgreSQL (issue 7 items 14 and 17): whichever of TicketOpened
and the SLA's DeadlineSet is read second plans the received mail, once; staff mails at once."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.envelope import SYSTEM, Actor, new_event
from helpdesk_shared.kafka import Record
from notifier import messages, store
from notifier.rendering import TEMPLATES_DIR, Renderer

pytestmark = pytest.mark.integration

OPENED_AT = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Caracas
DESKS = {d: messages.DeskContacts(f"cola-{d.lower()}@mesa.test", "equipo@mesa.test", "supervision@mesa.test",
                                  ("+58 212 555 0100",), f"guardia-{d.lower()}@mesa.test")
         for d in ("SOPORTE", "IMPLANTACIONES")}
LINKS = messages.Links(ticket_url=lambda n: f"https://mesa.test/tickets/{n}",
                       resolution_url=lambda n, u, a: f"https://mesa.test/r/{n}/{a}",
                       new_ticket_url=lambda n: f"https://mesa.test/new?previous={n}", course_url="https://mesa.test/c")
PLAN = functools.partial(messages.plan, desks=DESKS, calendar=venezuela_default(range(2026, 2028)), links=LINKS)
RENDER = Renderer([TEMPLATES_DIR])


def opened(ticket_id: str, urgency: str = "normal"):
    return new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": f"SOP-{ticket_id[-1]}", "desk": "SOPORTE", "organisation_id": "club",
        "opened_by": "u-maria", "module": "NOMINA", "case": "Bono nocturno mal calculado",
        "subject": "NOMINA, Bono nocturno mal calculado", "description": "La quincena calcula mal el bono.",
        "urgency": urgency, "contact": {"name": "María", "email": "maria@club.test", "phone": "+582125550100"},
        "month_end_warning": True}, actor=Actor("u-maria", "customer"), occurred_at=OPENED_AT)


def deadline(ticket_id: str):
    return new_event("DeadlineSet", f"sla-{ticket_id}", 1, {
        "ticket_id": ticket_id, "number": f"SOP-{ticket_id[-1]}", "clock": "first_response", "clock_type": "business",
        "started_at": OPENED_AT.isoformat(), "counts_from": OPENED_AT.isoformat(),
        "due_at": (OPENED_AT + timedelta(days=2)).isoformat(), "policy_version": 1, "calendar_version": 3,
        "office_hours": [[0, "08:00", "16:00"]]}, actor=SYSTEM, occurred_at=OPENED_AT + timedelta(seconds=2))


def record(url: str, *events) -> None:
    with pg.connect(url) as conn:
        store.record_batch(conn, [Record("t", 0, n, e) for n, e in enumerate(events)], PLAN,
                           lambda mail: tuple(RENDER.render(mail)), secret="s" * 32, reply_domain="mesa.test",
                           token_days=30, now=OPENED_AT)


def mails(url: str) -> list[dict]:
    with pg.connect(url) as conn:
        return conn.execute("select template, recipient, body_text from mails order by created_at, key").fetchall()


@pytest.mark.parametrize("order", ["ticket first", "deadline first"])
def test_the_received_mail_is_planned_once_whichever_fact_arrives_second(notifier_db, order):
    events = [opened("t1"), deadline("t1")]
    for event in events if order == "ticket first" else reversed(events):
        record(notifier_db, event)
    record(notifier_db, *events)  # a republish changes nothing
    by_template = {m["template"]: m for m in mails(notifier_db)}
    assert sorted(m["template"] for m in mails(notifier_db)) == ["ticket_opened_queue", "ticket_received"]
    received = by_template["ticket_received"]
    assert received["recipient"] == "maria@club.test"
    assert "viernes 27 de noviembre, 10:00" in received["body_text"]   # the SLA's deadline, not a guess
    assert "lunes, de 08:00 a 16:00" in received["body_text"]          # the SLA's calendar hours
    assert "cheques" in received["body_text"]                          # intake's month-end warning
    assert by_template["ticket_opened_queue"]["recipient"] == "cola-soporte@mesa.test"


def test_an_urgent_ticket_alerts_the_on_call_address_before_any_deadline_arrives(notifier_db):
    record(notifier_db, opened("t2", urgency="platform_down"))
    assert sorted((m["template"], m["recipient"]) for m in mails(notifier_db)) == [
        ("ticket_opened_queue", "cola-soporte@mesa.test"), ("ticket_urgent_oncall", "guardia-soporte@mesa.test")]


def test_the_sla_services_other_clock_facts_plan_no_mail_and_keep_the_first_deadline(notifier_db):
    """Issue 8: the SLA service now publishes every clock change; the notifier still mails only what it did."""
    from sla import facts, timers
    from sla.policy import DEFAULT_POLICIES
    calendar = venezuela_default(range(2026, 2028))
    agent, customer = Actor("u-carlos", "agent"), Actor("u-maria", "customer")

    def message(version, actor, hours):
        return new_event("MessagePosted", "t1", version, {
            "message_id": f"m{version}", "author_id": actor.id, "author_role": actor.role, "body": "texto",
            "internal": False}, actor=actor, occurred_at=OPENED_AT + timedelta(hours=hours))

    ticket_events = [opened("t1"), message(2, agent, 1), message(3, customer, 2), message(4, agent, 3),
                     new_event("TicketClosed", "t1", 5, {"reason": "closed_by_agent"}, actor=agent,
                               occurred_at=OPENED_AT + timedelta(hours=4))]
    clocks, sla_events = None, []
    for event in ticket_events:
        after = (timers.open_clocks(event, DEFAULT_POLICIES["SOPORTE", "normal"], calendar) if clocks is None
                 else timers.apply(clocks, event))
        for type_, data in facts.ticket_facts(clocks, after, event):
            sla_events.append(new_event(type_, "sla-t1", len(sla_events) + 1, data, actor=SYSTEM,
                                        occurred_at=event.occurred_at))
        clocks = after
    assert len(sla_events) == 10 and {e.type for e in sla_events} == {
        "DeadlineSet", "DeadlineMet", "ClockPaused", "DeadlineCleared"}
    record(notifier_db, ticket_events[0])
    record(notifier_db, *sla_events)
    received = [m for m in mails(notifier_db) if m["template"] == "ticket_received"]
    assert sorted(m["template"] for m in mails(notifier_db)) == ["ticket_opened_queue", "ticket_received"]
    assert "jueves 26 de noviembre, 10:00" in received[0]["body_text"]  # the first response's deadline
    with pg.connect(notifier_db) as conn:
        kept = conn.execute("select data from first_deadlines where ticket_id = 't1'").fetchone()["data"]
    assert kept["clock"] == "first_response"


def test_the_read_model_keeps_the_module_a_ticket_was_opened_for(notifier_db):
    record(notifier_db, opened("t3"))
    with pg.connect(notifier_db) as conn:
        view = store._ticket_view(conn.execute(store._TICKET_VIEW, ("t3",)).fetchone())
    assert (view.module, view.number) == ("NOMINA", "SOP-3")   # its closing mail links the module's articles


class _Counting:
    """A connection that counts the statements sent through it (execute, and each row of executemany
    in its one pipelined round trip counts once per call)."""

    def __init__(self, conn):
        self.conn, self.calls = conn, 0

    def execute(self, *args, **kwargs):
        self.calls += 1
        return self.conn.execute(*args, **kwargs)

    def cursor(self, *args, **kwargs):
        counting = self

        class Cursor:
            def __init__(self, cur):
                self.cur = cur

            def executemany(self, *a, **k):
                counting.calls += 1
                return self.cur.executemany(*a, **k)

            def __getattr__(self, name):
                return getattr(self.cur, name)
        return Cursor(self.conn.cursor(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_a_batch_records_its_mails_in_a_few_statements_whatever_their_number(notifier_db):
    """Issue 11: each mail cost three round trips of its own (is it recorded? its reply token, its
    row). The batch now asks once which of its mails exist and writes tokens and rows together;
    the statements per event (its projection, which returns the ticket's view, the users) remain."""
    counts, ids = {}, iter(f"t{k}" for k in range(1, 10))  # one digit: the numbers are SOP-1 ... SOP-9
    for tickets in (1, 8):
        events = [e for ticket_id in [next(ids) for _ in range(tickets)] for e in (opened(ticket_id), deadline(ticket_id))]
        with pg.connect(notifier_db) as conn:
            counting = _Counting(conn)
            recorded = store.record_batch(counting, [Record("t", 0, n, e) for n, e in enumerate(events)], PLAN,
                                          lambda mail: tuple(RENDER.render(mail)), secret="s" * 32,
                                          reply_domain="mesa.test", token_days=30, now=OPENED_AT)
            conn.commit()
        assert recorded == 2 * tickets  # the received mail (with its reply token) and the queue's
        counts[tickets] = counting.calls
    per_event = 2  # projection with the ticket's view, users
    assert counts[8] - counts[1] <= per_event * (16 - 2), counts


def test_events_are_queued_in_one_statement_in_their_order_and_the_relay_is_woken(notifier_db):
    """Issue 11: `outbox.enqueue` sent a statement an event (executemany) and NOTIFY; the SLA service
    queues one to three events a ticket. Now one statement, whatever their number."""
    from unittest import mock
    from psycopg import Cursor
    from helpdesk_shared import outbox
    from helpdesk_shared.envelope import encode_built
    from helpdesk_shared.topics import TOPIC_OF_EVENT
    events = [new_event("NotificationSent", f"mail-{i}", 1, {"cause_event_id": "5f0c3e0e-8d1c-4a3b-9f1e-2a7d7c1b9e10",
                                                            "recipient": f"socio{i}@club.test", "template": "ticket_received",
                                                            "ticket_id": "t-1", "message_id": f"<m{i}@mesa.test>"},
                        actor=Actor("notifier", "system"), occurred_at=datetime(2026, 11, 25, 14, tzinfo=timezone.utc))
              for i in range(7)]
    sent = []
    execute, executemany = Cursor.execute, Cursor.executemany
    with pg.connect(notifier_db) as conn:
        conn.execute("listen outbox")
        conn.commit()
        with mock.patch.object(Cursor, "execute", lambda self, q, *a, **k: sent.append("execute") or execute(self, q, *a, **k)), \
                mock.patch.object(Cursor, "executemany",
                                  lambda self, q, *a, **k: sent.append("executemany") or executemany(self, q, *a, **k)):
            outbox.enqueue(conn, events[:1])
            outbox.enqueue(conn, events[1:])
        conn.commit()
        woken = list(conn.notifies(timeout=5, stop_after=1))
        rows = conn.execute("select event_id, topic, key, payload from outbox order by id").fetchall()
    assert sent == ["execute", "execute"]
    assert woken and woken[0].channel == "outbox"
    assert [(r["event_id"], r["topic"], r["key"], bytes(r["payload"])) for r in rows] == \
        [(e.event_id, TOPIC_OF_EVENT[e.type], e.stream_id, encode_built(e)) for e in events]


def test_thousands_of_events_are_queued_in_chunks_in_their_order(notifier_db):
    from helpdesk_shared import outbox
    at = datetime(2026, 11, 25, 14, tzinfo=timezone.utc)
    events = [new_event("NotificationSent", f"mail-{i}", 1, {"cause_event_id": "5f0c3e0e-8d1c-4a3b-9f1e-2a7d7c1b9e10",
                                                            "recipient": "socio@club.test", "template": "ticket_received",
                                                            "ticket_id": "t-1", "message_id": f"<m{i}@mesa.test>"},
                        actor=Actor("notifier", "system"), occurred_at=at) for i in range(2 * outbox._QUEUE_CHUNK + 3)]
    with pg.connect(notifier_db) as conn:
        outbox.enqueue(conn, events)
        conn.commit()
        keys = [r["key"] for r in conn.execute("select key from outbox order by id")]
    assert keys == [e.stream_id for e in events]


def test_a_batch_reads_each_person_once_and_a_registration_in_it_is_seen_by_the_events_after_it(notifier_db):
    """Issue 11: every event read its people (actor, author, assignee, opener) again, though a batch
    is mostly the same customers and agents. The batch now keeps whom it read; only a user event in
    it (a registration, an update) makes it read again."""
    from unittest import mock
    from psycopg import Cursor
    reads, execute = [], Cursor.execute

    def counting(self, query, *args, **kwargs):
        if "from users where user_id" in " ".join(str(query).split()):
            reads.append(1)
        return execute(self, query, *args, **kwargs)

    events = [e for ticket_id in ("t1", "t2", "t3", "t4") for e in (opened(ticket_id), deadline(ticket_id))]
    with mock.patch.object(Cursor, "execute", counting):
        record(notifier_db, *events)
    assert len(reads) == 2  # maría at the first opening, the SLA's actor at the first deadline; then no one new
    with pg.connect(notifier_db) as conn:
        mails = conn.execute("select recipient, template from mails order by created_at, key").fetchall()
    assert len(mails) == 8 and {m["recipient"] for m in mails if m["template"] == "ticket_received"} == \
        {"maria@club.test"}
    registered = new_event("UserRegistered", "user-u-maria", 1, {
        "user_id": "u-maria", "email": "maria@club.test", "name": "María", "role": "customer",
        "organisation_id": "club", "desks": ["SOPORTE"], "language": "es", "phone": None},
        actor=SYSTEM, occurred_at=OPENED_AT)
    reads.clear()
    seen = []

    def planning(event, ticket, people):
        seen.append((event.type, sorted(people)))
        return PLAN(event, ticket, people)

    with mock.patch.object(Cursor, "execute", counting), pg.connect(notifier_db) as conn:
        store.record_batch(conn, [Record("t", 0, n, e) for n, e in enumerate(
            [opened("t5"), registered, opened("t6"), deadline("t6")])], planning,
            lambda mail: tuple(RENDER.render(mail)), secret="s" * 32, reply_domain="mesa.test", token_days=30,
            now=OPENED_AT)
        conn.commit()
    assert len(reads) == 2  # maría before her registration, and the people of the registration after it
    assert seen[0] == ("TicketOpened", []) and seen[2] == ("TicketOpened", ["u-maria"])  # not the stale "no one"


def test_a_ticket_event_is_projected_and_read_back_in_one_statement_and_the_mails_in_one_more(notifier_db):
    """Issue 11: each event of a batch cost its projection and then a read of the ticket it had just
    written (its view for the planner), and the mails owed a statement each for their reply tokens
    and rows (executemany) and a NOTIFY; its lists went as arrays (dumped element by element). The projection now returns the view it wrote (RETURNING),
    and the tokens, the rows and the wake-up are one statement. Plans are unchanged: the received
    mail, planned by whichever of the opening and the first deadline comes second, quotes both."""
    from unittest import mock
    from psycopg import Cursor
    from psycopg.types import array
    sent, execute, executemany, arrays = [], Cursor.execute, Cursor.executemany, []

    def counting(self, query, *args, **kwargs):
        sent.append(" ".join(str(query).split())[:40])
        return execute(self, query, *args, **kwargs)

    events = [opened("t1"), deadline("t1"), deadline("t2"), opened("t2"), opened("t3")]
    closed = new_event("TicketClosed", "t3", 2, {"reason": "closed_by_agent"},
                       actor=Actor("a-luis", "agent"), occurred_at=OPENED_AT + timedelta(hours=1))
    with pg.connect(notifier_db) as conn:
        conn.execute("listen mails")
        conn.commit()
        with mock.patch.object(Cursor, "execute", counting), \
                mock.patch.object(Cursor, "executemany",
                                  lambda self, q, *a, **k: sent.append("executemany") or executemany(self, q, *a, **k)), \
                mock.patch.object(array.ListDumper, "dump", lambda self, obj: arrays.append(obj)), \
                mock.patch.object(array.ListBinaryDumper, "dump", lambda self, obj: arrays.append(obj)):
            recorded = store.record_batch(conn, [Record("t", 0, n, e) for n, e in enumerate([*events, closed])],
                                          PLAN, lambda mail: tuple(RENDER.render(mail)), secret="s" * 32,
                                          reply_domain="mesa.test", token_days=30, now=OPENED_AT)
        conn.commit()
        woken = list(conn.notifies(timeout=5, stop_after=1))
        mails = conn.execute("select m.ticket_id, m.template, m.body_text, m.reply_to, t.ticket_number from mails m "
                             "left join reply_tokens t on m.reply_to like '%' || t.token || '%' "
                             "order by m.created_at, m.key").fetchall()
        status = conn.execute("select status, version from tickets where ticket_id = 't3'").fetchone()
    assert "executemany" not in sent
    assert arrays == []  # IN and VALUES lists: psycopg dumps an array element by element in Python
    users = [s for s in sent if s.startswith("select user_id, email, name")]
    locks, known, writes = 1, 1, 1  # the received-mail pairs' lock, which mails exist, the mails
    assert len(sent) == len(events) + 1 + len(users) + locks + known + writes, sent
    assert woken and woken[0].channel == "mails"
    received = {m["ticket_id"]: m for m in mails if m["template"] == "ticket_received"}
    assert sorted(received) == ["t1", "t2"] and recorded == len(mails)
    assert all(m["reply_to"] and m["ticket_number"] == f"SOP-{m['ticket_id'][-1]}" for m in received.values())
    assert (status["status"], status["version"]) == ("closed", 2)
