"""The knowledge base's pages (issue 12): customers browse, search and read published articles; staff
(agents of the article's desk, supervisors) write, publish and archive them; the new-ticket form asks
`/articles/suggestions.json` for the articles that match what the customer types.

Thin views as in `pages`: reads from query, commands to intake, with the reader's token; intake and
query check again who may do what. Query follows intake a moment later: after a command the page
asks for the version the command made (`?v=`), and while query still has an older one it shows a
page that reloads itself, as a new ticket's page does.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from helpdesk_shared.catalog import DESK_NAMES as DESKS
from helpdesk_shared.rich_text import sanitise, to_html

from . import forms
from .backend import Unavailable
from .pages import _checked, _cid, _ctx, language, login_required
from .staff import is_staff, staff_required

bp = Blueprint("knowledge", __name__)

_ARTICLE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STATUS_LABELS = {"draft": _l("Borrador"), "published": _l("Publicado"), "archived": _l("Archivado")}
TITLE_MAX, BODY_MAX = 200, 20_000
SUGGESTION_TEXT_MAX = 1_500  # query's limit is 2,000: the subject and the start of the description
_FIELDS = ("title_es", "body_es", "title_en", "body_en")


def _article_id(article_id: str) -> str:
    if not _ARTICLE_ID.match(article_id):
        abort(404)
    return article_id


def _staff_desks() -> list[str]:
    """The desks whose articles the reader writes: an agent's own, every desk for a supervisor."""
    user = session.get("user") or {}
    if user.get("role") == "supervisor":
        return list(DESKS)
    return [d for d in DESKS if d in (user.get("desks") or [])]


def shown(article: dict) -> dict:
    """The article's title and HTML in the page's language (English only where it was written)."""
    english = language() == "en"
    title = article.get("title_en") if english and article.get("title_en") else article.get("title_es", "")
    html = article.get("html_en") if english and article.get("html_en") else article.get("html_es", "")
    # Query sanitised it when it applied the event; cleaned again here: the portal trusts no stored HTML.
    return {**article, "title": title, "html": Markup(sanitise(html or ""))}


@bp.app_context_processor
def _labels():
    return {"article_status_labels": STATUS_LABELS}


# ------------------------------------------------------------------ customers and staff: browse, search, read


@bp.get("/articles")
@login_required
def articles():
    """The articles the reader may read, by title; with `q`, those that match, best first."""
    params = {k: request.args[k][:200] for k in ("q", "desk", "module", "status", "cursor", "limit")
              if request.args.get(k)}
    if "status" in params and not is_staff(session.get("user")):
        params.pop("status")
    backend, token = _ctx().backend, session["token"]
    if params.get("q"):
        reply = _checked(backend.search_articles(token, params, _cid()))
    else:
        params.pop("q", None)
        reply = _checked(backend.articles(token, params, _cid()))
    error = None if reply.ok else forms.text_of(reply.body, language())
    items = [shown(item) for item in reply.body.get("items", [])] if reply.ok else []
    return render_template("articles.html", items=items, params=params, error=error,
                           next_params={k: v for k, v in params.items() if k != "cursor"},
                           next_cursor=reply.body.get("next_cursor") if reply.ok else None,
                           desks=_staff_desks() if is_staff(session.get("user")) else
                           [d for d in DESKS if d in (session["user"].get("desks") or [])],
                           statuses=STATUS_LABELS), 200 if reply.ok else 422


@bp.get("/articles/<article_id>")
@login_required
def article(article_id: str):
    """One article (404 when the reader may not read it: a customer never learns a draft exists)."""
    reply = _checked(_ctx().backend.article(session["token"], _article_id(article_id), _cid()))
    if _behind(reply.body):
        return _pending(article_id)
    _record_suggestion_opened(article_id, reply.body)
    return render_template("article.html", article=shown(reply.body),
                           can_edit=is_staff(session.get("user")) and reply.body.get("desk") in _staff_desks())


def _record_suggestion_opened(article_id: str, article: dict) -> None:
    """A customer came from the new-ticket form's suggestions (`?attempt=` the form's load): tell
    intake, for the deflection count. Best effort: the article is shown whatever intake says."""
    attempt = request.args.get("attempt", "")
    if not _ARTICLE_ID.match(attempt) or (session.get("user") or {}).get("role") != "customer":
        return
    if article.get("status") != "published":
        return
    try:
        _ctx().backend.article_opened(session["token"], article_id, attempt, _cid())
    except Unavailable:
        pass  # one deflection less counted; the customer reads his article


def _behind(article: dict) -> bool:
    """Whether query still holds an older version than the command the reader just made (`?v=`)."""
    try:
        wanted = int(request.args.get("v") or 0)
    except ValueError:
        wanted = 0
    return int(article.get("version") or 0) < wanted


def _pending(article_id: str):
    return render_template("article_pending.html", article_id=article_id), 200


# ------------------------------------------------------------------ the new-ticket form's suggestions


@bp.get("/articles/suggestions.json")
def suggestions():
    """`{items: [{title, url, module_name}]}`: published articles of `desk` matching `text` (the new
    ticket's subject and description so far). JSON for the form's script; 401 without a session."""
    if not session.get("token"):
        return jsonify({"items": []}), 401
    desk = request.args.get("desk", "")
    text = (request.args.get("text") or "")[:SUGGESTION_TEXT_MAX]
    if desk not in DESKS or not text.strip():
        return jsonify({"items": []})
    try:
        reply = _ctx().backend.suggest_articles(session["token"], desk, text, _cid())
    except Unavailable:
        return jsonify({"items": []})  # the form works without suggestions
    if reply.status == 401:
        return jsonify({"items": []}), 401
    items = [shown(item) for item in reply.body.get("items", [])] if reply.ok else []
    attempt = request.args.get("attempt", "")
    extra = {"attempt": attempt} if _ARTICLE_ID.match(attempt) else {}  # the form's load: see `article`
    return jsonify({"items": [{"title": item["title"], "module_name": item.get("module_name") or item["module"],
                               "url": url_for("knowledge.article", article_id=item["article_id"], **extra)}
                              for item in items]})


# ------------------------------------------------------------------ staff: an article linked in an answer


def module_articles(ticket: dict) -> list[dict]:
    """The published articles of the ticket's desk and module (at most 5), each with the text an agent
    inserts in his answer to link it: its title and its address on the portal (also offered to the
    customer of a ticket closed as "needs training"). None when query does not answer: the ticket
    page does not depend on them."""
    try:
        # A customer reads only published articles anyway (and may not ask by status).
        status = {"status": "published"} if is_staff(session.get("user")) else {}
        reply = _ctx().backend.articles(session["token"], {"desk": ticket["desk"], "module": ticket["module"],
                                                           "limit": 5, **status}, _cid())
    except Unavailable:
        return []
    if not reply.ok:
        return []
    base = _ctx().config.public_url
    return [{"title": item["title"], "url": url_for("knowledge.article", article_id=item["article_id"]),
             "text": f"{item['title']}: {base}{url_for('knowledge.article', article_id=item['article_id'])}"}
            for item in (shown(i) for i in reply.body.get("items", []))]


# ------------------------------------------------------------------ staff: deflections


@bp.get("/articles/deflections")
@staff_required
def deflections():
    """How many new-ticket forms ended without a ticket after opening a suggested article, per
    module and article (query decides, with its window, as of now)."""
    params = {"desk": request.args["desk"]} if request.args.get("desk") in _staff_desks() else {}
    reply = _checked(_ctx().backend.deflections(session["token"], params, _cid()))
    return render_template("article_deflections.html", report=reply.body if reply.ok else {},
                           desks=_staff_desks(), desk=params.get("desk", ""))


# ------------------------------------------------------------------ staff: write, publish, archive


def _modules(desk: str) -> list[dict]:
    reply = _checked(_ctx().backend.desk_modules(session["token"], desk, _cid()))
    return [m for m in reply.body.get("modules", []) if not m.get("retired")] if reply.ok else []


def _form_page(form: dict, *, article: dict | None = None, errors: dict | None = None, preview=None,
               status: int = 200):
    desks = _staff_desks()
    desk = (article or {}).get("desk") or (form.get("desk") if form.get("desk") in desks else
                                           (desks[0] if desks else "SOPORTE"))
    return render_template("article_form.html", form=form, article=article, errors=errors or {}, preview=preview,
                           desks=desks, desk=desk, modules=_modules(desk), title_max=TITLE_MAX,
                           body_max=BODY_MAX), status


def _posted() -> dict:
    form = {name: (request.form.get(name) or "")[:(TITLE_MAX if name.startswith("title") else BODY_MAX) + 1]
            for name in _FIELDS}
    form["module"] = (request.form.get("module") or "")[:40]
    form["desk"] = (request.form.get("desk") or "")[:40]
    return form


def _refusal(reply) -> dict:
    field = reply.body.get("field") if reply.body.get("field") in (*_FIELDS, "module", "desk") else ""
    return {field: [forms.text_of(reply.body, language())]}


@bp.get("/articles/new")
@staff_required
def new_article():
    """The form of a new article (a draft until published)."""
    return _form_page({"desk": request.args.get("desk", "")})


@bp.post("/articles/new")
@staff_required
def create_article():
    """"Vista previa" renders the text here; "Guardar borrador" sends it to intake."""
    form = _posted()
    if request.form.get("action") != "save":
        return _form_page(form, preview=Markup(to_html(form["body_es"])))
    body = {"desk": form["desk"], "module": form["module"], "title_es": form["title_es"], "body_es": form["body_es"],
            "title_en": form["title_en"] or None, "body_en": form["body_en"] or None}
    reply = _checked(_ctx().backend.draft_article(session["token"], body, _cid()))
    if reply.ok:
        flash(_l("Borrador guardado. Los clientes no lo ven hasta que se publique."))
        return redirect(url_for("knowledge.edit_article", article_id=reply.body["article_id"],
                                v=reply.body["version"]))
    return _form_page(form, errors=_refusal(reply), preview=Markup(to_html(form["body_es"])), status=422)


@bp.get("/articles/<article_id>/edit")
@staff_required
def edit_article(article_id: str):
    """The article in a form to edit, with its status and the buttons its status allows."""
    reply = _checked(_ctx().backend.article(session["token"], _article_id(article_id), _cid()))
    if _behind(reply.body):
        return _pending(article_id)
    article = reply.body
    form = {name: article.get(name) or "" for name in _FIELDS} | {"module": article["module"]}
    return _form_page(form, article=article, preview=Markup(sanitise(article.get("html_es") or "")))


@bp.post("/articles/<article_id>/edit")
@staff_required
def save_article(article_id: str):
    """"Guardar", "Publicar" or "Archivar" against the version read (409: someone saved meanwhile)."""
    backend, token = _ctx().backend, session["token"]
    current = _checked(backend.article(token, _article_id(article_id), _cid())).body
    form = _posted()
    try:
        version = max(1, min(int(request.form.get("version") or "1"), 1_000_000))
    except ValueError:
        version = 1
    action = request.form.get("action")
    if action == "save":
        reply = _checked(backend.edit_article(token, article_id, {
            "module": form["module"] or None, "title_es": form["title_es"], "body_es": form["body_es"],
            "title_en": form["title_en"] or None, "body_en": form["body_en"] or None, "version": version}, _cid()))
    elif action in ("publish", "archive"):
        reply = _checked(backend.change_article_status(token, article_id, action, version, _cid()))
    else:
        return _form_page(form, article={**current, "version": version}, preview=Markup(to_html(form["body_es"])))
    if reply.ok:
        flash({"save": _l("Artículo guardado."), "publish": _l("Artículo publicado: los clientes ya lo ven."),
               "archive": _l("Artículo archivado: los clientes ya no lo ven.")}[action])
        return redirect(url_for("knowledge.edit_article", article_id=article_id, v=reply.body["version"]))
    if reply.status == 409:
        version = int(current.get("version") or version)  # saving again now overwrites knowingly
    return _form_page(form, article={**current, "version": version}, errors=_refusal(reply),
                      preview=Markup(to_html(form["body_es"])), status=reply.status if reply.status == 409 else 422)
