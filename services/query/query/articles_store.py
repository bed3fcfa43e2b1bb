"""The knowledge base's read model and its SQL (adapter, issue 12): helpdesk.knowledge → kb_articles;
lists, one article, ranked search and the new-ticket form's suggestions.

An article's events arrive in order (one stream, one key, one partition); each is applied only over
an older version (a republish or a replay changes nothing). The texts are kept as written and as
sanitised HTML (helpdesk_shared.rich_text); `search` is their weighted lexemes: Spanish title A,
Spanish body B, English title C, English body D, so a word in a title ranks above one in a body
(ts_rank's default weights 1.0, 0.4, 0.2, 0.1).
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.kafka import Record
from helpdesk_shared.rich_text import to_html

from . import articles, catalogs
from .articles import ArticleQuery, Scope
from .queue_params import encode_cursor

PROJECTION = "knowledge"

_SEARCH = """setweight(kb_lexemes(%(title_es)s), 'A') || setweight(kb_lexemes(%(body_es)s), 'B')
             || setweight(kb_lexemes(%(title_en)s), 'C') || setweight(kb_lexemes(%(body_en)s), 'D')"""


def apply_article_event(conn: psycopg.Connection, record: Record) -> bool:
    """Fold one article event into kb_articles; False when it was applied before (or is not one)."""
    event = record.event
    d = event.data
    if event.type == "ArticleDrafted":
        row = {**{k: d.get(k, "") for k in ("title_es", "body_es", "title_en", "body_en")},
               "article_id": d["article_id"], "desk": d["desk"], "module": d["module"], "version": d["version"],
               "at": event.occurred_at, "by": d["by"]}
        return conn.execute(f"""
            insert into kb_articles (article_id, desk, module, status, title_es, body_es, title_en, body_en,
                                     html_es, html_en, version, created_at, updated_at, updated_by, search)
            values (%(article_id)s, %(desk)s, %(module)s, 'draft', %(title_es)s, %(body_es)s, %(title_en)s,
                    %(body_en)s, %(html_es)s, %(html_en)s, %(version)s, %(at)s, %(at)s, %(by)s, {_SEARCH})
            on conflict (article_id) do nothing""",
            {**row, "html_es": to_html(row["body_es"]), "html_en": to_html(row["body_en"])}).rowcount == 1
    if event.type == "ArticleEdited":
        row = {k: d.get(k, "") for k in ("title_es", "body_es", "title_en", "body_en")}
        return conn.execute(f"""
            update kb_articles set module = %(module)s, status = %(status)s, title_es = %(title_es)s,
                   body_es = %(body_es)s, title_en = %(title_en)s, body_en = %(body_en)s, html_es = %(html_es)s,
                   html_en = %(html_en)s, version = %(version)s, updated_at = %(at)s, updated_by = %(by)s,
                   search = {_SEARCH}
            where article_id = %(article_id)s and version < %(version)s""",
            {**row, "html_es": to_html(row["body_es"]), "html_en": to_html(row["body_en"]), "module": d["module"],
             "status": d["status"], "version": d["version"], "at": event.occurred_at, "by": d["by"],
             "article_id": d["article_id"]}).rowcount == 1
    if event.type == "ArticleSuggestionOpened":
        # The first time an attempt opened an article is what counts (a reload opens it again).
        return conn.execute("""
            insert into kb_suggestion_opens (attempt_id, article_id, desk, module, opened_by, organisation_id,
                                             opened_at)
            values (%s, %s, %s, %s, %s, %s, %s) on conflict (attempt_id, article_id) do nothing""",
            (d["attempt_id"], d["article_id"], d["desk"], d["module"], d["opened_by"], d.get("organisation_id"),
             event.occurred_at)).rowcount == 1
    if event.type in ("ArticlePublished", "ArticleArchived"):
        published = event.type == "ArticlePublished"
        return conn.execute("""
            update kb_articles set status = %s, version = %s, updated_at = %s, updated_by = %s,
                   published_at = case when %s then %s else published_at end
            where article_id = %s and version < %s""",
            ("published" if published else "archived", d["version"], event.occurred_at, d["by"], published,
             event.occurred_at, d["article_id"], d["version"])).rowcount == 1
    return False


# ------------------------------------------------------------------------------------------ reading

_COLUMNS = """a.article_id, a.desk, a.module, a.status, a.title_es, a.title_en, a.version, a.updated_at,
              a.published_at, m.name as module_name"""
_FROM = """kb_articles a left join desk_modules m on m.desk = a.desk and m.code = a.module"""


def _scope_sql(scope: Scope, query: ArticleQuery) -> tuple[list[sql.Composable], list]:
    """The where-clauses (and parameters) of what the caller may see and asked for."""
    where, params = [sql.SQL("a.status = any(%s)")], [list(scope.statuses)]
    if scope.desks is not None:
        where.append(sql.SQL("a.desk = any(%s)"))
        params.append(list(scope.desks))
    for name in ("desk", "module", "status"):
        if name in query.filters:
            where.append(sql.SQL("a.{} = %s").format(sql.Identifier(name)))
            params.append(query.filters[name])
    return where, params


def _item(row: dict) -> dict:
    row = dict(row)
    row["module_name"] = catalogs.module_name(row["desk"], row["module"], row.get("module_name"))
    for at in ("updated_at", "published_at"):
        row[at] = row[at].isoformat() if row[at] else None
    row.pop("sort_title", None)
    return row


def list_articles(conn: psycopg.Connection, user: Claims, query: ArticleQuery) -> dict:
    """The caller's articles by Spanish title, `query.limit` at a time after the cursor."""
    where, params = _scope_sql(articles.scope_of(user), query)
    if query.cursor:
        where.append(sql.SQL("(lower(a.title_es), a.article_id) > (%s, %s)"))
        params.extend(query.cursor)
    rows = conn.execute(sql.SQL("select {}, lower(a.title_es) as sort_title from {} where {} "
                                "order by lower(a.title_es), a.article_id limit %s").format(
        sql.SQL(_COLUMNS), sql.SQL(_FROM), sql.SQL(" and ").join(where)), [*params, query.limit + 1]).fetchall()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return {"items": [_item(r) for r in rows],
            "next_cursor": encode_cursor([rows[-1]["sort_title"], rows[-1]["article_id"]]) if more else None}


def get_article(conn: psycopg.Connection, user: Claims, article_id: str) -> dict | None:
    """One article with its texts and HTML, or None when missing or not the caller's to read."""
    where, params = _scope_sql(articles.scope_of(user), ArticleQuery())
    row = conn.execute(sql.SQL("select {}, a.body_es, a.body_en, a.html_es, a.html_en, a.created_at, a.updated_by "
                               "from {} where a.article_id = %s and {}").format(
        sql.SQL(_COLUMNS), sql.SQL(_FROM), sql.SQL(" and ").join(where)), [article_id, *params]).fetchone()
    if row is None:
        return None
    item = _item(row)
    item["created_at"] = row["created_at"].isoformat()
    return item


_LEXEME_CACHE: dict[str, frozenset[str]] = {}


def lexemes(conn: psycopg.Connection, words) -> dict[str, frozenset[str]]:
    """Each word's lexemes as kb_lexemes gives them (a stop-word has none). Words seen before (the
    synonym groups' words, the same for every search) are kept per process, boundedly."""
    wanted = list(dict.fromkeys(words))
    found = {w: _LEXEME_CACHE[w] for w in wanted if w in _LEXEME_CACHE}
    missing = [w for w in wanted if w not in found]
    if missing:
        for row in conn.execute("select w, tsvector_to_array(kb_lexemes(w)) as lexemes from unnest(%s::text[]) w",
                                (missing,)).fetchall():
            found[row["w"]] = frozenset(row["lexemes"])
            if len(_LEXEME_CACHE) < 50_000:  # the query's words are anyone's
                _LEXEME_CACHE[row["w"]] = found[row["w"]]
    return found


def _ranked(conn: psycopg.Connection, where: list, params: list, words, any_word: bool, limit: int,
            cursor: list | None) -> list[dict]:
    """Articles matching `words` (their module's synonyms included), best rank first, then by id."""
    known = lexemes(conn, (*words, *articles.synonym_words()))
    plain, per_module = articles.tsqueries(words, known, any_word)
    if plain is None:
        return []
    # One branch per module whose synonyms changed the query, one for every other module: each
    # is `search @@ constant`, which the GIN index answers.
    branches, rank_cases, branch_params, rank_params = [], [], [], []
    for module, text in sorted(per_module.items()):
        branches.append(sql.SQL("(a.module = %s and a.search @@ %s::tsquery)"))
        branch_params += [module, text]
        rank_cases.append(sql.SQL("when %s then %s::tsquery"))
        rank_params += [module, text]
    branches.append(sql.SQL("(a.module <> all(%s) and a.search @@ %s::tsquery)"))
    branch_params += [sorted(per_module), plain]
    # A word met as itself ranks above one met through a synonym: the module's query has more terms,
    # and ts_rank spreads an OR query's weight over its terms, so the greater of the two ranks counts.
    rank = sql.SQL("ts_rank(a.search, %s::tsquery)")
    if rank_cases:
        rank = sql.SQL("greatest(ts_rank(a.search, %s::tsquery), ts_rank(a.search, case a.module {} end))").format(
            sql.SQL(" ").join(rank_cases))
    rank_params.insert(0, plain)
    where = [*where, sql.SQL("({})").format(sql.SQL(" or ").join(branches))]
    outer = sql.SQL("")
    outer_params: list = []
    if cursor:
        outer = sql.SQL("where (r.rank < %s::real or (r.rank = %s::real and r.article_id > %s))")
        outer_params = [cursor[0], cursor[0], cursor[1]]
    statement = sql.SQL("select * from (select {}, {} as rank from {} where {}) r {} "
                        "order by r.rank desc, r.article_id limit %s").format(
        sql.SQL(_COLUMNS), rank, sql.SQL(_FROM), sql.SQL(" and ").join(where), outer)
    # Planned for these words each time, never from a cached generic plan (see query.views._searched).
    return conn.execute(statement, [*rank_params, *params, *branch_params, *outer_params, limit],
                        prepare=False).fetchall()


def search(conn: psycopg.Connection, user: Claims, query: ArticleQuery) -> dict:
    """The caller's articles matching every word of `q` (or a synonym in the article's module), ranked."""
    where, params = _scope_sql(articles.scope_of(user), query)
    rows = _ranked(conn, where, params, query.words, False, query.limit + 1, query.cursor)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return {"items": [{**_item(r), "rank": r["rank"]} for r in rows],
            "next_cursor": encode_cursor([rows[-1]["rank"], rows[-1]["article_id"]]) if more else None}


def suggest(conn: psycopg.Connection, user: Claims, desk: str, words) -> dict:
    """The new-ticket form's top published articles of `desk` for what the customer typed (any word
    counts, ranking decides); nothing outside the caller's desks."""
    scope = articles.scope_of(user)
    if scope.desks is not None and desk not in scope.desks:
        return {"items": []}
    where = [sql.SQL("a.status = 'published'"), sql.SQL("a.desk = %s")]
    rows = _ranked(conn, where, [desk], words, True, articles.SUGGESTIONS, None)
    return {"items": [{**_item(r), "rank": r["rank"]} for r in rows]}


# ------------------------------------------------------------------------------------------ deflections


def apply_ticket_attempt(conn: psycopg.Connection, record: Record) -> bool:
    """A ticket opened from a new-ticket form's load (`attempt_id`): that attempt was not deflected."""
    event = record.event
    if event.type != "TicketOpened" or not event.data.get("attempt_id"):
        return False
    return conn.execute("""insert into kb_attempt_tickets (attempt_id, ticket_id, opened_at) values (%s, %s, %s)
                           on conflict (attempt_id) do nothing""",
                        (event.data["attempt_id"], event.stream_id, event.occurred_at)).rowcount == 1


def deflections(conn: psycopg.Connection, desks: list[str] | None, now, window) -> dict:
    """Deflections per article and module of `desks` (None: all) as of `now` (query.articles.deflections)."""
    rows = conn.execute("""
        with attempts as (select attempt_id, min(opened_at) as first_open from kb_suggestion_opens
                          group by attempt_id)
        select o.attempt_id, o.article_id, o.desk, o.module, a.first_open, t.opened_at as ticket_at,
               coalesce(k.title_es, '') as title_es, m.name as module_name
        from kb_suggestion_opens o
        join attempts a using (attempt_id)
        left join kb_attempt_tickets t using (attempt_id)
        left join kb_articles k on k.article_id = o.article_id
        left join desk_modules m on m.desk = o.desk and m.code = o.module
        where %(all)s or o.desk = any(%(desks)s)
        order by o.desk, o.module, o.article_id, o.attempt_id""",
        {"all": desks is None, "desks": list(desks or [])}).fetchall()
    for row in rows:
        row["module_name"] = catalogs.module_name(row["desk"], row["module"], row["module_name"])
    return articles.deflections(rows, now, window)
