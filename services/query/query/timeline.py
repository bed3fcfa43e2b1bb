"""A ticket's timeline: which events belong to it, and a short Spanish and English line for each (pure).

The line answers "what happened" on one page; the entry beside it keeps the ids that answer "why"
(correlation and causation) and the policy and calendar versions a deadline was computed on.
"""
from __future__ import annotations

from datetime import datetime

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Envelope
from helpdesk_shared.errors import NotFound
from helpdesk_shared.topics import NOTIFICATIONS, SLA, TICKETS, TOPIC_OF_EVENT

from .queue import DESK_TZ, FORBIDDEN

# At one instant a cause comes before its effects, and several do share one: a DeadlineSet carries
# its TicketOpened's occurred_at, and the TicketClosed that carries out an AutoClosed carries the
# decision's. Ranks in causal order: what people do; the SLA's facts about it; the SLA's timers;
# the close that carries out an auto-close; the clocks that close stops; the mails about any of them.
# Within a rank, the stream's own version orders a stream's events.
PEOPLE, CLOCK_FACTS, TIMERS, AUTO_CLOSE, CLOCKS_STOPPED, MAILS = range(6)
_TIMER_EVENTS = ("ResponseOverdue", "AutoCloseWarning", "AutoClosed")

_CLOCK = {"first_response": ("primera respuesta", "first response"),
          "next_response": ("siguiente respuesta", "next response"),
          "auto_close": ("cierre automático", "auto-close")}
_CLOSE_REASON = {"solved_by_customer": ("resuelto según el cliente", "solved, as the customer confirmed"),
                 "auto_closed": ("cierre automático: el cliente no respondió a tiempo",
                                 "auto-closed: the customer did not answer in time"),
                 "closed_by_agent": ("cerrado por el agente", "closed by the agent"),
                 "needs_training": ("requiere formación", "needs training"),
                 "merged": ("fusionado con otro ticket del mismo caso", "merged into another ticket of the same case")}
_MOVE_REASON = {"calendar_changed": ("cambió el calendario", "the calendar changed"),
                "customer_away": ("el cliente está ausente", "the customer is away"),
                "policy_changed": ("cambió la política", "the policy changed")}
_CLEAR_REASON = {"closed": ("el ticket se cerró", "the ticket closed"),
                 "customer_replied": ("el cliente respondió", "the customer replied")}


def check_access(user: Claims, ticket: dict | None) -> None:
    """The timeline is for staff of the ticket's desk. The ticket's own customer is told it is not
    for him (403); anyone else who may not see the ticket gets a 404 like a missing one."""
    if ticket is None:
        raise NotFound("ticket")
    if user.role == "customer":
        if ticket["organisation_id"] == user.organisation_id and ticket["desk"] in user.desks:
            raise FORBIDDEN
        raise NotFound("ticket")
    if ticket["desk"] not in user.desks:
        raise NotFound("ticket")


def causal_rank(event: Envelope) -> int:
    """Where an event goes among those of the same instant (a pure function of the event alone, so
    the order does not depend on which topic a rebuild happened to read first)."""
    topic = TOPIC_OF_EVENT.get(event.type)
    if topic == TICKETS:
        return AUTO_CLOSE if event.type == "TicketClosed" and event.data.get("reason") == "auto_closed" else PEOPLE
    if topic == SLA:
        if event.type in _TIMER_EVENTS:
            return TIMERS
        if event.type == "DeadlineCleared" and event.data.get("reason") == "closed":
            return CLOCKS_STOPPED
        return CLOCK_FACTS
    return MAILS


def ticket_of(event: Envelope) -> str | None:
    """The ticket an event is about: a ticket stream's own id, or the ticket its data names (None: no ticket)."""
    if TOPIC_OF_EVENT.get(event.type) == TICKETS:
        return event.stream_id
    if TOPIC_OF_EVENT.get(event.type) in (SLA, NOTIFICATIONS):
        return event.data.get("ticket_id") or None
    return None


def local(value: str | datetime | None) -> str:
    """An instant as a desk reads it: Caracas wall time, dd/mm/yyyy HH:MM."""
    if value is None:
        return "—"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(DESK_TZ).strftime("%d/%m/%Y %H:%M")


def _versions(d: dict) -> tuple[str, str]:
    p, c = d.get("policy_version"), d.get("calendar_version")
    if p is None:
        return "", ""
    if c is None:
        return f" (política v{p})", f" (policy v{p})"
    return f" (política v{p}, calendario v{c})", f" (policy v{p}, calendar v{c})"


def summary(type_: str, d: dict, who: str, names: dict[str, str]) -> dict[str, str]:
    """What an event of the timeline says, `{es, en}`; `who` is its actor's name (or id), `names` other people's."""
    clock_es, clock_en = _CLOCK.get(d.get("clock"), (d.get("clock"), d.get("clock")))
    v_es, v_en = _versions(d)
    if type_ == "TicketOpened":
        return {"es": f"{who} abrió el ticket: {d['subject']}", "en": f"{who} opened the ticket: {d['subject']}"}
    if type_ == "MessagePosted":
        if d["internal"]:
            return {"es": f"Nota interna de {who}", "en": f"Internal note by {who}"}
        return {"es": f"Mensaje de {who}", "en": f"Message from {who}"}
    if type_ == "TicketAssigned":
        agent = names.get(d["agent_id"], d["agent_id"])
        return {"es": f"{who} asignó el ticket a {agent}", "en": f"{who} assigned the ticket to {agent}"}
    if type_ == "CustomerAway":
        back = local(d.get("back_at"))
        return {"es": f"El cliente avisó que estará ausente hasta {back}",
                "en": f"The customer said he is away until {back}"}
    if type_ == "ResolutionConfirmed":
        if d["solved"]:
            return {"es": "El cliente confirmó que quedó resuelto", "en": "The customer confirmed it is solved"}
        return {"es": "El cliente indicó que no quedó resuelto", "en": "The customer said it is not solved"}
    if type_ == "TicketClosed":
        if d["reason"] == "merged":
            return {"es": f"{who} fusionó este ticket con el {d['merged_into']}: el caso continúa allí",
                    "en": f"{who} merged this ticket into {d['merged_into']}: the case continues there"}
        es, en = _CLOSE_REASON.get(d["reason"], (d["reason"], d["reason"]))
        return {"es": f"Ticket cerrado: {es}", "en": f"Ticket closed: {en}"}
    if type_ == "TicketMergedInto":
        n = len(d.get("messages") or [])
        files = len(d.get("attachments") or []) + sum(len(m.get("attachments") or []) for m in d.get("messages") or [])
        return {"es": f"{who} fusionó aquí el ticket {d['source_number']} ({n} mensaje(s), {files} adjunto(s))",
                "en": f"{who} merged ticket {d['source_number']} into this one ({n} message(s), {files} file(s))"}
    if type_ == MERGED_MESSAGE:
        source = d["merged_from"]
        if d.get("opening"):
            return {"es": f"Del ticket fusionado {source}: {who} lo abrió ({d['subject']})",
                    "en": f"From merged ticket {source}: {who} opened it ({d['subject']})"}
        if d["internal"]:
            return {"es": f"Del ticket fusionado {source}: nota interna de {who}",
                    "en": f"From merged ticket {source}: internal note by {who}"}
        return {"es": f"Del ticket fusionado {source}: mensaje de {who}",
                "en": f"From merged ticket {source}: message from {who}"}
    if type_ == "BillableMarked":
        es, en = ("como facturable", "billable") if d["billable"] else ("como no facturable", "not billable")
        why = f": {d['note']}" if d.get("note") else ""
        return {"es": f"{who} marcó el ticket {es}{why}", "en": f"{who} marked the ticket {en}{why}"}
    if type_ == "TicketRated":
        es, en = ("buena", "good") if d["rating"] == "good" else ("mala", "bad")
        why = f": {d['comment']}" if d.get("comment") else ""
        return {"es": f"{who} calificó la atención como {es}{why}", "en": f"{who} rated the service {en}{why}"}
    if type_ == "DeadlineSet":
        due = local(d["due_at"])
        return {"es": f"Plazo de {clock_es} fijado para el {due}{v_es}",
                "en": f"{clock_en.capitalize()} deadline set for {due}{v_en}"}
    if type_ == "DeadlineMoved":
        es, en = _MOVE_REASON.get(d["reason"], (d["reason"], d["reason"]))
        before, due = local(d["previous_due_at"]), local(d["due_at"])
        return {"es": f"Plazo de {clock_es} movido del {before} al {due} porque {es}{v_es}",
                "en": f"{clock_en.capitalize()} deadline moved from {before} to {due} because {en}{v_en}"}
    if type_ == "DeadlineMet":
        late_es, late_en = ("a tiempo", "in time") if d["met_in_time"] else ("fuera de plazo", "late")
        return {"es": f"Plazo de {clock_es} cumplido {late_es} el {local(d['met_at'])}{v_es}",
                "en": f"{clock_en.capitalize()} deadline met {late_en} at {local(d['met_at'])}{v_en}"}
    if type_ == "DeadlineCleared":
        es, en = _CLEAR_REASON.get(d["reason"], (d["reason"], d["reason"]))
        return {"es": f"Plazo de {clock_es} anulado: {es}", "en": f"{clock_en.capitalize()} deadline cleared: {en}"}
    if type_ == "ClockPaused":
        return {"es": "Relojes de respuesta en pausa: se espera al cliente",
                "en": "Response clocks paused: waiting for the customer"}
    if type_ == "ResponseOverdue":
        return {"es": f"Plazo de {clock_es} vencido el {local(d['due_at'])}{v_es}",
                "en": f"{clock_en.capitalize()} deadline missed on {local(d['due_at'])}{v_en}"}
    if type_ == "AutoCloseWarning":
        return {"es": f"Aviso de cierre automático: se cerrará el {local(d['closes_at'])} si el cliente no responde",
                "en": f"Auto-close warning: it closes on {local(d['closes_at'])} unless the customer answers"}
    if type_ == "AutoClosed":
        return {"es": f"Cierre automático decidido: venció el plazo del {local(d['due_at'])} sin respuesta del "
                      f"cliente (sobre la versión {d['based_on_version']} del ticket)",
                "en": f"Auto-close decided: the deadline of {local(d['due_at'])} passed without the customer's "
                      f"answer (on version {d['based_on_version']} of the ticket)"}
    if type_ == "WorkTimeRecorded":
        agent = names.get(d["agent_id"], d["agent_id"])
        outside = d["outside_hours_seconds"] / 60
        out = f"{outside:.0f}" if outside == int(outside) else f"{outside:.1f}"
        return {"es": f"{agent} registró {d['minutes']} min de trabajo, {out} fuera del horario "
                      f"(calendario v{d['calendar_version']})",
                "en": f"{agent} recorded {d['minutes']} min of work, {out} outside business hours "
                      f"(calendar v{d['calendar_version']})"}
    if type_ == "NotificationSent":
        return {"es": f"Correo «{d['template']}» enviado a {d['recipient']}",
                "en": f"Mail '{d['template']}' sent to {d['recipient']}"}
    if type_ == "NotificationFailed":
        return {"es": f"Falló el correo «{d['template']}» a {d['recipient']}: {d['error']}",
                "en": f"Mail '{d['template']}' to {d['recipient']} failed: {d['error']}"}
    return {"es": type_, "en": type_}


def people_named(rows: list[dict]) -> set[str]:
    """The user ids the entries' lines name besides their actors (assignees, a merged ticket's authors)."""
    named = {r["data"]["agent_id"] for r in rows if r["type"] in ("TicketAssigned", "WorkTimeRecorded")}
    for r in rows:
        if r["type"] == "TicketMergedInto":
            named |= {r["data"]["opened_by"]} | {m["author_id"] for m in r["data"].get("messages") or []}
    return named


# Issue 12: the entries a TicketMergedInto carries, shown right after it (one per message of the
# merged duplicate, its opening first), each marked with the ticket it came from.
MERGED_MESSAGE = "MergedMessage"


def merged_entries(row: dict, names: dict[str, str]) -> list[dict]:
    """The merged duplicate's opening and messages as timeline entries of the receiving ticket."""
    d = row["data"]
    source = d["source_number"]
    parts = [({"merged_from": source, "opening": True, "subject": d["subject"], "body": d["description"],
               "internal": False, "attachments": d.get("attachments") or []}, d["opened_by"], "customer", d["opened_at"])]
    parts += [({"merged_from": source, "opening": False, "message_id": m["message_id"], "body": m["body"],
                "internal": m["internal"], "attachments": m.get("attachments") or []},
               m["author_id"], m["author_role"], m["occurred_at"]) for m in d.get("messages") or []]
    entries = []
    for data, author, role, at in parts:
        name = names.get(author)
        entries.append({"event_id": row["event_id"], "type": MERGED_MESSAGE, "occurred_at": at,
                        "who": {"id": author, "role": role, "name": name}, "merged_from": source,
                        "correlation_id": row["correlation_id"], "causation_id": row["event_id"],
                        "caused_by": {"event_id": row["event_id"], "type": row["type"]},
                        "policy_version": None, "calendar_version": None,
                        "summary": summary(MERGED_MESSAGE, data, name or author, names), "data": data})
    return entries


def entry(row: dict, names: dict[str, str]) -> dict:
    """One stored timeline row as the API shows it."""
    d = row["data"]
    who_name = names.get(row["actor_id"])
    return {"event_id": row["event_id"], "type": row["type"], "occurred_at": row["occurred_at"],
            "who": {"id": row["actor_id"], "role": row["actor_role"], "name": who_name},
            "correlation_id": row["correlation_id"], "causation_id": row["causation_id"],
            # The cause when it is an event of this ticket: the chain is read on this page.
            "caused_by": ({"event_id": row["causation_id"], "type": row["cause_type"]}
                          if row.get("cause_type") else None),
            "policy_version": d.get("policy_version"), "calendar_version": d.get("calendar_version"),
            "summary": summary(row["type"], d, who_name or row["actor_id"], names), "data": d}
