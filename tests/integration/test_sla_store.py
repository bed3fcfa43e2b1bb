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


# ---------------------------------------------------------------- issue 8: deadlines as facts

def message(version: int, actor: Actor, when: datetime):
    return new_event("MessagePosted", "t1", version, {"message_id": f"m{version}", "author_id": actor.id,
                                                      "author_role": actor.role, "body": "texto", "internal": False},
                     actor=actor, occurred_at=when)


def fire(url: str, at: datetime) -> int:
    with pg.connect(url) as conn:
        return store.fire_due(conn, store.load_settings(conn), [0], at, at)


def test_every_clock_change_is_queued_once_in_the_tickets_sla_stream_numbered_with_its_timers(sla_db):
    first = opened()                                                      # Saturday: due Monday 17:00
    answer = message(2, AGENT, datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc))   # Tuesday 10:00, late
    reply = message(3, CUSTOMER, datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc))
    apply(sla_db, first)
    assert fire(sla_db, datetime(2026, 11, 30, 21, 0, tzinfo=timezone.utc)) == 1  # ResponseOverdue
    apply(sla_db, answer)
    apply(sla_db, first, answer)  # republished: nothing again
    apply(sla_db, reply)
    events = [e for e in queued(sla_db)]
    assert [(e.type, e.data.get("clock"), e.stream_version) for e in events] == [
        ("DeadlineSet", "first_response", 1), ("ResponseOverdue", "first_response", 2),
        ("DeadlineMet", "first_response", 3), ("ClockPaused", None, 4), ("DeadlineSet", "auto_close", 5),
        ("DeadlineCleared", "auto_close", 6), ("DeadlineSet", "next_response", 7)]
    assert {e.stream_id for e in events} == {"sla-t1"}
    causes = {first.event_id: first, answer.event_id: answer, reply.event_id: reply}
    for event in events[:1] + events[2:]:
        cause = causes[event.causation_id]
        assert (event.correlation_id, event.occurred_at) == (cause.correlation_id, cause.occurred_at)
    assert [e.causation_id for e in events[2:5]] == [answer.event_id] * 3
    met = events[2].data
    # Counted on the calendar: Monday 30 November 09:00-17:00 and Tuesday 09:00-10:00.
    assert (met["met_in_time"], met["business_seconds"], met["answered_by"]) == (False, 9 * 3600, "u-carlos")
    with pg.connect(sla_db) as conn:
        assert conn.execute("select sla_version from clocks where ticket_id = 't1'").fetchone()["sla_version"] == 7


WEDNESDAY_10 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)   # Caracas 10:00: due Thursday 10:00
WEDNESDAY_NOON = datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)
THURSDAY_10 = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)
FRIDAY_10 = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)


def ticket(ticket_id: str, desk: str = "SOPORTE"):
    event = opened()
    data = {**event.data, "ticket_id": ticket_id, "number": f"{desk[:3]}-{ticket_id[1:]}", "desk": desk}
    return new_event("TicketOpened", ticket_id, 1, data, actor=CUSTOMER, occurred_at=WEDNESDAY_10)


@pytest.fixture
def sla_api(sla_db):
    """The SLA app in-process on the test database, its clock at Wednesday noon in Caracas."""
    from configs import sla_config
    from harness import Clock
    from sla.app import create_app
    app = create_app(sla_config(sla_db), migrate_first=True, clock=Clock(WEDNESDAY_NOON))
    yield app.test_client()
    app.extensions["sla"].pool.close()


def test_a_closure_declared_for_tomorrow_moves_the_deadline_to_friday_and_the_timer_fires_only_then(sla_db, sla_api):
    from permission_matrix import bearer_of
    from sla.calendars import DEFAULT_DOC
    apply(sla_db, ticket("t1"), ticket("t2"), ticket("t3", "IMPLANTACIONES"),
          new_event("TicketClosed", "t2", 2, {"reason": "closed_by_agent"}, actor=AGENT, occurred_at=WEDNESDAY_10))
    closure = {**DEFAULT_DOC, "closures": [{"date": "2026-11-26", "note": "Inventario anual"}]}
    response = sla_api.put("/api/calendars/SOPORTE", json={"calendar": closure},
                           headers=bearer_of("supervisor", WEDNESDAY_NOON))
    assert response.status_code == 201 and response.get_json()["version"] == 2
    changed, moved = [e for e in queued(sla_db) if e.type in ("CalendarChanged", "DeadlineMoved")]
    assert (moved.stream_id, moved.stream_version, moved.causation_id) == ("sla-t1", 2, changed.event_id)
    # Wednesday 10:00-12:00 counted on version 1; the other 6 h on version 2: Wednesday 12:00-17:00,
    # Thursday closed, Friday 09:00-10:00.
    assert (moved.data["reason"], moved.data["previous_due_at"], moved.data["due_at"], moved.data["calendar_version"]
            ) == ("calendar_changed", THURSDAY_10.isoformat(), FRIDAY_10.isoformat(), 2)
    with pg.connect(sla_db) as conn:
        rows = {r["ticket_id"]: r for r in conn.execute("select ticket_id, next_due, state from clocks")}
    assert rows["t1"]["next_due"] == FRIDAY_10 and rows["t1"]["state"]["calendar_version"] == 2
    assert rows["t2"]["state"]["calendar_version"] == 1                                   # closed: left alone
    assert (rows["t3"]["next_due"], rows["t3"]["state"]["calendar_version"]) == (THURSDAY_10, 1)  # other desk
    assert fire(sla_db, THURSDAY_10) == 1  # only the other desk's ticket
    assert fire(sla_db, FRIDAY_10) == 1
    overdue = [e for e in queued(sla_db) if e.type == "ResponseOverdue"]
    assert [(e.stream_id, e.data["due_at"]) for e in overdue] == [
        ("sla-t3", THURSDAY_10.isoformat()), ("sla-t1", FRIDAY_10.isoformat())]
    assert overdue[1].stream_version == 3


def test_a_change_announced_for_tomorrow_counts_from_then_for_tickets_open_now_and_opened_meanwhile(sla_db):
    from sla.calendars import DEFAULT_DOC
    # Wednesday noon a supervisor closes Wednesday 25 and Thursday 26 November, from Thursday 00:00.
    closures = {**DEFAULT_DOC, "closures": [{"date": "2026-11-25", "note": "Fumigación"},
                                            {"date": "2026-11-26", "note": "Inventario anual"}]}
    apply(sla_db, ticket("t1"))  # Wednesday 10:00: due Thursday 10:00 on version 1
    with pg.connect(sla_db) as conn:
        store.change_calendar(conn, "SOPORTE", closures, datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc),
                              AGENT, WEDNESDAY_NOON)
    later = ticket("t2")
    apply(sla_db, new_event("TicketOpened", "t2", 1, later.data, actor=CUSTOMER,
                            occurred_at=datetime(2026, 11, 25, 18, 0, tzinfo=timezone.utc)))  # Wednesday 14:00
    by_stream = {e.stream_id: e for e in queued(sla_db) if e.type in ("DeadlineMoved", "DeadlineSet")}
    # t1: Wednesday 10:00-17:00 counts 7 h on version 1 (its closure of Wednesday is not in force
    # yet), Thursday is closed on version 2, the last hour is Friday 09:00-10:00.
    moved = by_stream["sla-t1"]
    assert (moved.type, moved.data["due_at"], moved.data["previous_due_at"]) == (
        "DeadlineMoved", FRIDAY_10.isoformat(), THURSDAY_10.isoformat())
    # t2, opened after the change but before it takes effect: Wednesday 14:00-17:00 (3 h, version 1),
    # Thursday closed, Friday 09:00-14:00.
    set_ = by_stream["sla-t2"]
    assert (set_.type, set_.data["due_at"], set_.data["calendar_version"]) == (
        "DeadlineSet", "2026-11-27T18:00:00+00:00", 2)
    assert set_.data["open_intervals"] == [["2026-11-25T18:00:00+00:00", "2026-11-25T21:00:00+00:00"],
                                           ["2026-11-27T13:00:00+00:00", "2026-11-27T18:00:00+00:00"]]
    with pg.connect(sla_db) as conn:
        versions = {r["ticket_id"]: r["v"] for r in conn.execute(
            "select ticket_id, state->'calendar_versions' as v from clocks")}
    assert versions == {"t1": [1, 2], "t2": [1, 2]}


def test_a_consumer_holding_settings_read_before_a_calendar_change_still_applies_the_repinned_ticket(sla_db):
    apply(sla_db, ticket("t1"))
    with pg.connect(sla_db) as conn:
        stale = store.load_settings(conn)
    closure = {"closures": [{"date": "2026-11-26", "note": "Inventario anual"}]}
    with pg.connect(sla_db) as conn:
        store.change_calendar(conn, "SOPORTE", closure, WEDNESDAY_NOON, AGENT, WEDNESDAY_NOON)
    answer = new_event("MessagePosted", "t1", 2, {"message_id": "m2", "author_id": AGENT.id, "author_role": "agent",
                                                  "body": "Revisando", "internal": False},
                       actor=AGENT, occurred_at=WEDNESDAY_NOON + timedelta(hours=1))
    with pg.connect(sla_db) as conn:
        store.apply_batch(conn, [Record("t", 0, 9, answer)], stale)
    assert stale.calendars.keys() >= {("SOPORTE", 2)}
    met = [e for e in queued(sla_db) if e.type == "DeadlineMet"]
    assert [(e.data["calendar_version"], e.data["due_at"]) for e in met] == [(2, FRIDAY_10.isoformat())]


def test_an_opening_costs_one_statement_and_a_later_event_two_and_a_republish_queues_nothing(sla_db):
    """Issue 11: an opening was its clocks row, then an executemany of its facts and NOTIFY; a later
    event its lock, its update, the facts and NOTIFY. Now the clocks row and the facts are one
    statement (the facts only when the row is new) and a later event adds its lock."""
    from unittest import mock
    from psycopg import Cursor
    sent = []
    execute, executemany = Cursor.execute, Cursor.executemany
    first = opened()
    answer = message(2, AGENT, datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc))
    with pg.connect(sla_db) as conn:
        settings = store.load_settings(conn)

        def batch(*events) -> list[str]:
            sent.clear()
            with mock.patch.object(Cursor, "execute", lambda self, q, *a, **k: sent.append("execute")
                                   or execute(self, q, *a, **k)), \
                    mock.patch.object(Cursor, "executemany", lambda self, q, *a, **k: sent.append("executemany")
                                      or executemany(self, q, *a, **k)):
                store.apply_batch(conn, [Record("t", 0, n, e) for n, e in enumerate(events)], settings)
            conn.commit()
            return list(sent)

        assert batch(first) == ["execute"]
        assert batch(first) == ["execute"]  # republished: the row exists, nothing queued
        assert batch(answer) == ["execute"] * 2
    assert [(e.type, e.stream_version) for e in queued(sla_db)] == [
        ("DeadlineSet", 1), ("DeadlineMet", 2), ("ClockPaused", 3), ("DeadlineSet", 4)]


def test_a_fired_timer_costs_its_record_and_one_statement_for_its_fact_and_its_clocks_row(sla_db):
    from unittest import mock
    from psycopg import Cursor
    apply(sla_db, opened())
    sent = []
    execute = Cursor.execute
    with mock.patch.object(Cursor, "execute", lambda self, q, *a, **k: sent.append(" ".join(str(q).split())[:30])
                           or execute(self, q, *a, **k)):
        assert fire(sla_db, datetime(2026, 11, 30, 21, 0, tzinfo=timezone.utc)) == 1  # ResponseOverdue
    after_settings = sent[sent.index("select ticket_id, state, fired") + 1:]  # `fire` loads the settings first
    assert [q.strip() for q in after_settings] == ["insert into fired_timers (key,", "with change as (update clocks"], sent
    assert [e.type for e in queued(sla_db)] == ["DeadlineSet", "ResponseOverdue"]
    assert fire(sla_db, datetime(2026, 11, 30, 21, 0, tzinfo=timezone.utc)) == 0
