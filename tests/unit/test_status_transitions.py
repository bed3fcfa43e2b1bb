"""The ticket status transitions, written once in the kernel (issue 10 item 2): intake's lifecycle,
query's projector and the SLA timers all read a ticket's status through lifecycle.next_status."""
from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpdesk_shared import lifecycle
from helpdesk_shared.envelope import Actor, Envelope
from helpdesk_shared.lifecycle import CLOSED, OPEN, WAITING_CUSTOMER

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


def event(type_: str, **data) -> Envelope:
    return Envelope(type=type_, stream_id="t1", stream_version=2, occurred_at=T0, actor=Actor("u", "agent"), data=data)


CUSTOMER_MESSAGE = event("MessagePosted", internal=False, author_role="customer")
AGENT_MESSAGE = event("MessagePosted", internal=False, author_role="agent")
SUPERVISOR_MESSAGE = event("MessagePosted", internal=False, author_role="supervisor")
INTERNAL_NOTE = event("MessagePosted", internal=True, author_role="agent")
NOT_SOLVED = event("ResolutionConfirmed", solved=False, body="sigue fallando")
SOLVED = event("ResolutionConfirmed", solved=True, body=None)
CLOSE = event("TicketClosed", reason="solved_by_customer")
OPENED = event("TicketOpened")
ASSIGNED = event("TicketAssigned", agent_id="u-carlos")
AWAY = event("CustomerAway", back_at=None)
BILLABLE = event("BillableMarked", billable=True)

TABLE = [
    (None, OPENED, OPEN),
    (OPEN, AGENT_MESSAGE, WAITING_CUSTOMER),
    (OPEN, SUPERVISOR_MESSAGE, WAITING_CUSTOMER),
    (OPEN, CUSTOMER_MESSAGE, OPEN),
    (OPEN, INTERNAL_NOTE, OPEN),
    (WAITING_CUSTOMER, CUSTOMER_MESSAGE, OPEN),
    (WAITING_CUSTOMER, AGENT_MESSAGE, WAITING_CUSTOMER),
    (WAITING_CUSTOMER, INTERNAL_NOTE, WAITING_CUSTOMER),
    (WAITING_CUSTOMER, NOT_SOLVED, OPEN),
    (WAITING_CUSTOMER, SOLVED, WAITING_CUSTOMER),  # its TicketClosed follows and closes
    (WAITING_CUSTOMER, CLOSE, CLOSED),
    (OPEN, CLOSE, CLOSED),
    (OPEN, ASSIGNED, OPEN),
    (WAITING_CUSTOMER, AWAY, WAITING_CUSTOMER),
    (OPEN, BILLABLE, OPEN),
    (CLOSED, CUSTOMER_MESSAGE, CLOSED),  # closed is final: never reopened
    (CLOSED, NOT_SOLVED, CLOSED),
    (CLOSED, BILLABLE, CLOSED),
]


@pytest.mark.parametrize("status, change, after", TABLE, ids=[f"{s}+{e.type}:{a}" for s, e, a in TABLE])
def test_each_status_and_event_lead_to_one_status(status, change, after):
    assert lifecycle.next_status(status, change) == after


@pytest.mark.parametrize("module", ["services/intake/intake/handlers.py", "services/query/query/projector.py",
                                    "services/sla/sla/timers.py", "shared/helpdesk_shared/lifecycle.py"])
def test_no_service_decides_a_status_from_author_role_itself(module):
    # Who owes the next answer is read from author_role in lifecycle.status_set_by only.
    tree = ast.parse((ROOT / module).read_text())
    readers = [node.lineno for node in ast.walk(tree)  # d["author_role"]: reading it, not writing an event
               if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
               and node.slice.value == "author_role"]
    if module.endswith("lifecycle.py"):
        assert len(readers) == 1
    else:
        assert readers == []


@pytest.mark.parametrize("module", ["services/query/query/projector.py", "services/sla/sla/timers.py",
                                    "shared/helpdesk_shared/lifecycle.py"])
def test_the_three_readers_of_status_use_the_one_function(module):
    source = (ROOT / module).read_text()
    assert "status_set_by(" in source or "next_status(" in source
