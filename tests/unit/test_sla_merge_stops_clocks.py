"""Issue 12, merge: the duplicate's SLA clocks stop like on any close (no ResponseOverdue, no
auto-close later), and the open ticket that receives it keeps its clocks while its version moves
(so an auto-close decision rests on the version intake will hold)."""
from __future__ import annotations

from helpdesk_shared.envelope import new_event
from sla.timers import RESPONSE_OVERDUE, pending_timers
from test_sla_timers import AGENT, CUSTOMER, WEDNESDAY_10, at, clocks_of, message, opened


def merged(version: int, when):
    return new_event("TicketClosed", "t1", version, {"reason": "merged", "merged_into": "SOP-9",
                                                     "merged_into_ticket_id": "t9"}, actor=AGENT, occurred_at=when)


def received(version: int, when):
    return new_event("TicketMergedInto", "t1", version, {
        "source_ticket_id": "t2", "source_number": "SOP-2", "merged_by": AGENT.id, "subject": "BANCOS, x",
        "description": "...", "opened_by": CUSTOMER.id, "opened_at": when.isoformat(), "attachments": [],
        "messages": []}, actor=AGENT, occurred_at=when)


def test_an_unanswered_duplicate_merged_away_has_no_response_timer_and_its_clock_is_not_met():
    before = clocks_of(opened(WEDNESDAY_10))
    assert [t.kind for t in pending_timers(before)] == [RESPONSE_OVERDUE]
    clocks = clocks_of(opened(WEDNESDAY_10), merged(2, at(2026, 11, 25, 11, 0)))
    assert clocks.status == "closed" and pending_timers(clocks) == []
    assert clocks.response is None and clocks.history[-1].met_at is None


def test_a_duplicate_waiting_for_the_customer_merged_away_will_never_warn_or_auto_close():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       merged(3, at(2026, 11, 25, 12, 0)))
    assert clocks.waiting is None and pending_timers(clocks) == []
    # A later event of the closed stream (none is written, but a replay must not) starts nothing.
    assert pending_timers(clocks_of(opened(WEDNESDAY_10), merged(2, at(2026, 11, 25, 12, 0)),
                                    message(3, CUSTOMER, at(2026, 11, 26, 9, 0)))) == []


def test_the_receiving_ticket_keeps_its_wait_and_the_auto_close_rests_on_its_new_version():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       received(3, at(2026, 11, 25, 12, 0)))
    assert clocks.version == 3 and clocks.waiting is not None
    auto_close = [t for t in pending_timers(clocks) if t.event_type == "AutoClosed"]
    assert auto_close[0].data["based_on_version"] == 3
