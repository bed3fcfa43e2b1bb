"""Read-side queries in plain SQL; every one filtered by what the caller may see."""
from __future__ import annotations

import psycopg

from helpdesk_shared.auth_tokens import Claims

from . import articles, articles_store, catalogs
from .filters import UNASSIGNED, ListQuery

_LIST_COLUMNS = """t.number, t.desk, t.organisation_id, o.name as organisation_name, t.module, t.case_summary,
                   t.subject, t.urgency, t.status, t.assigned_to, a.name as assigned_to_name, t.customer_away,
                   t.back_at, t.out_of_hours, t.close_reason, t.opened_at, t.updated_at, m.name as module_name"""
# Names beside ids: a person or organisation query has not heard of yet shows a null name, never hides the row.
_NAMED = """tickets t left join users a on a.id = t.assigned_to
                      left join organisations o on o.id = t.organisation_id
                      left join desk_modules m on m.desk = t.desk and m.code = t.module"""


def _visibility(user: Claims, alias: str = "t") -> tuple[str, list]:
    # A customer sees his organisation's tickets of the desks he is allowed on (SPEC §1: one or both).
    if user.role == "customer":
        return f"{alias}.organisation_id = %s and {alias}.desk = any(%s)", [user.organisation_id, list(user.desks)]
    return f"{alias}.desk = any(%s)", [list(user.desks)]


def _filtered(query: ListQuery, params: list) -> list[str]:
    """The list's filters as conditions on `tickets t` (their values appended to `params`)."""
    clauses = []
    for column, value in query.filters.items():  # column names come from filters.FILTERS, never from the caller
        if value is UNASSIGNED:
            clauses.append(f"t.{column} is null")
        else:
            clauses.append(f"t.{column} = %s")
            params.append(value)
    return clauses


def _synonym_branches(conn: psycopg.Connection, text: str) -> list[tuple[str, str]]:
    """(module, tsquery) for each module whose synonym groups widen the search's words (every word
    counts, as in the plain search); lexemes as the knowledge base's search reads them."""
    words = articles.words_of(text)
    if not words:
        return []
    known = articles_store.lexemes(conn, (*words, *articles.synonym_words()))
    _, per_module = articles.tsqueries(words, known, any_word=False)
    return sorted(per_module.items())


def list_tickets(conn: psycopg.Connection, user: Claims, query: ListQuery) -> dict:
    """A page of tickets, newest first (best match first for a text search: `_searched`), with the
    total count; filters narrow only what the caller may see."""
    if query.text:
        return _searched(conn, user, query)
    where, params = _visibility(user)
    clauses = [where, *_filtered(query, params)]
    sql_where = " and ".join(clauses)
    total = conn.execute(f"select count(*) as n from tickets t where {sql_where}", params).fetchone()["n"]
    rows = conn.execute(f"""select {_LIST_COLUMNS} from {_NAMED} where {sql_where}
                            order by t.opened_at desc, t.number desc limit %s offset %s""",
                        params + [query.per_page, (query.page - 1) * query.per_page]).fetchall()
    return {"items": catalogs.named(rows), "page": query.page, "per_page": query.per_page, "total": total,
            "capped": False}


# A search ranks at most this many matches, the most recent ones: past it, the caller is told
# (`capped`) to add words. Ranking every match of a word half the desk uses cost 0.5 s at 100,000
# tickets (bench/search_bench.py); the newest 2,000 come from the opened_at index in a few ms.
SEARCH_RANKED_MAX = 2000


def _searched(conn: psycopg.Connection, user: Claims, query: ListQuery) -> dict:
    """A page of the tickets the caller may see that match `query.text`, best match first, with their count.

    websearch_to_tsquery reads any text (quotes, "or", "-word") and never raises a syntax error. A
    ticket's ticket_search row (migration 0007) holds its subject, case and description at weight A
    and its messages at weight B: staff read `staff`, a customer `public` (no internal note finds a
    ticket for him). A word of one of a module's synonym groups (rule 6's, the kernel catalog's)
    also finds the group's other words in that module's tickets ("deposito" finds a BANCOS ticket
    about a transfer), and its rank adds to the ticket's. Rank ties: newest first. When more than
    SEARCH_RANKED_MAX tickets match, the most recent SEARCH_RANKED_MAX are ranked, `total` is that
    many and `capped` says there were more. The narrow search rows are read alone unless the list is
    filtered further (then joined to `tickets`); names are joined for the page's rows alone."""
    vector = "s.staff" if user.is_staff else "s.public"
    where, params = _visibility(user, "s")
    filters = _filtered(query, params)
    source = "ticket_search s join tickets t on t.ticket_id = s.ticket_id" if filters else "ticket_search s"
    q = "websearch_to_tsquery('pg_catalog.spanish', %s)"
    # One tsquery, so one GIN lookup: the words, or a synonym group's words together with the
    # module's own lexeme, never a module filter read from each matching row.
    match, match_params = [q], [query.text]
    rank, rank_params = [f"ts_rank(n.v, {q})"], [query.text]
    for module, tsquery in _synonym_branches(conn, query.text):
        match.append("(%s::tsquery && mesa_module_query(%s))")  # migration 0008
        match_params += [tsquery, module]
        rank.append("case when n.module = %s then ts_rank(n.v, %s::tsquery) else 0 end")
        rank_params += [module, tsquery]
    matching = f"{source} where {' and '.join([where, *filters])} and {vector} @@ ({' || '.join(match)})"
    # prepare=False, here and below: each search is planned for its own words (a word on most tickets
    # walks the newest-first index, a rare one the GIN index). A prepared statement would let
    # PostgreSQL settle on one generic plan for every word: 10x the pages read for a common word.
    page = conn.execute(f"""
        with newest as (select s.ticket_id, s.opened_at, s.number, {vector} as v, s.module
                        from {matching}
                        order by s.opened_at desc, s.number desc limit {SEARCH_RANKED_MAX + 1}),
             found as (select n.ticket_id, n.opened_at, n.number, count(*) over () as found,
                              row_number() over (order by n.opened_at desc, n.number desc) as i,
                              {' + '.join(rank)} as r
                       from newest n)
        select ticket_id, found from found where i <= {SEARCH_RANKED_MAX}
        order by r desc, opened_at desc, number desc limit %s offset %s""",
        params + match_params + rank_params + [query.per_page, (query.page - 1) * query.per_page],
        prepare=False).fetchall()
    if page:
        found = page[0]["found"]
    elif query.page > 1:  # past the last page: the window had no row to count on
        found = conn.execute(f"select count(*) as n from (select 1 from {matching} limit {SEARCH_RANKED_MAX + 1}) m",
                             params + match_params, prepare=False).fetchone()["n"]
    else:
        found = 0
    order = {row["ticket_id"]: i for i, row in enumerate(page)}
    rows = conn.execute(f"select t.ticket_id, {_LIST_COLUMNS} from {_NAMED} where t.ticket_id = any(%s)",
                        (list(order),)).fetchall() if page else []
    rows.sort(key=lambda r: order[r["ticket_id"]])
    for r in rows:
        del r["ticket_id"]
    return {"items": catalogs.named(rows), "page": query.page, "per_page": query.per_page,
            "total": min(found, SEARCH_RANKED_MAX), "capped": found > SEARCH_RANKED_MAX}


def _attachments(thread: list[dict]) -> list[dict]:
    """Every file of the visible thread, in the order added, each once per (content, name)."""
    seen, found = set(), []
    for entry in thread:
        for file in entry["attachments"]:
            if (file["sha256"], file["name"]) in seen:
                continue
            seen.add((file["sha256"], file["name"]))
            found.append({**file, "stream_version": entry["stream_version"], "added_by": entry["author_id"],
                          "added_by_name": entry["author_name"], "added_at": entry["occurred_at"],
                          "internal": entry["internal"]})
    return found


def _merged(thread: list[dict], staff: bool) -> dict | None:
    """Issue 12. A duplicate merged away: where it continues ({number, link}). A ticket that received
    duplicates: each TicketMergedInto entry keeps the duplicate's number, opening and messages (internal
    notes for staff only) under `merged`. The helper columns leave the entries."""
    merged_into = None
    for entry in thread:
        target = entry.pop("merged_into")
        if target:
            merged_into = {"number": target, "link": f"/api/tickets/{target}"}
        merged = entry.pop("merged")
        if merged:
            entry["merged"] = {"source_number": merged["source_number"], "subject": merged["subject"],
                               "description": merged["description"], "opened_by": merged["opened_by"],
                               "opened_at": merged["opened_at"],
                               "messages": [m for m in merged.get("messages") or [] if staff or not m["internal"]]}
    return merged_into


def ticket_with_thread(conn: psycopg.Connection, user: Claims, number: str) -> dict | None:
    """The ticket and its thread (internal notes for staff only), or None when not visible."""
    where, params = _visibility(user)
    ticket = conn.execute(f"""select t.*, o.name as organisation_name, a.name as assigned_to_name,
                                     m.name as module_name, b.name as opened_by_name
                              from {_NAMED} left join users b on b.id = t.opened_by
                              where t.number = %s and {where}""", [number] + params).fetchone()
    if ticket is None:
        return None
    catalogs.named([ticket])
    # An agent's close note is for staff: customers see that and why the ticket closed, not the note
    # (nor the note of a merge, on either ticket).
    thread = conn.execute("""select e.stream_version, e.type, e.author_id, u.name as author_name, e.author_role,
                                    case when %(staff)s or e.type not in ('TicketClosed', 'TicketMergedInto')
                                         then e.body end as body,
                                    e.internal, e.attachments, e.occurred_at,
                                    case when e.type = 'TicketClosed' then e.data->>'merged_into' end as merged_into,
                                    case when e.type = 'TicketMergedInto' then e.data end as merged
                             from thread e left join users u on u.id = e.author_id
                             where e.ticket_id = %(ticket)s and (%(staff)s or not e.internal)
                             order by e.stream_version""",
                          {"ticket": ticket["ticket_id"], "staff": user.is_staff}).fetchall()
    told = conn.execute("""select type, recipient, template, error, occurred_at from notifications
                           where ticket_id = %s order by occurred_at""", (ticket["ticket_id"],)).fetchall()
    # Customers see what they were sent; staff also see mails to staff and failures.
    if not user.is_staff:
        told = [n for n in told if n["recipient"] == ticket["contact"].get("email") and n["type"] == "NotificationSent"]
    # The SLA service said the first answer is late (and it still is): the customer's page offers the office phones.
    overdue = conn.execute("""select exists (select 1 from deadlines where ticket_id = %s and clock = 'first_response'
                                             and running and overdue) as overdue""",
                           (ticket["ticket_id"],)).fetchone()["overdue"]
    merged_into = _merged(thread, user.is_staff)
    # The nearest running deadline, as the SLA service set it: staff fill a canned answer's {plazo} with it.
    nearest = conn.execute("""select clock, due_at from deadlines where ticket_id = %s and running
                              order by due_at limit 1""", (ticket["ticket_id"],)).fetchone() if user.is_staff else None
    # The files of the whole thread the caller may see (the opening ones first), not only the opening ones.
    return {**ticket, "merged_into": merged_into, "attachments": _attachments(thread), "thread": thread,
            "notifications": told, "first_response_overdue": overdue and ticket["status"] != "closed",
            **({"next_deadline": nearest} if user.is_staff else {})}


def desk_agents(conn: psycopg.Connection, desk: str) -> list[dict]:
    """The agents and supervisors of a desk, by name (whom a ticket can be assigned to)."""
    return conn.execute("""select id, name, email, role from users
                           where role in ('agent', 'supervisor') and %s = any(desks) order by name, id""",
                        (desk,)).fetchall()


def organisations(conn: psycopg.Connection, user: Claims) -> list[dict]:
    """The organisations the caller works with: a customer his own; staff those of their desks, with
    each one's customers (whom a ticket can be filed for)."""
    if user.role == "customer":
        return conn.execute("select id, name, desks from organisations where id = %s",
                            (user.organisation_id,)).fetchall()
    rows = conn.execute("""select id, name, tax_id, desks from organisations where desks && %s::text[]
                           order by name, id""", (list(user.desks),)).fetchall()
    people = conn.execute("""select id, name, email, phone, organisation_id from users
                             where role = 'customer' and organisation_id = any(%s) order by name, id""",
                          ([r["id"] for r in rows],)).fetchall()
    for row in rows:
        row["customers"] = [{k: p[k] for k in ("id", "name", "email", "phone")}
                            for p in people if p["organisation_id"] == row["id"]]
    return rows
