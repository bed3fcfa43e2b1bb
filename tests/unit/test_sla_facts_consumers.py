"""Every consumer of helpdesk.sla takes the SLA service's new clock facts (issue 8) in its stride:
the notifier mails nothing new (only the first-response DeadlineSet makes the received mail,
as before) and intake's SLA consumer, which acts on AutoClosed alone, ignores them."""
from __future__ import annotations

from helpdesk_shared.envelope import SYSTEM, new_event
from helpdesk_shared.kafka import Record
from intake import sla_consumer

from test_notifier_messages import mails_for, ticket
from test_sla_facts import LIFE, away, steps, timed
from test_sla_timers import AGENT, at, message, opened

NEW_TYPES = {"DeadlineSet", "DeadlineMet", "DeadlineCleared", "DeadlineMoved", "ClockPaused", "WorkTimeRecorded"}


def published(*event_lists) -> list:
    """The facts of each ticket life as the envelopes the SLA service queues (stream sla-t1, 1, 2, ...)."""
    facts = [fact for events in event_lists for step in steps(*events) for fact in step]
    return [new_event(type_, "sla-t1", n, data, actor=SYSTEM, occurred_at=at(2026, 11, 25, 10))
            for n, (type_, data) in enumerate(facts, start=1)]


EVENTS = published(LIFE, (opened(at(2026, 11, 25, 10)), message(2, AGENT, at(2026, 11, 25, 11)),
                          away(3, at(2026, 11, 25, 12), at(2026, 11, 30, 9)),
                          timed(4, AGENT, at(2026, 11, 25, 18), 30, internal=True)))


def test_the_facts_cover_every_new_type():
    assert {e.type for e in EVENTS} == NEW_TYPES


def test_the_notifier_mails_only_the_received_mail_of_the_first_response_deadline():
    planned = [(e.type, e.data.get("clock"), [m.template for m in mails_for(e, ticket())]) for e in EVENTS]
    assert [p for p in planned if p[2]] == [("DeadlineSet", "first_response", ["ticket_received"])] * 2
    assert {(t, c) for t, c, mails in planned if not mails} >= {
        ("DeadlineSet", "next_response"), ("DeadlineSet", "auto_close"), ("DeadlineMet", "first_response"),
        ("DeadlineMet", "next_response"), ("DeadlineCleared", "auto_close"), ("DeadlineMoved", "auto_close"),
        ("ClockPaused", None), ("WorkTimeRecorded", None)}


def test_intakes_sla_consumer_ignores_the_facts_without_touching_its_database():
    sla_consumer.apply_batch(None, [Record("helpdesk.sla", 0, n, e) for n, e in enumerate(EVENTS)])
