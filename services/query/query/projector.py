"""How each ticket event changes the read model (pure: event in, row changes out)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from helpdesk_shared import lifecycle
from helpdesk_shared.envelope import Envelope


@dataclass(frozen=True)
class Change:
    """Row changes for one event: a new ticket row, column updates, a thread entry."""

    new_ticket: dict | None = None
    ticket_updates: dict = field(default_factory=dict)
    thread_entry: dict | None = None


def _entry(event: Envelope, body: str | None = None, internal: bool = False, attachments=()) -> dict:
    return {"type": event.type, "author_id": event.actor.id, "author_role": event.actor.role, "body": body,
            "internal": internal, "attachments": list(attachments), "data": event.data}


def project(event: Envelope, status: str | None) -> Change:
    """The change an event makes, given the ticket's current status (None before it opens)."""
    d = event.data
    if event.type == "TicketOpened":
        details = {k: d.get(k) for k in ("member_number", "dates", "vouchers", "menu_path", "previous_ticket")}
        return Change(new_ticket={
            "ticket_id": d["ticket_id"], "number": d["number"], "desk": d["desk"],
            "organisation_id": d["organisation_id"], "module": d["module"], "case_summary": d["case"],
            "subject": d["subject"], "description": d["description"], "urgency": d["urgency"],
            "status": lifecycle.OPEN, "opened_by": d["opened_by"], "contact": d["contact"], "details": details,
            "attachments": d.get("attachments") or [], "out_of_hours": d.get("out_of_hours_requested", False)},
            thread_entry=_entry(event, d["description"], attachments=d.get("attachments") or []))
    if event.type == "MessagePosted":
        updates = {}
        if not d["internal"]:
            updates["status"] = lifecycle.next_status(status, event)
            if lifecycle.status_set_by(event) == lifecycle.OPEN:  # the customer spoke: he is back
                updates.update(customer_away=False, back_at=None)
        if d.get("out_of_hours_requested"):
            updates["out_of_hours"] = True
        return Change(ticket_updates=updates,
                      thread_entry=_entry(event, d["body"], d["internal"], d.get("attachments") or []))
    if event.type == "TicketAssigned":
        return Change(ticket_updates={"assigned_to": d["agent_id"]}, thread_entry=_entry(event, internal=True))
    if event.type == "CustomerAway":
        back_at = d.get("back_at")
        return Change(ticket_updates={"customer_away": True,
                                      "back_at": datetime.fromisoformat(back_at) if back_at else None},
                      thread_entry=_entry(event, d.get("note")))
    if event.type == "ResolutionConfirmed":
        updates = {} if d["solved"] else {"status": lifecycle.next_status(status, event), "customer_away": False,
                                          "back_at": None}
        return Change(ticket_updates=updates, thread_entry=_entry(event, d.get("body")))
    if event.type == "TicketClosed":
        return Change(ticket_updates={"status": lifecycle.next_status(status, event), "close_reason": d["reason"]},
                      thread_entry=_entry(event, d.get("note")))
    if event.type == "TicketMergedInto":
        # Issue 12: a duplicate's content lands in this ticket's thread as one entry whose files are the
        # duplicate's public ones (so the ticket's file list offers them); its messages are in `data`.
        public = list(d.get("attachments") or []) + [a for m in d.get("messages") or [] if not m["internal"]
                                                     for a in m.get("attachments") or []]
        return Change(thread_entry=_entry(event, d.get("note"), attachments=public))
    if event.type == "BillableMarked":
        # The desk's bookkeeping: internal, so the customer's thread never shows it.
        return Change(ticket_updates={"billable": d["billable"]}, thread_entry=_entry(event, d.get("note"),
                                                                                     internal=True))
    return Change()


@dataclass(frozen=True)
class AccountChange:
    """Row upserts for one helpdesk.accounts event: who an id names."""

    organisation: dict | None = None
    user: dict | None = None


def project_account(event: Envelope) -> AccountChange:
    """The names an account event teaches query (the other account events teach it nothing)."""
    d = event.data
    if event.type == "OrganisationRegistered":
        return AccountChange(organisation={"id": d["organisation_id"], "name": d["name"], "tax_id": d.get("tax_id"),
                                           "desks": list(d["desks"])})
    if event.type == "UserRegistered":
        return AccountChange(user={"id": d["user_id"], "email": d["email"], "name": d["name"], "role": d["role"],
                                   "organisation_id": d.get("organisation_id"), "desks": list(d["desks"]),
                                   "phone": d.get("phone")})
    return AccountChange()
