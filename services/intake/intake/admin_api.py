"""Intake's routes for supervisors' management (issue 9): desks' module catalogs, organisations,
users. Thin: a body loaded by its schema, one handler of `admin`, a status code."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from helpdesk_shared.web import load_body

from . import admin, requests
from .api import _now, _run, auth

bp = Blueprint("intake_admin", __name__, url_prefix="/api")

_CATALOG, _ORGANISATION, _USER = requests.ModuleCatalog(), requests.NewOrganisation(), requests.NewUser()


@bp.get("/desks/<desk>/modules")
@auth
def desk_modules(desk: str):
    """The desk's module catalog now (retired modules marked), for anyone allowed on the desk."""
    return jsonify(admin.catalog_view(_run(lambda uow: admin.read_catalog(uow, g.user, desk))))


@bp.put("/desks/<desk>/modules")
@auth
def change_desk_modules(desk: str):
    """A supervisor of the desk replaces its module list (`{expected_version, modules: [...]}`); 409
    when someone changed it since `expected_version`."""
    body = load_body(_CATALOG)
    return jsonify(admin.catalog_view(_run(lambda uow: admin.change_catalog(uow, g.user, desk, body, _now()))))


@bp.get("/organisations")
@auth
def list_organisations():
    """The organisations of the supervisor's desks with their users, and his desks' staff."""
    return jsonify(_run(lambda uow: admin.list_organisations(uow, g.user)))


@bp.post("/organisations")
@auth
def create_organisation():
    """A supervisor registers a customer organisation on his desks; 201."""
    body = load_body(_ORGANISATION)
    return jsonify(_run(lambda uow: admin.create_organisation(uow, g.user, body, _now()))), 201


@bp.post("/users")
@auth
def create_user():
    """A supervisor creates a customer (of an organisation) or an agent; the user is mailed a
    set-password link. 201."""
    body = load_body(_USER)
    return jsonify(_run(lambda uow: admin.create_user(uow, g.user, body, _now()))), 201
