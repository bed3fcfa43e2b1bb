"""Which e-mails an event produces, to whom, in which language, with what facts (pure).

`plan(event, ...)` answers with a list of `Mail`: a template name, a recipient and a
JSON-ready context. It sends nothing and renders nothing (see `rendering.py` and the
mailer), reads no clock (every instant comes from the event) and imports no I/O, so a
replay plans exactly the same mails and the notifier's sent-mail log can key them by
(event, recipient, template).

Instants in a context are dicts ``{"iso", "local", "zone"}``: the UTC ISO 8601 string
for machines, and a string already formatted on the desk's calendar in the recipient's
language for people ("lunes 30 de noviembre, 09:00" / "Monday 30 November, 09:00").
Everything worded lives in the templates; the context carries codes and facts.
"""
from __future__ import annotations

import unicodedata

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from helpdesk_shared.business_calendar import Calendar
from helpdesk_shared.envelope import Envelope
from helpdesk_shared.schemas import SOLVED_CLOSE_REASONS

__all__ = [
    "CUSTOMER_TEMPLATES", "DeskContacts", "INBOUND_TEMPLATES", "LANGUAGES", "Links", "Mail",
    "PLANNERS", "Recipient", "STAFF_TEMPLATES", "TEMPLATES", "TicketView", "format_duration",
    "format_local", "format_office_hours", "plan", "ticket_view_from_opened",
]

LANGUAGES = ("es", "en")          # the languages templates exist in; "es" is the fallback
TRAINING_DESK = "SOPORTE"         # training requests and special processes go to this desk
STAFF_ROLES = ("agent", "supervisor")
CLOSED = "closed"                 # helpdesk_shared.lifecycle.CLOSED


@dataclass(frozen=True)
class Recipient:
    """Who receives a mail; `language` picks the templates ("es" when unknown)."""

    email: str
    name: str
    language: str = "es"
    user_id: str | None = None


@dataclass(frozen=True)
class TicketView:
    """The notifier's read model of a ticket: what its mails need to say."""

    ticket_id: str
    number: str
    desk: str
    subject: str
    organisation_id: str
    opened_by: str
    contact: dict  # {name, email, phone}
    language: str
    assigned_to: str | None
    status: str
    opened_at: datetime
    urgency: str = "normal"
    out_of_hours_requested: bool = False
    previous_ticket: str | None = None
    month_end_warning: bool = False
    # The SLA service's DeadlineSet data for the first response, once it arrived.
    first_deadline: dict | None = None
    module: str | None = None  # the module code it was opened for (None: known from before it was kept)


@dataclass(frozen=True)
class DeskContacts:
    """A desk's addresses (agents' queue, staff, supervisor, on call) and its office phones."""

    queue_address: str
    staff_address: str
    supervisor_address: str
    phones: tuple[str, ...]
    oncall_address: str = ""  # urgent tickets, day or night; "" when the desk has none


@dataclass(frozen=True)
class Links:
    """The URLs mails point at; the caller builds them (base URL, signed tokens)."""

    ticket_url: Callable[[str], str]                   # (number) -> portal page of the ticket
    resolution_url: Callable[[str, str, str], str]     # (number, user_id, "solved"|"not_solved")
    new_ticket_url: Callable[[str], str]               # (previous_number) -> new-ticket form
    course_url: str                                    # how to request an induction course
    portal_url: str | None = None                      # the login page, for access mails
    set_password_url: Callable[[str], str] | None = None  # (user_id) -> signed link to choose a password
    articles_url: Callable[[str, str], str] | None = None  # (desk, module) -> the module's knowledge-base articles
    rating_url: Callable[[str, str, str], str] | None = None  # (number, user_id, "good"|"bad") -> signed link


@dataclass(frozen=True)
class Mail:
    """One e-mail to send: what `Renderer.render` turns into subject, text and HTML."""

    template: str
    recipient: Recipient
    context: dict
    ticket_id: str | None
    reply_ticket: str | None  # the ticket a reply to this mail lands in; None: not accepted


def ticket_view_from_opened(event: Envelope) -> TicketView:
    """The read model of a ticket as its TicketOpened event describes it."""
    d = event.data
    return TicketView(
        ticket_id=d["ticket_id"], number=d["number"], desk=d["desk"], subject=d["subject"],
        organisation_id=d["organisation_id"], opened_by=d["opened_by"],
        contact=dict(d["contact"]), language=d.get("language") or "es", assigned_to=None,
        status="open", opened_at=event.occurred_at, urgency=d.get("urgency") or "normal",
        out_of_hours_requested=bool(d.get("out_of_hours_requested")), previous_ticket=d.get("previous_ticket"),
        month_end_warning=bool(d.get("month_end_warning")), module=d.get("module"))


# --- formatting facts for people ---------------------------------------------------------

_WEEKDAYS = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def _lang(language: str | None) -> str:
    return language if language in LANGUAGES else "es"


def _zone_name(tz: str) -> str:
    """'America/Caracas' -> 'Caracas': how people name the time zone."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def format_local(t: datetime, tz: str, language: str, *, reference: datetime | None = None) -> str:
    """'lunes 30 de noviembre, 09:00' / 'Monday 30 November, 09:00' in zone `tz`.

    The year is added when it differs from the year of `reference` (the event's instant).
    """
    lang = _lang(language)
    zone = ZoneInfo(tz)
    lt = t.astimezone(zone)
    weekday, month = _WEEKDAYS[lang][lt.weekday()], _MONTHS[lang][lt.month - 1]
    with_year = reference is not None and reference.astimezone(zone).year != lt.year
    if lang == "es":
        day = f"{weekday} {lt.day} de {month}" + (f" de {lt.year}" if with_year else "")
    else:
        day = f"{weekday} {lt.day} {month}" + (f" {lt.year}" if with_year else "")
    return f"{day}, {lt:%H:%M}"


def _instant(t: datetime, calendar: Calendar, language: str, reference: datetime) -> dict:
    """An instant for a context: ISO (UTC) for machines, local text for people."""
    return {"iso": t.astimezone(timezone.utc).isoformat(),
            "local": format_local(t, calendar.tz, language, reference=reference),
            "zone": _zone_name(calendar.tz)}


def _when(value: str | datetime) -> datetime:
    """An instant of an event's data: serialised data holds ISO 8601 strings."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_UNITS = {"es": (("día", "días"), ("hora", "horas"), ("minuto", "minutos"), " y "),
          "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), " ")}


_UNDER_A_MINUTE = {"es": "menos de un minuto", "en": "less than a minute"}


def format_duration(d: timedelta, language: str) -> str:
    """'2 horas y 5 minutos' / '2 hours 5 minutes': the two largest units, minutes floored;
    under a minute reads 'menos de un minuto' / 'less than a minute', never '0 minutes'."""
    days_u, hours_u, minutes_u, joiner = _UNITS[_lang(language)]
    minutes = max(0, int(d.total_seconds() // 60))
    if minutes == 0:
        return _UNDER_A_MINUTE[_lang(language)]
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        parts = [_plural(days, *days_u)] + ([_plural(hours, *hours_u)] if hours else [])
    elif hours:
        parts = [_plural(hours, *hours_u)] + ([_plural(minutes, *minutes_u)] if minutes else [])
    else:
        parts = [_plural(minutes, *minutes_u)]
    return joiner.join(parts)


def _hhmm(value: time, is_end: bool) -> str:
    return "24:00" if is_end and value == time(0) else f"{value:%H:%M}"


def format_office_hours(calendar: Calendar | list, language: str) -> str:
    """The weekly hours of a calendar, or of its `[weekday, "HH:MM", "HH:MM"]` rows as the SLA
    service publishes them: 'lunes a viernes, de 09:00 a 17:00' / 'Monday to Friday, 09:00-17:00'."""
    lang = _lang(language)
    weekly = calendar.weekly if isinstance(calendar, Calendar) else [
        (day, time.fromisoformat(start), time.fromisoformat(end)) for day, start, end in calendar]
    by_day: dict[int, tuple[tuple[time, time], ...]] = {}
    for day, start, end in weekly:
        by_day[day] = by_day.get(day, ()) + ((start, end),)
    groups: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
    for day in sorted(by_day):
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == by_day[day]:
            groups[-1] = (groups[-1][0], day, by_day[day])
        else:
            groups.append((day, day, by_day[day]))
    names = _WEEKDAYS[lang]
    texts = []
    for first, last, intervals in groups:
        if first == last:
            days = names[first]
        elif lang == "es":
            days = f"{names[first]} a {names[last]}" if last - first > 1 else f"{names[first]} y {names[last]}"
        else:
            days = f"{names[first]} to {names[last]}" if last - first > 1 else f"{names[first]} and {names[last]}"
        if lang == "es":
            spans = " y ".join(f"de {_hhmm(s, False)} a {_hhmm(e, True)}" for s, e in intervals)
        else:
            spans = " and ".join(f"{_hhmm(s, False)}–{_hhmm(e, True)}" for s, e in intervals)
        texts.append(f"{days}, {spans}")
    return "; ".join(texts)


# --- who, and the facts every ticket mail shares ------------------------------------------

def _customer(ticket: TicketView) -> Recipient:
    """The ticket's contact, in the ticket's language."""
    return Recipient(email=ticket.contact["email"], name=ticket.contact["name"],
                     language=_lang(ticket.language), user_id=ticket.opened_by)


def _desk(desks: Mapping[str, DeskContacts], desk: str) -> DeskContacts:
    try:
        return desks[desk]
    except KeyError:
        # Configuration, not data: fail loudly rather than drop a mail in silence.
        raise LookupError(f"no contacts configured for desk {desk!r}") from None


def _desk_recipient(address: str, desk: str) -> Recipient:
    return Recipient(email=address, name=desk, language="es")


def _ticket_facts(ticket: TicketView, links: Links) -> dict:
    return {"number": ticket.number, "subject": ticket.subject, "desk": ticket.desk,
            "urgency": ticket.urgency, "urgent": ticket.urgency != "normal",
            "ticket_url": links.ticket_url(ticket.number)}


def _attachments(data: dict) -> list[dict]:
    return [{"name": a["name"], "size": a["size"]} for a in data.get("attachments") or []]


def _user_name(users: Mapping[str, Recipient], user_id: str | None) -> str | None:
    user = users.get(user_id) if user_id else None
    return user.name if user else None


# --- one planner per event type ------------------------------------------------------------

def _received(ticket: TicketView, deadline: dict, calendar: Calendar, links: Links) -> Mail:
    """The customer learns his number and the first-response deadline the SLA service set
    (its calendar version: closure days and edited hours included), and when it starts counting."""
    customer = _customer(ticket)
    lang = customer.language
    opened_at = ticket.opened_at
    started_at, counts_from = _when(deadline["started_at"]), _when(deadline["counts_from"])
    office_hours = deadline.get("office_hours")
    context = {
        **_ticket_facts(ticket, links),
        "opened_at": _instant(opened_at, calendar, lang, opened_at),
        "due_at": _instant(_when(deadline["due_at"]), calendar, lang, opened_at),
        "office_hours": format_office_hours(office_hours if office_hours else calendar, lang),
        "time_zone": _zone_name(calendar.tz),
        "out_of_hours": counts_from > started_at,
        "out_of_hours_requested": ticket.out_of_hours_requested,
        "previous_ticket": ticket.previous_ticket,
        "month_end_warning": ticket.month_end_warning,
    }
    if counts_from > started_at:  # a business clock waits for the next opening
        context["clock_starts_at"] = _instant(counts_from, calendar, lang, opened_at)
    return Mail("ticket_received", customer, context, ticket.ticket_id, ticket.number)


def plan_ticket_opened(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The desk's queue hears of every new ticket; an urgent one also alerts the on-call address
    at once (SPEC §2 rule 3). The customer's mail waits for the SLA service's deadline, unless
    that fact arrived first (two topics: no order between them)."""
    contacts = _desk(desks, ticket.desk)
    queue = _desk_recipient(contacts.queue_address, ticket.desk)
    d = event.data
    facts = {
        **_ticket_facts(ticket, links),
        "opened_at": _instant(event.occurred_at, calendar, queue.language, event.occurred_at),
        "organisation_id": ticket.organisation_id,
        "module": d.get("module"),
        "description": d.get("description"),
        "contact": {"name": ticket.contact["name"], "email": ticket.contact["email"],
                    "phone": ticket.contact.get("phone")},
        "out_of_hours_requested": bool(d.get("out_of_hours_requested")),
        "attachments": _attachments(d),
    }
    mails = [Mail("ticket_opened_queue", queue, facts, ticket.ticket_id, None)]
    if facts["urgent"] and contacts.oncall_address:
        oncall = _desk_recipient(contacts.oncall_address, ticket.desk)
        mails.append(Mail("ticket_urgent_oncall", oncall, dict(facts), ticket.ticket_id, None))
    if ticket.first_deadline:
        mails.append(_received(ticket, ticket.first_deadline, calendar, links))
    return mails


def plan_deadline_set(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The SLA service set the first-response deadline: now the customer's received mail can quote it."""
    if event.data["clock"] != "first_response" or ticket.status == CLOSED:
        return []
    return [_received(ticket, event.data, calendar, links)]


def plan_resolution_confirmed(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """"Not solved" + text reaches the assigned agent (or the queue) like any customer message."""
    d = event.data
    if d["solved"]:
        return []  # the ticket closes: plan_ticket_closed tells the customer
    agent = users.get(ticket.assigned_to) if ticket.assigned_to else None
    recipient = agent or _desk_recipient(_desk(desks, ticket.desk).queue_address, ticket.desk)
    context = {
        **_ticket_facts(ticket, links),
        "body": d.get("body") or "",
        "attachments": [],
        "message_id": str(event.event_id),
        "posted_at": _instant(event.occurred_at, calendar, recipient.language, event.occurred_at),
        "author_name": _user_name(users, event.actor.id) or ticket.contact["name"],
        "organisation_id": ticket.organisation_id,
        "assigned": agent is not None,
        "not_solved": True,
    }
    return [Mail("customer_answered", recipient, context, ticket.ticket_id, None)]


def plan_message_posted(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """A public answer goes to the other side; an internal note goes to nobody."""
    d = event.data
    if d["internal"]:
        return []
    common = {**_ticket_facts(ticket, links), "body": d["body"],
              "attachments": _attachments(d), "message_id": d["message_id"]}
    if d["author_role"] in STAFF_ROLES:
        customer = _customer(ticket)
        context = {
            **common,
            "posted_at": _instant(event.occurred_at, calendar, customer.language, event.occurred_at),
            "agent_name": _user_name(users, d["author_id"]),
            "solved_url": links.resolution_url(ticket.number, ticket.opened_by, "solved"),
            "not_solved_url": links.resolution_url(ticket.number, ticket.opened_by, "not_solved"),
        }
        return [Mail("agent_answered", customer, context, ticket.ticket_id, ticket.number)]
    if d["author_role"] == "customer":
        agent = users.get(ticket.assigned_to) if ticket.assigned_to else None
        recipient = agent or _desk_recipient(_desk(desks, ticket.desk).queue_address, ticket.desk)
        context = {
            **common,
            "posted_at": _instant(event.occurred_at, calendar, recipient.language, event.occurred_at),
            "author_name": _user_name(users, d["author_id"]) or ticket.contact["name"],
            "organisation_id": ticket.organisation_id,
            "assigned": agent is not None,
            "not_solved": False,
        }
        # Agents answer in the app, where internal notes and assignment live.
        return [Mail("customer_answered", recipient, context, ticket.ticket_id, None)]
    return []


def plan_response_overdue(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The customer gets an apology and the office phones; the desk's supervisor, an alert."""
    if ticket.status == CLOSED:
        return []  # a stale timer: the ticket closed before the alert was read
    d = event.data
    contacts = _desk(desks, ticket.desk)
    due_at = _when(d["due_at"])
    late = event.occurred_at - due_at

    def facts(lang: str) -> dict:
        return {**_ticket_facts(ticket, links), "clock": d["clock"],
                "due_at": _instant(due_at, calendar, lang, event.occurred_at)}

    customer = _customer(ticket)
    apology = {**facts(customer.language), "phones": list(contacts.phones),
               "office_hours": format_office_hours(calendar, customer.language),
               "time_zone": _zone_name(calendar.tz)}
    supervisor = _desk_recipient(contacts.supervisor_address, ticket.desk)
    alert = {
        **facts(supervisor.language),
        "late": {"minutes": max(0, int(late.total_seconds() // 60)),
                 "text": format_duration(late, supervisor.language)},
        "organisation_id": ticket.organisation_id,
        "opened_at": _instant(ticket.opened_at, calendar, supervisor.language, event.occurred_at),
        "assigned_to": ticket.assigned_to,
        "assigned_name": _user_name(users, ticket.assigned_to),
        "customer": {"name": ticket.contact["name"], "email": ticket.contact["email"],
                     "phone": ticket.contact.get("phone")},
    }
    return [Mail("response_overdue_customer", customer, apology,
                 ticket.ticket_id, ticket.number),
            Mail("response_overdue_supervisor", supervisor, alert, ticket.ticket_id, None)]


def plan_auto_close_warning(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The customer is told when his ticket closes unless he answers."""
    if ticket.status == CLOSED:
        return []
    d = event.data
    closes_at = _when(d["closes_at"])
    customer = _customer(ticket)
    context = {
        **_ticket_facts(ticket, links),
        "closes_at": _instant(closes_at, calendar, customer.language, event.occurred_at),
        # Away until a date, the customer's two business days counted from it: the mail says so.
        "away_until": (_instant(_when(d["away_until"]), calendar, customer.language, event.occurred_at)
                       if d.get("away_until") else None),
        "solved_url": links.resolution_url(ticket.number, ticket.opened_by, "solved"),
        "not_solved_url": links.resolution_url(ticket.number, ticket.opened_by, "not_solved"),
    }
    return [Mail("auto_close_warning", customer, context, ticket.ticket_id, ticket.number)]


def plan_ticket_closed(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The customer learns why it closed and that a new case needs a new ticket."""
    reason = event.data["reason"]
    customer = _customer(ticket)
    if reason == "merged":
        return plan_ticket_merged(event, ticket, customer, calendar, links)
    context = {
        **_ticket_facts(ticket, links),
        "reason": reason,
        "closed_at": _instant(event.occurred_at, calendar, customer.language, event.occurred_at),
        "new_ticket_url": links.new_ticket_url(ticket.number),
        "course_url": links.course_url if reason == "needs_training" else None,
        # Rule 10: with the course, what the knowledge base already explains about the case's module.
        "articles_url": (links.articles_url(ticket.desk, ticket.module)
                         if reason == "needs_training" and ticket.module and links.articles_url else None),
        # The customer's verdict (issue 12): one click on "Buena atención" / "Mala atención", when the
        # ticket closed as solved (the reasons intake accepts a rating for).
        "good_url": _rating_url(links, ticket, reason, "good"),
        "bad_url": _rating_url(links, ticket, reason, "bad"),
    }
    # Closed is closed (SPEC §2): a reply would land nowhere, so none is invited.
    return [Mail("ticket_closed", customer, context, ticket.ticket_id, None)]


def plan_ticket_merged(event, ticket, customer, calendar, links) -> list[Mail]:
    """Issue 12, merge: a duplicate merged into the open ticket of its case gets ONE mail, saying where
    to continue (instead of the "ticket closed" mail: it is not finished, it goes on elsewhere). A reply
    to it lands in that ticket."""
    target = event.data["merged_into"]
    context = {
        **_ticket_facts(ticket, links),
        "merged_into": target,
        "merged_into_url": links.ticket_url(target),
        "closed_at": _instant(event.occurred_at, calendar, customer.language, event.occurred_at),
    }
    return [Mail("ticket_merged", customer, context, ticket.ticket_id, target)]


def _rating_url(links: Links, ticket: TicketView, reason: str, rating: str) -> str | None:
    if reason not in SOLVED_CLOSE_REASONS or links.rating_url is None:
        return None
    return links.rating_url(ticket.number, ticket.opened_by, rating)


MAX_REQUESTER_NAME = 60


def bounded_name(name: str) -> str:
    """A stranger's name as we dare repeat it: letters, spaces, apostrophes and hyphens only
    (no links, no markup), at most MAX_REQUESTER_NAME characters."""
    kept = "".join(ch if unicodedata.category(ch)[0] in "LM" or ch in "'-" else (" " if ch.isspace() else "")
                   for ch in unicodedata.normalize("NFC", name or ""))
    return " ".join(kept.split())[:MAX_REQUESTER_NAME].strip()


def plan_access_requested(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """Staff review the request; the requester learns it arrived.

    Anyone can file a request giving any address, so the mail to that address carries none
    of the requester's free text but a bounded name (issue 7 item 7): Mesa must not deliver
    a stranger's words under its own name. Staff see everything.
    """
    d = event.data
    name = bounded_name(d["name"])
    requester = Recipient(email=d["email"], name=name, language="es")
    staff = _desk_recipient(_desk(desks, d["desk"]).staff_address, d["desk"])
    context = {key: d.get(key) for key in
               ("request_id", "name", "email", "phone", "organisation_name", "desk", "note")}
    context["requested_at"] = _instant(event.occurred_at, calendar, "es", event.occurred_at)
    return [Mail("access_requested_staff", staff, context, None, None),
            Mail("access_requested_requester", requester, {"name": name, "desk": d["desk"]}, None, None)]


def plan_access_granted(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The new user learns he can log in (nothing when the user is not known yet)."""
    user = users.get(event.data["user_id"])
    if user is None:
        return []
    context = {"name": user.name, "email": user.email, "portal_url": links.portal_url,
               "course_url": links.course_url,
               "set_password_url": links.set_password_url(user.user_id) if links.set_password_url else None}
    return [Mail("access_granted", user, context, None, None)]


def plan_access_rejected(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """The requester learns why his request was turned down and that he may ask again.

    The reason is staff's text; the name is bounded as in the request's acknowledgement."""
    d = event.data
    if not d.get("email"):
        return []  # written before the event carried the request's address
    name = bounded_name(d.get("name") or "")
    requester = Recipient(email=d["email"], name=name, language="es")
    return [Mail("access_rejected", requester, {"name": name, "desk": d.get("desk"), "reason": d["reason"],
                                                "portal_url": links.portal_url}, None, None)]


def plan_training_requested(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """Staff schedule the induction course; the requester learns it arrived."""
    d = event.data
    requester = users.get(d["requested_by"])
    staff = _desk_recipient(_desk(desks, TRAINING_DESK).staff_address, TRAINING_DESK)
    facts = {"organisation_id": d["organisation_id"], "modules": list(d["modules"]),
             "participants": d["participants"], "note": d.get("note"),
             "requester": ({"name": requester.name, "email": requester.email}
                           if requester else {"name": d["requested_by"], "email": None})}
    mails = [Mail("training_requested_staff", staff,
                  {**facts, "requested_at": _instant(event.occurred_at, calendar, "es",
                                                     event.occurred_at)}, None, None)]
    if requester is not None:
        mails.append(Mail("training_requested_requester", requester,
                          {**facts, "requested_at": _instant(event.occurred_at, calendar,
                                                             requester.language, event.occurred_at)},
                          None, None))
    return mails


def plan_special_process_announced(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """Staff learn of the window; the announcer learns what counts as urgent inside it."""
    d = event.data
    announcer = users.get(d["announced_by"])
    staff = _desk_recipient(_desk(desks, TRAINING_DESK).staff_address, TRAINING_DESK)

    def context(lang: str) -> dict:
        starts_at, ends_at = _when(d["starts_at"]), _when(d["ends_at"])
        return {"announcement_id": d["announcement_id"], "organisation_id": d["organisation_id"],
                "kind": d["kind"], "description": d["description"],
                "starts_at": _instant(starts_at, calendar, lang, event.occurred_at),
                "ends_at": _instant(ends_at, calendar, lang, event.occurred_at),
                "announcer": ({"name": announcer.name, "email": announcer.email}
                              if announcer else {"name": d["announced_by"], "email": None})}

    mails = [Mail("special_process_staff", staff, context("es"), None, None)]
    if announcer is not None:
        mails.append(Mail("special_process_requester", announcer,
                          context(announcer.language), None, None))
    return mails


def plan_delivery_parked(event, ticket, users, desks, calendar, links) -> list[Mail]:
    """Operations (the supervisor address) learn that a relay parked a row Kafka refuses."""
    supervisor = next(iter(desks.values())).supervisor_address
    context = {k: event.data.get(k) for k in ("source", "outbox_id", "event_id", "topic", "key", "size", "error")}
    context["parked_at"] = _instant(event.occurred_at, calendar, "es", event.occurred_at)
    return [Mail("delivery_parked", Recipient(supervisor, "Supervisión"), context, None, None)]


Planner = Callable[..., list[Mail]]

PLANNERS: dict[str, Planner] = {
    "TicketOpened": plan_ticket_opened,
    "DeadlineSet": plan_deadline_set,
    "MessagePosted": plan_message_posted,
    "ResolutionConfirmed": plan_resolution_confirmed,
    "ResponseOverdue": plan_response_overdue,
    "AutoCloseWarning": plan_auto_close_warning,
    "TicketClosed": plan_ticket_closed,
    "AccessRequested": plan_access_requested,
    "AccessGranted": plan_access_granted,
    "AccessRejected": plan_access_rejected,
    "TrainingRequested": plan_training_requested,
    "SpecialProcessAnnounced": plan_special_process_announced,
    "DeliveryParked": plan_delivery_parked,
}

# Events about a ticket: planned only when the read model knows the ticket.
TICKET_EVENTS = frozenset({"TicketOpened", "DeadlineSet", "MessagePosted", "ResolutionConfirmed",
                           "ResponseOverdue", "AutoCloseWarning", "TicketClosed"})

CUSTOMER_TEMPLATES = ("ticket_received", "agent_answered", "response_overdue_customer",
                      "auto_close_warning", "ticket_closed", "access_requested_requester",
                      "access_granted", "access_rejected", "training_requested_requester",
                      "special_process_requester", "ticket_merged")
STAFF_TEMPLATES = ("ticket_opened_queue", "ticket_urgent_oncall", "customer_answered",
                   "response_overdue_supervisor", "access_requested_staff", "training_requested_staff",
                   "special_process_staff", "delivery_parked")
# Not planned from an event: notifier.replies answers an e-mail reply to a closed ticket
# with the first (context: number, new_ticket_url, customer_name), and a reply from someone
# other than the reply address's recipient with the second (context: portal_url only).
INBOUND_TEMPLATES = ("reply_to_closed", "reply_sender_refused")
TEMPLATES = CUSTOMER_TEMPLATES + STAFF_TEMPLATES + INBOUND_TEMPLATES


def plan(event: Envelope, ticket: TicketView | None, users: Mapping[str, Recipient],
         desks: Mapping[str, DeskContacts], calendar: Calendar, links: Links) -> list[Mail]:
    """The mails `event` produces; [] for other types and for a ticket the caller lacks."""
    planner = PLANNERS.get(event.type)
    if planner is None or (event.type in TICKET_EVENTS and ticket is None):
        return []
    return planner(event, ticket, users, desks, calendar, links)
