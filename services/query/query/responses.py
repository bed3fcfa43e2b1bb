"""Query's answers as schemas, for its OpenAPI document (documentation only: views answer with
`jsonify`; tests/integration/test_openapi_documents.py checks real answers against these). Rows
of read models are open objects: their named fields are promised, a new column may come."""
from __future__ import annotations

from marshmallow import fields

from helpdesk_shared.answers import (OpenSchema, ResponseSchema, flag, instant, integer, list_of, optional_string,
                                     string, strings)


class TicketRow(OpenSchema):
    """A ticket in a list."""

    number = string()
    desk = string()
    organisation_id = string()
    organisation_name = optional_string()
    module = string()
    subject = string()
    urgency = string()
    status = string()
    assigned_to = optional_string()
    assigned_to_name = optional_string()
    opened_at = instant()
    updated_at = instant()


class TicketPage(ResponseSchema):
    """A page of the tickets the caller may see."""

    items = list_of(TicketRow)
    page = integer()
    per_page = integer()
    total = integer(metadata={"description": "tickets matching (a text search: at most the 2,000 it ranks)"})
    capped = flag(metadata={"description": "a text search matched more tickets than it ranks: these are "
                                           "the 2,000 most recent matches, best first; add words to narrow it"})


class ThreadEntry(OpenSchema):
    """A message, note or change of the ticket's thread."""

    stream_version = integer()
    type = string()
    author_id = optional_string()
    author_name = optional_string()
    body = optional_string()
    occurred_at = instant()


class TicketWithThread(OpenSchema):
    """The ticket with its thread, its files and what was mailed about it."""

    number = string()
    ticket_id = string()
    desk = string()
    status = string()
    subject = string()
    thread = list_of(ThreadEntry)
    attachments = fields.List(fields.Dict(), required=True)
    notifications = fields.List(fields.Dict(), required=True)
    first_response_overdue = flag()
    # Issue 12: closed as merged, where the case continues ({number, link}); null otherwise.
    merged_into = fields.Dict(allow_none=True, required=True)


class Agent(ResponseSchema):
    """An agent or supervisor of the desk."""

    id = string()
    name = string()
    email = string()
    role = string()


class Agents(ResponseSchema):
    """The agents and supervisors of the desk, by name."""

    desk = string()
    items = list_of(Agent)


class OrganisationRow(OpenSchema):
    """An organisation (for staff, with its customers)."""

    id = string()
    name = string()
    desks = strings()


class Organisations(ResponseSchema):
    """The organisations the caller works with."""

    items = list_of(OrganisationRow)


class DeskPage(OpenSchema):
    """A page of the desk's tickets; `next_cursor` is null on the last page."""

    desk = string()
    items = fields.List(fields.Dict(), required=True)
    next_cursor = optional_string()


class Workload(OpenSchema):
    """Per agent of the desk: open, waiting, answered today; and the unassigned count."""

    desk = string()
    day = string()


class Timeline(ResponseSchema):
    """A page of the ticket's events in order; `next_cursor` is null on the last page."""

    number = string()
    items = fields.List(fields.Dict(), required=True)
    next_cursor = optional_string()


class Report(OpenSchema):
    """A report's figures (see the report's summary)."""


CSV = {"text/csv": {"schema": {"type": "string"}}}


# ---------------------------------------------------------------- knowledge base (issue 12)

class ArticleRow(OpenSchema):
    """An article in a list, a search (with its `rank`) or the suggestions."""

    article_id = string()
    desk = string()
    module = string()
    module_name = string()
    status = string()
    title_es = string()
    title_en = string()
    version = integer()
    updated_at = instant()
    published_at = fields.DateTime(required=True, allow_none=True)


class ArticlePage(ResponseSchema):
    """A page of articles; `next_cursor` is null on the last page."""

    items = list_of(ArticleRow)
    next_cursor = optional_string()


class Suggestions(ResponseSchema):
    """At most 5 published articles of the desk, best first."""

    items = list_of(ArticleRow)


class Article(ArticleRow):
    """One article: its Markdown and sanitised HTML in both languages ("" in English: none)."""

    body_es = string()
    body_en = string()
    html_es = string()
    html_en = string()
    created_at = instant()
    updated_by = string()


class DeflectionCounts(OpenSchema):
    """Attempts that opened, were deflected, opened a ticket in the window, or are still within it."""

    opened = integer()
    deflected = integer()
    ticketed = integer()
    pending = integer()


class ArticleDeflections(DeflectionCounts):
    article_id = string()
    title_es = string()
    desk = string()
    module = string()
    module_name = string()


class ModuleDeflections(DeflectionCounts):
    desk = string()
    module = string()
    module_name = string()


class Deflections(ResponseSchema):
    """Deflections per article and module as of `as_of`, with the window used."""

    window_minutes = integer()
    as_of = instant()
    articles = list_of(ArticleDeflections)
    modules = list_of(ModuleDeflections)
    total = fields.Nested(DeflectionCounts, required=True)
