"""The module's lexeme of a ticket's search vectors ('mod:<code>', migration 0007) spelled once, here.

The vectors get it from `mesa_module_lexeme` and a search asks for it with `mesa_module_query`, so
query's views no longer write it out. The vectors already stored are unchanged (the same lexeme).
Like 0007's, the functions are made by `upgrade` in the live schema, where a rebuild's scratch
schema finds them on its search_path.
"""

FUNCTIONS = (
    """create or replace function mesa_module_lexeme(module text) returns text
       language sql immutable as $$ select 'mod:' || module $$""",
    # The tsquery of that one lexeme, quoted as tsquery input reads it (a quote or backslash doubled).
    r"""create or replace function mesa_module_query(module text) returns tsquery
        language sql immutable as $$
            select ('''' || replace(replace(mesa_module_lexeme(module), '\', '\\'), '''', '''''') || '''')::tsquery
        $$""",
    """create or replace function mesa_ticket_search(subject text, case_summary text, description text, module text)
       returns tsvector language sql immutable as $$
           select setweight(to_tsvector('pg_catalog.spanish', subject || ' ' || case_summary || ' ' || description)
                            || to_tsvector('mesa_search', subject || ' ' || case_summary || ' ' || description), 'A')
                  || array_to_tsvector(array[mesa_module_lexeme(module)])
       $$""",
)


def upgrade(conn) -> None:
    for function in FUNCTIONS:
        conn.execute(function)
