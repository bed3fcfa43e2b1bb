"""Time accounting (issue 12): the minutes staff recorded with answers and notes, per agent,
organisation and month, and the part billed for out-of-hours work (adapter: the applier the
consumer calls and the SQL of the time report; the sums' shapes are the pure `time_rows`).

The SLA service measures each record on the desk's calendar (WorkTimeRecorded: the minutes and
how much of them fell outside business hours); this model stores one row per message and decides
billing when a report is read: outside-hours time is billed on a ticket that asked for out-of-hours
attention, unless the desk marked it otherwise (BillableMarked overrides the request, as in the
out-of-hours report). Reading the ticket's flags then, not when the fact arrived, keeps the rows
the same whichever topic was read first.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping

import psycopg

from helpdesk_shared.kafka import Record

from . import reports
from .batching import applies_batch
from .reports import ReportQuery

PROJECTION = "work_time"
# A ticket's out-of-hours time is billed when the desk marked it billable, or when it asked for
# out-of-hours attention and the desk did not mark it otherwise (report_tickets' columns, alias k).
BILLABLE = "coalesce(k.billable, k.out_of_hours_requested)"


@applies_batch
def apply(conn: psycopg.Connection, records: list[Record]) -> int:
    """Store each WorkTimeRecorded of the run once (by message); return how many were new."""
    rows = [(d["message_id"], d["ticket_id"], d["agent_id"], d["internal"],
             reports.month_of(datetime.fromisoformat(d["ended_at"])), d["ended_at"], d["minutes"],
             d["outside_hours_seconds"], d["calendar_version"])
            for d in (r.event.data for r in records if r.event.type == "WorkTimeRecorded")]
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany("""insert into report_work_time (message_id, ticket_id, agent_id, internal, month, ended_at,
                                                         minutes, outside_hours_seconds, calendar_version)
                           values (%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (message_id) do nothing""",
                        rows, returning=False)
        return max(cur.rowcount, 0)


def time_rows(groups: Iterable[Mapping], agents: Mapping[str, str | None],
              organisations: Mapping[str, Mapping]) -> list[dict]:
    """Per agent, organisation and month: minutes recorded, the part outside business hours and the
    part billed, each in minutes (two decimals) and hours, ordered by agent name, organisation, month.
    `groups`: (agent_id, organisation_id, month, entries, minutes, outside_seconds, billable_seconds)."""
    items = []
    for g in groups:
        org = organisations.get(g["organisation_id"], {})
        items.append({
            "agent_id": g["agent_id"], "agent_name": agents.get(g["agent_id"]),
            "organisation_id": g["organisation_id"], "organisation_name": org.get("name"), "month": g["month"],
            "entries": g["entries"], "minutes": g["minutes"],
            "outside_hours_minutes": round(g["outside_seconds"] / 60, 2),
            "billable_minutes": round(g["billable_seconds"] / 60, 2),
            "hours": reports.hours(g["minutes"] * 60), "billable_hours": reports.hours(g["billable_seconds"])})
    return sorted(items, key=lambda i: ((i["agent_name"] or i["agent_id"]).casefold(), i["agent_id"],
                                        (i["organisation_name"] or i["organisation_id"] or "").casefold(),
                                        i["organisation_id"] or "", i["month"]))


def _scope(desks: list[str], q: ReportQuery) -> tuple[str, list]:
    clauses, params = ["k.desk = any(%s)", "w.month between %s and %s"], [desks, q.first, q.last]
    for name, column in (("organisation_id", "k.organisation_id"), ("agent", "w.agent_id")):
        if name in q.filters:
            clauses.append(f"{column} = %s")
            params.append(q.filters[name])
    return " and ".join(clauses), params


def report(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Staff time per agent, organisation and month of the period, with its billable part."""
    where, params = _scope(desks, q)
    groups = conn.execute(f"""select w.agent_id, k.organisation_id, w.month, count(*)::int as entries,
                                     sum(w.minutes)::int as minutes,
                                     sum(w.outside_hours_seconds)::bigint as outside_seconds,
                                     coalesce(sum(w.outside_hours_seconds) filter (where {BILLABLE}), 0)::bigint
                                         as billable_seconds
                              from report_work_time w join report_tickets k on k.ticket_id = w.ticket_id
                              where {where} group by 1, 2, 3""", params).fetchall()
    agents = {r["id"]: r["name"] for r in conn.execute("select id, name from users where id = any(%s)",
                                                        (sorted({g["agent_id"] for g in groups}),)).fetchall()}
    orgs = {o["id"]: o for o in conn.execute("select id, name from organisations where id = any(%s)",
                                             (sorted({g["organisation_id"] for g in groups}),)).fetchall()}
    return {"from": q.first, "to": q.last, "items": time_rows(groups, agents, orgs)}


def billable_by_organisation(conn: psycopg.Connection, where: str, params: list, q: ReportQuery) -> list[dict]:
    """(organisation_id, month, seconds) of recorded time billed for out-of-hours work, for the
    out-of-hours report; `where`/`params` scope report_tickets as alias k."""
    return conn.execute(f"""select k.organisation_id, w.month, sum(w.outside_hours_seconds)::bigint as seconds
                            from report_work_time w join report_tickets k on k.ticket_id = w.ticket_id
                            where w.month between %s and %s and w.outside_hours_seconds > 0 and {BILLABLE}
                              and {where} group by 1, 2""", [q.first, q.last] + params).fetchall()
