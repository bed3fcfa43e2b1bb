"""Intake's request bodies as marshmallow schemas: every field typed and bounded (pure).

Loaded at the edge before any handler runs (`helpdesk_shared.web.load_body`), so a handler gets
real booleans, aware datetimes and bounded texts; the rules' checks of meaning (rule 4's subject,
rule 5's description, rule 3's contact…) stay in `domain` and `handlers`. The OpenAPI document
is generated from these same classes (each route declares the one it loads), so it cannot drift
from what is accepted.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, ValidationError, validates, validates_schema

from helpdesk_shared.fields import (Choice, Count, Day, Email, Flag, Instant, Items, Object, QuerySchema,
                                    RequestSchema, Text, ends_after_starts)

from helpdesk_shared.catalog import MODULE_CODE_MAX, MODULE_CODE_PATTERN, MODULE_NAME_MAX, MODULES_MAX
from helpdesk_shared.schemas import LANGUAGES, MINUTES_SPENT_MAX, RATING_COMMENT_MAX

from .catalog import DESKS

# Bounds, in characters. A subject is one line; a description or message fits a long e-mail;
# 20,000 characters stay well under Kafka's message size once encoded with the event.
SUBJECT_MAX = 200
TEXT_MAX = 20_000
NAME_MAX = 120
NOTE_MAX = 2_000
PHONE_MAX = 40
ID_MAX = 64            # user ids are UUIDs, organisation ids short slugs
NUMBER_MAX = 32        # "SOP-123"
HASH_MAX = 64          # sha256 in hex
PASSWORD_MAX = 256
LIST_MAX = 50

SPECIAL_PROCESS_KINDS = ("carnetizacion", "other")
CLOSE_REASONS = ("closed_by_agent", "needs_training")
ORGANISATION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"


def _optional(field):
    """An optional field that may also be sent as null (treated as absent)."""
    field.required = False
    field.allow_none = True
    return field


class Login(RequestSchema):
    """POST /api/auth/login."""

    email = Text(254, required=True)
    password = Text(PASSWORD_MAX, required=True)


class Contact(RequestSchema):
    """Rule 3's contact; whether each part is present and well formed is the rule's to say."""

    name = _optional(Text(NAME_MAX))
    email = _optional(Text(254))
    phone = _optional(Text(PHONE_MAX))


class OpenTicket(RequestSchema):
    """POST /api/tickets."""

    desk = Choice(DESKS, required=True)
    subject = Text(SUBJECT_MAX, required=True, metadata={"description": "`MODULE, case` (rule 4)"})
    description = Text(TEXT_MAX, required=True)
    contact = Object(Contact, required=True)
    # The rule explains what may be urgent better than a list of values: checked in `domain`.
    urgency = _optional(Text(40, metadata={"description": "normal | platform_down | member_billing_stopped | "
                                                          "announced_special_process"}))
    organisation_id = _optional(Text(ID_MAX, metadata={"description": "staff filing for a customer"}))
    member_number = _optional(Text(40, metadata={"description": "número de acción"}))
    dates = _optional(Items(Day(), LIST_MAX))
    vouchers = _optional(Items(Text(50), LIST_MAX))
    menu_path = _optional(Text(300))
    attachments = _optional(Items(Text(HASH_MAX), LIST_MAX, metadata={"description": "upload_id of uploads (or, older clients, their sha256)"}))
    previous_ticket = _optional(Text(NUMBER_MAX))
    confirmed_different_case = _optional(Flag())
    out_of_hours_requested = _optional(Flag())
    attempt_id = _optional(Text(ID_MAX, metadata={"description": "the new-ticket form's load (issue 12's deflections)"}))


class PostMessage(RequestSchema):
    """POST /api/tickets/{number}/messages."""

    body = Text(TEXT_MAX, required=True)
    internal = _optional(Flag())
    attachments = _optional(Items(Text(HASH_MAX), LIST_MAX))
    out_of_hours_requested = _optional(Flag())
    minutes_spent = _optional(Count(1, MINUTES_SPENT_MAX, metadata={
        "description": "staff only: minutes spent on this answer or note, ending now (time accounting)"}))
    canned_answer_id = _optional(Text(ID_MAX, metadata={
        "description": "staff only: the desk's canned answer the text was started from (its uses are counted)"}))


class Assign(RequestSchema):
    """POST /api/tickets/{number}/assignment: `{}` takes the ticket."""

    agent_id = _optional(Text(ID_MAX))


class Away(RequestSchema):
    """POST /api/tickets/{number}/away."""

    back_at = _optional(Instant())
    note = _optional(Text(NOTE_MAX))


class Close(RequestSchema):
    """POST /api/tickets/{number}/close."""

    reason = _optional(Choice(CLOSE_REASONS))
    note = _optional(Text(NOTE_MAX))


class Merge(RequestSchema):
    """POST /api/tickets/{number}/merge: the open ticket of the same case this duplicate continues in."""

    target = Text(NUMBER_MAX, required=True, metadata={"description": "number of the open ticket, e.g. SOP-12"})
    note = _optional(Text(NOTE_MAX))


class Billable(RequestSchema):
    """POST /api/tickets/{number}/billable: the desk's billable mark (a JSON boolean, never "false")."""

    billable = Flag(required=True)
    note = _optional(Text(NOTE_MAX))


class Resolution(RequestSchema):
    """POST /api/tickets/{number}/resolution (rule 8)."""

    solved = Flag(required=True)
    body = _optional(Text(TEXT_MAX))


class Rating(RequestSchema):
    """POST /api/tickets/{number}/rating: the customer's verdict on a ticket closed as solved."""

    rating = Choice(("good", "bad"), required=True)
    comment = _optional(Text(RATING_COMMENT_MAX))


class SpecialProcess(RequestSchema):
    """POST /api/special-processes."""

    kind = Choice(SPECIAL_PROCESS_KINDS, required=True)
    description = Text(NOTE_MAX, required=True, allow_empty=False)
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)
    organisation_id = _optional(Text(ID_MAX))

    _ends_after_starts = ends_after_starts()


class AccessRequest(RequestSchema):
    """POST /api/access-requests ("no poseo login")."""

    name = Text(NAME_MAX, required=True, allow_empty=False)
    email = Email(required=True)
    phone = Text(PHONE_MAX, required=True, allow_empty=False)
    organisation_name = Text(200, required=True, allow_empty=False)
    desk = Choice(DESKS, required=True)
    note = _optional(Text(NOTE_MAX))


class Grant(RequestSchema):
    """POST /api/access-requests/{request_id}/grant."""

    organisation_id = Text(ID_MAX, required=True, allow_empty=False)


class Reject(RequestSchema):
    """POST /api/access-requests/{request_id}/reject."""

    reason = _optional(Text(NOTE_MAX))  # required and at most 500: the handler's rule, with its own text


class TrainingRequest(RequestSchema):
    """POST /api/training-requests (rule 10)."""

    modules = Items(Text(40), 20, required=True)
    participants = Count(1, 50, required=True)
    note = _optional(Text(NOTE_MAX))
    organisation_id = _optional(Text(ID_MAX))


class SetPassword(RequestSchema):
    """The set-password form (a browser may send its button's name too: extra fields are ignored)."""

    class Meta:
        unknown = EXCLUDE

    password = Text(PASSWORD_MAX, required=True)


RULES_PAGE_MAX = 20_000
RULES_PAGE_LANGUAGES = ("es", "en")


class RulesPageQuery(QuerySchema):
    """GET /api/desks/{desk}/rules-page?lang=: Spanish unless `en` is asked for."""

    lang = Choice(RULES_PAGE_LANGUAGES, metadata={"default": "es"})


class CannedAnswersQuery(QuerySchema):
    """GET /api/desks/{desk}/canned-answers?include_retired=true."""

    include_retired = Choice(("true", "false"), metadata={"default": "false"})


class CannedAnswerSave(RequestSchema):
    """PUT /api/desks/{desk}/canned-answers/{answer_id}: staff of the desk create (version 0), edit or
    retire one of its canned answers, against the version they read."""

    title = Text(120, required=True)
    body = Text(5_000, required=True, metadata={"description": "may hold the placeholders {cliente}, {ticket}, "
                                                                "{plazo}, {telefonos}, {agente}"})
    retired = _optional(Flag())
    version = Count(0, 1_000_000, required=True,
                    metadata={"description": "the version the editor read (0: a new answer)"})


class RulesPageEdit(RequestSchema):
    """PUT /api/desks/{desk}/rules-page: a supervisor's new text, against the version he read."""

    language = Choice(RULES_PAGE_LANGUAGES, required=True)
    text = Text(RULES_PAGE_MAX, required=True,
                metadata={"description": "the small Markdown subset (helpdesk_shared.rich_text); "
                                         "\"\" in English shows the Spanish text"})
    version = Count(0, 1_000_000, required=True,
                    metadata={"description": "the version the editor read (0: the default text)"})


# ---------------------------------------------------------------- knowledge base (issue 12)

ARTICLE_TITLE_MAX, ARTICLE_BODY_MAX = 200, 20_000


class ArticleDraft(RequestSchema):
    """POST /api/articles: a new article, as a draft (staff of its desk)."""

    desk = Choice(DESKS, required=True)
    module = Text(MODULE_CODE_MAX, required=True, metadata={"description": "a module code of the desk"})
    title_es = Text(ARTICLE_TITLE_MAX, required=True)
    body_es = Text(ARTICLE_BODY_MAX, required=True,
                   metadata={"description": "the small Markdown subset (helpdesk_shared.rich_text)"})
    title_en = _optional(Text(ARTICLE_TITLE_MAX))
    body_en = _optional(Text(ARTICLE_BODY_MAX))


class ArticleEdit(RequestSchema):
    """PUT /api/articles/{id}: the article's new texts (and module), against the version read."""

    module = _optional(Text(MODULE_CODE_MAX))
    title_es = Text(ARTICLE_TITLE_MAX, required=True)
    body_es = Text(ARTICLE_BODY_MAX, required=True)
    title_en = _optional(Text(ARTICLE_TITLE_MAX))
    body_en = _optional(Text(ARTICLE_BODY_MAX))
    version = Count(1, 1_000_000, required=True, metadata={"description": "the version the editor read"})


class ArticleOpened(RequestSchema):
    """POST /api/articles/{id}/opened: a customer opened it from the new-ticket form's suggestions."""

    attempt_id = Text(ID_MAX, required=True, allow_empty=False,
                      metadata={"description": "the new-ticket form's load, carried on the ticket it opens"})


class ArticleStatusChange(RequestSchema):
    """POST /api/articles/{id}/publish or /archive: against the version read."""

    version = Count(1, 1_000_000, required=True, metadata={"description": "the version the editor read"})


# ---------------------------------------------------------------- supervisors: catalogs, organisations, users

class CatalogModule(RequestSchema):
    """One module of a desk's catalog: its code (kept for ever), the name people read, retired or not."""

    code = Text(MODULE_CODE_MAX, required=True, allow_empty=False,
                metadata={"pattern": MODULE_CODE_PATTERN, "description": "what a subject starts with"})
    name = Text(MODULE_NAME_MAX, required=True, allow_empty=False)
    retired = _optional(Flag(metadata={"description": "valid on existing tickets, refused on new ones"}))


class ModuleCatalog(RequestSchema):
    """PUT /api/desks/{desk}/modules: the desk's whole new list, and the version it was edited from."""

    expected_version = Count(0, 1_000_000, required=True)
    modules = Items(Object(CatalogModule), MODULES_MAX, required=True)


class NewOrganisation(RequestSchema):
    """POST /api/organisations."""

    name = Text(200, required=True, allow_empty=False)
    desks = Items(Choice(DESKS), len(DESKS), required=True)
    tax_id = _optional(Text(20, metadata={"description": "RIF, e.g. J-00012345-6"}))
    organisation_id = _optional(Text(ID_MAX, metadata={"pattern": ORGANISATION_ID_PATTERN,
                                                       "description": "a slug; made from the name when absent"}))


class UserChange(RequestSchema):
    """PATCH /api/users/{user_id}: what a supervisor changes of a user (at least one thing). Whether
    the change means something (a customer's organisation exists, the desks are the supervisor's)
    is the handler's to say."""

    disabled = Flag()
    role = Choice(("customer", "agent", "supervisor"))
    # Checked as a whole (named `desks`, not `desks.0`): at least one, each a desk, none twice.
    desks = Items(Text(max(len(d) for d in DESKS), metadata={"enum": list(DESKS)}), len(DESKS),
                  metadata={"minItems": 1, "uniqueItems": True})
    organisation_id = _optional(Text(ID_MAX, metadata={"description": "null for staff"}))

    @validates("desks")
    def _desks(self, desks, **kwargs):
        if not desks or len(set(desks)) != len(desks) or not set(desks) <= set(DESKS):
            raise ValidationError(f"FIELD_NOT_CHOICE|{', '.join(DESKS)}")

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("NOTHING_TO_CHANGE|")


class NewUser(RequestSchema):
    """POST /api/users: a customer of an organisation, or an agent (no organisation)."""

    email = Email(required=True)
    name = Text(NAME_MAX, required=True, allow_empty=False)
    role = Choice(("customer", "agent"), required=True)
    desks = Items(Choice(DESKS), len(DESKS), required=True)
    organisation_id = _optional(Text(ID_MAX))
    language = _optional(Choice(LANGUAGES))
    phone = _optional(Text(PHONE_MAX))
