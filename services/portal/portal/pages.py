"""The customers' pages: entry (rules, login, "No tengo usuario"), my tickets, a ticket, a new ticket.

Thin views (STYLE.md): each turns a form into a call to intake or a read from query and
renders the answer; what the rules mean stays in intake, reshaping forms in `forms`.
"""
from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (Blueprint, Response, abort, current_app, flash, g, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import get_locale, lazy_gettext as _l

from helpdesk_shared import link_tokens
from helpdesk_shared.catalog import DESK_NAMES as DESKS  # the desks: the kernel's catalog data

from . import forms
from .backend import Backend, Reply, together
from .config import Config
from .recent import RecentReads

bp = Blueprint("portal", __name__)

TIMEZONE = ZoneInfo("America/Caracas")
_NUMBER = re.compile(r"^[A-Z]{2,5}-[0-9]{1,12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

STATUS_LABELS = {"open": _l("Abierto: le toca a la mesa"), "waiting_customer": _l("Respondido: le toca a usted"),
                 "closed": _l("Cerrado")}
URGENCY_LABELS = {"normal": _l("Normal"),
                  "platform_down": _l("Toda la plataforma está parada"),
                  "member_billing_stopped": _l("La facturación a los socios está detenida"),
                  "announced_special_process": _l("Proceso especial (carnetización u otro) avisado con antelación")}
CLOSE_REASONS = {"solved_by_customer": _l("usted confirmó que quedó solucionado"),
                 "closed_by_agent": _l("lo cerró la mesa"),
                 "needs_training": _l("el caso requiere un curso de inducción"),
                 "auto_closed": _l("no recibimos su respuesta a tiempo"),
                 "merged": _l("era el mismo caso que otro ticket abierto y se fusionó con él")}
# The reasons intake accepts a rating after (helpdesk_shared.schemas.SOLVED_CLOSE_REASONS).
RATABLE_REASONS = ("solved_by_customer", "closed_by_agent")
RATINGS = ("good", "bad")
ENTRY_TYPES = {"TicketOpened": _l("abrió el ticket"), "MessagePosted": _l("escribió"),
               "ResolutionConfirmed": _l("respondió a la solución"), "TicketClosed": _l("cerró el ticket"),
               "CustomerAway": _l("avisó que debe ausentarse"), "TicketAssigned": _l("asignó el ticket"),
               "BillableMarked": _l("marcó la facturación"),
               "TicketMergedInto": _l("fusionó aquí un ticket del mismo caso")}


@dataclass
class Portal:
    """What the views need: the config and the adapter to the other services."""

    config: Config
    backend: Backend
    recent: RecentReads = field(default_factory=RecentReads)  # a desk's agents and catalog, briefly


def _ctx() -> Portal:
    return current_app.extensions["portal"]


def language() -> str:
    """The page's language code ("es" or "en")."""
    return str(get_locale() or "es")[:2]


def _cid() -> str | None:
    return g.get("correlation_id")


@bp.app_template_filter("when")
def _when(value) -> str:
    """An ISO instant shown in Caracas time, to the minute."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")


@bp.app_context_processor
def _globals():
    return {"user": session.get("user"), "lang": language(), "status_labels": STATUS_LABELS,
            "urgency_labels": URGENCY_LABELS}


def login_required(view):
    """Send a reader without a session to the entry page."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not session.get("token"):
            flash(_l("Inicie sesión para continuar."))
            if request.method == "GET":
                session["next"] = request.full_path.rstrip("?")  # a mail's link: back to it after login
            return redirect(url_for("portal.entry"))
        return view(*args, **kwargs)
    return wrapped


def _expired() -> Response:
    """The token ended (expired, logged out elsewhere): back to the entry page, saying why."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_l("Su sesión terminó. Inicie sesión de nuevo."))
    return redirect(url_for("portal.entry"))


def _checked(reply: Reply) -> Reply:
    """`reply`, or a redirect to log in again on 401, or the not-found page on 404."""
    if reply.status == 401:
        abort(_expired())
    if reply.status in (403, 404):
        abort(404)
    return reply


def _number(number: str) -> str:
    if not _NUMBER.match(number):
        abort(404)
    return number


# ------------------------------------------------------------------ entry, login, language


def _entry_page(desk: str, status: int = 200, **context):
    return render_template("entry.html", desk=desk, desks=DESKS, access_errors=context.pop("access_errors", {}),
                           access_form=context.pop("access_form", {}), **context), status


@bp.get("/")
def entry():
    """The SOPORTE entry: the rules in our words, login, "No tengo usuario"."""
    return _entry_page("SOPORTE")


@bp.get("/implantaciones")
def entry_implantaciones():
    """The separate entry for the IMPLANTACIONES desk."""
    return _entry_page("IMPLANTACIONES")


def _entry_desk() -> str:
    desk = request.form.get("desk", "SOPORTE")
    return desk if desk in DESKS else "SOPORTE"


@bp.post("/login")
def login():
    """Log in at intake; the session keeps the bearer token, the user and the entry's desk."""
    desk = _entry_desk()
    email = (request.form.get("email") or "").strip()
    reply = _ctx().backend.login(email, request.form.get("password") or "", _cid())
    if not reply.ok:
        return _entry_page(desk, 401 if reply.status in (400, 401, 422) else reply.status,
                           login_error=forms.text_of(reply.body, language()), login_email=email)
    lang, target = session.get("lang"), _local_path(session.get("next"))
    session.clear()  # a new session for a new user (no fixation of the previous one)
    session.permanent = True
    session.update(token=reply.body["token"], desk=desk,
                   user={**reply.body["user"], "email": email.lower()})
    if lang:
        session["lang"] = lang
    from . import staff  # staff land on their desk's queue (issue 9); late: staff imports this module
    return redirect(target or staff.home_of(session["user"], desk) or url_for("portal.my_tickets"))


@bp.post("/logout")
def logout():
    """End the session here and every token of the user at intake."""
    if session.get("token"):
        _ctx().backend.logout(session["token"], _cid())
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("portal.entry"))


@bp.post("/language")
def choose_language():
    """The language switch: kept in the session, above the user's own language."""
    chosen = request.form.get("lang")
    if chosen in ("es", "en"):
        session["lang"] = chosen
    return redirect(_local_path(request.form.get("next")) or "/")


def _local_path(target: str | None) -> str | None:
    """`target` when it is a path of this site; None for an absolute or scheme-relative URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.post("/access-requests")
def request_access():
    """"No tengo usuario": the request goes to intake; the page says what happens next."""
    desk = request.form.get("desk") if request.form.get("desk") in DESKS else _entry_desk()
    form = {k: (request.form.get(k) or "").strip() for k in ("name", "email", "phone", "organisation_name", "note")}
    body = {**{k: v for k, v in form.items() if k != "note"}, "desk": desk, **({"note": form["note"]} if form["note"]
                                                                            else {})}
    reply = _ctx().backend.request_access(body, _cid())
    if reply.ok:
        return _entry_page(desk, 202, access_sent=forms.text_of(reply.body, language()))
    field = reply.body.get("field") or ""
    errors = {field if field in form else "": forms.text_of(reply.body, language())}
    return _entry_page(desk, 422 if reply.status < 500 else reply.status, access_errors=errors, access_form=form,
                       open_access=True)


# ------------------------------------------------------------------ my tickets


@bp.get("/tickets")
@login_required
def my_tickets():
    """The reader's tickets, newest first, filtered by status and searched by words (`q`)."""
    status = request.args.get("status", "")
    status = status if status in forms.LIST_STATUSES else ""
    try:
        page = max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    # Words to find in the ticket, its messages and (staff) its internal notes, best match first.
    text = " ".join((request.args.get("q") or "").split())[:forms.SEARCH_MAX]
    params = {"page": page, "per_page": 25, **({"status": status} if status else {}), **({"q": text} if text else {})}
    listing = _checked(_ctx().backend.tickets(session["token"], params, _cid()))
    if not listing.ok:
        abort(400)
    total = listing.body.get("total", 0)
    return render_template("tickets.html", tickets=listing.body.get("items", []), status=status, page=page,
                           more=page * 25 < total, total=total, statuses=forms.LIST_STATUSES, q=text,
                           capped=bool(text and listing.body.get("capped")))


# ------------------------------------------------------------------ new ticket


def _open_modules(desk: str) -> list[dict]:
    """The desk's modules open to new tickets (`{code, name}`), as intake's catalog has them now:
    a supervisor may have renamed, added or retired some since the defaults."""
    reply = _checked(_ctx().backend.desk_modules(session["token"], desk, _cid()))
    return [m for m in reply.body.get("modules", []) if not m.get("retired")] if reply.ok else []


def _desks_of_user() -> list[str]:
    return [d for d in DESKS if d in (session.get("user") or {}).get("desks", [])]


def _new_ticket_page(form: dict, errors: dict, attachments: list[dict], status: int = 200, duplicate=None):
    desks = _desks_of_user()
    desk = form.get("desk") if form.get("desk") in desks else (
        session.get("desk") if session.get("desk") in desks else (desks[0] if desks else "SOPORTE"))
    return render_template("new_ticket.html", form=form, errors=errors, attachments=attachments, desks=desks,
                           desk=desk, modules=_open_modules(desk) if desk in DESKS else [],
                           urgencies=forms.URGENCY_CHOICES, duplicate=duplicate), status


@bp.get("/tickets/new")
@login_required
def new_ticket():
    """The new-ticket form, contact prefilled from the session's user."""
    user = session["user"]
    form = {"contact_name": user.get("name", ""), "contact_email": user.get("email", ""), "urgency": "normal",
            "idempotency_key": str(uuid.uuid4()),
            # Mails link with ?previous_ticket= (notifier), the closed-ticket page with ?previous=.
            "previous_ticket": (request.args.get("previous_ticket") or request.args.get("previous", ""))[:32],
            # Issue 12: this load of the form; the suggestions it opens and the ticket it files carry it.
            "attempt_id": str(uuid.uuid4())}
    return _new_ticket_page(form, {}, [])


def _kept_attachments() -> list[dict]:
    """Files uploaded on an earlier try of the same form (their upload ids ride in hidden fields)."""
    ids, names = request.form.getlist("attachment_id"), request.form.getlist("attachment_name")
    return [{"upload_id": i, "name": n} for i, n in zip(ids, names) if _UUID.match(i) or _SHA256.match(i)][:20]


def _upload_files(errors: dict) -> list[dict]:
    """Upload the form's picked files to intake; refusals go beside the picker."""
    uploaded = []
    for file in request.files.getlist("files"):
        if not file or not file.filename:
            continue
        reply = _checked(_ctx().backend.upload(session["token"], file.filename, file.stream.read(),
                                               file.mimetype, _cid()))
        if reply.ok:
            uploaded.append({"upload_id": reply.body["upload_id"], "name": reply.body.get("name", file.filename)})
        else:
            errors.setdefault("files", []).append(f"{file.filename}: {forms.text_of(reply.body, language())}")
    return uploaded


@bp.post("/tickets/new")
@login_required
def open_ticket():
    """Upload the files, then open the ticket at intake; refusals are shown beside their fields."""
    form = request.form.to_dict()
    if not _UUID.match(form.get("idempotency_key", "")):
        form["idempotency_key"] = str(uuid.uuid4())
    errors: dict[str, list[str]] = {}
    attachments = _kept_attachments() + _upload_files(errors)
    if errors:
        return _new_ticket_page(form, errors, attachments, 422)
    desks = _desks_of_user()
    desk = form.get("desk") if form.get("desk") in desks else (session.get("desk") if session.get("desk") in desks
                                                               else (desks[0] if desks else "SOPORTE"))
    if request.form.get("different_case") == "1":
        form["confirmed_different_case"] = "1"
    body = forms.ticket_body(form, desk, [a["upload_id"] for a in attachments])
    reply = _checked(_ctx().backend.open_ticket(session["token"], body, form["idempotency_key"], _cid()))
    if reply.ok:
        flash(_l("Ticket %(number)s abierto. Le avisaremos por correo cada vez que la mesa responda.",
                 number=reply.body["number"]))
        for warning in reply.body.get("warnings") or []:
            flash(forms.text_of(warning, language()))
        return redirect(url_for("portal.ticket", number=reply.body["number"]))
    if forms.is_duplicate(reply.body):
        return _new_ticket_page(form, {}, attachments, 409, duplicate=reply.body["ticket"])
    errors = {forms.field_of(reply.body): [forms.text_of(reply.body, language())]}
    return _new_ticket_page(form, errors, attachments, 422)


# ------------------------------------------------------------------ one ticket


def _ticket_page(number: str, errors: dict | None = None, form: dict | None = None, status: int = 200):
    from . import staff  # the staff part of the page (timeline, assign, close, billable): issue 9
    token, backend, cid = session["token"], _ctx().backend, _cid()
    # The staff's reads do not wait for the ticket's: all at once, the page waits for the slowest.
    replies = together(ticket=lambda: backend.ticket(token, number, cid), **staff.staff_reads(number))
    reply = replies.pop("ticket")
    if reply.status == 404:
        # Just opened: query has not read the event yet. Intake's own summary says whether it exists.
        _checked(_ctx().backend.intake_ticket(session["token"], number, _cid()))
        return render_template("ticket_pending.html", number=number), 200
    ticket = _checked(reply).body
    phones = _ctx().config.office_phones.get(ticket.get("desk"), ()) if ticket.get("first_response_overdue") else ()
    # Closed as "needs training" (rule 10): the course offer comes with the module's articles.
    from .knowledge import module_articles
    training = module_articles(ticket) if ticket.get("close_reason") == "needs_training" else []
    return render_template("ticket.html", ticket=ticket, number=number, errors=errors or {}, form=form or {},
                           office_phones=phones, training_articles=training, **staff.ticket_context(ticket, replies),
                           entry_types=ENTRY_TYPES, close_reasons=CLOSE_REASONS,
                           rating=_rating_state(ticket), idempotency_key=str(uuid.uuid4())), status


def _rating_state(ticket: dict) -> str | None:
    """For a customer's ticket closed as solved: "open" (he may rate it: the form shows), "rated",
    or None (nothing to show). Intake's own summary knows (query's read model does not carry it)."""
    from . import staff
    if ticket.get("status") != "closed" or ticket.get("close_reason") not in RATABLE_REASONS \
            or staff.is_staff(session.get("user")):
        return None
    reply = _ctx().backend.intake_ticket(session["token"], ticket["number"], _cid())
    if not reply.ok:
        return None
    return "open" if reply.body.get("may_rate") else "rated" if reply.body.get("rated") else None


@bp.get("/tickets/<number>")
@login_required
def ticket(number: str):
    """A ticket with its thread, the answer form and, after an agent's answer, "solved" / "not solved"."""
    return _ticket_page(_number(number))


@bp.post("/tickets/<number>/messages")
@login_required
def answer(number: str):
    """Post the reader's answer (with files) to intake."""
    number = _number(number)
    errors: dict[str, list[str]] = {}
    uploaded = _upload_files(errors)
    if errors:
        return _ticket_page(number, errors, request.form.to_dict(), 422)
    key = request.form.get("idempotency_key", "")
    body = {"body": request.form.get("body") or "", **({"attachments": [a["upload_id"] for a in uploaded]}
                                                       if uploaded else {})}
    if request.form.get("internal") == "1":  # staff's "internal note" box; intake refuses it from a customer
        body["internal"] = True
    answer_id = (request.form.get("canned_answer_id") or "").strip()
    if answer_id:  # the canned answer the text was started from: intake counts its use
        body["canned_answer_id"] = answer_id
    minutes = (request.form.get("minutes_spent") or "").strip()
    if minutes:  # staff's time spent; a number goes as one, anything else as typed, for intake to refuse
        body["minutes_spent"] = int(minutes) if minutes.isdecimal() and len(minutes) < 6 else minutes
    reply = _checked(_ctx().backend.post_message(session["token"], number, body,
                                                 key if _UUID.match(key) else str(uuid.uuid4()), _cid()))
    if not reply.ok:
        return _ticket_page(number, {forms.field_of(reply.body) or "body": [forms.text_of(reply.body, language())]},
                            request.form.to_dict(), 422)
    flash(_l("Su mensaje quedó en el ticket."))
    return redirect(url_for("portal.ticket", number=number))


@bp.post("/tickets/<number>/resolution")
@login_required
def resolution(number: str):
    """Rule 8: "Solucionado" closes the ticket; "No solucionado" says what is still wrong."""
    number = _number(number)
    solved = request.form.get("solved") == "1"
    text = request.form.get("resolution_body") or ""
    reply = _checked(_ctx().backend.resolution(session["token"], number, solved, text, _cid()))
    if not reply.ok:
        return _ticket_page(number, {"resolution_body": [forms.text_of(reply.body, language())]},
                            request.form.to_dict(), 422)
    flash(_l("Gracias: el ticket quedó cerrado.") if solved else _l("Lo devolvimos a la mesa con su comentario."))
    return redirect(url_for("portal.ticket", number=number))


@bp.post("/tickets/<number>/away")
@login_required
def away(number: str):
    """"Me tengo que ausentar": the desk waits for the reader until "back on" (auto-close counts from it)."""
    number = _number(number)
    reply = _checked(_ctx().backend.away(session["token"], number, forms.away_body(request.form), _cid()))
    if not reply.ok:
        field = forms.field_of(reply.body)
        return _ticket_page(number, {field if field in ("back_on", "away_note") else "back_on":
                                     [forms.text_of(reply.body, language())]}, request.form.to_dict(), 422)
    flash(_l("Anotamos su ausencia. Con fecha de regreso, el plazo para cerrar el ticket por falta de respuesta cuenta desde ese día."))
    return redirect(url_for("portal.ticket", number=number))


@bp.get("/tickets/<number>/attachments/<sha256>")
@login_required
def attachment(number: str, sha256: str):
    """A file of the ticket, fetched from intake with the reader's token; always a download."""
    number = _number(number)
    if not _SHA256.match(sha256):
        abort(404)
    reply = _checked(_ctx().backend.attachment(session["token"], number, sha256, _cid()))
    if not reply.ok:
        abort(404)
    response = Response(reply.content, mimetype=reply.headers.get("Content-Type", "application/octet-stream"))
    response.headers["Content-Disposition"] = reply.headers.get("Content-Disposition", "attachment")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# ------------------------------------------------------------------ links of mails (no login: the link is the proof)

_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,600}\.[A-Za-z0-9_-]{1,64}$")
_ANSWERS = ("solved", "not_solved")


def _link_token(token: str) -> str:
    """A token shaped like link_tokens' (anything else never reaches intake's URL)."""
    if not _LINK_TOKEN.match(token):
        abort(_invalid_link())
    return token


def _invalid_link():
    return make_response(render_template("link_invalid.html"), 400)


def _link_refused(reply: Reply) -> bool:
    return reply.body.get("code") == "RESOLUTION_LINK_INVALID" or reply.status == 404


@bp.get("/resolve/<token>")
def resolve_link(token: str):
    """A mail's "solved" / "not solved" link: a confirmation page with a form. Opening it changes
    nothing (mail scanners follow links); only the form's POST, with its CSRF token, answers."""
    token = _link_token(token)
    reply = _ctx().backend.check_link("resolve", token, _cid())
    if not reply.ok:
        return _invalid_link()
    answer = request.args.get("answer") if request.args.get("answer") in _ANSWERS else "solved"
    return render_template("resolve.html", token=token, answer=answer, errors={}, form={},
                           number=link_tokens.unverified_claims(token).get("t", ""))


@bp.post("/resolve/<token>")
def resolve_link_answer(token: str):
    """Post the answer to intake with the link's token; the page says what happened."""
    token = _link_token(token)
    answer = request.form.get("answer") if request.form.get("answer") in _ANSWERS else "solved"
    text = (request.form.get("body") or "").strip()
    reply = _ctx().backend.resolve_link(token, answer, text, _cid())
    number = link_tokens.unverified_claims(token).get("t", "")
    if reply.ok:
        return render_template("resolve_done.html", answer=answer, number=number)
    if _link_refused(reply):
        return _invalid_link()
    return render_template("resolve.html", token=token, answer=answer, number=number, form=request.form,
                           errors={"body": [forms.text_of(reply.body, language())]}), 422


def _rating_refused(reply: Reply) -> str | None:
    """The page for intake's refusal of a rating link: already rated, or the link does not work."""
    if reply.body.get("code") == "RATING_ALREADY_GIVEN":
        return "already"
    if reply.status in (400, 403, 404) or reply.body.get("code") in ("RATING_NOT_CLOSED", "RATING_NOT_SOLVED"):
        return "invalid"
    return None


def _rating_refusal_page(kind: str, number: str, status: int):
    if kind == "already":  # a second click on the mail's link: say so, kindly
        return render_template("rate_done.html", number=number, already=True), status
    return _invalid_link()


@bp.get("/rate/<token>")
def rate_link(token: str):
    """The closing mail's "Buena atención" / "Mala atención": a confirmation page with the choice and
    an optional comment. Opening it rates nothing (mail scanners follow links); its POST does."""
    token = _link_token(token)
    number = link_tokens.unverified_claims(token).get("t", "")
    reply = _ctx().backend.check_link("rate", token, _cid())
    if not reply.ok:
        return _rating_refusal_page(_rating_refused(reply) or "invalid", number, 200)
    rating = request.args.get("rating") if request.args.get("rating") in RATINGS else "good"
    return render_template("rate.html", token=token, rating=rating, number=number, errors={}, form={})


@bp.post("/rate/<token>")
def rate_link_answer(token: str):
    """Post the verdict to intake with the link's token; a thank-you page, or "already rated"."""
    token = _link_token(token)
    rating = request.form.get("rating") if request.form.get("rating") in RATINGS else "good"
    comment = (request.form.get("comment") or "").strip()
    reply = _ctx().backend.rate_link(token, rating, comment, _cid())
    number = link_tokens.unverified_claims(token).get("t", "")
    if reply.ok:
        return render_template("rate_done.html", number=number, already=False)
    refused = _rating_refused(reply)
    if refused:
        return _rating_refusal_page(refused, number, 409)
    return render_template("rate.html", token=token, rating=rating, number=number, form=request.form,
                           errors={"comment": [forms.text_of(reply.body, language())]}), 422


@bp.post("/tickets/<number>/rating")
@login_required
def rating(number: str):
    """The customer rates his ticket closed as solved from its page (once)."""
    number = _number(number)
    choice = request.form.get("rating") if request.form.get("rating") in RATINGS else ""
    comment = (request.form.get("comment") or "").strip()
    reply = _checked(_ctx().backend.rate(session["token"], number, choice, comment, _cid()))
    if not reply.ok:
        return _ticket_page(number, {"rating": [forms.text_of(reply.body, language())]}, request.form.to_dict(), 422)
    flash(_l("Gracias por calificar la atención."))
    return redirect(url_for("portal.ticket", number=number))


@bp.get("/set-password/<token>")
def set_password(token: str):
    """The access-granted mail's link: the new user chooses his password."""
    token = _link_token(token)
    if not _ctx().backend.check_link("set-password", token, _cid()).ok:
        return _invalid_link()
    return render_template("set_password.html", token=token, errors={})


@bp.post("/set-password/<token>")
def set_password_save(token: str):
    """Save the password at intake (once per link), then off to log in."""
    token = _link_token(token)
    password = request.form.get("password") or ""
    if password != (request.form.get("password_again") or ""):
        return render_template("set_password.html", token=token,
                               errors={"password_again": [_l("Las dos contraseñas no coinciden.")]}), 422
    reply = _ctx().backend.set_password(token, password, _cid())
    if reply.ok:
        flash(_l("Contraseña guardada. Entre con su correo y su nueva contraseña."))
        return redirect(url_for("portal.entry"))
    if _link_refused(reply):
        return _invalid_link()
    return render_template("set_password.html", token=token,
                           errors={"password": [forms.text_of(reply.body, language())]}), 422


# ------------------------------------------------------------------ induction course (rule 10)


def _training_page(form: dict, errors: dict, status: int = 200):
    modules = sorted({m["code"] for d in _desks_of_user() or ["SOPORTE"] for m in _open_modules(d)})
    return render_template("training.html", modules=modules, form=form, errors=errors,
                           chosen=request.form.getlist("modules") if request.method == "POST" else []), status


@bp.get("/training")
@login_required
def training():
    """Request an induction course: the modules, how many people, a note."""
    return _training_page({"participants": "1"}, {})


@bp.post("/training")
@login_required
def training_request():
    """Send the request to intake; the desk's staff schedule the course."""
    form = request.form.to_dict()
    try:
        participants = int(form.get("participants") or "0")
    except ValueError:
        participants = 0
    body = {"modules": request.form.getlist("modules"), "participants": participants,
            **({"note": form["note"].strip()} if (form.get("note") or "").strip() else {})}
    reply = _checked(_ctx().backend.request_training(session["token"], body, _cid()))
    if reply.ok:
        flash(_l("Recibimos su solicitud de curso de inducción. La mesa le escribirá para acordar la fecha."))
        return redirect(url_for("portal.my_tickets"))
    field = (reply.body.get("field") or "").split(".")[0].split("[")[0]
    return _training_page(form, {field if field in ("modules", "participants", "note") else "modules":
                                 [forms.text_of(reply.body, language())]}, 422)


# ------------------------------------------------------------------ special process (rule 5: announced urgency)

SPECIAL_PROCESS_LABELS = {"carnetizacion": _l("Carnetización de socios"), "other": _l("Otro proceso especial")}


def _special_process_page(form: dict, errors: dict, status: int = 200):
    return render_template("special_process.html", form=form, errors=errors, kinds=forms.SPECIAL_PROCESS_KINDS,
                           kind_labels=SPECIAL_PROCESS_LABELS), status


@bp.get("/special-processes")
@login_required
def special_process():
    """Announce a special process in advance: within its window, tickets may be urgent for it."""
    return _special_process_page({"kind": "carnetizacion"}, {})


@bp.post("/special-processes")
@login_required
def special_process_announce():
    """Send the announcement to intake; refusals beside their fields."""
    form = request.form.to_dict()
    reply = _checked(_ctx().backend.announce_special_process(session["token"], forms.special_process_body(form),
                                                             _cid()))
    if reply.ok:
        flash(_l("Proceso especial avisado. Durante esas fechas podrá marcar como urgente un caso que lo detenga."))
        return redirect(url_for("portal.my_tickets"))
    field = forms.field_of(reply.body)
    return _special_process_page(form, {field if field in ("kind", "description", "starts_on", "ends_on")
                                        else "description": [forms.text_of(reply.body, language())]}, 422)
