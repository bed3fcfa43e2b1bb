"""Query's knowledge-base routes (issue 12): list, one article, search, the new-ticket form's suggestions.

The same connection handling and token check as the rest of query's API (`query.api`); the
query strings are parsed by `query.articles` (a 422 lists the valid parameters or values)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from helpdesk_shared.errors import NotFound
from helpdesk_shared.openapi import documented, query_param
from helpdesk_shared.schemas import ARTICLE_STATUSES, DESKS

from . import articles, articles_store, filters, responses
from .api import _MODULE, _connection, auth

bp = Blueprint("articles", __name__, url_prefix="/api")

_PAGE = [query_param("cursor", {"type": "string", "description": "the previous page's next_cursor"}),
         query_param("limit", {"type": "integer", "minimum": 1, "maximum": articles.MAX_LIMIT})]
_FILTERS = [query_param("desk", {"enum": list(DESKS)}), query_param("module", _MODULE),
            query_param("status", {"enum": list(ARTICLE_STATUSES)})]


def _args() -> dict:
    return request.args.to_dict(flat=False)


@bp.get("/articles")
@documented("Knowledge-base articles by title: customers the published ones of their desks, agents every "
           "status of their desks, supervisors all", query=[*_FILTERS, *_PAGE],
           responses={200: responses.ArticlePage}, refusals=(422,))
@auth
def list_articles():
    """The articles the caller may read, by Spanish title; filters desk, module, status; cursor, limit."""
    query = articles.parse_list(_args())
    with _connection() as conn:
        return jsonify(articles_store.list_articles(conn, g.user, query))


@bp.get("/articles/search")
@documented("Search the articles the caller may read by meaning, in Spanish (stems, accents folded, the "
           "module's synonyms), best first: a title match ranks above a body match",
           query=[query_param("q", {"type": "string", "maxLength": filters.MAX_TEXT}, required=True),
                  *_FILTERS, *_PAGE],
           responses={200: responses.ArticlePage}, refusals=(422,))
@auth
def search_articles():
    """Articles matching every word of `q` (or its module synonyms), ranked; filters as the list."""
    query = articles.parse_search(_args())
    with _connection() as conn:
        return jsonify(articles_store.search(conn, g.user, query))


@bp.get("/articles/suggestions")
@documented("The new-ticket form's suggestions: the top 5 published articles of the desk for the subject "
           "and description typed so far (any word counts)",
           query=[query_param("desk", {"enum": list(DESKS)}, required=True),
                  query_param("text", {"type": "string", "maxLength": articles.MAX_QUERY_TEXT}, required=True)],
           responses={200: responses.Suggestions}, refusals=(422,))
@auth
def suggest_articles():
    """At most 5 published articles of `desk` matching `text` (subject and description), best first."""
    desk, words = articles.parse_suggest(_args())
    with _connection() as conn:
        return jsonify(articles_store.suggest(conn, g.user, desk, words))


@bp.get("/articles/<article_id>")
@documented("One article with its texts and sanitised HTML (one the caller may not read answers 404 like "
           "a missing one: a customer never learns a draft exists)",
           path={"article_id": {"type": "string", "maxLength": filters.MAX_ID}},
           responses={200: responses.Article}, refusals=(404,))
@auth
def get_article(article_id: str):
    """One article, if the caller may read it."""
    filters.single_values(_args(), (), articles.ARTICLE_PAGE)  # it takes none: 422 naming an unknown one
    if len(article_id) > filters.MAX_ID:
        raise NotFound("article")
    with _connection() as conn:
        article = articles_store.get_article(conn, g.user, article_id)
    if article is None:
        raise NotFound("article")
    return jsonify(article)


@bp.get("/reports/deflections")
@documented("Deflections of the knowledge base per article and module: attempts (new-ticket form loads) that "
           f"opened a suggested article and opened no ticket within {articles.DEFLECTION_WINDOW.seconds // 60} "
           "minutes (staff: their desks; supervisors: all)",
           query=[query_param("desk", {"enum": list(DESKS)})], responses={200: responses.Deflections},
           refusals=(403, 422))
@auth
def report_deflections():
    """Deflections per article and module, computed as of now (pending ones still within the window)."""
    desks = articles.deflection_desks(g.user, _args())
    now = current_app.extensions["query"].clock()
    with _connection() as conn:
        return jsonify(articles_store.deflections(conn, desks, now, articles.DEFLECTION_WINDOW))
