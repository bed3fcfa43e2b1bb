"""The knowledge base on the read side (issue 12), pure: who sees which articles, the query strings
of its pages, and search by meaning in Spanish built as a PostgreSQL tsquery.

Search: the words of the text become alternatives of lexemes ANDed (a search: every word counts)
or ORed (suggestions from a new ticket's subject and description: any word may, ranking decides).
PostgreSQL says what a word's lexemes are (`articles_store.lexemes`: the `mesa_es` configuration,
Spanish stems with accents folded, migration 0004); this module only arranges them. A word that
belongs to one of a module's synonym groups (the kernel's catalog data, the same groups rule 6's
duplicate detection reads: `helpdesk_shared.catalog.vocabulary`) also matches the group's other
words, in that module's articles only: in BANCOS "transferencia" is a payment, in SOCIOS the
hand-over of a share. So each module whose groups a word hits gets a tsquery of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.catalog import DESK_NAMES, vocabulary
from helpdesk_shared.errors import Message, RuleViolation
from helpdesk_shared.schemas import ARTICLE_STATUSES

from . import filters, queue_params

_, MODULE_SYNONYMS = vocabulary()
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 40          # a description's first words are enough to suggest an article
MAX_WORD = 40
MAX_QUERY_TEXT = 2_000  # the suggestion's text: subject and the start of the description
SUGGESTIONS = 5
MAX_LIMIT = 50
DEFAULT_LIMIT = 20

# The article pages' query strings (unknown parameter or value: a 422 listing the valid ones).
LIST_FILTERS = {"desk": filters._one_of("desk", DESK_NAMES), "module": filters._module,
                "status": filters._one_of("status", ARTICLE_STATUSES)}
LIST_PAGE = Message(es="La lista de artículos", en="The article list")
SEARCH_PAGE = Message(es="La búsqueda de artículos", en="The article search")
ARTICLE_PAGE = Message(es="El artículo", en="The article")
SUGGEST_PAGE = Message(es="Las sugerencias de artículos", en="The article suggestions")
# (lower(title_es), article id) / (rank, article id)
LIST_CURSOR = (lambda v: isinstance(v, str) and len(v) <= 400, queue_params.identifier)
SEARCH_CURSOR = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1e9,
                 queue_params.identifier)


@dataclass(frozen=True)
class Scope:
    """The articles a caller may read: desks (None: every desk) and statuses."""

    desks: tuple[str, ...] | None
    statuses: tuple[str, ...]


def scope_of(user: Claims) -> Scope:
    """Customers: published articles of their desks; agents: every status of their desks;
    supervisors: everything (they keep every desk's knowledge base)."""
    if user.role == "supervisor":
        return Scope(None, ARTICLE_STATUSES)
    if user.role == "agent":
        return Scope(tuple(user.desks), ARTICLE_STATUSES)
    return Scope(tuple(user.desks), ("published",))


@dataclass(frozen=True)
class ArticleQuery:
    """A list or search request: filters, the text's words (search), cursor, limit."""

    filters: dict = field(default_factory=dict)
    words: tuple[str, ...] = ()
    cursor: list | None = None
    limit: int = DEFAULT_LIMIT


def words_of(text: str) -> tuple[str, ...]:
    """The distinct words of `text`, lower-cased, in order, at most MAX_WORDS (letters and digits only:
    nothing of tsquery's syntax survives)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) <= MAX_WORD:
            seen.setdefault(word, None)
        if len(seen) == MAX_WORDS:
            break
    return tuple(seen)


def _missing(name: str) -> RuleViolation:
    return RuleViolation("MISSING_PARAMETER", name, Message(
        es=f"Falta el parámetro «{name}».", en=f"The parameter '{name}' is missing."))


def _text(name: str, raw: str | None, maximum: int) -> tuple[str, ...]:
    if not raw or not raw.strip():
        raise _missing(name)
    if len(raw) > maximum or filters._UNPRINTABLE.search(raw.replace("\n", " ").replace("\t", " ").replace("\r", " ")):
        raise RuleViolation("INVALID_FILTER", name, Message(
            es=f"El parámetro «{name}» admite hasta {maximum} caracteres de texto.",
            en=f"The parameter '{name}' takes up to {maximum} characters of text."))
    return words_of(raw)


def parse_list(args: Mapping[str, Sequence[str]]) -> ArticleQuery:
    """GET /api/articles: desk, module, status, cursor, limit."""
    single = filters.single_values(args, (*LIST_FILTERS, "cursor", "limit"), LIST_PAGE)
    return ArticleQuery(filters={n: check(single[n], "") for n, check in LIST_FILTERS.items() if single.get(n)},
                        cursor=queue_params.decode_cursor(single["cursor"], LIST_CURSOR) if single.get("cursor") else None,
                        limit=filters._positive_int("limit", single.get("limit"), DEFAULT_LIMIT, MAX_LIMIT))


def parse_search(args: Mapping[str, Sequence[str]]) -> ArticleQuery:
    """GET /api/articles/search: q (required), desk, module, status, cursor, limit."""
    single = filters.single_values(args, ("q", *LIST_FILTERS, "cursor", "limit"), SEARCH_PAGE)
    words = _text("q", single.get("q"), filters.MAX_TEXT)
    return ArticleQuery(filters={n: check(single[n], "") for n, check in LIST_FILTERS.items() if single.get(n)},
                        words=words,
                        cursor=queue_params.decode_cursor(single["cursor"], SEARCH_CURSOR) if single.get("cursor") else None,
                        limit=filters._positive_int("limit", single.get("limit"), DEFAULT_LIMIT, MAX_LIMIT))


def parse_suggest(args: Mapping[str, Sequence[str]]) -> tuple[str, tuple[str, ...]]:
    """GET /api/articles/suggestions: desk and text (both required): (desk, words)."""
    single = filters.single_values(args, ("desk", "text"), SUGGEST_PAGE)
    if not single.get("desk"):
        raise _missing("desk")
    desk = LIST_FILTERS["desk"](single["desk"], "")
    return desk, _text("text", single.get("text"), MAX_QUERY_TEXT)


def synonym_words() -> tuple[str, ...]:
    """Every word of every module's synonym groups (their lexemes are looked up with the query's)."""
    return tuple(sorted({w for groups in MODULE_SYNONYMS.values() for text in groups.values() for w in text.split()}))


def _term(lexemes: set[str]) -> str:
    # Lexemes come from PostgreSQL for words of letters and digits; quoted all the same.
    return "(" + " | ".join("'" + x.replace("'", "''") + "'" for x in sorted(lexemes)) + ")"


def tsqueries(words: Sequence[str], lexemes: Mapping[str, set[str]], any_word: bool,
              synonyms: Mapping[str, Mapping[str, str]] = MODULE_SYNONYMS) -> tuple[str | None, dict[str, str]]:
    """(the plain tsquery, {module: its tsquery with the module's synonyms}) for `words`, given each
    word's lexemes (stop-words have none and drop out). `any_word`: OR the words, else AND them.
    The plain one is None when no word is left; a module appears only when its groups changed it."""
    joiner = " | " if any_word else " & "
    plain = [set(lexemes.get(w, ())) for w in words]
    plain = [alts for alts in plain if alts]
    if not plain:
        return None, {}
    per_module: dict[str, str] = {}
    for module, groups in synonyms.items():
        group_lexemes = [set().union(*(lexemes.get(w, set()) for w in text.split())) for text in groups.values()]
        expanded = [alts.union(*(g for g in group_lexemes if g & alts)) for alts in plain]
        if expanded != plain:
            per_module[module] = joiner.join(_term(alts) for alts in expanded)
    return joiner.join(_term(alts) for alts in plain), per_module


# ------------------------------------------------------------------ deflections

# An attempt (one load of the new-ticket form) that opened a suggested article is deflected when no
# ticket carrying it was opened within this long of its first opened article: the customer read,
# and left. Until the window has passed it is `pending`; a ticket opened later than the window
# (a form left open for an afternoon) does not undo a deflection already counted.
DEFLECTION_WINDOW = timedelta(minutes=30)
DEFLECTIONS_PAGE = Message(es="Las desviaciones de la base de conocimiento", en="The knowledge base's deflections")
_COUNTS = ("opened", "deflected", "ticketed", "pending")


def attempt_state(first_open: datetime, ticket_at: datetime | None, now: datetime,
                  window: timedelta = DEFLECTION_WINDOW) -> str:
    """`ticketed`, `deflected` or `pending` for an attempt whose first article was opened at
    `first_open` and whose ticket (if any) was opened at `ticket_at`, seen at `now` (pure)."""
    if ticket_at is not None and ticket_at <= first_open + window:
        return "ticketed"
    return "deflected" if now >= first_open + window else "pending"


def deflections(rows: list[dict], now: datetime, window: timedelta = DEFLECTION_WINDOW) -> dict:
    """Counts per article and per module from rows of (attempt_id, article_id, desk, module,
    first_open, ticket_at, title_es, module_name), one per attempt and article it opened (pure).

    An article counts the attempts that opened it; a module (and the total) the distinct attempts
    that opened any of its articles, so an attempt that read two articles of a module is one."""
    per_article: dict[str, dict] = {}
    per_module: dict[tuple[str, str], dict[str, set]] = {}
    total: dict[str, set] = {name: set() for name in _COUNTS}
    for row in rows:
        state = attempt_state(row["first_open"], row["ticket_at"], now, window)
        article = per_article.setdefault(row["article_id"], {
            "article_id": row["article_id"], "title_es": row["title_es"], "desk": row["desk"],
            "module": row["module"], "module_name": row["module_name"], **{name: 0 for name in _COUNTS}})
        article["opened"] += 1
        article[state] += 1
        module = per_module.setdefault((row["desk"], row["module"]), {
            "module_name": row["module_name"], **{name: set() for name in _COUNTS}})
        for counts in (module, total):
            counts["opened"].add(row["attempt_id"])
            counts[state].add(row["attempt_id"])
    return {"window_minutes": int(window.total_seconds() // 60), "as_of": now.isoformat(),
            "articles": sorted(per_article.values(), key=lambda a: (-a["deflected"], a["desk"], a["article_id"])),
            "modules": [{"desk": desk, "module": module, "module_name": counts["module_name"],
                         **{name: len(counts[name]) for name in _COUNTS}}
                        for (desk, module), counts in sorted(per_module.items())],
            "total": {name: len(total[name]) for name in _COUNTS}}


def deflection_desks(user: Claims, args: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The desks whose deflections the caller reads (None: all): staff only, a `desk` of theirs."""
    single = filters.single_values(args, ("desk",), DEFLECTIONS_PAGE)
    if not user.is_staff:
        raise _FORBIDDEN
    desk = LIST_FILTERS["desk"](single["desk"], "") if single.get("desk") else None
    if user.role == "supervisor":
        return [desk] if desk else None
    if desk and desk not in user.desks:
        raise _FORBIDDEN
    return [desk] if desk else list(user.desks)


_FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="Su rol o su mesa no permite esta consulta.", en="Your role or desk does not allow this request."), status=403)
