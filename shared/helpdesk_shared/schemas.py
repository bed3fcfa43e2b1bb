"""Marshmallow schemas for the envelope and for each event type's `data` (SPEC §4).

An envelope's `data` is kept in its *serialised* form: plain JSON values, with dates and
datetimes as ISO 8601 strings (datetimes in UTC) and defaults filled in. `validate_data`
produces that form; `dump_envelope` and `load_envelope` both normalise `data` through it,
so `load_envelope(dump_envelope(e)) == e` whenever `e.data` came from `validate_data`.
"""
from __future__ import annotations

from datetime import timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .catalog import DESK_NAMES, MODULE_CODE_PATTERN, MODULE_NAME_MAX, MODULES_MAX
from .envelope_types import Actor, Envelope, UndecodableEvent
from .topics import TOPIC_OF_EVENT

SCHEMA_VERSION = 1  # the only version of every event type so far

DESKS = DESK_NAMES  # helpdesk_shared/catalog.json
LANGUAGES = ("es", "en")
ROLES = ("customer", "agent", "supervisor")
# "Urgente, única y exclusivamente": the three causes of the rules page, plus normal.
URGENCIES = ("normal", "platform_down", "member_billing_stopped", "announced_special_process")
ACTOR_ROLES = (*ROLES, "system")
MINUTES_SPENT_MAX = 24 * 60  # one answer or note records at most a day's work


class UtcDateTime(fields.AwareDateTime):
    """An aware datetime (naive ones are refused), converted to UTC both ways."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return super()._serialize(value.astimezone(timezone.utc), attr, obj, **kwargs)


class Upper(fields.String):
    """A non-empty string, stripped and upper-cased on load (module codes)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().upper()


def _str(**kwargs) -> fields.String:
    """A required, non-empty string."""
    return fields.String(required=True, validate=validate.Length(min=1), **kwargs)


def _opt_str() -> fields.String:
    """An optional string: may be absent or null."""
    return fields.String(allow_none=True)


def _one_of(choices, **kwargs) -> fields.String:
    """A required string out of `choices`."""
    return fields.String(required=True, validate=validate.OneOf(choices), **kwargs)


def _version(**kwargs) -> fields.Integer:
    """A stream or policy version: an integer >= 1."""
    return fields.Integer(strict=True, validate=validate.Range(min=1), **kwargs)


class AttachmentSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    name = _str()
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    content_type = _str()


class ContactSchema(Schema):
    name = _str()
    email = fields.Email(required=True)
    phone = _str()


def _attachments() -> fields.List:
    """A list of attachments, empty when absent."""
    return fields.List(fields.Nested(AttachmentSchema), load_default=list)


# --- helpdesk.tickets -------------------------------------------------------------------

class TicketOpenedData(Schema):
    ticket_id = _str()
    number = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]+-[1-9][0-9]*$"))
    desk = _one_of(DESKS)
    organisation_id = _str()
    opened_by = _str()
    module = Upper(required=True, validate=validate.Length(min=1))
    case = _str()
    subject = _str()
    description = _str()
    urgency = _one_of(URGENCIES)
    special_process_id = _opt_str()
    out_of_hours_requested = fields.Boolean(load_default=False)
    contact = fields.Nested(ContactSchema, required=True)
    member_number = _opt_str()  # número de acción
    dates = fields.List(fields.Date(), allow_none=True)
    vouchers = fields.List(fields.String(), allow_none=True)
    menu_path = _opt_str()
    attachments = _attachments()
    previous_ticket = _opt_str()
    confirmed_different_case = fields.Boolean(load_default=False)
    language = fields.String(validate=validate.OneOf(LANGUAGES), load_default="es")
    # Filed in the month's last business days as a payroll, cheque, SENIAT or accounting case:
    # the customer was warned on 201 and the received mail repeats it.
    month_end_warning = fields.Boolean(load_default=False)
    # Issue 12: the new-ticket form's load this ticket came from (absent on tickets filed otherwise):
    # query counts a deflection when an attempt opened a suggested article and no ticket carries it.
    attempt_id = fields.String(validate=validate.Length(min=1, max=64))


class MessagePostedData(Schema):
    message_id = _str()
    author_id = _str()
    author_role = _one_of(ACTOR_ROLES)
    body = _str()
    internal = fields.Boolean(required=True)
    attachments = _attachments()
    out_of_hours_requested = fields.Boolean(load_default=False)
    # Staff only: the minutes the author spent on this answer or note, the span ending when it
    # was posted (issue 12, time accounting). Absent when none was recorded.
    minutes_spent = fields.Integer(strict=True, validate=validate.Range(min=1, max=MINUTES_SPENT_MAX))
    # Staff only: the desk's canned answer the text was started from (its uses are counted).
    canned_answer_id = fields.String(validate=validate.Length(min=1, max=64))


class TicketAssignedData(Schema):
    agent_id = _str()
    assigned_by = _str()


class CustomerAwayData(Schema):
    back_at = UtcDateTime(allow_none=True)
    note = _opt_str()


class ResolutionConfirmedData(Schema):
    solved = fields.Boolean(required=True)
    body = _opt_str()


class BillableMarkedData(Schema):
    # An agent's decision on billing out-of-hours work; it overrides the customer's request
    # (`out_of_hours_requested`) in the queue and the out-of-hours report. Who and when: the
    # envelope's actor and occurred_at; marked_by repeats the actor as assigned_by does.
    billable = fields.Boolean(required=True)
    note = _opt_str()
    marked_by = _str()


class TicketClosedData(Schema):
    reason = _one_of(("solved_by_customer", "auto_closed", "closed_by_agent", "needs_training", "merged"))
    note = _opt_str()
    based_on_version = _version(allow_none=True)
    # Issue 12, merge: the number of the open ticket the case continues in (reason "merged" only;
    # absent on every other close, so older events load unchanged).
    # No schema hook ties the two (it would take every TicketClosed off the consumers' fast path,
    # helpdesk_shared.trusted_decode): intake's merge handler alone writes them, always together.
    merged_into = _opt_str()
    merged_into_ticket_id = _opt_str()


class MergedMessageSchema(Schema):
    """A message of a merged duplicate as the open ticket keeps it (its own ids and time)."""

    message_id = _str()
    author_id = _str()
    author_role = _one_of(ACTOR_ROLES)
    body = _str()
    internal = fields.Boolean(required=True)
    attachments = _attachments()
    occurred_at = UtcDateTime(required=True)


class TicketMergedIntoData(Schema):
    """Issue 12, merge (rule 6 after the fact), on the stream of the open ticket that receives a
    duplicate: what the duplicate held, copied so the timeline and thread of this ticket show it
    without reading another stream. The duplicate's own stream closes with reason "merged"."""

    source_ticket_id = _str()
    source_number = _str()
    merged_by = _str()
    note = _opt_str()
    subject = _str()
    description = _str()          # the duplicate's opening text: its first message
    opened_by = _str()
    opened_at = UtcDateTime(required=True)
    attachments = _attachments()  # the duplicate's opening attachments
    messages = fields.List(fields.Nested(MergedMessageSchema), load_default=list)


# The customer's verdict (issue 12): reasons of TicketClosed after which a ticket may be rated.
# The desk answered and the case ended: the customer said so, or the agent closed it as done.
# Not auto_closed (the customer went silent: there is nobody's verdict to ask for) nor needs_training
# (the case went to a course, not to an answer); a later merge reason is not a solution either.
SOLVED_CLOSE_REASONS = ("solved_by_customer", "closed_by_agent")
RATINGS = ("good", "bad")
RATING_COMMENT_MAX = 2_000


class TicketRatedData(Schema):
    # Once per ticket, by its requester, after it closed for a reason of SOLVED_CLOSE_REASONS.
    rating = _one_of(RATINGS)
    comment = fields.String(allow_none=True, validate=validate.Length(max=RATING_COMMENT_MAX))
    rated_by = _str()


# --- helpdesk.sla -----------------------------------------------------------------------

# SLA events live in the stream "sla-<ticket_id>" (intake alone writes ticket streams);
# they name their ticket so consumers need no lookup.

class ResponseOverdueData(Schema):
    ticket_id = _str()
    number = _opt_str()
    clock = _one_of(("first_response", "next_response"))
    due_at = UtcDateTime(required=True)
    policy_version = _version(allow_none=True)


CLOCKS = ("first_response", "next_response", "auto_close")
RESPONSE_CLOCKS = ("first_response", "next_response")


class _DeadlineFact(Schema):
    """What every fact about one of a ticket's deadlines carries, so no other service
    recomputes business time: the deadline, the policy and calendar versions it was computed
    on, and `open_intervals`, the spans of counted time (business hours, or the whole span for
    a 24x7 clock) from `counts_from` up to `due_at`: time left at any instant is their overlap
    with [now, due_at]."""

    ticket_id = _str()
    number = _opt_str()
    desk = fields.String(allow_none=True, validate=validate.OneOf(DESKS))
    clock = _one_of(CLOCKS)
    clock_type = _one_of(("business", "24x7"))
    started_at = UtcDateTime(required=True)
    counts_from = UtcDateTime(required=True)
    due_at = UtcDateTime(required=True)
    # auto_close only: when the warning mail is due.
    warning_at = UtcDateTime(allow_none=True)
    policy_version = _version(required=True)
    calendar_version = _version(required=True)
    office_hours = fields.List(fields.List(fields.Raw(), validate=validate.Length(equal=3)), load_default=list)
    open_intervals = fields.List(fields.List(UtcDateTime(), validate=validate.Length(equal=2)),
                                 validate=validate.Length(max=400))


class DeadlineSetData(_DeadlineFact):
    """A clock started (SPEC §4 "deadline set"): first response at opening, next response at a
    customer's message, auto-close when an agent's answer puts the ticket to wait."""


class DeadlineMovedData(_DeadlineFact):
    """A running deadline moved: a calendar change (a closure day added) or the customer away."""

    previous_due_at = UtcDateTime(required=True)
    reason = _one_of(("calendar_changed", "customer_away", "policy_changed"))


class DeadlineMetData(Schema):
    """A response clock stopped by an agent's public answer, measured by the SLA service."""

    ticket_id = _str()
    number = _opt_str()
    clock = _one_of(RESPONSE_CLOCKS)
    started_at = UtcDateTime(required=True)
    due_at = UtcDateTime(required=True)
    met_at = UtcDateTime(required=True)
    met_in_time = fields.Boolean(required=True)
    business_seconds = fields.Integer(required=True, validate=validate.Range(min=0))  # counted time taken
    outside_hours_seconds = fields.Integer(required=True, validate=validate.Range(min=0))
    answered_outside_hours = fields.Boolean(required=True)
    answered_by = _opt_str()
    policy_version = _version(required=True)
    calendar_version = _version(required=True)


class DeadlineClearedData(Schema):
    """A clock stopped without being met: the ticket closed, or the customer wrote (auto-close)."""

    ticket_id = _str()
    number = _opt_str()
    clock = _one_of(CLOCKS)
    due_at = UtcDateTime(required=True)
    at = UtcDateTime(required=True)
    reason = _one_of(("closed", "customer_replied"))


class ClockPausedData(Schema):
    """The response clocks pause while the ticket waits for the customer (SPEC §3)."""

    ticket_id = _str()
    number = _opt_str()
    at = UtcDateTime(required=True)
    reason = _one_of(("waiting_customer",))


class AutoCloseWarningData(Schema):
    ticket_id = _str()
    number = _opt_str()
    closes_at = UtcDateTime(required=True)
    based_on_version = _version(required=True)
    away_until = UtcDateTime(allow_none=True)  # present when the count started at the customer's return


class WorkTimeRecordedData(Schema):
    """The time an agent recorded with an answer or note, split by the desk's calendar: the span
    of `minutes` ending at `ended_at`, and how much of it fell outside business hours (the part
    billed when the ticket asked for out-of-hours attention). Measured by the SLA service, the
    owner of the calendars, so no other service recomputes business time."""

    ticket_id = _str()
    number = _opt_str()
    desk = fields.String(allow_none=True, validate=validate.OneOf(DESKS))
    message_id = _str()
    agent_id = _str()
    internal = fields.Boolean(required=True)
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MINUTES_SPENT_MAX))
    started_at = UtcDateTime(required=True)
    ended_at = UtcDateTime(required=True)
    outside_hours_seconds = fields.Integer(required=True, strict=True,
                                           validate=validate.Range(min=0, max=MINUTES_SPENT_MAX * 60))
    calendar_version = _version(required=True)


class AutoClosedData(Schema):
    ticket_id = _str()
    number = _opt_str()
    based_on_version = _version(required=True)
    due_at = UtcDateTime(required=True)


class CalendarChangedData(Schema):
    desk = _one_of(DESKS)
    version = _version(required=True)
    effective_from = UtcDateTime(required=True)
    calendar = fields.Dict(required=True)
    changed_by = _str()


class PolicyChangedData(Schema):
    desk = _one_of(DESKS)
    urgency_class = _one_of(("normal", "urgent"))
    version = _version(required=True)
    effective_from = UtcDateTime(required=True)
    policy = fields.Dict(required=True)
    changed_by = _str()


# --- helpdesk.accounts ------------------------------------------------------------------

def _desks() -> fields.List:
    """A required list of desk names."""
    return fields.List(fields.String(validate=validate.OneOf(DESKS)), required=True)


class OrganisationRegisteredData(Schema):
    organisation_id = _str()
    name = _str()
    tax_id = _opt_str()  # RIF
    desks = _desks()


class UserRegisteredData(Schema):
    user_id = _str()
    email = fields.Email(required=True)
    name = _str()
    role = _one_of(ROLES)
    organisation_id = _opt_str()
    desks = _desks()
    language = _one_of(LANGUAGES)
    phone = _opt_str()

    @validates_schema
    def _customer_belongs_to_an_organisation(self, data, **kwargs):
        if data["role"] == "customer" and not data.get("organisation_id"):
            raise ValidationError("A customer must belong to an organisation.",
                                  field_name="organisation_id")


class UserUpdatedData(Schema):
    """A supervisor changed a user's rights: the user's role, organisation, desks and state after it."""
    user_id = _str()
    role = _one_of(ROLES)
    organisation_id = _opt_str()
    desks = _desks()
    disabled = fields.Boolean(required=True)
    changed_by = _str()

    @validates_schema
    def _customer_belongs_to_an_organisation(self, data, **kwargs):
        if data["role"] == "customer" and not data.get("organisation_id"):
            raise ValidationError("A customer must belong to an organisation.",
                                  field_name="organisation_id")


class BearerTokensRevokedData(Schema):
    """Every bearer token of the user issued at or before `valid_after` is refused from now on."""
    user_id = _str()
    valid_after = UtcDateTime(required=True)
    reason = _one_of(("logout", "password_changed", "rights_changed"))


class AccessRequestedData(Schema):
    request_id = _str()
    name = _str()
    email = fields.Email(required=True)
    phone = _str()
    organisation_name = _str()
    desk = _one_of(DESKS)
    note = _opt_str()


class AccessGrantedData(Schema):
    # null when a supervisor created the user directly (POST /api/users): no request was filed,
    # and the user gets the same set-password mail.
    request_id = _opt_str()
    user_id = _str()
    granted_by = _str()


class AccessRejectedData(Schema):
    request_id = _str()
    rejected_by = _str()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    # Where the notifier sends the reason (the request's address, name and desk); absent on
    # events written before the rejection mail existed, which then mail no one.
    email = fields.Email(allow_none=True)
    name = _opt_str()
    desk = fields.String(allow_none=True, validate=validate.OneOf(DESKS))


class CatalogModuleData(Schema):
    code = fields.String(required=True, validate=validate.Regexp(MODULE_CODE_PATTERN))
    name = fields.String(required=True, validate=validate.Length(min=1, max=MODULE_NAME_MAX))
    retired = fields.Boolean(required=True)


class ModuleCatalogChangedData(Schema):
    """A supervisor replaced a desk's module list: the full new list (retired modules included), at `version`."""
    desk = _one_of(DESKS)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    modules = fields.List(fields.Nested(CatalogModuleData), required=True,
                          validate=validate.Length(min=1, max=MODULES_MAX))
    changed_by = _str()


class TrainingRequestedData(Schema):
    organisation_id = _str()
    requested_by = _str()
    modules = fields.List(Upper(validate=validate.Length(min=1)), required=True,
                          validate=validate.Length(min=1))
    participants = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    note = _opt_str()


class SpecialProcessAnnouncedData(Schema):
    announcement_id = _str()
    organisation_id = _str()
    kind = _one_of(("carnetizacion", "other"))
    description = _str()
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)
    announced_by = _str()

    @validates_schema
    def _ends_after_it_starts(self, data, **kwargs):
        if data["ends_at"] <= data["starts_at"]:
            raise ValidationError("A special process must end after it starts.",
                                  field_name="ends_at")


class CannedAnswerSavedData(Schema):
    """Staff of a desk saved one of its canned answers (issue 12): a new one (version 1), an edit, or
    its retirement (`retired`: no longer offered; kept so the messages that used it still name it).
    `body` may hold the placeholders of helpdesk_shared.canned, filled where it is inserted."""
    desk = _one_of(DESKS)
    answer_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$"))
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    body = fields.String(required=True, validate=validate.Length(min=1, max=5_000))
    retired = fields.Boolean(required=True)
    version = _version(required=True)
    saved_by = _str()


class RulesPageEditedData(Schema):
    """A supervisor edited a desk's rules page (the portal's entry page) in one language.

    `text` is the small Markdown subset (helpdesk_shared.rich_text); "" in English means
    "show the Spanish text". `version` is the page's stream version (optimistic concurrency)."""
    desk = _one_of(DESKS)
    language = _one_of(LANGUAGES)
    text = fields.String(required=True, validate=validate.Length(max=20_000))
    version = _version(required=True)
    edited_by = _str()


# --- helpdesk.notifications -------------------------------------------------------------

class NotificationSentData(Schema):
    cause_event_id = _str()
    recipient = fields.Email(required=True)
    template = _str()
    message_id = _str()
    ticket_id = _opt_str()


class NotificationFailedData(Schema):
    cause_event_id = _str()
    # Not an Email field: a malformed address is one of the failures worth recording.
    recipient = _str()
    template = _str()
    error = _str()
    permanent = fields.Boolean(required=True)
    ticket_id = _opt_str()


# --- helpdesk.watermarks -----------------------------------------------------------------

class OutboxDrainedData(Schema):
    source = _str()                         # the writer, e.g. "intake"
    through = UtcDateTime(required=True)    # every event of the source that occurred before it is published


# --- helpdesk.operations -----------------------------------------------------------------

class DeliveryParkedData(Schema):
    source = _str()                         # the database whose relay parked it, e.g. "mesa_intake"
    outbox_id = fields.Integer(required=True, strict=True)
    event_id = _opt_str()
    topic = _str()
    key = _opt_str()
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    error = _str()


# --- helpdesk.knowledge (issue 12) --------------------------------------------------------

ARTICLE_STATUSES = ("draft", "published", "archived")
ARTICLE_TITLE_MAX = 200
ARTICLE_BODY_MAX = 20_000
ARTICLE_ID_MAX = 64


class _ArticleFact(Schema):
    """What every article event names: the article, its desk and module, the stream version it
    makes, and who. `version` is the article's stream version (optimistic concurrency)."""
    article_id = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_ID_MAX))
    desk = _one_of(DESKS)
    module = fields.String(required=True, validate=validate.Regexp(MODULE_CODE_PATTERN))
    version = _version(required=True)
    by = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_ID_MAX))


class _ArticleContent(_ArticleFact):
    """The article's whole text (Markdown, the small subset of helpdesk_shared.rich_text): Spanish
    required, English optional ("" = show the Spanish)."""
    title_es = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_TITLE_MAX))
    body_es = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_BODY_MAX))
    title_en = fields.String(load_default="", validate=validate.Length(max=ARTICLE_TITLE_MAX))
    body_en = fields.String(load_default="", validate=validate.Length(max=ARTICLE_BODY_MAX))


class ArticleDraftedData(_ArticleContent):
    """A new article, as a draft (customers never see it)."""


class ArticleEditedData(_ArticleContent):
    """New text (and maybe module) for an article; `status` is its status after the edit: a published
    one stays published, an archived one comes back as a draft."""
    status = _one_of(("draft", "published"))


class ArticlePublishedData(_ArticleFact):
    """The article is now what customers see and what the new-ticket form suggests."""


class ArticleArchivedData(_ArticleFact):
    """The article is withdrawn: customers no longer see it; staff still do."""


class ArticleSuggestionOpenedData(Schema):
    """A customer opened an article the new-ticket form suggested, during the form's load
    `attempt_id` (its stream: "attempt-<attempt_id>", so an editor's version never moves)."""
    article_id = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_ID_MAX))
    desk = _one_of(DESKS)
    module = fields.String(required=True, validate=validate.Regexp(MODULE_CODE_PATTERN))
    attempt_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    opened_by = fields.String(required=True, validate=validate.Length(min=1, max=ARTICLE_ID_MAX))
    organisation_id = fields.String(allow_none=True, validate=validate.Length(max=ARTICLE_ID_MAX))


EVENT_DATA_SCHEMAS: dict[str, type[Schema]] = {
    "TicketOpened": TicketOpenedData,
    "MessagePosted": MessagePostedData,
    "TicketAssigned": TicketAssignedData,
    "CustomerAway": CustomerAwayData,
    "ResolutionConfirmed": ResolutionConfirmedData,
    "TicketClosed": TicketClosedData,
    "BillableMarked": BillableMarkedData,
    "ResponseOverdue": ResponseOverdueData,
    "DeadlineSet": DeadlineSetData,
    "DeadlineMoved": DeadlineMovedData,
    "DeadlineMet": DeadlineMetData,
    "DeadlineCleared": DeadlineClearedData,
    "ClockPaused": ClockPausedData,
    "AutoCloseWarning": AutoCloseWarningData,
    "AutoClosed": AutoClosedData,
    "WorkTimeRecorded": WorkTimeRecordedData,
    "CalendarChanged": CalendarChangedData,
    "PolicyChanged": PolicyChangedData,
    "OrganisationRegistered": OrganisationRegisteredData,
    "UserRegistered": UserRegisteredData,
    "UserUpdated": UserUpdatedData,
    "BearerTokensRevoked": BearerTokensRevokedData,
    "AccessRequested": AccessRequestedData,
    "AccessGranted": AccessGrantedData,
    "AccessRejected": AccessRejectedData,
    "ModuleCatalogChanged": ModuleCatalogChangedData,
    "TrainingRequested": TrainingRequestedData,
    "SpecialProcessAnnounced": SpecialProcessAnnouncedData,
    "RulesPageEdited": RulesPageEditedData,
    "CannedAnswerSaved": CannedAnswerSavedData,
    "NotificationSent": NotificationSentData,
    "NotificationFailed": NotificationFailedData,
    "OutboxDrained": OutboxDrainedData,
    "DeliveryParked": DeliveryParkedData,
    "TicketMergedInto": TicketMergedIntoData,
    # knowledge base (issue 12)
    "ArticleDrafted": ArticleDraftedData,
    "ArticleEdited": ArticleEditedData,
    "ArticlePublished": ArticlePublishedData,
    "ArticleArchived": ArticleArchivedData,
    "ArticleSuggestionOpened": ArticleSuggestionOpenedData,
    "TicketRated": TicketRatedData,
}

# An event type with a topic but no schema (or the reverse) is a bug: fail at import.
if EVENT_DATA_SCHEMAS.keys() != TOPIC_OF_EVENT.keys():
    raise RuntimeError("EVENT_DATA_SCHEMAS and TOPIC_OF_EVENT disagree: "
                       f"{sorted(EVENT_DATA_SCHEMAS.keys() ^ TOPIC_OF_EVENT.keys())}")


# --- the envelope -----------------------------------------------------------------------

class ActorSchema(Schema):
    id = _str()
    role = _one_of(ACTOR_ROLES)


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    type = _str()
    schema_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    stream_id = _str()
    stream_version = _version(required=True)
    occurred_at = UtcDateTime(required=True)
    correlation_id = fields.UUID(required=True)
    causation_id = fields.UUID(allow_none=True, load_default=None)
    actor = fields.Nested(ActorSchema, required=True)
    data = fields.Dict(required=True)


# Schema instances are reusable for load/dump; building one per call cost a third of a
# command's CPU (bench/intake_throughput.py profile).
_DATA_SCHEMA_INSTANCES = {type_: schema_class() for type_, schema_class in EVENT_DATA_SCHEMAS.items()}
_ENVELOPE_SCHEMA = EnvelopeSchema()


def validate_data(type: str, data: Any) -> dict[str, Any]:
    """Return `data` of event `type` in serialised form; raise `ValidationError` if invalid."""
    schema = _DATA_SCHEMA_INSTANCES.get(type)
    if schema is None:
        raise ValidationError(f"Unknown event type {type!r}.", field_name="type")
    return schema.dump(schema.load(data))


def dump_envelope(env: Envelope) -> dict[str, Any]:
    """Return a JSON-ready dict of `env`; raise `ValueError` if it or its data is invalid."""
    if env.schema_version != SCHEMA_VERSION:
        raise ValueError(f"unknown schema_version {env.schema_version} for {env.type}")
    try:
        data = validate_data(env.type, env.data)
    except ValidationError as exc:
        raise ValueError(f"invalid {env.type} data: {exc.messages}") from exc
    doc = _ENVELOPE_SCHEMA.dump({
        "event_id": env.event_id, "type": env.type, "schema_version": env.schema_version,
        "stream_id": env.stream_id, "stream_version": env.stream_version,
        "occurred_at": env.occurred_at, "correlation_id": env.correlation_id,
        "causation_id": env.causation_id, "actor": env.actor, "data": data,
    })
    errors = _ENVELOPE_SCHEMA.validate(doc)
    if errors:
        raise ValueError(f"invalid {env.type} envelope: {errors}")
    return doc


def load_envelope(doc: Any) -> Envelope:
    """Build an `Envelope` from a decoded JSON document; raise `UndecodableEvent` if invalid."""
    try:
        fields_ = _ENVELOPE_SCHEMA.load(doc)
    except ValidationError as exc:
        raise UndecodableEvent(f"invalid envelope: {exc.messages}") from exc
    type_ = fields_["type"]
    if type_ not in EVENT_DATA_SCHEMAS:
        raise UndecodableEvent(f"unknown event type {type_!r}")
    if fields_["schema_version"] != SCHEMA_VERSION:
        raise UndecodableEvent(f"unknown schema_version {fields_['schema_version']} of {type_}")
    try:
        data = validate_data(type_, fields_["data"])
    except ValidationError as exc:
        raise UndecodableEvent(f"invalid {type_} data: {exc.messages}") from exc
    return Envelope(type=type_, stream_id=fields_["stream_id"],
                    stream_version=fields_["stream_version"],
                    occurred_at=fields_["occurred_at"], actor=Actor(**fields_["actor"]),
                    data=data, event_id=fields_["event_id"],
                    schema_version=fields_["schema_version"],
                    correlation_id=fields_["correlation_id"],
                    causation_id=fields_["causation_id"])
