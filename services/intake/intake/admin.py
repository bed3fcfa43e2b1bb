"""Supervisors' commands: a desk's module catalog, organisations and users (issue 9).

Each checks the caller, then appends its events on helpdesk.accounts in the same unit of work
as intake's own rows, like every command handler in `handlers`.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.errors import NotFound

from . import catalog, handlers
from .messages import violation
from .requests import ORGANISATION_ID_PATTERN
from .unit_of_work import UnitOfWork

_ORGANISATION_ID = re.compile(ORGANISATION_ID_PATTERN)


def _actor(user: Claims) -> Actor:
    return Actor(id=user.user_id, role=user.role)


def _supervisor(user: Claims) -> None:
    if user.role != "supervisor":
        raise violation("FORBIDDEN", None, status=403)


# ---------------------------------------------------------------- a desk's module catalog

def _desk(name: str) -> catalog.Desk:
    desk = catalog.DESKS.get(name)
    if desk is None:
        raise NotFound("desk")
    return desk


def read_catalog(uow: UnitOfWork, user: Claims, desk_name: str) -> catalog.Desk:
    """The desk's current catalog, for anyone allowed on the desk (the new-ticket form reads it)."""
    desk = _desk(desk_name)
    if desk.name not in user.desks:
        raise violation("DESK_NOT_ALLOWED", "desk", status=403)
    return uow.catalogs.current(desk)


def change_catalog(uow: UnitOfWork, supervisor: Claims, desk_name: str, body: dict,
                   now: datetime) -> catalog.Desk:
    """A supervisor of the desk replaces its module list (ModuleCatalogChanged with the full list).

    `body` is loaded by `requests.ModuleCatalog`. The edit is refused with 409 when the catalog
    moved on since `expected_version` (two supervisors editing at once: the second reloads)."""
    _supervisor(supervisor)
    desk = _desk(desk_name)
    if desk.name not in supervisor.desks:
        raise violation("FORBIDDEN", "desk", status=403)
    uow.catalogs.lock(desk.name)
    desk = uow.catalogs.current(desk)
    if body["expected_version"] != desk.version:
        raise violation("CATALOG_VERSION_CONFLICT", "expected_version", version=desk.version)
    modules = catalog.revise(desk.entries, body["modules"])
    if modules == desk.entries:
        return desk  # nothing changes: no event
    after = desk.with_modules([m.as_dict() for m in modules], desk.version + 1)
    event = new_event("ModuleCatalogChanged", f"catalog-{desk.name}", after.version, {
        "desk": desk.name, "version": after.version, "modules": [m.as_dict() for m in modules],
        "changed_by": supervisor.user_id}, actor=_actor(supervisor), occurred_at=now)
    uow.streams.append([event], expected_version=desk.version)
    uow.catalogs.save(after)
    return after


def catalog_view(desk: catalog.Desk) -> dict:
    """The API's form of a desk's catalog."""
    return {"desk": desk.name, "version": desk.version, "modules": [m.as_dict() for m in desk.entries]}


# ---------------------------------------------------------------- organisations

def _slug(name: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFD", name.casefold()) if not unicodedata.combining(c))
    return "-".join(re.findall(r"[a-z0-9]+", folded))[:64] or "organisation"


def create_organisation(uow: UnitOfWork, supervisor: Claims, body: dict, now: datetime) -> dict:
    """A supervisor registers a customer organisation on some of his desks (OrganisationRegistered)."""
    _supervisor(supervisor)
    name = " ".join(body["name"].split())
    desks = list(dict.fromkeys(body["desks"]))
    if not desks:
        raise violation("ORGANISATION_INVALID", "desks")
    if not set(desks) <= set(supervisor.desks):
        raise violation("FORBIDDEN", "desks", status=403)
    organisation_id = (body.get("organisation_id") or "").strip() or _slug(name)
    if not _ORGANISATION_ID.match(organisation_id):
        raise violation("ORGANISATION_INVALID", "organisation_id")
    uow.organisations.lock_all()  # one name, one organisation
    if uow.organisations.taken(organisation_id, name):
        raise violation("ORGANISATION_EXISTS", "name")
    tax_id = (body.get("tax_id") or "").strip() or None
    handlers.register_organisation(uow, name=name, desks=desks, tax_id=tax_id, organisation_id=organisation_id,
                                   now=now, actor=_actor(supervisor))
    return {"id": organisation_id, "name": name, "tax_id": tax_id, "desks": desks, "users": []}


def _user_view(row: dict) -> dict:
    return {"id": row["id"], "email": row["email"], "name": row["name"], "role": row["role"],
            "organisation_id": row["organisation_id"], "desks": list(row["desks"]), "disabled": row["disabled"],
            "language": row["language"], "phone": row["phone"]}


def list_organisations(uow: UnitOfWork, supervisor: Claims) -> dict:
    """The organisations on the supervisor's desks with their users, and the staff of his desks."""
    _supervisor(supervisor)
    desks = list(supervisor.desks)
    organisations = uow.organisations.on_desks(desks)
    users = uow.users.of_organisations_and_staff([o["id"] for o in organisations], desks)
    for organisation in organisations:
        organisation["users"] = [_user_view(u) for u in users if u["organisation_id"] == organisation["id"]]
    return {"items": organisations, "staff": [_user_view(u) for u in users if u["role"] != "customer"]}


# ---------------------------------------------------------------- users

def create_user(uow: UnitOfWork, supervisor: Claims, body: dict, now: datetime) -> dict:
    """A supervisor creates a customer of an organisation, or an agent, on his own desks.

    The user has no password anyone knows: like a granted access request (AccessGranted, which
    the notifier answers with the set-password mail), he chooses his own through the mailed link."""
    _supervisor(supervisor)
    desks = list(dict.fromkeys(body["desks"]))
    if not desks:
        raise violation("USER_INVALID", "desks")
    if not set(desks) <= set(supervisor.desks):
        raise violation("FORBIDDEN", "desks", status=403)
    organisation_id = body.get("organisation_id") or None
    if body["role"] == "customer":
        if organisation_id is None:
            raise violation("USER_INVALID", "organisation_id")
        row = uow.organisations.get(organisation_id)
        if row is None or not set(row["desks"]) & set(supervisor.desks):
            raise NotFound("organisation")
        if not set(desks) <= set(row["desks"]):
            raise violation("USER_INVALID", "desks")
    elif organisation_id is not None:
        raise violation("USER_INVALID", "organisation_id")  # staff belong to no organisation
    email = body["email"].strip().lower()
    uow.users.lock_email(email)  # as request_access
    if uow.users.by_email(email):
        raise violation("USER_EXISTS", "email")
    user_id = handlers.register_user(uow, email=email, name=" ".join(body["name"].split()), role=body["role"],
                                     password=str(uuid.uuid4()), desks=desks, now=now, actor=_actor(supervisor),
                                     organisation_id=organisation_id, language=body.get("language") or "es",
                                     phone=(body.get("phone") or "").strip() or None)
    uow.streams.append([new_event("AccessGranted", f"user-{user_id}", 2, {
        "request_id": None, "user_id": user_id, "granted_by": supervisor.user_id},
        actor=_actor(supervisor), occurred_at=now)], expected_version=1)
    return _user_view(uow.users.get(user_id))
