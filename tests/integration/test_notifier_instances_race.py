"""Two notifier instances (issue 11, partitions are the unit of scale) on real PostgreSQL: a ticket's
TicketOpened (helpdesk.tickets, key = the ticket) and its first DeadlineSet (helpdesk.sla, key =
sla-<ticket>) usually sit on partitions held by different instances, so their batches may run at
the same time. Whichever commits second must still plan the customer's received mail, once."""
from __future__ import annotations

import pytest

from helpdesk_shared import pg
from helpdesk_shared.kafka import Record
from notifier import store

from instances import while_in_flight
from test_notifier_store import PLAN, RENDER, deadline, opened

pytestmark = pytest.mark.integration


def apply(conn, *events) -> None:
    """One instance's batch, left uncommitted (the caller commits, as the consumer loop does)."""
    store.record_batch(conn, [Record("t", 0, n, e) for n, e in enumerate(events)], PLAN,
                       lambda mail: tuple(RENDER.render(mail)), secret="s" * 32, reply_domain="mesa.test",
                       token_days=30, now=opened("t1").occurred_at)


@pytest.mark.parametrize("first", ["ticket", "deadline"])
def test_the_received_mail_is_planned_once_when_two_instances_apply_the_ticket_and_its_deadline_at_once(
        notifier_db, first):
    facts = {"ticket": opened("t1"), "deadline": deadline("t1")}
    second = "deadline" if first == "ticket" else "ticket"
    one, other = pg.connect(notifier_db), pg.connect(notifier_db)
    try:
        apply(one, facts[first])  # instance one's batch, in flight
        # The other batch either finishes at once or waits for instance one's: either way, then one commits.
        assert while_in_flight(notifier_db, one, other, lambda: apply(other, facts[second])) == []
    finally:
        one.close()
        other.close()
    with pg.connect(notifier_db) as conn:
        planned = conn.execute("select template, count(*) as n from mails group by template").fetchall()
    assert {r["template"]: r["n"] for r in planned} == {"ticket_opened_queue": 1, "ticket_received": 1}


def warning(ticket_id: str):
    """The SLA's auto-close warning on the ticket (helpdesk.sla, key sla-<ticket>)."""
    from datetime import timedelta
    from helpdesk_shared.envelope import SYSTEM, new_event
    at = opened(ticket_id).occurred_at + timedelta(days=3)
    return new_event("AutoCloseWarning", f"sla-{ticket_id}", 2, {
        "ticket_id": ticket_id, "number": f"SOP-{ticket_id[-1]}", "closes_at": (at + timedelta(days=2)).isoformat(),
        "based_on_version": 2}, actor=SYSTEM, occurred_at=at)


def closed(ticket_id: str):
    """An agent closes the ticket (helpdesk.tickets, key = the ticket)."""
    from datetime import timedelta
    from helpdesk_shared.envelope import Actor, new_event
    return new_event("TicketClosed", ticket_id, 3, {"reason": "closed_by_agent"}, actor=Actor("u-carlos", "agent"),
                     occurred_at=opened(ticket_id).occurred_at + timedelta(days=3))


@pytest.mark.parametrize("first", ["warning", "close"])
def test_a_warning_and_a_close_applied_at_once_by_two_instances_plan_what_one_instance_reading_the_warning_first_would(
        notifier_db, first):
    """Not a race of instances (held before any change, the proof): a single instance reads the two
    topics in no set order either, and reading the warning first plans both mails. Two instances
    at once never plan anything that order would not (the warning planner reads the ticket's status,
    committed or not yet), and nothing waits: neither batch writes a row the other writes."""
    with pg.connect(notifier_db) as conn:
        apply(conn, opened("t1"), deadline("t1"))
        conn.execute("update tickets set version = 2 where ticket_id = 't1'")  # an agent's answer, not mailed here
    facts = {"warning": warning("t1"), "close": closed("t1")}
    one, other = pg.connect(notifier_db), pg.connect(notifier_db)
    try:
        apply(one, facts[first])
        second = "close" if first == "warning" else "warning"
        assert while_in_flight(notifier_db, one, other, lambda: apply(other, facts[second])) == []
    finally:
        one.close()
        other.close()
    with pg.connect(notifier_db) as conn:
        planned = conn.execute("select template, count(*) as n from mails group by template").fetchall()
        status = conn.execute("select status from tickets where ticket_id = 't1'").fetchone()["status"]
    assert status == "closed"
    assert {r["template"]: r["n"] for r in planned} == {"ticket_opened_queue": 1, "ticket_received": 1,
                                                        "auto_close_warning": 1, "ticket_closed": 1}
