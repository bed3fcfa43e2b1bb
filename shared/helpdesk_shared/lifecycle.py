"""The ticket lifecycle: a ticket's state as a fold over its events (pure).

    open ──agent public message──▶ waiting_customer ──customer message──▶ open
      │                                   │
      └──────── TicketClosed ─────────────┴──▶ closed   (final: never reopened)

A duplicate merged into the open ticket of its case (issue 12) closes like any other ticket, with
reason "merged" and `merged_into`; the open ticket's TicketMergedInto leaves its status alone.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from .envelope import Envelope

OPEN = "open"                          # the agents owe the next answer
WAITING_CUSTOMER = "waiting_customer"  # an agent answered; the customer owes one
CLOSED = "closed"

STAFF_ROLES = ("agent", "supervisor")


@dataclass(frozen=True)
class TicketState:
    """What the write side needs to decide on a ticket's next command."""

    ticket_id: str
    number: str
    desk: str
    organisation_id: str
    module: str
    case: str
    urgency: str
    status: str
    version: int
    assigned_to: str | None = None
    customer_away: bool = False
    attachment_bytes: int = 0
    attachment_hashes: frozenset[str] = frozenset()
    close_reason: str | None = None
    billable: bool | None = None  # the desk's mark; None: not decided (the customer's request stands)
    merged_into: str | None = None  # closed as a duplicate (reason "merged"): the number it continues in
    rated: bool = False  # the customer gave his verdict (TicketRated): once per ticket

    @property
    def is_closed(self) -> bool:
        """A closed ticket takes no message and is never reopened."""
        return self.status == CLOSED


def status_set_by(event: Envelope) -> str | None:
    """The status an event puts a ticket in (None: it leaves the status alone).

    The one reading of who owes the next answer: a public message of staff puts the ticket in
    waiting_customer, a public message of the customer or a "not solved" answer puts it back to
    open. Intake's lifecycle, query's projector and the SLA timers all ask this function."""
    d = event.data
    if event.type == "TicketOpened":
        return OPEN
    if event.type == "MessagePosted":
        if d["internal"]:
            return None
        return WAITING_CUSTOMER if d["author_role"] in STAFF_ROLES else OPEN
    if event.type == "ResolutionConfirmed":
        return None if d["solved"] else OPEN
    if event.type == "TicketClosed":
        return CLOSED
    return None


def next_status(status: str | None, event: Envelope) -> str | None:
    """A ticket's status after `event`, given its status before (None before it opens); closed is final."""
    if status == CLOSED:
        return CLOSED
    return status_set_by(event) or status


def _with_attachments(state: TicketState, attachments: list[dict]) -> TicketState:
    return replace(state,
                   attachment_bytes=state.attachment_bytes + sum(a["size"] for a in attachments),
                   attachment_hashes=state.attachment_hashes | {a["sha256"] for a in attachments})


def apply(state: TicketState | None, event: Envelope) -> TicketState:
    """The state after one more event of the ticket's stream."""
    d = event.data
    if event.type == "TicketOpened":
        opened = TicketState(ticket_id=d["ticket_id"], number=d["number"], desk=d["desk"],
                             organisation_id=d["organisation_id"], module=d["module"], case=d["case"],
                             urgency=d["urgency"], status=OPEN, version=event.stream_version)
        return _with_attachments(opened, d.get("attachments") or [])
    assert state is not None, f"{event.type} before TicketOpened in {event.stream_id}"
    state = replace(state, version=event.stream_version)
    status = next_status(state.status, event)
    if status == OPEN and status_set_by(event) == OPEN:  # the customer spoke: he is back
        state = replace(state, customer_away=False)
    state = replace(state, status=status)
    if event.type == "MessagePosted":
        return _with_attachments(state, d.get("attachments") or [])
    if event.type == "TicketAssigned":
        return replace(state, assigned_to=d["agent_id"])
    if event.type == "CustomerAway":
        return replace(state, customer_away=True)
    if event.type == "TicketClosed":
        return replace(state, close_reason=d["reason"], merged_into=d.get("merged_into"))
    if event.type == "BillableMarked":
        return replace(state, billable=d["billable"])
    if event.type == "TicketRated":
        return replace(state, rated=True)
    return state


def fold_onto(state: TicketState | None, events: Iterable[Envelope]) -> TicketState | None:
    """The state after `events`, starting from `state` (None: from an empty stream)."""
    for event in events:
        state = apply(state, event)
    return state


def fold(events: Iterable[Envelope]) -> TicketState | None:
    """A ticket's current state from its whole stream (None for an empty stream)."""
    return fold_onto(None, events)
