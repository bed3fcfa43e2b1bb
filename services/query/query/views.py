"""Read-side queries in plain SQL; every one filtered by what the caller may see."""
from __future__ import annotations

import psycopg

from helpdesk_shared.auth_tokens import Claims

LIST_FILTERS = ("status", "desk", "module", "organisation_id")
_LIST_COLUMNS = """number, desk, organisation_id, module, case_summary, subject, urgency, status, assigned_to,
                   customer_away, out_of_hours, close_reason, opened_at, updated_at"""


def _visibility(user: Claims) -> tuple[str, list]:
    # A customer sees his organisation's tickets of the desks he is allowed on (SPEC §1: one or both).
    if user.role == "customer":
        return "organisation_id = %s and desk = any(%s)", [user.organisation_id, list(user.desks)]
    return "desk = any(%s)", [list(user.desks)]


def list_tickets(conn: psycopg.Connection, user: Claims, filters: dict, page: int, per_page: int) -> dict:
    """A page of tickets, newest first, with the total count."""
    where, params = _visibility(user)
    clauses = [where]
    for name in LIST_FILTERS:
        if filters.get(name):
            clauses.append(f"{name} = %s")
            params.append(filters[name])
    sql_where = " and ".join(clauses)
    total = conn.execute(f"select count(*) as n from tickets where {sql_where}", params).fetchone()["n"]
    rows = conn.execute(f"""select {_LIST_COLUMNS} from tickets where {sql_where}
                            order by opened_at desc, number desc limit %s offset %s""",
                        params + [per_page, (page - 1) * per_page]).fetchall()
    return {"items": rows, "page": page, "per_page": per_page, "total": total}


def ticket_with_thread(conn: psycopg.Connection, user: Claims, number: str) -> dict | None:
    """The ticket and its thread (internal notes for staff only), or None when not visible."""
    where, params = _visibility(user)
    ticket = conn.execute(f"select * from tickets where number = %s and {where}", [number] + params).fetchone()
    if ticket is None:
        return None
    # An agent's close note is for staff: customers see that and why the ticket closed, not the note.
    thread = conn.execute("""select stream_version, type, author_id, author_role,
                                    case when %(staff)s or type <> 'TicketClosed' then body end as body,
                                    internal, attachments, occurred_at from thread
                             where ticket_id = %(ticket)s and (%(staff)s or not internal) order by stream_version""",
                          {"ticket": ticket["ticket_id"], "staff": user.is_staff}).fetchall()
    told = conn.execute("""select type, recipient, template, error, occurred_at from notifications
                           where ticket_id = %s order by occurred_at""", (ticket["ticket_id"],)).fetchall()
    # Customers see what they were sent; staff also see mails to staff and failures.
    if not user.is_staff:
        told = [n for n in told if n["recipient"] == ticket["contact"].get("email") and n["type"] == "NotificationSent"]
    return {**ticket, "thread": thread, "notifications": told}
