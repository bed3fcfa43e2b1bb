"""Issue 12, the knowledge base's read model: articles with their current state and a weighted
full-text vector for search by meaning in Spanish.

`search` is written by the applier (query.articles_store) with the `mesa_es` text search
configuration: PostgreSQL's `spanish` (Snowball stems, Spanish stop-words) with `unaccent` before
it, so "conciliación", "conciliacion" and "conciliar" meet. A stored tsvector with a GIN index is
what lets a search use an index (an expression index would need an immutable wrapper around
unaccent, which PostgreSQL marks stable): https://www.postgresql.org/docs/15/textsearch-tables.html
and https://www.postgresql.org/docs/15/unaccent.html.

The configuration and the extension are made by `upgrade` in the live schema, not in `DDL`: a
rebuild (`mesa rebuild query`) replays into a scratch schema with the live one on its search_path,
and finds `mesa_es` there; the scratch schema, later dropped, must not own it.
"""

DDL = (
    """
    create table if not exists kb_articles (
        article_id   text        primary key,
        desk         text        not null,
        module       text        not null,
        status       text        not null check (status in ('draft', 'published', 'archived')),
        title_es     text        not null,
        body_es      text        not null,
        title_en     text        not null default '',
        body_en      text        not null default '',
        html_es      text        not null,
        html_en      text        not null default '',
        version      int         not null,
        created_at   timestamptz not null,
        updated_at   timestamptz not null,
        updated_by   text        not null,
        published_at timestamptz,
        search       tsvector    not null
    );
    """,
    "create index if not exists kb_articles_search on kb_articles using gin (search)",
    "create index if not exists kb_articles_list on kb_articles (desk, status, lower(title_es), article_id)",
    # Deflections: which articles each new-ticket form's load (attempt) opened, first time each, and
    # the ticket an attempt opened, if any (query.articles.deflections decides at read time).
    """
    create table if not exists kb_suggestion_opens (
        attempt_id      text        not null,
        article_id      text        not null,
        desk            text        not null,
        module          text        not null,
        opened_by       text        not null,
        organisation_id text,
        opened_at       timestamptz not null,
        primary key (attempt_id, article_id)
    );
    """,
    "create index if not exists kb_suggestion_opens_desk on kb_suggestion_opens (desk, opened_at)",
    """
    create table if not exists kb_attempt_tickets (
        attempt_id text        primary key,
        ticket_id  text        not null,
        opened_at  timestamptz not null
    );
    """,
    "insert into projection_stats (name, applied, skipped) values ('knowledge', 0, 0) on conflict do nothing",
)


def upgrade(conn) -> None:
    """`unaccent` and the `mesa_es` configuration (spanish with unaccent first), once per database."""
    conn.execute("create extension if not exists unaccent")
    exists = conn.execute("select 1 from pg_ts_config where cfgname = 'mesa_es' "
                          "and cfgnamespace = current_schema()::regnamespace").fetchone()
    if not exists:
        conn.execute("create text search configuration mesa_es (copy = pg_catalog.spanish)")
        conn.execute("alter text search configuration mesa_es alter mapping for hword, hword_part, word "
                     "with unaccent, spanish_stem")
    # PostgreSQL's Spanish Snowball stems a suffix only as written with its accent ("conciliación" →
    # concili, "conciliacion" → conciliacion): a text's lexemes are those of mesa_es (unaccented, then
    # stemmed) plus those of spanish (stemmed, then unaccented), so "conciliar" finds "conciliación"
    # and "conciliacion" finds it too. Positions are the same in both, so ranking is unchanged.
    conn.execute("""
        create or replace function kb_lexemes(text) returns tsvector language sql stable as $$
            select to_tsvector('mesa_es', $1) || unaccent(to_tsvector('spanish', $1)::text)::tsvector
        $$""")
