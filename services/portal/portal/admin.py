"""Supervisors' pages: organisations, users, and each desk's module catalog (issue 9).

Thin views (STYLE.md): each form becomes one call to intake with the supervisor's token
(`Backend.organisations_admin`, `create_organisation`, `create_user`, `update_user`,
`desk_modules`, `change_desk_modules`); refusals are shown beside their fields in the reader's
language. Reshaping a form into a request body is pure (`catalog_body`, `desks_of`).
"""
from __future__ import annotations

import functools
from typing import Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from helpdesk_shared.catalog import DESK_NAMES

from . import forms
from .pages import _checked, _cid, _ctx, language, login_required

bp = Blueprint("admin", __name__, url_prefix="/supervisor")

NEW_MODULE_ROWS = 3  # blank rows the catalog form offers for new modules
MAX_ROWS = 63        # intake takes at most 60 modules; a form claiming more rows is cut here
ROLE_LABELS = {"customer": _l("Cliente"), "agent": _l("Agente"), "supervisor": _l("Supervisor")}
LANGUAGE_LABELS = {"es": _l("Español"), "en": _l("Inglés")}


def supervisor_required(view):
    """Only a supervisor's session reaches these pages; anyone else gets 403 (the pages exist)."""
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if (session.get("user") or {}).get("role") != "supervisor":
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _my_desks() -> list[str]:
    return [d for d in DESK_NAMES if d in (session.get("user") or {}).get("desks", [])]


def desks_of(values: list[str]) -> list[str]:
    """The known desks among a form's checked `desks`, in catalog order (pure)."""
    return [d for d in DESK_NAMES if d in values]


def catalog_body(form: Mapping[str, str], rows: int) -> dict:
    """The PUT body from the catalog form: one row per module (`code_i`, `name_i`, `retired_i`);
    blank new rows are left out (pure)."""
    modules = []
    for i in range(min(rows, MAX_ROWS)):
        code, name = (form.get(f"code_{i}") or "").strip(), (form.get(f"name_{i}") or "").strip()
        if code or name:
            modules.append({"code": code.upper(), "name": name, "retired": form.get(f"retired_{i}") == "on"})
    try:
        version = int(form.get("expected_version") or "")
    except ValueError:
        version = -1  # intake refuses it at its edge, beside the field
    return {"expected_version": version, "modules": modules}


def _refusal(reply, fields: tuple[str, ...], default: str) -> dict:
    field = (reply.body.get("field") or "").split(".")[0].split("[")[0]
    return {field if field in fields else default: [forms.text_of(reply.body, language())]}


# ------------------------------------------------------------------ organisations


def _organisations_page(form: dict, errors: dict, status: int = 200):
    listing = _checked(_ctx().backend.organisations_admin(session["token"], _cid()))
    return render_template("admin_organisations.html", organisations=listing.body.get("items", []), form=form,
                           errors=errors, desks=_my_desks()), status


@bp.get("/organisations")
@supervisor_required
def organisations():
    """The organisations of the supervisor's desks, and a form to register one."""
    return _organisations_page({"desks": _my_desks()[:1]}, {})


@bp.post("/organisations")
@supervisor_required
def create_organisation():
    """Register an organisation through intake; refusals beside their fields."""
    form = {k: (request.form.get(k) or "").strip() for k in ("name", "tax_id")}
    form["desks"] = desks_of(request.form.getlist("desks"))
    body = {"name": form["name"], "desks": form["desks"], **({"tax_id": form["tax_id"]} if form["tax_id"] else {})}
    reply = _checked(_ctx().backend.create_organisation(session["token"], body, _cid()))
    if reply.ok:
        flash(_l("Organización registrada: %(name)s.", name=reply.body.get("name", "")))
        return redirect(url_for("admin.users", organisation=reply.body.get("id")))
    return _organisations_page(form, _refusal(reply, ("name", "tax_id", "desks"), "name"), 422)


# ------------------------------------------------------------------ users


def _users_page(chosen: str, form: dict, errors: dict, status: int = 200):
    listing = _checked(_ctx().backend.organisations_admin(session["token"], _cid())).body
    organisations = listing.get("items", [])
    current = next((o for o in organisations if o["id"] == chosen), None)
    if chosen and chosen != "staff" and current is None:
        abort(404)
    people = listing.get("staff", []) if chosen == "staff" else (current or {}).get("users", [])
    desks = [d for d in _my_desks() if current is None or d in current["desks"]]
    return render_template("admin_users.html", organisations=organisations, chosen=chosen, current=current,
                           people=people, form=form, errors=errors, desks=desks, my_desks=_my_desks(),
                           role_labels=ROLE_LABELS, language_labels=LANGUAGE_LABELS), status


@bp.get("/users")
@supervisor_required
def users():
    """The users of one organisation (or the staff), a form to create one, and each one's desks and state."""
    chosen = (request.args.get("organisation") or "")[:64]
    return _users_page(chosen, {"language": "es"}, {})


@bp.post("/users")
@supervisor_required
def create_user():
    """Create a customer of the chosen organisation (or an agent, from the staff list); he is mailed
    a link to choose his password."""
    chosen = (request.form.get("organisation") or "")[:64]
    form = {k: (request.form.get(k) or "").strip() for k in ("email", "name", "phone", "language")}
    form["desks"] = desks_of(request.form.getlist("desks"))
    role = "agent" if chosen == "staff" else "customer"
    body = {"email": form["email"], "name": form["name"], "role": role, "desks": form["desks"],
            "language": form["language"] if form["language"] in LANGUAGE_LABELS else "es",
            **({"organisation_id": chosen} if role == "customer" else {}),
            **({"phone": form["phone"]} if form["phone"] else {})}
    reply = _checked(_ctx().backend.create_user(session["token"], body, _cid()))
    if reply.ok:
        flash(_l("Usuario creado: %(email)s. Le enviamos un correo para que escoja su contraseña.",
                 email=reply.body.get("email", "")))
        return redirect(url_for("admin.users", organisation=chosen))
    return _users_page(chosen, form, _refusal(reply, ("email", "name", "phone", "desks", "language"), "email"), 422)


@bp.post("/users/<user_id>")
@supervisor_required
def update_user(user_id: str):
    """Change a user's desks, or deactivate / reactivate him (his sessions end)."""
    chosen = (request.form.get("organisation") or "")[:64]
    action = request.form.get("action")
    if action == "desks":
        body = {"desks": desks_of(request.form.getlist("desks"))}
    elif action in ("deactivate", "activate"):
        body = {"disabled": action == "deactivate"}
    else:
        abort(400)
    reply = _checked(_ctx().backend.update_user(session["token"], user_id[:64], body, _cid()))
    if reply.ok:
        flash(_l("Usuario actualizado: %(email)s.", email=reply.body.get("email", "")))
        return redirect(url_for("admin.users", organisation=chosen))
    return _users_page(chosen, {"language": "es"}, {f"user-{user_id[:64]}": [forms.text_of(reply.body, language())]},
                       422)


# ------------------------------------------------------------------ a desk's module catalog


def _catalog_page(desk: str, errors: dict, status: int = 200, rows: list[dict] | None = None,
                  version: int | None = None):
    current = _checked(_ctx().backend.desk_modules(session["token"], desk, _cid())).body
    rows = rows if rows is not None else current.get("modules", [])
    return render_template("admin_catalog.html", desk=desk, desks=_my_desks(), errors=errors,
                           existing=rows, blank=NEW_MODULE_ROWS, known={m["code"] for m in current.get("modules", [])},
                           version=current.get("version", 0) if version is None else version), status


def _chosen_desk(value: str | None) -> str:
    desks = _my_desks()
    if value in desks:
        return value
    if value or not desks:
        abort(404)
    return desks[0]


@bp.get("/catalog")
@supervisor_required
def catalog():
    """A desk's modules: rename, retire, add (a module's code never changes)."""
    return _catalog_page(_chosen_desk(request.args.get("desk")), {})


@bp.post("/catalog")
@supervisor_required
def change_catalog():
    """Send the whole list to intake; on a concurrent edit, the page reloads the current list and says so."""
    desk = _chosen_desk(request.form.get("desk"))
    try:
        rows = int(request.form.get("rows") or "0")
    except ValueError:
        rows = 0
    body = catalog_body(request.form, rows)
    reply = _checked(_ctx().backend.change_desk_modules(session["token"], desk, body, _cid()))
    if reply.ok:
        # This worker's queue pages show the new catalog at once (the others within recent.SECONDS).
        _ctx().recent.forget(lambda key: key[:2] == ("modules", desk))
        flash(_l("Catálogo de %(desk)s guardado (versión %(version)s).", desk=desk,
                 version=reply.body.get("version")))
        return redirect(url_for("admin.catalog", desk=desk))
    if reply.status == 409:  # someone else saved first: show theirs, say why
        return _catalog_page(desk, {"modules": [forms.text_of(reply.body, language())]}, 409)
    existing = [m for m in body["modules"] if m["code"]]
    return _catalog_page(desk, {"modules": [forms.text_of(reply.body, language())]}, 422, rows=existing,
                         version=body["expected_version"])
