"""Issue 12, staff search fast on a large desk: one vector per ticket and reader holds the ticket's
text and its messages, so a search reads one GIN index and ranks each ticket once.

Until now a search matched `tickets.search` (subject, case, description) and `thread.search` (one
vector per message) and summed the ranks of both per ticket: with 100,000 tickets a common word
ranked and grouped tens of thousands of rows (p95 525 ms, bench/search_bench.py).

- `thread_staff` / `thread_public`: every message of the ticket, and only the public ones, as one
  tsvector each, grown by the applier (query.store) one message at a time with
  `mesa_thread_search(vector, body)`, so a replay in batches of any size gives the same value.
- `search_staff` / `search_public`: the ticket's own text at weight A and the messages at weight B
  (ts_rank counts a B match 0.4 of an A one), and the module as the lexeme 'mod:<code>'; generated,
  each with its GIN index. A customer's
  search reads `search_public`, so an internal note never finds a ticket for him.
- `tickets.search` and `thread.search` and their indexes go: nothing reads them any more.

`mesa_thread_search` is made by `upgrade` in the live schema (a rebuild's scratch schema finds it
on its search_path, as it finds `mesa_search`). It keeps a ticket's thread vector under 800 kB: a
message that would take it past that (PostgreSQL refuses a tsvector over 1 MB of lexemes, and the
generated columns add the ticket's own text) is left out of the vector, never a failed batch.
"""

_TEXT = "subject || ' ' || case_summary || ' ' || description"
# The ticket's module as one more lexeme ('mod:BANCOS'), so "these words in that module's tickets"
# (a synonym group's, query.views) is one GIN lookup. No text makes it: the parser splits at ':' and
# lower-cases, and a module code is upper case.
MODULE_LEXEME = "mod:"


def _generated(name: str, thread: str) -> str:
    return f"""alter table tickets add column if not exists {name} tsvector generated always as (
        setweight(to_tsvector('pg_catalog.spanish', {_TEXT}) || to_tsvector('mesa_search', {_TEXT}), 'A')
        || setweight({thread}, 'B') || array_to_tsvector(array['{MODULE_LEXEME}' || module])) stored"""


DDL = (
    "alter table tickets add column if not exists thread_staff tsvector not null default ''",
    "alter table tickets add column if not exists thread_public tsvector not null default ''",
    _generated("search_staff", "thread_staff"),
    _generated("search_public", "thread_public"),
    "create index if not exists tickets_search_staff on tickets using gin (search_staff)",
    "create index if not exists tickets_search_public on tickets using gin (search_public)",
    "drop index if exists tickets_search",
    "alter table tickets drop column if exists search",
    "drop index if exists thread_search",
    "alter table thread drop column if exists search",
)

# PostgreSQL's limit is 1 MB of lexemes (ERRCODE_PROGRAM_LIMIT_EXCEEDED past it); the generated
# columns add at most the ticket's own text (20,000 characters, intake's TEXT_MAX) to this.
THREAD_VECTOR_MAX_BYTES = 800_000

FUNCTION = f"""
create or replace function mesa_thread_search(acc tsvector, body text) returns tsvector
language plpgsql stable as $$
declare
    joined tsvector;
begin
    if body is null or body = '' then
        return acc;
    end if;
    joined := acc || to_tsvector('pg_catalog.spanish', body) || to_tsvector('mesa_search', body);
    if pg_column_size(joined) > {THREAD_VECTOR_MAX_BYTES} then
        return acc;
    end if;
    return joined;
exception when program_limit_exceeded then
    return acc;
end
$$"""


def upgrade(conn) -> None:
    """The function, then the vectors of the messages already applied, each ticket's in stream order
    (through a transient aggregate over the same function, so they equal what the applier grows)."""
    conn.execute(FUNCTION)
    conn.execute("""create or replace aggregate mesa_thread_search_agg(text)
                    (sfunc = mesa_thread_search, stype = tsvector, initcond = '')""")
    conn.execute("""
        update tickets t set thread_staff = m.staff, thread_public = m.public
        from (select ticket_id,
                     mesa_thread_search_agg(body order by stream_version) as staff,
                     mesa_thread_search_agg(case when internal then null else body end order by stream_version)
                         as public
              from thread where type = 'MessagePosted' group by ticket_id) m
        where m.ticket_id = t.ticket_id""")
    conn.execute("drop aggregate mesa_thread_search_agg(text)")
