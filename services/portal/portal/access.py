"""Staff's access-requests page: the pending "No tengo usuario" requests of their desks, each granted
into an organisation or rejected with a reason (intake decides; the page only asks and shows).

Customers get the not-found page, as for any page that is not theirs.
"""
from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from . import forms
from .pages import _checked, _cid, _ctx, language, login_required
from .staff import is_staff

bp = Blueprint("access", __name__)

_REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Words that name no particular organisation; they must not make "Club Caracas" match "Club Valencia".
_GENERIC = {"club", "social", "de", "del", "la", "el", "los", "las", "y", "c", "a", "ca", "sa", "s", "compania",
            "empresa", "asociacion", "country", "centro"}


def _words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return {w for w in re.findall(r"[a-z0-9]+", folded) if w not in _GENERIC}


def suggested_organisation(requested_name: str, organisations: list[dict]) -> str | None:
    """The id of the one organisation whose name shares the most distinctive words with what the person
    typed (accents and case folded), or None when none or several tie: the agent still confirms."""
    wanted = _words(requested_name)
    scores = sorted(((len(wanted & _words(o.get("name", ""))), o["id"]) for o in organisations), reverse=True)
    if not scores or scores[0][0] == 0 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        return None
    return scores[0][1]


def _staff_only() -> None:
    if not is_staff(session.get("user")):
        abort(404)  # a customer learns nothing about staff pages


def _valid_request_id(request_id: str) -> str:
    if not _REQUEST_ID.match(request_id):
        abort(404)
    return request_id


def _page(errors: dict | None = None, form: dict | None = None, status: int = 200):
    """The list, with `errors[request_id][field]` beside the request's fields and what was typed kept."""
    token = session["token"]
    pending = _checked(_ctx().backend.access_requests(token, _cid()))
    organisations = _checked(_ctx().backend.organisations(token, _cid()))
    orgs = organisations.body.get("items", []) if organisations.ok else []
    items = []
    for item in pending.body.get("items", []) if pending.ok else []:
        of_desk = [o for o in orgs if item.get("desk") in (o.get("desks") or [])]
        items.append({**item, "organisations": of_desk,
                      "suggested": suggested_organisation(item.get("organisation_name", ""), of_desk)})
    listed = {item["request_id"] for item in items}
    # A request decided meanwhile by someone else is no longer listed: its refusal goes on top.
    elsewhere = [text for rid, fields in (errors or {}).items() if rid not in listed
                 for texts in fields.values() for text in texts]
    return render_template("access_requests.html", items=items, errors=errors or {}, form=form or {},
                           elsewhere=elsewhere), status


@bp.get("/access-requests")
@login_required
def access_requests():
    """Pending access requests of the reader's desks, oldest first (staff)."""
    _staff_only()
    return _page()


def _refused(request_id: str, reply, default_field: str, form: dict):
    field = forms.field_of(reply.body)
    field = field if field in ("organisation_id", "reason") else default_field
    status = reply.status if reply.status in (409, 422) else 422
    return _page({request_id: {field: [forms.text_of(reply.body, language())]}}, {request_id: form}, status)


@bp.post("/access-requests/<request_id>/grant")
@login_required
def grant(request_id: str):
    """Grant the request into the chosen organisation; intake creates the user and mails the link."""
    _staff_only()
    request_id = _valid_request_id(request_id)
    organisation_id = (request.form.get("organisation_id") or "").strip()
    form = {"organisation_id": organisation_id}
    if not organisation_id:
        return _page({request_id: {"organisation_id": [_l("Elija la organización del nuevo usuario.")]}},
                     {request_id: form}, 422)
    reply = _checked(_ctx().backend.grant_access(session["token"], request_id, organisation_id, _cid()))
    if not reply.ok:
        return _refused(request_id, reply, "organisation_id", form)
    flash(_l("Acceso concedido a %(name)s. Le enviamos un correo con el enlace para crear su contraseña.",
             name=request.form.get("name") or request.form.get("email") or ""))
    return redirect(url_for("access.access_requests"))


@bp.post("/access-requests/<request_id>/reject")
@login_required
def reject(request_id: str):
    """Reject the request with a reason (intake records it as AccessRejected)."""
    _staff_only()
    request_id = _valid_request_id(request_id)
    reason = (request.form.get("reason") or "").strip()
    reply = _checked(_ctx().backend.reject_access(session["token"], request_id, reason, _cid()))
    if not reply.ok:
        return _refused(request_id, reply, "reason", {"reason": reason})
    flash(_l("Solicitud rechazada; le enviamos el motivo por correo a quien la hizo."))
    return redirect(url_for("access.access_requests"))
