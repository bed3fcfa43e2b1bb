"""Issue 12, staff search fast on a large desk: `ticket_search`, one narrow row per ticket whose
vectors hold the ticket's text and its messages, so a search reads one GIN index and ranks each
ticket once.

Until now a search matched `tickets.search` (subject, case, description) and `thread.search` (one
vector per message) and summed the ranks of both per ticket: with 100,000 tickets a common word
ranked and grouped tens of thousands of rows (p95 525 ms, bench/search_bench.py).

- `staff` / `public`: the ticket's own text at weight A, its module as the lexeme 'mod:<code>'
  (so "these words in that module's tickets", a synonym group's, is one GIN lookup; no typed text
  makes it: the parser splits at ':' and lower-cases, a module code is upper case), then every
  message (`staff`) or only the public ones (`public`) at weight B. ts_rank counts a B match 0.4
  of an A one. A customer's search reads `public`, so an internal note never finds him a ticket.
- The applier (query.store) inserts the row when the ticket opens (`mesa_ticket_search`) and grows
  it one message at a time (`mesa_thread_search`), so a replay in batches of any size gives the
  same vectors. Nothing else writes the row: a status or assignee change, which rewrites the
  `tickets` row, never re-indexes the thread's words.
- Its own columns are what a search filters and orders by (desk, organisation, opened_at,
  number), so a search touches the narrow rows alone unless the list is filtered further.
- `tickets.search` and `thread.search` and their indexes go: nothing reads them any more.

The functions are made by `upgrade` in the live schema (a rebuild's scratch schema finds them on
its search_path, as it finds `mesa_search`). `mesa_thread_search` keeps a vector under 800 kB: a
message that would take it past that (PostgreSQL refuses a tsvector over 1 MB of lexemes) is left
out of the vector, never a failed batch.
"""

DDL = (
    """create table if not exists ticket_search (
        ticket_id       text        primary key,
        desk            text        not null,
        organisation_id text        not null,
        module          text        not null,
        opened_at       timestamptz not null,
        number          text        not null,
        staff           tsvector    not null,
        public          tsvector    not null
    )""",
    "create index if not exists ticket_search_staff on ticket_search using gin (staff)",
    "create index if not exists ticket_search_public on ticket_search using gin (public)",
    "create index if not exists ticket_search_recent on ticket_search (opened_at desc, number desc)",
    "create index if not exists ticket_search_organisation on ticket_search (organisation_id, opened_at desc)",
    "drop index if exists tickets_search",
    "alter table tickets drop column if exists search",
    "drop index if exists thread_search",
    "alter table thread drop column if exists search",
)

MODULE_LEXEME = "mod:"
# PostgreSQL's limit is 1 MB of lexemes (ERRCODE_PROGRAM_LIMIT_EXCEEDED past it).
VECTOR_MAX_BYTES = 800_000

FUNCTIONS = (
    f"""
    create or replace function mesa_ticket_search(subject text, case_summary text, description text, module text)
    returns tsvector language sql immutable as $$
        select setweight(to_tsvector('pg_catalog.spanish', subject || ' ' || case_summary || ' ' || description)
                         || to_tsvector('mesa_search', subject || ' ' || case_summary || ' ' || description), 'A')
               || array_to_tsvector(array['{MODULE_LEXEME}' || module])
    $$""",
    f"""
    create or replace function mesa_thread_search(acc tsvector, body text) returns tsvector
    language plpgsql stable as $$
    declare
        joined tsvector;
    begin
        if body is null or body = '' then
            return acc;
        end if;
        joined := acc || setweight(to_tsvector('pg_catalog.spanish', body) || to_tsvector('mesa_search', body), 'B');
        if pg_column_size(joined) > {VECTOR_MAX_BYTES} then
            return acc;
        end if;
        return joined;
    exception when program_limit_exceeded then
        return acc;
    end
    $$""",
)


def upgrade(conn) -> None:
    """The functions, then a row for each ticket already applied, its messages folded in stream
    order by a transient aggregate over `mesa_thread_search` (so they equal what the applier grows)."""
    for function in FUNCTIONS:
        conn.execute(function)
    conn.execute("""create or replace function pg_temp.mesa_thread_search_from(acc tsvector, body text, start tsvector)
                    returns tsvector language sql stable as
                    $$ select mesa_thread_search(coalesce(acc, start), body) $$""")
    conn.execute("""create or replace aggregate pg_temp.mesa_thread_search_agg(text, tsvector)
                    (sfunc = pg_temp.mesa_thread_search_from, stype = tsvector)""")
    conn.execute("""
        insert into ticket_search (ticket_id, desk, organisation_id, module, opened_at, number, staff, public)
        select t.ticket_id, t.desk, t.organisation_id, t.module, t.opened_at, t.number,
               coalesce(m.staff, v.v), coalesce(m.public, v.v)
        from tickets t
        cross join lateral (select mesa_ticket_search(t.subject, t.case_summary, t.description, t.module) as v) v
        left join lateral (
            select pg_temp.mesa_thread_search_agg(e.body, v.v order by e.stream_version) as staff,
                   pg_temp.mesa_thread_search_agg(case when e.internal then null else e.body end, v.v
                                                  order by e.stream_version) as public
            from thread e where e.ticket_id = t.ticket_id and e.type = 'MessagePosted') m on true
        on conflict (ticket_id) do nothing""")
