"""The staff desk's pages (issue 9): the queue of a desk and the staff's controls on a ticket page.

Thin views as in `pages`: reads from query, commands to intake, both with the reader's token.
A customer (or anyone not staff of the desk) gets the same not-found page as for a missing one:
the staff pages do not tell a customer they exist.
"""
from __future__ import annotations

import functools
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from helpdesk_shared.catalog import DESK_NAMES as DESKS  # the desks: the kernel's catalog data
from helpdesk_shared.catalog import DESKS as CATALOG

from helpdesk_shared import canned

from . import forms
from .backend import together
from .pages import _UUID, _checked, _cid, _ctx, _number, _ticket_page, _when, language, login_required

bp = Blueprint("staff", __name__)

STAFF_ROLES = ("agent", "supervisor")
QUEUE_FLAGS = ("urgent", "waiting_customer", "customer_away", "out_of_hours", "unassigned", "overdue")
FLAG_LABELS = {"urgent": _l("Urgente"), "waiting_customer": _l("Esperando al cliente"),
               "customer_away": _l("Cliente ausente"), "out_of_hours": _l("Fuera de horario (facturable)"),
               "unassigned": _l("Sin asignar"), "overdue": _l("Vencido")}
CLOCK_LABELS = {"first_response": _l("primera respuesta"), "next_response": _l("siguiente respuesta"),
                "auto_close": _l("cierre automático")}
# The reasons intake accepts from an agent (intake.requests.CLOSE_REASONS).
CLOSE_REASONS = {"closed_by_agent": _l("Caso resuelto: cerrar el ticket"),
                 "needs_training": _l("El caso requiere un curso de inducción")}
ROLE_LABELS = {"customer": _l("cliente"), "agent": _l("agente"), "supervisor": _l("supervisor"),
               "system": _l("sistema")}
_QUEUE_PARAMS = ("flag", "module", "assigned_to", "limit", "cursor")
_DESK_OF_PREFIX = {desk.code: name for name, desk in CATALOG.items()}  # "SOP" -> "SOPORTE": ticket numbers


def is_staff(user: dict | None) -> bool:
    """An agent or a supervisor."""
    return bool(user) and user.get("role") in STAFF_ROLES


def home_of(user: dict, entry_desk: str | None) -> str | None:
    """Where staff land after logging in: the queue of the entry's desk if it is theirs, else their
    first desk's (None for a customer: "my tickets")."""
    if not is_staff(user):
        return None
    desks = [d for d in DESKS if d in (user.get("desks") or [])]
    if not desks:
        return None
    return url_for("staff.queue", desk=entry_desk if entry_desk in desks else desks[0])


def staff_required(view):
    """Logged-in staff only; a customer gets the not-found page."""
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not is_staff(session.get("user")):
            abort(404)
        return view(*args, **kwargs)
    return wrapped


def in_words(labels: dict) -> dict[str, str]:
    """Lazy labels translated once for the page: each row of the queue would translate them again."""
    return {key: str(text) for key, text in labels.items()}


def duration(seconds: int | None) -> str:
    """Seconds as a person reads a remaining time: "2 h 05 min", "45 min" ("" when unknown)."""
    if seconds is None:
        return ""
    minutes = max(0, int(seconds)) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


@bp.app_template_filter("duration")
def _duration(seconds) -> str:
    return duration(seconds)


# ------------------------------------------------------------------ the queue


def _desk(desk: str) -> str:
    if desk not in DESKS or desk not in (session["user"].get("desks") or []):
        abort(404)
    return desk


@bp.get("/desks/<desk>/queue")
@staff_required
def queue(desk: str):
    """The desk's open tickets, nearest deadline first, with flags, time left, filters and a next page."""
    desk = _desk(desk)
    chosen = {k: (request.args.get(k) or "").strip()[:600] for k in _QUEUE_PARAMS}
    params = {k: v for k, v in chosen.items() if v}
    token, backend, cid = session["token"], _ctx().backend, _cid()
    # Independent reads, side by side: the page waits for the slowest, not for their sum. The desk's
    # agents and catalog change rarely: read again only after recent.SECONDS (see recent.py).
    replies = together(queue=lambda: backend.desk_queue(token, desk, params, cid),
                       agents=lambda: desk_agents(token, desk, cid),
                       auto_close=lambda: backend.desk_auto_close(token, desk, cid),
                       modules=lambda: desk_modules(token, desk, cid))
    reply = _checked(replies["queue"])
    error, status = None, 200
    if not reply.ok:  # a filter or cursor query refuses (typed into the URL): said on the page
        error, status = forms.text_of(reply.body, language()), 422
        reply = _checked(backend.desk_queue(token, desk, {}, cid))
    agents = _checked(replies["agents"]).body.get("items", [])
    auto_close = _checked(replies["auto_close"]).body.get("items", [])
    filters = {k: v for k, v in chosen.items() if k != "cursor" and v}
    # Every module the desk's catalog knows now, retired ones too: open tickets may still name them.
    modules = [(m["code"], m.get("name") or m["code"]) for m in _checked(replies["modules"]).body.get("modules", [])]
    return render_template("staff_queue.html", desk=desk, desks=[d for d in DESKS if d in session["user"]["desks"]],
                           items=reply.body.get("items", []), next_cursor=reply.body.get("next_cursor"),
                           filters=filters, paged=bool(chosen["cursor"]), agents=agents, auto_close=auto_close,
                           modules=modules, flags=QUEUE_FLAGS, flag_labels=in_words(FLAG_LABELS),
                           clock_labels=in_words(CLOCK_LABELS), error=error), status


def desk_agents(token: str, desk: str, cid: str | None):
    """The desk's agents as this reader last read them, within recent.SECONDS."""
    return _ctx().recent.get(("agents", desk, token), lambda: _ctx().backend.desk_agents(token, desk, cid))


def desk_modules(token: str, desk: str, cid: str | None):
    """The desk's module catalog as this reader last read it, within recent.SECONDS (the queue's
    module filter; the new-ticket form and the catalog editor read it afresh)."""
    return _ctx().recent.get(("modules", desk, token), lambda: _ctx().backend.desk_modules(token, desk, cid))


# ------------------------------------------------------------------ a ticket's staff part (see pages._ticket_page)


def staff_reads(number: str) -> dict:
    """The ticket page's staff reads, to run beside the ticket's own (`Backend.together`): its timeline
    and the agents of the desk its number's prefix names. Empty for a customer (no staff part)."""
    if not is_staff(session.get("user")):
        return {}
    token, backend, cid = session["token"], _ctx().backend, _cid()
    reads = {"timeline": lambda: backend.timeline(token, number, {"limit": 200}, cid)}
    desk = _DESK_OF_PREFIX.get(number.split("-")[0])
    if desk:
        reads["agents"] = lambda: desk_agents(token, desk, cid)
        reads["canned"] = lambda: backend.canned_answers(token, desk, cid)
    return reads


def canned_values(ticket: dict) -> dict[str, str]:
    """What a canned answer's placeholders (helpdesk_shared.canned) say on this ticket's page."""
    nearest = ticket.get("next_deadline") or {}
    return {"cliente": (ticket.get("contact") or {}).get("name") or ticket.get("opened_by_name") or "",
            "ticket": ticket["number"], "plazo": _when(nearest.get("due_at")),
            "telefonos": ", ".join(_ctx().config.office_phones.get(ticket["desk"], ())),
            "agente": (session.get("user") or {}).get("name") or ""}


def _canned_answers(ticket: dict, reply) -> list[dict]:
    """The desk's canned answers offered on the ticket's answer form, their placeholders filled."""
    if reply is None or not reply.ok:
        return []  # none to offer is no reason to refuse the page
    values = canned_values(ticket)
    return [{"answer_id": a["answer_id"], "title": a["title"], "body": canned.fill(a["body"], values)}
            for a in reply.body.get("items", [])]


def ticket_context(ticket: dict, early: dict | None = None) -> dict:
    """What the ticket page's staff part needs: the timeline, the desk's agents, the close reasons
    (empty for a customer: his page has no staff part). `early` holds replies read beside the ticket."""
    if not is_staff(session.get("user")):
        return {}
    token, backend, early = session["token"], _ctx().backend, early or {}
    timeline = _checked(early.get("timeline") or backend.timeline(token, ticket["number"], {"limit": 200}, _cid()))
    read_early = _DESK_OF_PREFIX.get(ticket["number"].split("-")[0]) == ticket["desk"]
    agents = early.get("agents") if read_early else None
    agents = _checked(agents or desk_agents(token, ticket["desk"], _cid()))
    canned_reply = early.get("canned") if read_early else None
    answers = _canned_answers(ticket, canned_reply or backend.canned_answers(token, ticket["desk"], _cid()))
    # Without JavaScript, "Insertar" is a link back to the page with the answer in the form.
    chosen = next((a for a in answers if a["answer_id"] == request.args.get("respuesta")), None)
    from .knowledge import module_articles  # issue 12: articles an agent may link in his answer
    return {"staff": True, "kb_links": module_articles(ticket), "canned_answers": answers, "canned_chosen": chosen, "timeline": timeline.body.get("items", []) if timeline.ok else [],
            "timeline_more": bool(timeline.body.get("next_cursor")) if timeline.ok else False,
            "agents": agents.body.get("items", []) if agents.ok else [], "staff_close_reasons": CLOSE_REASONS,
            "clock_labels": in_words(CLOCK_LABELS), "role_labels": in_words(ROLE_LABELS)}


def _done(number: str, reply, ok_text) -> object:
    """After a staff command: back to the ticket, saying what happened or why intake refused."""
    _checked(reply)
    flash(ok_text if reply.ok else forms.text_of(reply.body, language()))
    return redirect(url_for("portal.ticket", number=number))


@bp.post("/tickets/<number>/assignment")
@staff_required
def assign(number: str):
    """Give the ticket to an agent of its desk, chosen by name (the select sends the id)."""
    number = _number(number)
    agent_id = (request.form.get("agent_id") or "").strip()[:64]
    return _done(number, _ctx().backend.assign(session["token"], number, agent_id, _cid()),
                 _l("Ticket asignado."))


@bp.post("/tickets/<number>/close")
@staff_required
def close(number: str):
    """Close the ticket with one of the reasons intake accepts and an optional note."""
    number = _number(number)
    reason = request.form.get("reason") if request.form.get("reason") in CLOSE_REASONS else "closed_by_agent"
    note = (request.form.get("close_note") or "").strip()
    return _done(number, _ctx().backend.close(session["token"], number, reason, note, _cid()),
                 _l("Ticket cerrado."))


@bp.post("/tickets/<number>/billable")
@staff_required
def billable(number: str):
    """The desk's billable mark: billable or not, with an optional note."""
    number = _number(number)
    if request.form.get("billable") not in ("1", "0"):
        abort(400)
    note = (request.form.get("billable_note") or "").strip()
    return _done(number, _ctx().backend.mark_billable(session["token"], number, request.form["billable"] == "1",
                                                      note, _cid()),
                 _l("Marca de facturación guardada."))


# ------------------------------------------------------------------ canned answers (issue 12)

def new_answer_id(title: str, taken: set[str]) -> str:
    """An identifier for a new canned answer from its title ("Cierre de lote" -> "cierre-de-lote"),
    not one of `taken` ("-2", "-3"... after it); "" when the title has no letter or digit."""
    import unicodedata
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    base = "-".join("".join(c if c.isalnum() else " " for c in plain).split())[:56].strip("-")
    if not base:
        return ""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _canned_page(desk: str, errors: dict | None = None, form: dict | None = None, status: int = 200):
    reply = _checked(_ctx().backend.canned_answers(session["token"], desk, _cid(), include_retired=True))
    if not reply.ok:
        abort(404)
    return render_template("staff_canned.html", desk=desk, desks=[d for d in DESKS if d in session["user"]["desks"]],
                           answers=reply.body.get("items", []), placeholders=canned.PLACEHOLDERS,
                           errors=errors or {}, form=form or {}), status


@bp.get("/desks/<desk>/canned-answers")
@staff_required
def canned_answers(desk: str):
    """The desk's canned answers with their uses; a form to add one and one to edit each."""
    return _canned_page(_desk(desk))


@bp.post("/desks/<desk>/canned-answers")
@staff_required
def canned_answer_save(desk: str):
    """Save a new canned answer (no `answer_id`), or edit or retire one against the version read."""
    desk = _desk(desk)
    form = request.form.to_dict()
    answer_id = (form.get("answer_id") or "").strip()[:64]
    title, text = (form.get("title") or "")[:200], (form.get("body") or "")[:6000]
    if not answer_id:
        current = _checked(_ctx().backend.canned_answers(session["token"], desk, _cid(), include_retired=True))
        answer_id = new_answer_id(title, {a["answer_id"] for a in current.body.get("items", [])}) or "respuesta"
    version = form.get("version") or "0"
    body = {"title": title, "body": text, "retired": form.get("retired") == "1",
            "version": int(version) if version.isdecimal() and len(version) < 8 else 0}
    reply = _checked(_ctx().backend.save_canned_answer(session["token"], desk, answer_id, body, _cid()))
    if reply.ok:
        flash(_l("Respuesta predefinida guardada."))
        return redirect(url_for("staff.canned_answers", desk=desk))
    field = reply.body.get("field") if reply.body.get("field") in ("title", "body") else "title"
    return _canned_page(desk, {field: [forms.text_of(reply.body, language())]},
                        {**form, "editing": form.get("answer_id") or ""}, 422)


@bp.post("/tickets/<number>/merge")
@staff_required
def merge(number: str):
    """"Fusionar con…" (issue 12, rule 6 after the fact): this duplicate into the open ticket of the
    same case. Intake's refusal is shown beside the target field, in the reader's language."""
    number = _number(number)
    target = (request.form.get("merge_target") or "").strip().upper()[:32]
    note = (request.form.get("merge_note") or "").strip()[:2000]
    if not target:
        return _ticket_page(number, {"merge_target": [_l("Indique el número del ticket abierto del mismo caso.")]},
                            request.form.to_dict(), 422)
    key = request.form.get("merge_key", "")
    reply = _checked(_ctx().backend.merge(session["token"], number, target, note,
                                          key if _UUID.match(key) else str(uuid.uuid4()), _cid()))
    if not reply.ok:
        return _ticket_page(number, {"merge_target": [forms.text_of(reply.body, language())]},
                            request.form.to_dict(), reply.status if 400 <= reply.status < 500 else 422)
    flash(_l("Ticket %(number)s fusionado con el %(target)s: el caso continúa allí.", number=number, target=target))
    return redirect(url_for("portal.ticket", number=target))
