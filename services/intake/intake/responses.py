"""Intake's answers as schemas, for its OpenAPI document (documentation only: views answer with
`jsonify`; tests/integration/test_openapi_documents.py checks real answers against these)."""
from __future__ import annotations

from marshmallow import fields

from helpdesk_shared.answers import (Bilingual, Notice, ResponseSchema, flag, instant, integer, list_of,
                                     optional_string, string, strings)


class SessionUser(ResponseSchema):
    """Who logged in."""

    id = string()
    name = string()
    role = string()
    organisation_id = optional_string()
    desks = strings()
    language = string()


class Session(ResponseSchema):
    """A bearer token, its lifetime in seconds and who it is for."""

    token = string()
    expires_in = integer()
    user = fields.Nested(SessionUser, required=True)


class User(ResponseSchema):
    """A user as supervisors manage him."""

    id = string()
    email = string()
    name = string()
    role = string()
    organisation_id = optional_string()
    desks = strings()
    disabled = flag()
    language = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class Opened(ResponseSchema):
    """The ticket opened: its number, id, urgency, link and warnings that did not refuse it."""

    number = string()
    ticket_id = string()
    urgency = string()
    link = string()
    warnings = list_of(Notice)


class Ticket(ResponseSchema):
    """The ticket's current state, as its own stream has it."""

    number = string()
    ticket_id = string()
    desk = string()
    organisation_id = string()
    module = string()
    case = string()
    subject = string()
    urgency = string()
    status = string()
    assigned_to = optional_string()
    customer_away = flag()
    close_reason = optional_string()
    merged_into = optional_string()  # closed as merged: the number the case continues in
    billable = fields.Boolean(required=True, allow_none=True)
    version = integer()
    opened_at = instant()
    updated_at = instant()
    rated = flag()      # the customer gave his verdict (issue 12)
    may_rate = flag()   # the caller may rate it now: its requester, closed as solved, not rated yet


class Rated(ResponseSchema):
    """The customer's verdict, recorded."""

    number = string()
    rating = string()


class Posted(ResponseSchema):
    """The message posted."""

    number = string()
    message_id = string()
    stream_version = integer()


class Assigned(ResponseSchema):
    """Who has the ticket now."""

    number = string()
    assigned_to = string()


class AwayRecorded(ResponseSchema):
    """The customer's absence recorded."""

    number = string()
    customer_away = flag()


class Status(ResponseSchema):
    """The ticket's status after the command."""

    number = string()
    status = string()


class Merged(ResponseSchema):
    """The duplicate closed as merged, and the ticket it continues in."""

    number = string()
    status = string()
    merged_into = string()
    link = string()


class BillableMark(ResponseSchema):
    """The desk's billable mark, and whether this request changed it."""

    number = string()
    billable = flag()
    changed = flag()


class Upload(ResponseSchema):
    """The file stored: attach it by its upload_id."""

    upload_id = string()
    sha256 = string()
    name = string()
    size = integer()
    content_type = string()


class Announced(ResponseSchema):
    """The special process announced."""

    announcement_id = string()


class Received(ResponseSchema):
    """The same answer whether the request was filed or not (nothing is revealed about the e-mail)."""

    status = string()
    message = fields.Nested(Bilingual, required=True)


class PendingAccessRequest(ResponseSchema):
    """A pending access request."""

    request_id = string()
    name = string()
    email = string()
    phone = optional_string()
    organisation_name = optional_string()
    desk = string()
    note = optional_string()
    requested_at = instant()


class AccessRequests(ResponseSchema):
    """The pending access requests of the caller's desks."""

    items = list_of(PendingAccessRequest)


class Granted(ResponseSchema):
    """The customer user the request became."""

    user_id = string()


class Rejected(ResponseSchema):
    """The request turned down."""

    request_id = string()
    status = string()


class TrainingRequested(ResponseSchema):
    """The training request filed."""

    request_id = string()


class RulesPage(ResponseSchema):
    """The desk's rules page: Markdown, sanitised HTML (in `shown_language`), version, who and when."""

    desk = string()
    language = string()
    shown_language = string()
    text = fields.String(required=True)  # (a field called `text` hides the helper below it)
    html = fields.String(required=True)
    version = integer()
    edited_by = optional_string()
    edited_at = fields.DateTime(required=True, allow_none=True)


class ModuleEntry(ResponseSchema):
    """A module of the desk's catalog."""

    code = string()
    name = string()
    retired = flag()


class Catalog(ResponseSchema):
    """The desk's module catalog and its version."""

    desk = string()
    version = integer()
    modules = list_of(ModuleEntry)


class Organisation(ResponseSchema):
    """A customer organisation and its users."""

    id = string()
    name = string()
    tax_id = optional_string()
    desks = strings()
    users = list_of(User)


class Organisations(ResponseSchema):
    """The organisations of the supervisor's desks, and his desks' staff."""

    items = list_of(Organisation)
    staff = list_of(User)


# The HTML pages a mail's link opens (one-click answers, setting a password).
HTML = {"text/html": {"schema": {"type": "string"}}}


class CannedAnswer(ResponseSchema):
    """One of a desk's canned answers as last saved, with how many messages used it."""

    desk = string()
    answer_id = string()
    title = string()
    body = string()
    version = integer()
    retired = flag()
    uses = integer()
    edited_by = string()
    edited_at = instant()


class CannedAnswers(ResponseSchema):
    """A desk's canned answers by title."""

    desk = string()
    items = list_of(CannedAnswer)


class ArticleChanged(ResponseSchema):
    """An article after a command: its id, desk, module, status and version (query has its texts)."""

    article_id = string()
    desk = string()
    module = string()
    status = string()
    version = integer()
