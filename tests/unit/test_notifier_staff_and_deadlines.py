"""Issue 7 items 14 and 17 in the notifier's pure planning and in the mailer's wire format:
staff hear of every new ticket (urgent ones at once, on call), a "not solved" answer reaches
them, the received mail quotes the SLA service's deadline, durations never read "0 minutes",
and what we send arrives as written ("From " lines, subjects)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from helpdesk_shared.envelope import SYSTEM, new_event
from notifier.mailer import Outgoing, mime_bytes
from notifier.messages import TEMPLATES, format_duration

from test_notifier_messages import CUSTOMER, RENDERER, at, by_template, mails_for, opened, overdue, ticket

# What the SLA service said when SOP-42 opened on Wednesday 25 November 2026 10:00: the desk
# closed on Thursday 26 (a closure day the default calendar does not know), so the first
# response is due Friday 27 November 10:00, not Thursday 10:00.
DEADLINE = {"ticket_id": "t42", "number": "SOP-42", "clock": "first_response", "clock_type": "business",
            "started_at": "2026-11-25T14:00:00+00:00", "counts_from": "2026-11-25T14:00:00+00:00",
            "due_at": "2026-11-27T14:00:00+00:00", "policy_version": 1, "calendar_version": 2,
            "office_hours": [[0, "08:00", "16:00"], [1, "08:00", "16:00"], [2, "08:00", "16:00"],
                             [3, "08:00", "16:00"], [4, "08:00", "16:00"]]}


def deadline_set(**changes):
    """DeadlineSet of SOP-42's first response, as the SLA service publishes it."""
    return new_event("DeadlineSet", "sla-t42", 1, {**DEADLINE, **changes}, actor=SYSTEM,
                     occurred_at=at(2026, 11, 25, 10, 0, 2))


def resolution(solved: bool, body: str | None = "Sigue saliendo la factura duplicada en el reporte."):
    """ResolutionConfirmed on SOP-42 by María."""
    return new_event("ResolutionConfirmed", "t42", 4, {"solved": solved, "body": body}, actor=CUSTOMER,
                     occurred_at=at(2026, 11, 26, 9))


# --- item 14: staff hear of every new ticket ------------------------------------------------

def test_every_new_ticket_reaches_the_desk_queue_at_once():
    mails = by_template(mails_for(opened(at(2026, 11, 25, 10)), ticket()))
    queue = mails["ticket_opened_queue"]
    assert queue.recipient.email == "cola-soporte@vendor.ve"
    assert queue.context["number"] == "SOP-42" and queue.context["organisation_id"] == "club-caracas"
    assert queue.context["contact"]["phone"] == "+58 412 555 0123"
    assert queue.reply_ticket is None  # agents answer in the app
    assert "ticket_urgent_oncall" not in mails


def test_an_urgent_ticket_also_alerts_the_desks_on_call_address_on_a_saturday_night():
    mails = by_template(mails_for(opened(at(2026, 11, 28, 3), urgency="platform_down"),
                                  ticket(urgency="platform_down")))
    alert = mails["ticket_urgent_oncall"]
    assert alert.recipient.email == "guardia-soporte@vendor.ve"
    assert alert.context["urgency"] == "platform_down"
    assert alert.context["opened_at"]["local"] == "sábado 28 de noviembre, 03:00"
    assert "ticket_opened_queue" in mails
    rendered = RENDERER.render(alert)
    assert "URGENTE" in rendered.subject and "toda la plataforma está detenida" in rendered.text
    assert "2 horas" in rendered.text


def test_a_desk_without_an_on_call_address_still_gets_the_urgent_ticket_in_its_queue():
    from test_notifier_messages import DESKS, LINKS, USERS, CALENDAR
    from notifier.messages import plan
    desks = {**DESKS, "SOPORTE": replace(DESKS["SOPORTE"], oncall_address="")}
    mails = by_template(plan(opened(at(2026, 11, 28, 3), urgency="platform_down"),
                             ticket(urgency="platform_down"), USERS, desks, CALENDAR, LINKS))
    assert "ticket_urgent_oncall" not in mails and "ticket_opened_queue" in mails


def test_a_not_solved_answer_reaches_the_assigned_agent_like_a_customer_message():
    mail = by_template(mails_for(resolution(False), ticket(assigned_to="u-carlos")))["customer_answered"]
    assert mail.recipient.email == "carlos@vendor.ve"
    assert mail.context["not_solved"] is True
    assert mail.context["body"] == "Sigue saliendo la factura duplicada en el reporte."
    rendered = RENDERER.render(mail)
    assert "no quedó resuelto" in rendered.text.lower()


def test_a_not_solved_answer_on_an_unassigned_ticket_goes_to_the_queue():
    mail = by_template(mails_for(resolution(False), ticket()))["customer_answered"]
    assert mail.recipient.email == "cola-soporte@vendor.ve"


def test_a_solved_answer_bothers_no_agent():
    assert mails_for(resolution(True, None), ticket(assigned_to="u-carlos")) == []


# --- item 17: the received mail quotes the SLA service's deadline ---------------------------

def test_the_received_mail_waits_for_the_deadline_the_sla_service_computed():
    """TicketOpened alone does not tell the customer a deadline the notifier would have to guess."""
    assert "ticket_received" not in by_template(mails_for(opened(at(2026, 11, 25, 10)), ticket()))


def test_the_received_mail_quotes_the_sla_deadline_with_its_closure_day_and_edited_hours():
    mail = by_template(mails_for(deadline_set(), ticket()))["ticket_received"]
    assert mail.recipient.email == "maria@clubcaracas.ve" and mail.reply_ticket == "SOP-42"
    assert mail.context["due_at"]["local"] == "viernes 27 de noviembre, 10:00"
    assert mail.context["office_hours"] == "lunes a viernes, de 08:00 a 16:00"
    rendered = RENDERER.render(mail)
    assert "viernes 27 de noviembre, 10:00" in rendered.text and "viernes 27 de noviembre, 10:00" in rendered.html


def test_a_deadline_that_counts_from_the_next_opening_says_when_the_clock_starts():
    mail = by_template(mails_for(deadline_set(counts_from="2026-11-30T12:00:00+00:00",
                                              started_at="2026-11-28T14:00:00+00:00",
                                              due_at="2026-11-30T20:00:00+00:00"), ticket()))["ticket_received"]
    assert mail.context["clock_starts_at"]["local"] == "lunes 30 de noviembre, 08:00"
    assert mail.context["out_of_hours"] is True


def test_when_the_deadline_arrived_first_the_ticket_opened_event_sends_the_received_mail():
    """Two topics, no order between them: whichever fact comes second plans the mail."""
    view = replace(ticket(), first_deadline=DEADLINE)
    mails = by_template(mails_for(opened(at(2026, 11, 25, 10)), view))
    assert mails["ticket_received"].context["due_at"]["local"] == "viernes 27 de noviembre, 10:00"
    assert "ticket_opened_queue" in mails


def test_a_deadline_for_an_unknown_ticket_or_a_later_clock_plans_nothing():
    assert mails_for(deadline_set(), None) == []
    assert mails_for(deadline_set(clock="next_response"), ticket()) == []


def test_an_urgent_received_mail_quotes_the_two_hour_deadline():
    mail = by_template(mails_for(deadline_set(clock_type="24x7", due_at="2026-11-25T16:00:00+00:00"),
                                 ticket(urgency="platform_down")))["ticket_received"]
    assert mail.context["due_at"]["local"] == "miércoles 25 de noviembre, 12:00"
    assert "12:00" in RENDERER.render(mail).text


def test_the_month_end_warning_intake_gave_is_in_the_received_mail():
    view = replace(ticket(), month_end_warning=True)
    mail = by_template(mails_for(deadline_set(), view))["ticket_received"]
    assert mail.context["month_end_warning"] is True
    text = RENDERER.render(mail).text
    assert "cheques" in text and "último" in text
    english = RENDERER.render(replace(mail, recipient=replace(mail.recipient, language="en"))).text
    assert "cheques" in english and "last" in english
    plain = by_template(mails_for(deadline_set(), ticket()))["ticket_received"]
    assert "cheques" not in RENDERER.render(plain).text


# --- item 17: durations ----------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [0, 1, 59])
def test_under_a_minute_reads_less_than_a_minute_never_zero_minutes(seconds):
    assert format_duration(timedelta(seconds=seconds), "es") == "menos de un minuto"
    assert format_duration(timedelta(seconds=seconds), "en") == "less than a minute"


def test_an_alert_read_seconds_after_the_deadline_says_less_than_a_minute():
    mails = by_template(mails_for(overdue(when=at(2026, 11, 26, 10, 0, 20)), ticket()))
    subject = RENDERER.render(mails["response_overdue_supervisor"]).subject
    assert "0 minutos" not in subject and "menos de un minuto" in subject


# --- item 17: what leaves is what we wrote ---------------------------------------------------

def _sent(subject: str, text: str):
    # What the sender puts on the wire (Mailer.send).
    raw = mime_bytes(Outgoing("maria@clubcaracas.ve", subject, text, "<p>x</p>", "<a@b>", None, "es"),
                     "Mesa <soporte@mesa.example>")
    return raw, message_from_bytes(raw, policy=policy.default)


def test_a_line_starting_from_is_not_turned_into_gt_from():
    raw, received = _sent("[SOP-42] Respuesta a su ticket: BANCOS, Factura",
                          "From the start:\nFrom ayer el reporte sale vacío.\n")
    assert b">From" not in raw
    assert received.get_body(("plain",)).get_content().splitlines()[:2] == [
        "From the start:", "From ayer el reporte sale vacío."]


@pytest.mark.parametrize("subject", [
    "[SOP-12345] Respuesta vencida hace 2 horas y 5 minutos: FACTURACION, Cuota de mantenimiento cobrada dos "
    "veces a los socios de la sede Valencia — acción 0456 ñandú  más",
    "[SOP-7] Recibimos su ticket: NOMINA, Bono nocturno mal calculado en la quincena de los vigilantes de la sede "
    "del Country Club Valencia — Pérez",
])
def test_a_long_accented_subject_arrives_without_stray_or_lost_spaces(subject):
    raw, received = _sent(subject, "texto")
    assert str(received["Subject"]) == subject
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322's hard limit


def test_the_new_templates_exist_in_both_languages():
    assert {"ticket_opened_queue", "ticket_urgent_oncall"} <= set(TEMPLATES)
    assert {"ticket_opened_queue", "ticket_urgent_oncall"} <= set(RENDERER.templates())


# --- item 18: the warning says the count started at the customer's return -------------------

def test_the_auto_close_warning_says_the_count_started_when_the_customer_came_back():
    event = new_event("AutoCloseWarning", "sla-t42", 2, {
        "ticket_id": "t42", "number": "SOP-42", "closes_at": at(2026, 12, 1, 17), "based_on_version": 3,
        "away_until": at(2026, 11, 30, 9)}, actor=SYSTEM, occurred_at=at(2026, 11, 30, 17))
    mail = by_template(mails_for(event, ticket()))["auto_close_warning"]
    assert mail.context["away_until"]["local"] == "lunes 30 de noviembre, 09:00"
    text = RENDERER.render(mail).text
    assert "ausente hasta el lunes 30 de noviembre, 09:00" in text
    english = RENDERER.render(by_template(mails_for(event, ticket("en")))["auto_close_warning"]).text
    assert "away until Monday 30 November, 09:00" in english


def test_a_warning_without_an_absence_says_nothing_of_it():
    from test_notifier_messages import warning
    mail = by_template(mails_for(warning(), ticket()))["auto_close_warning"]
    assert mail.context["away_until"] is None
    assert "ausente" not in RENDERER.render(mail).text
