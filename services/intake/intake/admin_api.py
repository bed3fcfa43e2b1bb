"""Intake's routes for supervisors' management (issue 9): desks' module catalogs, organisations,
users. Thin: a body loaded by its schema, one handler of `admin`, a status code."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from helpdesk_shared.web import load_body
from helpdesk_shared.openapi import documented

from . import admin, requests, responses
from .api import DESK, _now, _run, auth

bp = Blueprint("intake_admin", __name__, url_prefix="/api")

_CATALOG, _ORGANISATION, _USER = requests.ModuleCatalog(), requests.NewOrganisation(), requests.NewUser()


@bp.get("/desks/<desk>/modules")
@documented("The desk's module catalog now, retired modules marked (anyone allowed on the desk)",
           path={"desk": DESK}, responses={200: responses.Catalog}, refusals=(403, 404))
@auth
def desk_modules(desk: str):
    """The desk's module catalog now (retired modules marked), for anyone allowed on the desk."""
    return jsonify(admin.catalog_view(_run(lambda uow: admin.read_catalog(uow, g.user, desk))))


@bp.put("/desks/<desk>/modules")
@documented("Replace the desk's module list: add, rename (the name; a code never changes), retire (valid on "
           "existing tickets, refused on new ones); never remove (supervisors of the desk; 409 when edited "
           "since `expected_version`)", path={"desk": DESK}, body=requests.ModuleCatalog,
           responses={200: responses.Catalog}, refusals=(403, 404, 409))
@auth
def change_desk_modules(desk: str):
    """A supervisor of the desk replaces its module list (`{expected_version, modules: [...]}`); 409
    when someone changed it since `expected_version`."""
    body = load_body(_CATALOG)
    return jsonify(admin.catalog_view(_run(lambda uow: admin.change_catalog(uow, g.user, desk, body, _now()))))


@bp.get("/organisations")
@documented("The organisations of the supervisor's desks with their users, and his desks' staff",
           responses={200: responses.Organisations}, refusals=(403,))
@auth
def list_organisations():
    """The organisations of the supervisor's desks with their users, and his desks' staff."""
    return jsonify(_run(lambda uow: admin.list_organisations(uow, g.user)))


@bp.post("/organisations")
@documented("Register a customer organisation on the supervisor's desks (OrganisationRegistered)",
           body=requests.NewOrganisation, responses={201: responses.Organisation}, refusals=(403, 409))
@auth
def create_organisation():
    """A supervisor registers a customer organisation on his desks; 201."""
    body = load_body(_ORGANISATION)
    return jsonify(_run(lambda uow: admin.create_organisation(uow, g.user, body, _now()))), 201


@bp.post("/users")
@documented("Create a customer of an organisation (404 when not on the supervisor's desks) or an agent; the "
           "user is mailed a set-password link (UserRegistered, AccessGranted)", body=requests.NewUser,
           responses={201: responses.User}, refusals=(403, 404, 409))
@auth
def create_user():
    """A supervisor creates a customer (of an organisation) or an agent; the user is mailed a
    set-password link. 201."""
    body = load_body(_USER)
    return jsonify(_run(lambda uow: admin.create_user(uow, g.user, body, _now()))), 201
