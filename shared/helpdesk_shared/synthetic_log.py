"""A synthetic but valid event log for rebuild tests and the rebuild benchmark (pure).

`tickets(n)` yields, per ticket, the messages of a plausible life (opened, assigned, answered,
replied, away, notified, closed...), as (topic, key, JSON document) in stream order, in the
serialised form `schemas.dump_envelope` writes (tests/unit/test_rebuild_parts.py decodes
them all). The documents are built by hand rather than through marshmallow so that a
million of them can be produced in seconds.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

from .topics import ACCOUNTS, NOTIFICATIONS, TICKETS

START = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Caracas
ORGANISATIONS = [("org-club-caracas", "Club Caracas", "J-00000001-0"), ("org-country", "Country Valencia", None),
                 ("org-andina", "Distribuidora Andina", "J-00000003-2")]
MODULES = ["BANCOS", "NOMINA", "CXC", "INVENTARIO", "FACTURACION", "SENIAT"]
AGENTS = ["u-carlos", "u-elena"]


def _doc(type_: str, stream_id: str, version: int, at: datetime, actor: tuple[str, str], data: dict,
         n: int) -> dict:
    event_id = str(uuid.UUID(int=n + 1))  # deterministic, so two runs make the same log
    return {"event_id": event_id, "type": type_, "schema_version": 1, "stream_id": stream_id,
            "stream_version": version, "occurred_at": at.isoformat(), "correlation_id": event_id,
            "causation_id": None, "actor": {"id": actor[0], "role": actor[1]}, "data": data}


def accounts() -> list[tuple[str, str, dict]]:
    """The organisations, one customer each, the two agents and a revocation."""
    out, n = [], 10**12
    for org_id, name, tax_id in ORGANISATIONS:
        out.append((ACCOUNTS, org_id, _doc("OrganisationRegistered", f"organisation-{org_id}", 1, START,
                                           ("system", "system"),
                                           {"organisation_id": org_id, "name": name, "tax_id": tax_id,
                                            "desks": ["SOPORTE"]}, n)))
        n += 1
        user = f"u-{org_id}"
        out.append((ACCOUNTS, user, _doc("UserRegistered", f"user-{user}", 1, START, ("system", "system"),
                                         {"user_id": user, "email": f"{org_id}@example.com", "name": f"Cliente {name}",
                                          "role": "customer", "organisation_id": org_id, "desks": ["SOPORTE"],
                                          "language": "es", "phone": None}, n)))
        n += 1
    for agent in AGENTS:
        out.append((ACCOUNTS, agent, _doc("UserRegistered", f"user-{agent}", 1, START, ("system", "system"),
                                          {"user_id": agent, "email": f"{agent[2:]}@mesa.example",
                                           "name": agent[2:].title(), "role": "agent", "organisation_id": None,
                                           "desks": ["SOPORTE"], "language": "es", "phone": None}, n)))
        n += 1
    out.append((ACCOUNTS, AGENTS[0], _doc("BearerTokensRevoked", f"user-{AGENTS[0]}", 2, START, ("system", "system"),
                                          {"user_id": AGENTS[0], "valid_after": START.isoformat(),
                                           "reason": "logout"}, n)))
    return out


def ticket(i: int, events: int = 10) -> list[tuple[str, str, dict]]:
    """Ticket number i's first `events` messages (at least 1: TicketOpened)."""
    org_id = ORGANISATIONS[i % len(ORGANISATIONS)][0]
    customer, agent = ("u-" + org_id, "customer"), (AGENTS[i % len(AGENTS)], "agent")
    ticket_id, number = f"ticket-{i}", f"SOP-{i + 1}"
    at = START + timedelta(minutes=7 * i)
    n = i * 1000
    out = [(TICKETS, ticket_id, _doc("TicketOpened", ticket_id, 1, at, customer, {
        "ticket_id": ticket_id, "number": number, "desk": "SOPORTE", "organisation_id": org_id,
        "opened_by": customer[0], "module": MODULES[i % len(MODULES)], "case": f"caso {i} de conciliación",
        "subject": f"Conciliación del lote {i} no cuadra", "description": f"El lote {i} del banco no cuadra.",
        "urgency": "normal", "special_process_id": None, "out_of_hours_requested": False,
        "contact": {"name": "Cliente", "email": f"{org_id}@example.com", "phone": "+58 212 555 0101"},
        "member_number": None, "dates": [], "vouchers": [], "menu_path": None, "attachments": [],
        "previous_ticket": None, "confirmed_different_case": False, "language": "es",
        "month_end_warning": False}, n))]
    version = 1
    life = [("TicketAssigned", agent, {"agent_id": agent[0], "assigned_by": agent[0]}),
            ("MessagePosted", agent, {"message_id": f"m-{i}-a", "author_id": agent[0], "author_role": "agent",
                                      "body": "Buenos días, revisamos el lote.", "internal": False,
                                      "attachments": [], "out_of_hours_requested": False}),
            ("NotificationSent", None, {"cause_event_id": str(uuid.UUID(int=n + 3)), "recipient":
                                        f"{org_id}@example.com", "template": "agent_answered",
                                        "message_id": f"<m-{i}@mesa.example>", "ticket_id": ticket_id}),
            ("MessagePosted", customer, {"message_id": f"m-{i}-b", "author_id": customer[0],
                                         "author_role": "customer", "body": "Sigue igual, adjunto el reporte.",
                                         "internal": False, "attachments": [], "out_of_hours_requested": i % 5 == 0}),
            ("MessagePosted", agent, {"message_id": f"m-{i}-c", "author_id": agent[0], "author_role": "agent",
                                      "body": "Nota: revisar el banco.", "internal": True, "attachments": [],
                                      "out_of_hours_requested": False}),
            ("CustomerAway", customer, {"back_at": (at + timedelta(days=3)).isoformat(), "note": "de viaje"}),
            ("MessagePosted", customer, {"message_id": f"m-{i}-d", "author_id": customer[0],
                                         "author_role": "customer", "body": "Ya regresé.", "internal": False,
                                         "attachments": [], "out_of_hours_requested": False}),
            ("MessagePosted", agent, {"message_id": f"m-{i}-e", "author_id": agent[0], "author_role": "agent",
                                      "body": "Corregido, por favor confirme.", "internal": False,
                                      "attachments": [], "out_of_hours_requested": False}),
            ("TicketClosed", agent, {"reason": "closed_by_agent", "note": "resuelto", "based_on_version": 8})]
    for k, (type_, actor, data) in enumerate(life[:events - 1]):
        at_k = at + timedelta(minutes=30 * (k + 1))
        if type_ == "NotificationSent":
            out.append((NOTIFICATIONS, ticket_id, _doc(type_, f"mail-{i}", 1, at_k, ("notifier", "system"), data,
                                                       n + k + 1)))
            continue
        version += 1
        out.append((TICKETS, ticket_id, _doc(type_, ticket_id, version, at_k, actor, data, n + k + 1)))
    return out


def tickets(count: int, events_per_ticket: int = 10, first: int = 0) -> Iterator[tuple[str, str, dict]]:
    """Tickets first..first+count-1, each ticket's messages in stream order."""
    for i in range(first, first + count):
        yield from ticket(i, events_per_ticket)


def encode(doc: dict) -> bytes:
    """The document as the relays put it on Kafka."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
