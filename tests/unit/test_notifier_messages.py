"""Which mails each event produces (notifier.messages) and how they render (notifier.rendering).

Caracas is UTC-4 all year; the default calendar opens Monday to Friday 09:00-17:00.
28 November 2026 is a Saturday.
"""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from jinja2 import UndefinedError

from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.envelope import SYSTEM, Actor, new_event
from notifier.messages import (INBOUND_TEMPLATES, TEMPLATES, DeskContacts, Links, Mail,
                               Recipient, TicketView, format_duration, format_office_hours,
                               plan, ticket_view_from_opened)
from notifier.rendering import TEMPLATES_DIR, Renderer

CARACAS = timezone(timedelta(hours=-4))
CALENDAR = venezuela_default(range(2026, 2028))
CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
SUPERVISOR = Actor("u-ana", "supervisor")

USERS = {
    "u-maria": Recipient("maria@clubcaracas.ve", "María Pérez", "es", "u-maria"),
    "u-john": Recipient("john@clubcaracas.ve", "John Smith", "en", "u-john"),
    "u-carlos": Recipient("carlos@vendor.ve", "Carlos Rodríguez", "es", "u-carlos"),
    "u-kate": Recipient("kate@vendor.ve", "Kate Jones", "en", "u-kate"),
    "u-ana": Recipient("ana@vendor.ve", "Ana Gómez", "es", "u-ana"),
}
DESKS = {
    "SOPORTE": DeskContacts("cola-soporte@vendor.ve", "soporte@vendor.ve",
                            "supervision@vendor.ve", ("+58 212 555 0100", "+58 414 555 0199"),
                            "guardia-soporte@vendor.ve"),
    "IMPLANTACIONES": DeskContacts("cola-impl@vendor.ve", "impl@vendor.ve",
                                   "supervision-impl@vendor.ve", ("+58 212 555 0200",), "guardia-impl@vendor.ve"),
}
LINKS = Links(
    ticket_url=lambda number: f"https://mesa.example.ve/tickets/{number}",
    resolution_url=lambda number, user, answer: f"https://mesa.example.ve/r/{number}/{user}/{answer}",
    new_ticket_url=lambda previous: f"https://mesa.example.ve/tickets/new?previous={previous}",
    course_url="https://mesa.example.ve/cursos",
    portal_url="https://mesa.example.ve/",
)
RENDERER = Renderer([TEMPLATES_DIR])


def at(*args) -> datetime:
    """A Caracas wall time."""
    return datetime(*args, tzinfo=CARACAS)


def ticket(language: str = "es", assigned_to: str | None = None, urgency: str = "normal",
           status: str = "open") -> TicketView:
    """Ticket SOP-42 of María (or John, in English), filed Wednesday 25 November 2026 10:00."""
    name, email, opener = (("John Smith", "john@clubcaracas.ve", "u-john") if language == "en"
                           else ("María Pérez", "maria@clubcaracas.ve", "u-maria"))
    return TicketView(ticket_id="t42", number="SOP-42", desk="SOPORTE",
                      subject="BANCOS, Factura mal cargada", organisation_id="club-caracas",
                      opened_by=opener, contact={"name": name, "email": email, "phone": "+58 412 555 0123"},
                      language=language, assigned_to=assigned_to, status=status,
                      opened_at=at(2026, 11, 25, 10), urgency=urgency)


def opened(when: datetime, urgency: str = "normal", language: str = "es", **extra):
    """TicketOpened SOP-42 at `when`."""
    view = ticket(language)
    return new_event("TicketOpened", "t42", 1, {
        "ticket_id": "t42", "number": "SOP-42", "desk": "SOPORTE", "organisation_id": "club-caracas",
        "opened_by": view.opened_by, "module": "BANCOS", "case": "Factura mal cargada",
        "subject": "BANCOS, Factura mal cargada",
        "description": "El comprobante 1234 del 20/11 quedó con el monto duplicado.",
        "urgency": urgency, "contact": view.contact, "language": language, **extra},
        actor=Actor(view.opened_by, "customer"), occurred_at=when)


def message(actor: Actor, body: str = "Ya corregimos el comprobante; por favor revise el reporte.",
            internal: bool = False, when: datetime = at(2026, 11, 25, 11)):
    """A MessagePosted on SOP-42."""
    return new_event("MessagePosted", "t42", 2, {
        "message_id": "m2", "author_id": actor.id, "author_role": actor.role, "body": body,
        "internal": internal,
        "attachments": [{"sha256": "a" * 64, "name": "reporte.pdf", "size": 2048,
                         "content_type": "application/pdf"}]},
        actor=actor, occurred_at=when)


def overdue(when: datetime = at(2026, 11, 26, 12, 30)):
    """ResponseOverdue of SOP-42's first response, due Thursday 26 November 10:00."""
    return new_event("ResponseOverdue", "sla-t42", 1, {
        "ticket_id": "t42", "number": "SOP-42", "clock": "first_response",
        "due_at": at(2026, 11, 26, 10), "policy_version": 1}, actor=SYSTEM, occurred_at=when)


def warning():
    """AutoCloseWarning: SOP-42 closes Tuesday 1 December 2026 11:00."""
    return new_event("AutoCloseWarning", "sla-t42", 2, {
        "ticket_id": "t42", "number": "SOP-42", "closes_at": at(2026, 12, 1, 11),
        "based_on_version": 2}, actor=SYSTEM, occurred_at=at(2026, 11, 26, 11))


def closed(reason: str):
    """TicketClosed of SOP-42 for `reason`."""
    actor = SYSTEM if reason == "auto_closed" else AGENT
    return new_event("TicketClosed", "t42", 5, {"reason": reason}, actor=actor,
                     occurred_at=at(2026, 12, 1, 11))


def merged_away():
    """TicketClosed of SOP-42 as a duplicate merged into SOP-41 (issue 12)."""
    return new_event("TicketClosed", "t42", 5, {"reason": "merged", "merged_into": "SOP-41",
                                                "merged_into_ticket_id": "t41"}, actor=AGENT,
                     occurred_at=at(2026, 12, 1, 11))


def access_requested():
    """A request for access to SOPORTE by someone without a login."""
    return new_event("AccessRequested", "access-r1", 1, {
        "request_id": "r1", "name": "Pedro Díaz", "email": "pedro@clubcaracas.ve",
        "phone": "+58 412 555 0777", "organisation_name": "Club Caracas", "desk": "SOPORTE",
        "note": "Soy el nuevo contador."}, actor=SYSTEM, occurred_at=at(2026, 11, 25, 9, 30))


def access_granted(user_id: str = "u-maria"):
    """Access request r1 granted as `user_id`."""
    return new_event("AccessGranted", "access-r1", 2, {
        "request_id": "r1", "user_id": user_id, "granted_by": "u-ana"},
        actor=SUPERVISOR, occurred_at=at(2026, 11, 25, 10))


def access_rejected(**addressee):
    """Access request r1 turned down by an agent, saying why."""
    return new_event("AccessRejected", "access-r1", 2, {
        "request_id": "r1", "rejected_by": "u-carlos", "reason": "El club no tiene contrato vigente.",
        **addressee}, actor=AGENT, occurred_at=at(2026, 11, 25, 10))


def training_requested(by: str = "u-maria"):
    """An induction course for five people on two modules."""
    return new_event("TrainingRequested", "org-club-caracas", 3, {
        "organisation_id": "club-caracas", "requested_by": by, "modules": ["nomina", "SOCIOS"],
        "participants": 5, "note": "Personal nuevo en nómina."},
        actor=Actor(by, "customer"), occurred_at=at(2026, 11, 25, 10))


def special_process(by: str = "u-maria"):
    """A carnetización window in the first week of January 2027."""
    return new_event("SpecialProcessAnnounced", "org-club-caracas", 4, {
        "announcement_id": "sp1", "organisation_id": "club-caracas", "kind": "carnetizacion",
        "description": "Carnetización anual de socios en la sede principal.",
        "starts_at": at(2027, 1, 4, 8), "ends_at": at(2027, 1, 8, 18), "announced_by": by},
        actor=Actor(by, "customer"), occurred_at=at(2026, 11, 25, 10))


def delivery_parked():
    """intake's relay parked a 1.3 MB row Kafka refused."""
    return new_event("DeliveryParked", "parked-mesa_intake", 17, {
        "source": "mesa_intake", "outbox_id": 17, "event_id": "5b0c0c1e-2f1d-4d6e-9a51-0c6f1f3b8a11",
        "topic": "helpdesk.tickets", "key": "ticket-1", "size": 1_300_000,
        "error": "MessageSizeTooLargeError: the message is 1300164 bytes"},
        actor=Actor("mesa_intake-relay", "system"), occurred_at=at(2026, 11, 25, 9, 30))


def deadline_for(when: datetime, urgency: str = "normal") -> dict:
    """The DeadlineSet data the SLA service publishes for SOP-42 opened at `when`, on the default
    calendar: 8 business hours from the next opening, or 2 hours round the clock when urgent."""
    if urgency == "normal":
        counts_from, due, clock_type = CALENDAR.next_opening(when), CALENDAR.add(when, timedelta(hours=8)), "business"
    else:
        counts_from, due, clock_type = when, when + timedelta(hours=2), "24x7"
    return {"ticket_id": "t42", "number": "SOP-42", "clock": "first_response", "clock_type": clock_type,
            "started_at": when.isoformat(), "counts_from": counts_from.isoformat(), "due_at": due.isoformat(),
            "policy_version": 1, "calendar_version": 1,
            "office_hours": [[day, f"{start:%H:%M}", f"{end:%H:%M}"] for day, start, end in CALENDAR.weekly]}


def received(when: datetime, urgency: str = "normal", language: str = "es", view: TicketView | None = None) -> Mail:
    """The ticket_received mail, planned when the SLA service's deadline for SOP-42 arrives."""
    view = replace(view or ticket(language, urgency=urgency), opened_at=when)
    event = new_event("DeadlineSet", "sla-t42", 1, deadline_for(when, urgency), actor=SYSTEM, occurred_at=when)
    return only(mails_for(event, view))


def mails_for(event, view: TicketView | None = None) -> list[Mail]:
    """plan() with the module's users, desks, calendar and links."""
    return plan(event, view, USERS, DESKS, CALENDAR, LINKS)


def only(mails: list[Mail]) -> Mail:
    """The one mail of a plan."""
    assert len(mails) == 1, [m.template for m in mails]
    return mails[0]


def by_template(mails: list[Mail]) -> dict[str, Mail]:
    """A plan's mails keyed by template."""
    return {m.template: m for m in mails}


# --- TicketOpened ------------------------------------------------------------------------

def test_the_sla_deadline_sends_ticket_received_to_the_contact_in_spanish():
    mail = received(at(2026, 11, 25, 10))
    assert mail.template == "ticket_received"
    assert mail.recipient == Recipient("maria@clubcaracas.ve", "María Pérez", "es", "u-maria")
    assert (mail.ticket_id, mail.reply_ticket) == ("t42", "SOP-42")
    assert mail.context["number"] == "SOP-42"
    assert mail.context["subject"] == "BANCOS, Factura mal cargada"
    assert mail.context["office_hours"] == "lunes a viernes, de 09:00 a 17:00"


def test_ticket_filed_within_hours_has_no_clock_starts_at():
    mail = received(at(2026, 11, 25, 10))
    assert mail.context["out_of_hours"] is False
    assert "clock_starts_at" not in mail.context


def test_ticket_filed_on_saturday_starts_its_clock_monday_0900_caracas():
    mail = received(at(2026, 11, 28, 10))
    assert mail.context["out_of_hours"] is True
    assert mail.context["clock_starts_at"] == {
        "iso": "2026-11-30T13:00:00+00:00", "local": "lunes 30 de noviembre, 09:00",
        "zone": "Caracas"}


def test_an_english_speaking_customer_gets_english():
    mail = received(at(2026, 11, 28, 10), language="en")
    assert mail.recipient.language == "en"
    assert mail.context["clock_starts_at"]["local"] == "Monday 30 November, 09:00"
    assert mail.context["office_hours"] == "Monday to Friday, 09:00–17:00"
    rendered = RENDERER.render(mail)
    assert rendered.subject == "[SOP-42] We received your ticket: BANCOS, Factura mal cargada"
    assert "Monday 30 November, 09:00" in rendered.text
    assert "within one business day" in rendered.text
    assert "Recibimos" not in rendered.text


def test_an_urgent_ticket_announces_two_hours_24x7_and_billing_instead_of_the_business_day():
    mail = received(at(2026, 11, 28, 10), urgency="platform_down")
    assert mail.context["urgent"] is True
    assert "clock_starts_at" not in mail.context  # urgent tickets run 24x7
    text = RENDERER.render(mail).text
    assert "2 horas" in text and "24×7" in text and "facturarse" in text
    assert "toda la plataforma está detenida" in text
    assert "un día hábil. Nuestro horario" not in text


def test_a_ticket_event_without_a_ticket_view_plans_nothing():
    for event in (opened(at(2026, 11, 25, 10)), message(AGENT), overdue(), warning(),
                  closed("closed_by_agent")):
        assert mails_for(event, None) == []


def test_a_ticket_view_can_be_built_from_ticket_opened():
    view = ticket_view_from_opened(opened(at(2026, 11, 25, 10), language="en"))
    assert (view.number, view.language, view.opened_by, view.assigned_to) == (
        "SOP-42", "en", "u-john", None)
    assert view.opened_at == at(2026, 11, 25, 10)


# --- MessagePosted -----------------------------------------------------------------------

def test_an_internal_note_produces_no_mail_at_all():
    assert mails_for(message(AGENT, internal=True), ticket(assigned_to="u-carlos")) == []
    assert mails_for(message(SUPERVISOR, internal=True), ticket()) == []


def test_an_agents_public_answer_goes_to_the_customer_with_solved_and_not_solved_links():
    mail = only(mails_for(message(AGENT), ticket(assigned_to="u-carlos")))
    assert mail.template == "agent_answered"
    assert mail.recipient.email == "maria@clubcaracas.ve"
    assert mail.reply_ticket == "SOP-42"
    assert mail.context["agent_name"] == "Carlos Rodríguez"
    assert mail.context["solved_url"] == "https://mesa.example.ve/r/SOP-42/u-maria/solved"
    assert mail.context["not_solved_url"] == "https://mesa.example.ve/r/SOP-42/u-maria/not_solved"
    assert mail.context["attachments"] == [{"name": "reporte.pdf", "size": 2048}]


def test_a_supervisors_public_answer_is_an_agent_answer_too():
    mail = only(mails_for(message(SUPERVISOR), ticket()))
    assert mail.template == "agent_answered"
    assert mail.context["agent_name"] == "Ana Gómez"


def test_an_answer_by_an_unknown_agent_has_no_name():
    mail = only(mails_for(message(Actor("u-ghost", "agent")), ticket()))
    assert mail.context["agent_name"] is None
    assert "Nuestro equipo respondió" in RENDERER.render(mail).text


def test_a_customer_message_goes_to_the_assigned_agent_in_his_language():
    mail = only(mails_for(message(CUSTOMER, body="Sigue igual."), ticket(assigned_to="u-kate")))
    assert mail.template == "customer_answered"
    assert mail.recipient == USERS["u-kate"]
    assert mail.reply_ticket is None
    assert mail.context["body"] == "Sigue igual."
    assert mail.context["author_name"] == "María Pérez"
    assert mail.context["ticket_url"] == "https://mesa.example.ve/tickets/SOP-42"


def test_a_customer_message_on_an_unassigned_ticket_goes_to_the_desk_queue():
    mail = only(mails_for(message(CUSTOMER), ticket()))
    assert mail.recipient == Recipient("cola-soporte@vendor.ve", "SOPORTE", "es")
    assert mail.context["assigned"] is False
    assert mail.reply_ticket is None


def test_a_system_message_produces_no_mail():
    assert mails_for(message(SYSTEM), ticket()) == []


# --- SLA events --------------------------------------------------------------------------

def test_response_overdue_apologises_to_the_customer_and_alerts_the_supervisor():
    mails = by_template(mails_for(overdue(), ticket(assigned_to="u-carlos")))
    assert set(mails) == {"response_overdue_customer", "response_overdue_supervisor"}
    customer, supervisor = mails["response_overdue_customer"], mails["response_overdue_supervisor"]
    assert customer.recipient.email == "maria@clubcaracas.ve"
    assert customer.context["phones"] == ["+58 212 555 0100", "+58 414 555 0199"]
    assert supervisor.recipient == Recipient("supervision@vendor.ve", "SOPORTE", "es")
    assert supervisor.reply_ticket is None
    assert supervisor.context["clock"] == "first_response"
    assert supervisor.context["due_at"]["local"] == "jueves 26 de noviembre, 10:00"
    assert supervisor.context["late"] == {"minutes": 150, "text": "2 horas y 30 minutos"}
    assert supervisor.context["assigned_name"] == "Carlos Rodríguez"


def test_response_overdue_on_a_closed_ticket_is_a_stale_timer_and_sends_nothing():
    assert mails_for(overdue(), ticket(status="closed")) == []


def test_auto_close_warning_tells_the_customer_when_the_ticket_closes():
    mail = only(mails_for(warning(), ticket(status="waiting_customer")))
    assert mail.template == "auto_close_warning"
    assert mail.reply_ticket == "SOP-42"
    assert mail.context["closes_at"] == {"iso": "2026-12-01T15:00:00+00:00",
                                         "local": "martes 1 de diciembre, 11:00", "zone": "Caracas"}


# --- TicketClosed ------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["solved_by_customer", "auto_closed", "closed_by_agent",
                                    "needs_training"])
def test_ticket_closed_tells_the_customer_why_and_accepts_no_reply(reason):
    mail = only(mails_for(closed(reason), ticket()))
    assert mail.template == "ticket_closed"
    assert mail.reply_ticket is None
    assert mail.context["reason"] == reason
    assert mail.context["new_ticket_url"] == "https://mesa.example.ve/tickets/new?previous=SOP-42"
    assert mail.context["course_url"] == (
        "https://mesa.example.ve/cursos" if reason == "needs_training" else None)


# --- accounts ----------------------------------------------------------------------------

def test_access_requested_goes_to_the_desk_staff_and_to_the_requester():
    mails = by_template(mails_for(access_requested()))
    assert set(mails) == {"access_requested_staff", "access_requested_requester"}
    assert mails["access_requested_staff"].recipient.email == "soporte@vendor.ve"
    assert mails["access_requested_requester"].recipient == Recipient(
        "pedro@clubcaracas.ve", "Pedro Díaz", "es")
    assert all(m.ticket_id is None and m.reply_ticket is None for m in mails.values())


def test_the_requester_mail_carries_no_free_text_of_the_requester_but_a_bounded_name():
    """Anyone can file a request naming any address: the mail to it must not carry their text
    (issue 7 item 7), or Mesa would deliver a stranger's spam or phishing under its own name."""
    event = access_requested()
    event = replace(event, data={**event.data,
                                 "name": "Pedro <b>Díaz</b> visite https://premio.example/cobrar " + "x" * 300,
                                 "organisation_name": "Gane un premio en https://premio.example",
                                 "note": "Escriba su clave bancaria aquí"})
    mail = by_template(mails_for(event))["access_requested_requester"]
    assert set(mail.context) == {"name", "desk"}
    assert len(mail.recipient.name) <= 60 and mail.recipient.name == mail.context["name"]
    assert mail.recipient.name.startswith("Pedro bDíazb visite https")
    assert ":" not in mail.recipient.name and "/" not in mail.recipient.name and "." not in mail.recipient.name
    rendered = RENDERER.render(mail)
    for text in (rendered.subject, rendered.text, rendered.html):
        assert "premio.example" not in text and "clave bancaria" not in text and "<b>" not in text


def test_access_granted_welcomes_the_known_user_and_skips_an_unknown_one():
    mail = only(mails_for(access_granted("u-john")))
    assert (mail.template, mail.recipient) == ("access_granted", USERS["u-john"])
    assert mails_for(access_granted("u-nobody")) == []


def test_access_rejected_tells_the_requester_why_in_spanish_and_names_no_one_else():
    mail = only(mails_for(access_rejected(email="pedro@clubcaracas.ve", name="Pedro Díaz", desk="SOPORTE")))
    assert mail.template == "access_rejected"
    assert (mail.recipient.email, mail.recipient.name, mail.recipient.language) == (
        "pedro@clubcaracas.ve", "Pedro Díaz", "es")
    rendered = RENDERER.render(mail)
    assert "El club no tiene contrato vigente." in rendered.text
    assert "El club no tiene contrato vigente." in rendered.html
    assert "SOPORTE" in rendered.subject + rendered.text


def test_an_access_rejected_event_from_before_it_carried_the_address_mails_no_one():
    assert mails_for(access_rejected()) == []


def test_training_requested_goes_to_soporte_staff_and_to_the_requester():
    mails = by_template(mails_for(training_requested()))
    assert mails["training_requested_staff"].recipient.email == "soporte@vendor.ve"
    assert mails["training_requested_requester"].recipient == USERS["u-maria"]
    assert mails["training_requested_staff"].context["modules"] == ["NOMINA", "SOCIOS"]


def test_training_requested_by_an_unknown_user_still_reaches_the_staff():
    mails = mails_for(training_requested("u-nobody"))
    assert [m.template for m in mails] == ["training_requested_staff"]


def test_special_process_goes_to_soporte_staff_and_to_the_announcer_with_the_year_when_it_changes():
    mails = by_template(mails_for(special_process("u-john")))
    assert mails["special_process_staff"].recipient.email == "soporte@vendor.ve"
    requester = mails["special_process_requester"]
    assert requester.recipient == USERS["u-john"]
    assert requester.context["starts_at"]["local"] == "Monday 4 January 2027, 08:00"
    assert mails["special_process_staff"].context["ends_at"]["local"] == (
        "viernes 8 de enero de 2027, 18:00")


def test_other_events_produce_no_mail():
    assigned = new_event("TicketAssigned", "t42", 3, {"agent_id": "u-carlos", "assigned_by": "u-ana"},
                         actor=SUPERVISOR, occurred_at=at(2026, 11, 25, 10))
    assert mails_for(assigned, ticket()) == []


# --- formatting ----------------------------------------------------------------------------

def test_durations_read_naturally_in_both_languages():
    assert format_duration(timedelta(minutes=1), "es") == "1 minuto"
    assert format_duration(timedelta(minutes=45), "en") == "45 minutes"
    assert format_duration(timedelta(hours=1), "es") == "1 hora"
    assert format_duration(timedelta(hours=2, minutes=5), "en") == "2 hours 5 minutes"
    assert format_duration(timedelta(days=1, hours=3, minutes=59), "es") == "1 día y 3 horas"
    assert format_duration(timedelta(minutes=-5), "es") == "menos de un minuto"


def test_office_hours_group_days_with_the_same_hours():
    assert format_office_hours(CALENDAR, "es") == "lunes a viernes, de 09:00 a 17:00"
    assert format_office_hours(CALENDAR, "en") == "Monday to Friday, 09:00–17:00"


# --- rendering -----------------------------------------------------------------------------

def realistic_mails(language: str) -> list[Mail]:
    """One planned mail of every template, customers and staff speaking `language`."""
    view = ticket(language, assigned_to="u-carlos")
    events = [opened(at(2026, 11, 28, 10), language=language), message(AGENT), message(CUSTOMER),
              overdue(), warning(), closed("needs_training"), access_requested(),
              access_granted(view.opened_by), training_requested(view.opened_by),
              special_process(view.opened_by), delivery_parked(),
              access_rejected(email="pedro@clubcaracas.ve", name="Pedro Díaz", desk="SOPORTE"),
              merged_away()]
    mails = [m for e in events for m in mails_for(e, view)] + [received(at(2026, 11, 28, 10), language=language)]
    mails += [m for m in mails_for(opened(at(2026, 11, 28, 10), urgency="platform_down", language=language),
                                   replace(view, urgency="platform_down")) if m.template == "ticket_urgent_oncall"]
    # Staff mails go out in Spanish; render them in `language` too, as an agent might read them.
    return [replace(m, recipient=replace(m.recipient, language=language)) for m in mails]


def reply_to_closed(language: str) -> Mail:
    """The mail notifier.replies sends when an e-mail reply lands on a closed ticket."""
    recipient = USERS["u-john" if language == "en" else "u-maria"]
    return Mail("reply_to_closed", recipient, {
        "number": "SOP-42", "customer_name": recipient.name,
        "new_ticket_url": "https://mesa.example.ve/tickets/new?previous_ticket=SOP-42"}, None, None)


def test_a_parked_delivery_is_mailed_to_the_supervisor_with_where_the_row_waits():
    mail = only(mails_for(delivery_parked()))
    assert mail.template == "delivery_parked" and mail.recipient.email == DESKS["SOPORTE"].supervisor_address
    assert mail.recipient.language == "es"  # operations read Spanish; the event names no reader
    rendered = RENDERER.render(mail)
    for fact in ("mesa_intake", "helpdesk.tickets", "ticket-1", "MessageSizeTooLargeError", "outbox_dead_letters"):
        assert fact in rendered.text and fact in rendered.html


def test_the_packaged_templates_are_the_planned_ones_plus_the_inbound_ones():
    assert RENDERER.templates() == sorted(TEMPLATES)
    assert {m.template for m in realistic_mails("es")} == set(TEMPLATES) - set(INBOUND_TEMPLATES)


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_template_renders_in_both_languages_with_the_key_facts(language):
    for mail in realistic_mails(language) + [reply_to_closed(language)]:
        rendered = RENDERER.render(mail)
        assert "\n" not in rendered.subject and rendered.subject.strip() == rendered.subject
        assert rendered.text.strip() and rendered.html.lstrip().startswith("<!DOCTYPE html>")
        assert f'<html lang="{language}">' in rendered.html
        assert "None" not in rendered.text, (mail.template, rendered.text)
        if "number" in mail.context:
            assert rendered.subject.startswith("[SOP-42] ")
            assert "SOP-42" in rendered.text
        if "ticket_url" in mail.context:
            assert mail.context["ticket_url"] in rendered.text
            assert mail.context["ticket_url"] in rendered.html
        for key in ("closes_at", "due_at", "clock_starts_at", "starts_at", "ends_at"):
            if key in mail.context:
                assert mail.context[key]["local"] in rendered.text, (mail.template, key)
        for key in ("solved_url", "not_solved_url", "new_ticket_url", "course_url"):
            if mail.context.get(key):
                assert mail.context[key] in rendered.text, (mail.template, key)
                assert mail.context[key] in rendered.html, (mail.template, key)
        for phone in mail.context.get("phones", []):
            assert phone in rendered.text and phone in rendered.html


def test_rendered_texts_carry_the_facts_of_each_mail():
    rendered = {m.template: RENDERER.render(m) for m in realistic_mails("es")}
    assert rendered["ticket_received"].subject == (
        "[SOP-42] Recibimos su ticket: BANCOS, Factura mal cargada")
    assert "lunes 30 de noviembre, 09:00" in rendered["ticket_received"].text
    assert "lunes a viernes, de 09:00 a 17:00" in rendered["ticket_received"].text
    assert "Carlos Rodríguez respondió" in rendered["agent_answered"].text
    assert "se haya resuelto o no" in rendered["agent_answered"].text
    assert "+58 212 555 0100" in rendered["response_overdue_customer"].text
    assert "disculpas" in rendered["response_overdue_customer"].text
    assert "Retraso: 2 horas y 30 minutos" in rendered["response_overdue_supervisor"].text
    assert "martes 1 de diciembre, 11:00" in rendered["auto_close_warning"].text
    closed_text = rendered["ticket_closed"].text
    assert "curso de inducción" in closed_text and "no se vuelve a abrir" in closed_text
    assert rendered["ticket_closed"].subject.startswith("[SOP-42] Ticket cerrado")
    assert "Club Caracas" in rendered["access_requested_staff"].text
    assert "NOMINA, SOCIOS" in rendered["training_requested_staff"].text
    assert "5 participantes" in rendered["training_requested_requester"].text
    assert "carnetización" in rendered["special_process_requester"].text


@pytest.mark.parametrize("reason, words", [
    ("solved_by_customer", "quedó resuelto"),
    ("auto_closed", "dos días hábiles"),
    ("closed_by_agent", "dio el caso por terminado"),
    ("needs_training", "curso de inducción"),
])
def test_the_closed_mail_explains_each_reason(reason, words):
    rendered = RENDERER.render(only(mails_for(closed(reason), ticket())))
    assert words in rendered.text
    assert ("https://mesa.example.ve/cursos" in rendered.text) == (reason == "needs_training")


def test_the_html_escapes_a_script_in_a_message_body_and_the_text_keeps_it():
    mail = only(mails_for(message(AGENT, body="Pruebe esto: <script>alert('x')</script> & listo"),
                          ticket()))
    rendered = RENDERER.render(mail)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; listo" in rendered.html
    assert "<script>alert('x')</script> & listo" in rendered.text


def test_a_reply_to_a_closed_ticket_says_so_and_offers_a_new_ticket_quoting_it():
    subject, text, html = RENDERER.render(reply_to_closed("es"))
    assert subject == "[SOP-42] Su mensaje no se agregó: el ticket está cerrado"
    assert "no se vuelve a abrir" in text
    assert "https://mesa.example.ve/tickets/new?previous_ticket=SOP-42" in text


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_answer_to_a_stranger_replying_names_no_ticket_and_speaks_both_languages(language):
    mail = Mail("reply_sender_refused", Recipient("intruso@otro.example", "", language),
                {"portal_url": "https://mesa.example.ve"}, None, None)
    subject, text, html = RENDERER.render(mail)
    assert "no se agregó" in subject and "not added" in subject
    assert "no se agregó" in text and "not added" in text and "https://mesa.example.ve" in text
    assert "SOP-" not in subject + text + html and "None" not in text


def test_a_subject_with_line_breaks_renders_on_one_line():
    view = replace(ticket(), subject="BANCOS, Factura\nmal   cargada")
    mail = received(at(2026, 11, 25, 10), view=view)
    assert RENDERER.render(mail).subject == "[SOP-42] Recibimos su ticket: BANCOS, Factura mal cargada"


def test_a_language_without_templates_falls_back_to_spanish():
    mail = only(mails_for(warning(), ticket()))
    rendered = RENDERER.render(replace(mail, recipient=replace(mail.recipient, language="pt")))
    assert "Esperamos su respuesta" in rendered.subject
    assert '<html lang="es">' in rendered.html


def test_an_override_directory_wins_and_the_packaged_templates_fill_the_rest(tmp_path):
    (tmp_path / "ticket_received.es.subject.txt").write_text("Ticket recibido: {{ subject }}\n")
    renderer = Renderer([tmp_path, TEMPLATES_DIR])
    mail = received(at(2026, 11, 25, 10))
    rendered = renderer.render(mail)
    assert rendered.subject == "[SOP-42] Ticket recibido: BANCOS, Factura mal cargada"
    assert "Recibimos su ticket SOP-42" in rendered.text


def test_a_missing_value_fails_loudly():
    mail = only(mails_for(warning(), ticket()))
    context = {k: v for k, v in mail.context.items() if k != "closes_at"}
    with pytest.raises(UndefinedError):
        RENDERER.render(replace(mail, context=context))


def test_the_ticket_read_model_takes_what_its_opened_event_says():
    view = ticket_view_from_opened(opened(at(2026, 11, 27, 10), urgency="announced_special_process", language="en",
                                          out_of_hours_requested=True, previous_ticket="SOP-41",
                                          month_end_warning=True))
    assert (view.number, view.status, view.assigned_to, view.opened_at) == ("SOP-42", "open", None,
                                                                           at(2026, 11, 27, 10))
    assert (view.language, view.urgency, view.out_of_hours_requested, view.previous_ticket,
            view.month_end_warning) == ("en", "announced_special_process", True, "SOP-41", True)


def test_an_opened_event_that_names_no_language_or_urgency_reads_as_spanish_and_normal():
    event = opened(at(2026, 11, 27, 10))
    del event.data["language"], event.data["urgency"]
    view = ticket_view_from_opened(event)
    assert (view.language, view.urgency, view.out_of_hours_requested, view.previous_ticket,
            view.month_end_warning) == ("es", "normal", False, None, False)


# --- issue 12: a duplicate merged into the open ticket of its case ---------------------------

@pytest.mark.parametrize("language, words", [("es", "Continúe en el ticket SOP-41"),
                                             ("en", "Continue in ticket SOP-41")])
def test_a_merged_duplicate_gets_one_mail_saying_where_to_continue_and_no_closing_mail(language, words):
    mail = only(mails_for(merged_away(), ticket(language)))
    assert mail.template == "ticket_merged"  # not ticket_closed as well: one mail
    assert mail.recipient.email == ticket(language).contact["email"]
    assert mail.context["merged_into"] == "SOP-41"
    assert mail.context["merged_into_url"] == "https://mesa.example.ve/tickets/SOP-41"
    assert mail.reply_ticket == "SOP-41"  # a reply continues where the case goes on
    rendered = RENDERER.render(mail)
    assert rendered.subject.startswith("[SOP-42] ") and "SOP-41" in rendered.subject
    assert words in rendered.text
    assert "https://mesa.example.ve/tickets/SOP-41" in rendered.text
    assert "https://mesa.example.ve/tickets/SOP-41" in rendered.html


def test_a_ticket_closed_as_needs_training_mails_the_course_with_its_modules_articles_in_both_languages():
    links = replace(LINKS, articles_url=lambda desk, module: f"https://mesa.example.ve/articles?desk={desk}"
                                                                         f"&module={module}")
    banks = replace(ticket(), module="BANCOS")
    url = "https://mesa.example.ve/articles?desk=SOPORTE&amp;module=BANCOS"
    for language, words in (("es", "los artículos de nuestra base de conocimiento"),
                            ("en", "the articles of our knowledge base")):
        mail = only(plan(closed("needs_training"), replace(banks, language=language), USERS, DESKS,
                         CALENDAR, links))
        assert mail.context["articles_url"] == "https://mesa.example.ve/articles?desk=SOPORTE&module=BANCOS"
        rendered = RENDERER.render(mail)
        assert words in rendered.text and "https://mesa.example.ve/articles?desk=SOPORTE&module=BANCOS" in rendered.text
        assert url in rendered.html
    # Another reason, or a ticket known from before its module was kept: the course alone, or nothing.
    assert only(plan(closed("closed_by_agent"), banks, USERS, DESKS, CALENDAR, links)).context["articles_url"] is None
    assert only(plan(closed("needs_training"), ticket(), USERS, DESKS, CALENDAR, links)).context["articles_url"] is None


def test_a_template_file_is_read_once_and_not_looked_at_again_for_each_mail(tmp_path, monkeypatch):
    # Issue 11: checking every file's mtime at every render (Jinja's auto_reload) was ~9 % of the
    # notifier consumer. Files are deployment; a supervisor's live edits are texts in the database.
    (tmp_path / "ticket_received.es.subject.txt").write_text("Ticket recibido: {{ subject }}\n")
    renderer = Renderer([tmp_path, TEMPLATES_DIR])
    mail = received(at(2026, 11, 25, 10))
    first = renderer.render(mail)
    looked = []
    real_getmtime = os.path.getmtime
    monkeypatch.setattr(os.path, "getmtime", lambda path: looked.append(path) or real_getmtime(path))
    (tmp_path / "ticket_received.es.subject.txt").write_text("Otro asunto: {{ subject }}\n")
    assert renderer.render(mail) == first
    assert looked == []
    assert Renderer([tmp_path, TEMPLATES_DIR]).render(mail).subject == "[SOP-42] Otro asunto: BANCOS, Factura mal cargada"
