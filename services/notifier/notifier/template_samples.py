"""Sample mails of every template, planned from sample events by `messages.plan` itself (pure).

A supervisor's text for a template is checked by rendering it with these contexts, and the
portal's preview shows it rendered with the first one: the contexts are the planners' own, so
they name exactly the placeholders real mails have. Where a template says different things in
different cases (why a ticket closed, an away customer), each case has its sample.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.catalog import DESK_NAMES
from helpdesk_shared.envelope import SYSTEM, Actor, new_event

from .messages import LANGUAGES, TEMPLATES, DeskContacts, Links, Mail, Recipient, TicketView, plan

_CARACAS = timezone(timedelta(hours=-4))
BASE = "https://mesa.example"
# The sample links: a text is checked to keep each one its default text carries.
LINKS = Links(ticket_url=lambda n: f"{BASE}/tickets/{n}",
              resolution_url=lambda n, u, a: f"{BASE}/resolve/EJEMPLO-{a}" + ("" if a == "solved" else
                                                                              "?answer=not_solved"),
              new_ticket_url=lambda n: f"{BASE}/tickets/new?previous_ticket={n}",
              course_url=f"{BASE}/training", portal_url=BASE,
              set_password_url=lambda u: f"{BASE}/set-password/EJEMPLO",
              rating_url=lambda n, u, r: f"{BASE}/rate/EJEMPLO?rating={r}",
              articles_url=lambda d, m: f"{BASE}/articles?desk={d}&module={m}")
_USERS = {
    "u-cliente-es": Recipient("maria@club.example", "María Pérez", "es", "u-cliente-es"),
    "u-cliente-en": Recipient("john@club.example", "John Smith", "en", "u-cliente-en"),
    "u-agente": Recipient("carlos@mesa.example", "Carlos Rodríguez", "es", "u-agente"),
}
_DESKS = {d: DeskContacts(f"cola-{d.lower()}@mesa.example", "equipo@mesa.example", "supervision@mesa.example",
                          ("+58 212 555 0100",), f"guardia-{d.lower()}@mesa.example")
          for d in DESK_NAMES}
_AGENT = Actor("u-agente", "agent")


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=_CARACAS)


@lru_cache(maxsize=1)
def _calendar():
    return venezuela_default(range(2026, 2028))


def _view(language: str, **changes) -> TicketView:
    opener = f"u-cliente-{language}"
    user = _USERS[opener]
    return replace(TicketView(ticket_id="t-ejemplo", number="SOP-42", desk="SOPORTE",
                              subject="BANCOS, Factura mal cargada", organisation_id="club-ejemplo",
                              opened_by=opener, contact={"name": user.name, "email": user.email,
                                                         "phone": "+58 412 555 0123"},
                              language=language, assigned_to="u-agente", status="open",
                              opened_at=_at(2026, 11, 25, 10), module="BANCOS"), **changes)


def _deadline(when: datetime, counts_from: datetime) -> dict:
    return {"ticket_id": "t-ejemplo", "number": "SOP-42", "clock": "first_response", "clock_type": "business",
            "started_at": when.isoformat(), "counts_from": counts_from.isoformat(),
            "due_at": (counts_from + timedelta(hours=8)).isoformat(), "policy_version": 1, "calendar_version": 1,
            "office_hours": [[d, "09:00", "17:00"] for d in range(5)]}


def _events(language: str, view: TicketView) -> list:
    opener = view.opened_by
    attachment = {"sha256": "a" * 64, "name": "reporte.pdf", "size": 2048, "content_type": "application/pdf"}
    opened = {"ticket_id": "t-ejemplo", "number": "SOP-42", "desk": "SOPORTE", "organisation_id": "club-ejemplo",
              "opened_by": opener, "module": "BANCOS", "case": "Factura mal cargada",
              "subject": "BANCOS, Factura mal cargada", "description": "El comprobante 1234 quedó duplicado.",
              "urgency": "platform_down", "contact": view.contact, "language": language,
              "attachments": [attachment]}
    customer = Actor(opener, "customer")
    return [
        new_event("TicketOpened", "t-ejemplo", 1, opened, actor=customer, occurred_at=_at(2026, 11, 25, 10)),
        new_event("DeadlineSet", "sla-t-ejemplo", 1, _deadline(_at(2026, 11, 25, 10), _at(2026, 11, 25, 10)),
                  actor=SYSTEM, occurred_at=_at(2026, 11, 25, 10)),
        # Filed on a Saturday: the clock starts at Monday's opening, which the mail says.
        new_event("DeadlineSet", "sla-t-ejemplo", 1, _deadline(_at(2026, 11, 28, 10), _at(2026, 11, 30, 9)),
                  actor=SYSTEM, occurred_at=_at(2026, 11, 28, 10)),
        new_event("MessagePosted", "t-ejemplo", 2, {
            "message_id": "m-1", "author_id": "u-agente", "author_role": "agent", "internal": False,
            "body": "Ya corregimos el comprobante; por favor revise el reporte.", "attachments": [attachment]},
            actor=_AGENT, occurred_at=_at(2026, 11, 25, 11)),
        new_event("MessagePosted", "t-ejemplo", 3, {
            "message_id": "m-2", "author_id": opener, "author_role": "customer", "internal": False,
            "body": "Sigue saliendo duplicado.", "attachments": []}, actor=customer, occurred_at=_at(2026, 11, 25, 12)),
        new_event("ResolutionConfirmed", "t-ejemplo", 4, {"solved": False, "body": "Falta el comprobante 1235."},
                  actor=customer, occurred_at=_at(2026, 11, 25, 13)),
        new_event("ResponseOverdue", "sla-t-ejemplo", 2, {
            "ticket_id": "t-ejemplo", "number": "SOP-42", "clock": "first_response",
            "due_at": _at(2026, 11, 26, 10).isoformat(), "policy_version": 1},
            actor=SYSTEM, occurred_at=_at(2026, 11, 26, 12, 30)),
        *[new_event("AutoCloseWarning", "sla-t-ejemplo", 3, {
            "ticket_id": "t-ejemplo", "number": "SOP-42", "closes_at": _at(2026, 12, 1, 11).isoformat(),
            "based_on_version": 2, **away}, actor=SYSTEM, occurred_at=_at(2026, 11, 26, 11))
          for away in ({}, {"away_until": _at(2026, 11, 27, 9).isoformat()})],
        *[new_event("TicketClosed", "t-ejemplo", 5, {"reason": reason}, actor=_AGENT,
                    occurred_at=_at(2026, 12, 1, 11))
          for reason in ("solved_by_customer", "auto_closed", "closed_by_agent", "needs_training")],
        new_event("TicketClosed", "t-ejemplo", 5, {"reason": "merged", "merged_into": "SOP-41",
                                                   "merged_into_ticket_id": "t-ejemplo-41"}, actor=_AGENT,
                  occurred_at=_at(2026, 12, 1, 11)),
        new_event("AccessRequested", "access-r1", 1, {
            "request_id": "r1", "name": "Pedro Díaz", "email": "pedro@club.example", "phone": "+58 412 555 0777",
            "organisation_name": "Club Ejemplo", "desk": "SOPORTE", "note": "Soy el nuevo contador."},
            actor=SYSTEM, occurred_at=_at(2026, 11, 25, 9, 30)),
        new_event("AccessGranted", "access-r1", 2, {"request_id": "r1", "user_id": opener, "granted_by": "u-agente"},
                  actor=_AGENT, occurred_at=_at(2026, 11, 25, 10)),
        new_event("AccessRejected", "access-r2", 2, {
            "request_id": "r2", "rejected_by": "u-agente", "reason": "El club no tiene contrato vigente.",
            "email": "pedro@club.example", "name": "Pedro Díaz", "desk": "SOPORTE"},
            actor=_AGENT, occurred_at=_at(2026, 11, 25, 10)),
        new_event("TrainingRequested", "org-club-ejemplo", 3, {
            "organisation_id": "club-ejemplo", "requested_by": opener, "modules": ["NOMINA", "SOCIOS"],
            "participants": 5, "note": "Personal nuevo en nómina."}, actor=customer, occurred_at=_at(2026, 11, 25, 10)),
        new_event("SpecialProcessAnnounced", "org-club-ejemplo", 4, {
            "announcement_id": "sp1", "organisation_id": "club-ejemplo", "kind": "carnetizacion",
            "description": "Carnetización anual de socios.", "starts_at": _at(2027, 1, 4, 8).isoformat(),
            "ends_at": _at(2027, 1, 8, 18).isoformat(), "announced_by": opener},
            actor=customer, occurred_at=_at(2026, 11, 25, 10)),
        new_event("DeliveryParked", "parked-mesa_intake", 17, {
            "source": "mesa_intake", "outbox_id": 17, "event_id": "5b0c0c1e-2f1d-4d6e-9a51-0c6f1f3b8a11",
            "topic": "helpdesk.tickets", "key": "t-ejemplo", "size": 1_300_000,
            "error": "MessageSizeTooLargeError"}, actor=Actor("mesa_intake-relay", "system"),
            occurred_at=_at(2026, 11, 25, 9, 30)),
    ]


@lru_cache(maxsize=None)
def _all(language: str) -> dict[str, tuple[Mail, ...]]:
    view = _view(language)
    found: dict[str, list[Mail]] = {}
    for event in _events(language, view):
        # The ticket is opened urgent (so the on-call mail has its sample); the rest is a normal case.
        seen = replace(view, urgency="platform_down") if event.type == "TicketOpened" else view
        for mail in plan(event, seen, _USERS, _DESKS, _calendar(), LINKS):
            found.setdefault(mail.template, []).append(mail)
    # notifier.replies' two mails (not planned from events), with the contexts it builds.
    customer = _USERS[view.opened_by]
    found["reply_to_closed"] = [Mail("reply_to_closed", customer, {
        "number": "SOP-42", "customer_name": customer.name, "new_ticket_url": LINKS.new_ticket_url("SOP-42")},
        None, None)]
    found["reply_sender_refused"] = [Mail("reply_sender_refused", Recipient("otro@otro.example", "", language),
                                          {"portal_url": LINKS.portal_url}, None, None)]
    return {name: tuple(replace(m, recipient=replace(m.recipient, language=language)) for m in mails)
            for name, mails in found.items()}


def samples(template: str, language: str) -> tuple[Mail, ...]:
    """The sample mails of `template` in `language` (the first is the preview's); () when unknown."""
    if template not in TEMPLATES or language not in LANGUAGES:
        return ()
    return _all(language).get(template, ())
