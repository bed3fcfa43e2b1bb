"""Content supervisors edit (issue 9): the desks' rules page and the mail templates' texts.

The portal holds none of it: the rules page is intake's (`/api/desks/<desk>/rules-page`), the
mail texts are the notifier's (`/api/templates/...`); these views read and post them with the
supervisor's token, and preview before saving. The entry page shows the rules page through
`rules_page(desk)`, a template global, so the customers' views need no change.
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from helpdesk_shared.rich_text import sanitise, to_html
from helpdesk_shared.catalog import DESK_NAMES as DESKS  # the desks: the kernel's catalog data

from . import forms
from .backend import Reply, Unavailable

bp = Blueprint("content", __name__)

LANGUAGES = ("es", "en")
LANGUAGE_LABELS = {"es": _l("Español"), "en": _l("Inglés")}
RULES_TEXT_MAX = 20_000
MAIL_SUBJECT_MAX = 300
MAIL_BODY_MAX = 20_000


def _backend():
    return current_app.extensions["portal"].backend


def _language() -> str:
    from .pages import language  # the page's language, as every portal page decides it
    return language()


def _cid() -> str | None:
    return g.get("correlation_id")


# ------------------------------------------------------------------ the entry page's rules


@bp.app_context_processor
def _rules_page_global():
    return {"rules_page": rules_page}


def rules_page(desk: str) -> dict | None:
    """The desk's rules page for the entry page: `{"html": Markup, "lang": shown language}`, or None
    when intake does not answer (the page still offers login and "No tengo usuario")."""
    try:
        reply = _backend().rules_page(desk, _language(), _cid())
    except Unavailable:
        return None
    if not reply.ok or not isinstance(reply.body.get("html"), str):
        return None
    # Intake sanitised it when it was saved; cleaned again here, the portal trusts no stored HTML.
    return {"html": Markup(sanitise(reply.body["html"])), "lang": reply.body.get("shown_language") or _language()}


@bp.app_template_filter("rules_safe")
def _rules_safe(html: str) -> Markup:
    """Stored HTML of a rules page, sanitised again before it is marked safe."""
    return Markup(sanitise(html or ""))


# ------------------------------------------------------------------ who may edit


def supervisor_required(view):
    """Log in first; then only supervisors (intake and the notifier check again)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not session.get("token"):
            flash(_l("Inicie sesión para continuar."))
            if request.method == "GET":
                session["next"] = request.full_path.rstrip("?")
            return redirect(url_for("portal.entry"))
        if (session.get("user") or {}).get("role") != "supervisor":
            return _refused()
        return view(*args, **kwargs)
    return wrapped


def _refused():
    return render_template("error.html", status=403, kind="refused",
                           text=_l("Solo un supervisor puede editar el contenido de la mesa.")), 403


def _checked(reply: Reply) -> Reply:
    """`reply`; the session ended on 401; the refused page on 403."""
    if reply.status == 401:
        from .pages import _expired
        abort(_expired())
    if reply.status == 403:
        abort(current_app.make_response(_refused()))
    return reply


def _supervisor_desks() -> list[str]:
    return [d for d in DESKS if d in (session.get("user") or {}).get("desks", [])]


# ------------------------------------------------------------------ the rules page


def _rules_choice(source) -> tuple[str, str]:
    desks = _supervisor_desks()
    desk = source.get("desk") if source.get("desk") in desks else (desks[0] if desks else "SOPORTE")
    lang = source.get("lang") if source.get("lang") in LANGUAGES else "es"
    return desk, lang


def _rules_form(desk: str, lang: str, text: str, version: int, *, errors=None, preview=None, saved=None,
                status: int = 200):
    return render_template("supervisor_rules.html", desk=desk, lang_edited=lang, text=text, version=version,
                           desks=_supervisor_desks(), languages=LANGUAGES, language_labels=LANGUAGE_LABELS,
                           errors=errors or {}, preview=preview, saved=saved, text_max=RULES_TEXT_MAX), status


@bp.get("/supervisor/rules")
@supervisor_required
def rules():
    """The rules page of one desk in one language, in a form to edit (Markdown), with what it shows."""
    desk, lang = _rules_choice(request.args)
    reply = _checked(_backend().rules_page(desk, lang, _cid()))
    if not reply.ok:
        abort(404)
    page = reply.body
    return _rules_form(desk, lang, page.get("text") or "", int(page.get("version") or 0),
                       preview=Markup(sanitise(page.get("html") or "")), saved=page)


@bp.post("/supervisor/rules")
@supervisor_required
def rules_save():
    """"Vista previa" renders the text here (sanitised, nothing saved); "Guardar" sends it to intake
    with the version read, so an edit made meanwhile by someone else is not overwritten."""
    desk, lang = _rules_choice(request.form)
    text = (request.form.get("text") or "")[:RULES_TEXT_MAX + 1]
    try:
        version = max(0, int(request.form.get("version") or "0"))
    except ValueError:
        version = 0
    if request.form.get("action") != "save":
        return _rules_form(desk, lang, text, version, preview=Markup(to_html(text)))
    reply = _checked(_backend().edit_rules_page(session["token"], desk,
                                                {"language": lang, "text": text, "version": version}, _cid()))
    if reply.ok:
        flash(_l("Página de reglas guardada (versión %(version)s).", version=reply.body.get("version")))
        return redirect(url_for("content.rules", desk=desk, lang=lang))
    message = forms.text_of(reply.body, _language())
    if reply.status == 409:
        # Keep his text; show what the other person saved and take its version, so saving again is a choice.
        current = _checked(_backend().rules_page(desk, lang, _cid())).body
        return _rules_form(desk, lang, text, int(current.get("version") or 0), errors={"text": [message]},
                           preview=Markup(to_html(text)), saved=current, status=409)
    return _rules_form(desk, lang, text, version, errors={"text": [message]}, preview=Markup(to_html(text)),
                       status=422 if reply.status < 500 else reply.status)


# ------------------------------------------------------------------ the mail templates' texts


def _template_choice(source) -> tuple[str, str]:
    name = (source.get("name") or "")[:64]
    lang = source.get("lang") if source.get("lang") in LANGUAGES else "es"
    return name, lang


def _template_form(name: str, lang: str, state: dict, subject: str, body: str, version: int, *, errors=None,
                   preview=None, status: int = 200):
    return render_template("supervisor_template.html", name=name, lang_edited=lang, state=state, subject=subject,
                           body=body, version=version, errors=errors or {}, preview=preview,
                           languages=LANGUAGES, language_labels=LANGUAGE_LABELS, subject_max=MAIL_SUBJECT_MAX,
                           body_max=MAIL_BODY_MAX), status


def _template_state(name: str, lang: str) -> dict:
    reply = _checked(_backend().mail_template(session["token"], name, lang, _cid()))
    if not reply.ok:
        abort(404)
    return reply.body


@bp.get("/supervisor/templates")
@supervisor_required
def templates():
    """The mail templates (which have a supervisor's text), or one of them in a form to edit."""
    name, lang = _template_choice(request.args)
    if not name:
        listing = _checked(_backend().mail_templates(session["token"], _cid()))
        if not listing.ok:
            abort(404)
        return render_template("supervisor_templates.html", templates=listing.body.get("templates") or [],
                               edited=set(listing.body.get("edited") or []), languages=LANGUAGES,
                               language_labels=LANGUAGE_LABELS)
    state = _template_state(name, lang)
    text = state.get("current") or state.get("default") or {}
    return _template_form(name, lang, state, text.get("subject", ""), text.get("body", ""),
                          int(state.get("version") or 0))


@bp.post("/supervisor/templates")
@supervisor_required
def templates_save():
    """"Vista previa" asks the notifier to render the text with a sample mail; "Guardar" keeps it
    (against the version read); "Volver al texto original" resets it. Refusals beside the fields."""
    name, lang = _template_choice(request.form)
    subject = (request.form.get("subject") or "")[:MAIL_SUBJECT_MAX + 1]
    body = (request.form.get("body") or "")[:MAIL_BODY_MAX + 1]
    try:
        version = max(0, min(int(request.form.get("version") or "0"), 1_000_000))
    except ValueError:
        version = 0
    state = _template_state(name, lang)
    action = request.form.get("action")
    backend, token = _backend(), session["token"]
    if action == "save":
        reply = _checked(backend.save_mail_template(token, name, lang, {"subject": subject, "body": body,
                                                                       "version": version}, _cid()))
    elif action == "reset":
        reply = _checked(backend.reset_mail_template(token, name, lang, version, _cid()))
    else:
        reply = _checked(backend.preview_mail_template(token, name, lang, {"subject": subject, "body": body}, _cid()))
        if reply.ok:
            return _template_form(name, lang, state, subject, body, version, preview=reply.body)
    if reply.ok:
        flash(_l("Texto del correo guardado.") if action == "save" else _l("El correo vuelve a su texto original."))
        return redirect(url_for("content.templates", name=name, lang=lang))
    field = reply.body.get("field") if reply.body.get("field") in ("subject", "body") else "body"
    if reply.status == 409:
        version = int(state.get("version") or 0)  # saving again now overwrites knowingly
    return _template_form(name, lang, state, subject, body, version,
                          errors={field: [forms.text_of(reply.body, _language())]},
                          status=reply.status if reply.status in (404, 409) else 422)
