"""Intake's permission matrix: every route × every principal, in-process on real PostgreSQL.

One app and database serve the whole module; each case seeds its own fresh ticket, upload or
request, so a case that changes something (a close, a grant) never touches another case.
"""
from __future__ import annotations

import io
import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from configs import intake_config, link_token
from harness import Clock, login
from helpdesk_shared import link_tokens, pg
from helpdesk_shared.envelope import SYSTEM
from helpdesk_shared.catalog import DESKS
from intake import catalog_store, demo, handlers
from intake.app import create_app
from permission_matrix import PRINCIPALS, assert_table_covers, cases, check, row, scratch_database
from samples import png, ticket_body

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Caracas

EMAILS = {"customer": "maria@clubcaracas.com.ve", "customer_other_org": "luis@andina.com.ve",
          "agent": "carlos@mesa.example", "agent_other_desk": "elena@mesa.example",
          "supervisor": "supervisor@mesa.example", "supervisor_other_desk": "ines@mesa.example"}

#   method  rule                                           request                 anon cust  c-oth agent a-oth  sup  s-oth
TABLE = [
    row("POST", "/api/auth/login",                          "login",                 200, 200, 200, 200, 200, 200, 200),
    row("POST", "/api/auth/logout",                         "logout",                401, 204, 204, 204, 204, 204, 204),
    # A fresh SOPORTE customer of club-caracas: only a supervisor of a desk he belongs to changes him.
    row("PATCH", "/api/users/<user_id>",                    "update_user",           401, 403, 403, 403, 403, 200, 404),
    # The notifier's route: its INBOUND_SECRET, never anybody's bearer token.
    row("POST", "/api/internal/email-replies",              "email_reply_by_bearer", 401, 401, 401, 401, 401, 401, 401),
    row("POST", "/api/tickets",                             "open_ticket",           401, 201, 403, 201, 403, 201, 403),
    row("POST", "/api/tickets",                             "open_for_org_off_desk", 401, 201, 403, 404, 403, 422, 403),
    row("GET",  "/api/tickets/<number>",                    "read_ticket",           401, 200, 404, 200, 404, 200, 404),
    row("POST", "/api/tickets/<number>/messages",           "post_message",          401, 201, 404, 201, 404, 201, 404),
    row("POST", "/api/tickets/<number>/messages",           "post_internal_note",    401, 403, 404, 201, 404, 201, 404),
    row("POST", "/api/tickets/<number>/assignment",         "take_ticket",           401, 403, 403, 201, 404, 201, 404),
    row("POST", "/api/tickets/<number>/assignment",         "give_to_other_desk",    401, 403, 403, 400, 404, 400, 404),
    row("POST", "/api/tickets/<number>/away",               "customer_away",         401, 201, 404, 403, 403, 403, 403),
    row("POST", "/api/tickets/<number>/close",              "close",                 401, 403, 403, 201, 404, 201, 404),
    row("POST", "/api/tickets/<number>/billable",           "mark_billable",         401, 403, 403, 201, 404, 201, 404),
    # Issue 12: staff of the desk merge a duplicate into the open ticket of its case, never across organisations.
    row("POST", "/api/tickets/<number>/merge",              "merge",                 401, 403, 403, 201, 404, 201, 404),
    row("POST", "/api/tickets/<number>/merge",              "merge_other_org",       401, 403, 403, 422, 404, 422, 404),
    row("POST", "/api/tickets/<number>/resolution",         "confirm_resolution",    401, 201, 404, 403, 403, 403, 403),
    row("POST", "/api/attachments",                         "upload",                401, 201, 201, 201, 201, 201, 201),
    row("GET",  "/api/tickets/<number>/attachments/<sha256>", "download",            401, 200, 404, 200, 404, 200, 404),
    row("GET",  "/api/tickets/<number>/attachments/<sha256>", "download_internal",   401, 404, 404, 200, 404, 200, 404),
    row("GET",  "/api/tickets/<number>/attachments/<sha256>", "download_foreign",    401, 404, 404, 404, 404, 404, 404),
    row("POST", "/api/special-processes",                   "announce",              401, 201, 201, 201, 404, 201, 404),
    row("POST", "/api/special-processes",                   "announce_unknown_org",  401, 201, 201, 404, 404, 404, 404),
    row("POST", "/api/training-requests",                   "request_training",      401, 201, 201, 201, 404, 201, 404),
    row("POST", "/api/access-requests",                     "request_access",        202, 202, 202, 202, 202, 202, 202),
    row("GET",  "/api/access-requests",                     "list_access_requests",  401, 403, 403, 200, 200, 200, 200),
    row("POST", "/api/access-requests/<request_id>/grant",  "grant",                 401, 403, 403, 201, 404, 201, 404),
    row("POST", "/api/access-requests/<request_id>/grant",  "grant_off_desk_org",    401, 403, 403, 404, 404, 422, 404),
    row("POST", "/api/access-requests/<request_id>/reject", "reject",                401, 403, 403, 201, 404, 201, 404),
    # Supervisors manage desks' module catalogs, organisations and users (issue 9).
    row("GET",  "/api/desks/<desk>/modules",                "read_catalog",          401, 200, 403, 200, 403, 200, 403),
    row("PUT",  "/api/desks/<desk>/modules",                "edit_catalog",          401, 403, 403, 403, 403, 200, 403),
    row("GET",  "/api/organisations",                       "list_organisations",    401, 403, 403, 403, 403, 200, 200),
    row("POST", "/api/organisations",                       "create_organisation",   401, 403, 403, 403, 403, 201, 403),
    row("POST", "/api/users",                               "create_user",           401, 403, 403, 403, 403, 201, 403),
    row("POST", "/api/users",                               "create_user_foreign_org", 401, 403, 403, 403, 403, 422, 404),
    # The rules page is public; only a supervisor of its desk edits it (the page is no secret: 403).
    row("GET",  "/api/desks/<desk>/rules-page",             "read_rules_page",       200, 200, 200, 200, 200, 200, 200),
    row("PUT",  "/api/desks/<desk>/rules-page",             "edit_rules_page",       401, 403, 403, 403, 403, 200, 403),
    # Canned answers (issue 12): the desk's staff keep them; customers never see them.
    row("GET",  "/api/desks/<desk>/canned-answers",         "canned_answers",        401, 403, 403, 200, 403, 200, 403),
    row("PUT",  "/api/desks/<desk>/canned-answers/<answer_id>", "save_canned_answer", 401, 403, 403, 200, 403, 200, 403),
    # Knowledge base (issue 12): agents of the article's desk and supervisors write; customers never;
    # an agent of another desk is refused a new article (403) and does not find an existing one (404).
    row("POST", "/api/articles",                            "draft_article",         401, 403, 403, 201, 403, 201, 201),
    row("PUT",  "/api/articles/<article_id>",               "edit_article",          401, 403, 403, 200, 404, 200, 200),
    row("POST", "/api/articles/<article_id>/publish",       "publish_article",       401, 403, 403, 200, 404, 200, 200),
    row("POST", "/api/articles/<article_id>/archive",       "archive_article",       401, 403, 403, 200, 404, 200, 200),
    # A suggestion opened: customers of the article's desk only (a published SOPORTE article).
    row("POST", "/api/articles/<article_id>/opened",        "article_opened",        401, 204, 404, 403, 403, 403, 403),
    # One-click links: the signed token names the user, whatever bearer comes along.
    row("GET",  "/resolve/<token>",                         "resolve_page",          200, 200, 200, 200, 200, 200, 200),
    row("POST", "/resolve/<token>",                         "resolve",               200, 200, 200, 200, 200, 200, 200),
    row("GET",  "/set-password/<token>",                    "set_password_page",     200, 200, 200, 200, 200, 200, 200),
    row("POST", "/set-password/<token>",                    "set_password",          200, 200, 200, 200, 200, 200, 200),
    # The customer's verdict (issue 12): its requester only; staff are refused before any lookup.
    row("POST", "/api/tickets/<number>/rating",             "rate",                  401, 201, 404, 403, 403, 403, 403),
    row("GET",  "/rate/<token>",                            "rate_page",             200, 200, 200, 200, 200, 200, 200),
    row("POST", "/rate/<token>",                            "rate_by_link",          200, 200, 200, 200, 200, 200, 200),
]


class World:
    """Intake in-process on its own database, the principals' tokens, and seeds for each case."""

    def __init__(self, app, database_url: str):
        self.app, self.url = app, database_url
        self.client = app.test_client()
        self.headers = {"anonymous": {}} | {who: login(self.client, email) for who, email in EMAILS.items()}
        with pg.connect(database_url) as conn:
            self.people = {who: handlers.authenticate(conn, email, demo.PASSWORD) for who, email in EMAILS.items()}

    def _upload(self, conn, who: str, content: bytes) -> str:
        sha256 = self.app.extensions["intake"].blobs.put(content)
        handlers.record_upload(conn, self.people[who], sha256=sha256, name="captura.png", size=len(content),
                               content_type="image/png", now=NOW)
        return sha256

    def ticket(self, *, answered: bool = False) -> tuple[str, str]:
        """A fresh SOPORTE ticket of club-caracas by María with a screenshot; (number, its sha256)."""
        with pg.connect(self.url) as conn:
            sha256 = self._upload(conn, "customer", png(2, 2))
            number = handlers.open_ticket(conn, self.people["customer"],
                                          ticket_body(attachments=[sha256], confirmed_different_case=True),
                                          NOW).data["number"]
            if answered:
                handlers.post_message(conn, self.people["agent"], number, {"body": "Revise la conciliación."}, NOW)
        return number, sha256

    def internal_attachment(self) -> tuple[str, str]:
        """A fresh ticket with a file Carlos attached to an internal note; (number, its sha256)."""
        number, _ = self.ticket()
        with pg.connect(self.url) as conn:
            sha256 = self._upload(conn, "agent", png(3, 3))
            handlers.post_message(conn, self.people["agent"], number,
                                  {"body": "Log del servidor", "internal": True, "attachments": [sha256]}, NOW)
        return number, sha256

    def foreign_attachment(self) -> tuple[str, str]:
        """María's fresh ticket, and a file Luis attached to his own organisation's ticket; (number, sha256)."""
        number, _ = self.ticket()
        with pg.connect(self.url) as conn:
            sha256 = self._upload(conn, "customer_other_org", png(5, 5))
            handlers.open_ticket(conn, self.people["customer_other_org"],
                                 ticket_body(desk="IMPLANTACIONES", attachments=[sha256],
                                             confirmed_different_case=True), NOW)
        return number, sha256

    def other_org_ticket(self) -> str:
        """A fresh open SOPORTE ticket of country-valencia (Ana): same desk, another organisation."""
        with pg.connect(self.url) as conn:
            ana = handlers.authenticate(conn, "ana@countryvalencia.com.ve", demo.PASSWORD)
            return handlers.open_ticket(conn, ana, ticket_body(confirmed_different_case=True), NOW).data["number"]

    def access_request(self, desk: str = "SOPORTE") -> str:
        """A fresh pending access request for `desk`."""
        with pg.connect(self.url) as conn:
            return handlers.request_access(conn, _access_body(desk), NOW)

    def user_without_password(self) -> str:
        """A fresh customer user who has not chosen a password yet."""
        with pg.connect(self.url) as conn:
            return handlers.register_user(conn, email=f"nuevo-{uuid.uuid4().hex[:8]}@clubcaracas.com.ve",
                                          name="Nuevo Usuario", role="customer", password=uuid.uuid4().hex,
                                          desks=["SOPORTE"], now=NOW, actor=SYSTEM, organisation_id="club-caracas")

    def catalog_edit(self) -> dict:
        """SOPORTE's catalog at its current version with SISTEMA renamed afresh (each case a real change)."""
        with pg.connect(self.url) as conn:
            desk = catalog_store.current(conn, DESKS["SOPORTE"])
        modules = [{**m.as_dict(), "name": f"Sistema {uuid.uuid4().hex[:6]}"} if m.code == "SISTEMA" else m.as_dict()
                   for m in desk.entries]
        return {"expected_version": desk.version, "modules": modules}

    def article(self) -> str:
        """A fresh SOPORTE draft article by Carlos (version 1); its id."""
        from intake import knowledge, postgres_uow
        with pg.connect(self.url) as conn:
            return knowledge.draft(postgres_uow.of(conn), self.people["agent"], {
                "desk": "SOPORTE", "module": "BANCOS", "title_es": "Conciliar una cuenta",
                "body_es": "Abra el módulo de bancos."}, NOW)["article_id"]

    def published_article(self) -> str:
        """A fresh SOPORTE article by Carlos, published (version 2); its id."""
        from intake import knowledge, postgres_uow
        article_id = self.article()
        with pg.connect(self.url) as conn:
            knowledge.change_status(postgres_uow.of(conn), self.people["agent"], article_id, "publish", 1, NOW)
        return article_id

    def rules_page_version(self, desk: str = "SOPORTE") -> int:
        """The version of the desk's Spanish rules page an editor would have read."""
        with pg.connect(self.url) as conn:
            row = conn.execute("select version from rules_pages where desk = %s and language = 'es'",
                               (desk,)).fetchone()
        return row["version"] if row else 0

    def user_id(self, who: str) -> str:
        return self.people[who].user_id

    def log_in_again(self, who: str) -> None:
        """A fresh token after `who` logged out (which ended all his tokens), a microsecond later."""
        self.app.extensions["intake"].clock.advance(microseconds=1)
        self.headers[who] = login(self.client, EMAILS[who])


_addresses = itertools.count(1)


def _access_body(desk: str) -> dict:
    return {"name": "Pedro Páez", "email": f"pedro-{uuid.uuid4().hex[:8]}@clubcaracas.com.ve",
            "phone": "+58 212 555 0111", "organisation_name": "Club Social Caracas", "desk": desk}


def _announcement(organisation_id: str) -> dict:
    return {"organisation_id": organisation_id, "kind": "carnetizacion",
            "description": "Jornada de carnetización de socios", "starts_at": (NOW + timedelta(days=2)).isoformat(),
            "ends_at": (NOW + timedelta(days=4)).isoformat()}


def _link(purpose: str, claims: dict) -> str:
    return link_token(purpose, claims, NOW)


def _solved_ticket(w: World) -> str:
    """A fresh ticket of María's that she confirmed solved (closed, not rated)."""
    number, _ = w.ticket(answered=True)
    with pg.connect(w.url) as conn:
        handlers.confirm_resolution(conn, w.people["customer"], number, True, "", NOW)
    return number


# Each request: (path, keyword arguments of the test client's call), built on fresh seeds.
REQUESTS = {
    "login": lambda w: ("/api/auth/login", {"json": {"email": EMAILS["customer"], "password": demo.PASSWORD}}),
    "logout": lambda w: ("/api/auth/logout", {}),
    "update_user": lambda w: (f"/api/users/{w.user_without_password()}", {"json": {"disabled": True}}),
    "email_reply_by_bearer": lambda w: ("/api/internal/email-replies", {"data": {
        "ticket": w.ticket()[0], "user_id": w.user_id("customer"), "body": "Sigue fallando."}}),
    "open_ticket": lambda w: ("/api/tickets", {"json": ticket_body(organisation_id="club-caracas",
                                                                   confirmed_different_case=True)}),
    "open_for_org_off_desk": lambda w: ("/api/tickets", {"json": ticket_body(
        organisation_id="distribuidora-andina", confirmed_different_case=True)}),
    "read_ticket": lambda w: (f"/api/tickets/{w.ticket()[0]}", {}),
    "post_message": lambda w: (f"/api/tickets/{w.ticket()[0]}/messages", {"json": {"body": "Adjunto el detalle."}}),
    "post_internal_note": lambda w: (f"/api/tickets/{w.ticket()[0]}/messages",
                                     {"json": {"body": "Revisar índice", "internal": True}}),
    "take_ticket": lambda w: (f"/api/tickets/{w.ticket()[0]}/assignment", {"json": {}}),
    "give_to_other_desk": lambda w: (f"/api/tickets/{w.ticket()[0]}/assignment",
                                     {"json": {"agent_id": w.user_id("agent_other_desk")}}),
    "customer_away": lambda w: (f"/api/tickets/{w.ticket()[0]}/away", {"json": {}}),
    "close": lambda w: (f"/api/tickets/{w.ticket()[0]}/close", {"json": {"reason": "closed_by_agent",
                                                                        "note": "Resuelto por teléfono"}}),
    "mark_billable": lambda w: (f"/api/tickets/{w.ticket()[0]}/billable", {"json": {"billable": True}}),
    "merge": lambda w: (f"/api/tickets/{w.ticket()[0]}/merge", {"json": {"target": w.ticket()[0],
                                                                         "note": "mismo caso"}}),
    "merge_other_org": lambda w: (f"/api/tickets/{w.ticket()[0]}/merge", {"json": {"target": w.other_org_ticket()}}),
    "confirm_resolution": lambda w: (f"/api/tickets/{w.ticket(answered=True)[0]}/resolution",
                                     {"json": {"solved": True}}),
    "upload": lambda w: ("/api/attachments", {"data": {"file": (io.BytesIO(png(4, 4)), "captura.png")},
                                              "content_type": "multipart/form-data"}),
    "download": lambda w: ("/api/tickets/{}/attachments/{}".format(*w.ticket()), {}),
    "download_internal": lambda w: ("/api/tickets/{}/attachments/{}".format(*w.internal_attachment()), {}),
    "download_foreign": lambda w: ("/api/tickets/{}/attachments/{}".format(*w.foreign_attachment()), {}),
    "announce": lambda w: ("/api/special-processes", {"json": _announcement("club-caracas")}),
    "announce_unknown_org": lambda w: ("/api/special-processes", {"json": _announcement("no-such-club")}),
    "request_training": lambda w: ("/api/training-requests", {"json": {
        "organisation_id": "club-caracas", "modules": ["NOMINA"], "participants": 3}}),
    # Each from its own address: the endpoint is rate-limited per client address (issue 7 item 7).
    "request_access": lambda w: ("/api/access-requests", {"json": _access_body("SOPORTE"), "environ_base": {
        "REMOTE_ADDR": f"10.77.0.{next(_addresses)}"}}),
    "list_access_requests": lambda w: ("/api/access-requests", {}),
    "grant": lambda w: (f"/api/access-requests/{w.access_request()}/grant",
                        {"json": {"organisation_id": "club-caracas"}}),
    "grant_off_desk_org": lambda w: (f"/api/access-requests/{w.access_request()}/grant",
                                     {"json": {"organisation_id": "distribuidora-andina"}}),
    "reject": lambda w: (f"/api/access-requests/{w.access_request()}/reject",
                         {"json": {"reason": "El club no tiene contrato vigente."}}),
    "read_catalog": lambda w: ("/api/desks/SOPORTE/modules", {}),
    "edit_catalog": lambda w: ("/api/desks/SOPORTE/modules", {"json": w.catalog_edit()}),
    "list_organisations": lambda w: ("/api/organisations", {}),
    "create_organisation": lambda w: ("/api/organisations", {"json": {
        "name": f"Club {uuid.uuid4().hex[:8]}", "desks": ["SOPORTE"]}}),
    "create_user": lambda w: ("/api/users", {"json": {
        "email": f"nuevo-{uuid.uuid4().hex[:8]}@clubcaracas.com.ve", "name": "Nuevo Usuario", "role": "customer",
        "organisation_id": "club-caracas", "desks": ["SOPORTE"]}}),
    # An IMPLANTACIONES user for club-caracas (a SOPORTE organisation): not one of its desks for a
    # supervisor who knows it, an organisation that does not exist for one who does not.
    "create_user_foreign_org": lambda w: ("/api/users", {"json": {
        "email": f"nuevo-{uuid.uuid4().hex[:8]}@clubcaracas.com.ve", "name": "Nuevo Usuario", "role": "customer",
        "organisation_id": "club-caracas", "desks": ["IMPLANTACIONES"]}}),

    "draft_article": lambda w: ("/api/articles", {"json": {
        "desk": "SOPORTE", "module": "BANCOS", "title_es": "Conciliar", "body_es": "Abra **Bancos**."}}),
    "edit_article": lambda w: (f"/api/articles/{w.article()}", {"json": {
        "title_es": "Conciliar una cuenta", "body_es": "Abra **Bancos**.", "version": 1}}),
    "publish_article": lambda w: (f"/api/articles/{w.article()}/publish", {"json": {"version": 1}}),
    "archive_article": lambda w: (f"/api/articles/{w.article()}/archive", {"json": {"version": 1}}),
    "article_opened": lambda w: (f"/api/articles/{w.published_article()}/opened", {"json": {
        "attempt_id": str(uuid.uuid4())}}),
    "read_rules_page": lambda w: ("/api/desks/SOPORTE/rules-page", {}),
    "canned_answers": lambda w: ("/api/desks/SOPORTE/canned-answers", {}),
    "save_canned_answer": lambda w: (f"/api/desks/SOPORTE/canned-answers/a-{uuid.uuid4().hex[:8]}", {"json": {
        "title": "Saludo", "body": "Estimado {cliente}: recibimos su caso.", "version": 0}}),
    "edit_rules_page": lambda w: ("/api/desks/SOPORTE/rules-page", {"json": {
        "language": "es", "text": "1. Un caso, un ticket.", "version": w.rules_page_version()}}),
    "resolve_page": lambda w: ("/resolve/" + _link(link_tokens.RESOLUTION, {
        "t": w.ticket(answered=True)[0], "u": w.user_id("customer")}), {}),
    "resolve": lambda w: ("/resolve/" + _link(link_tokens.RESOLUTION, {
        "t": w.ticket(answered=True)[0], "u": w.user_id("customer")}), {"data": {"answer": "solved"}}),
    "set_password_page": lambda w: ("/set-password/" + _link(link_tokens.PASSWORD, {
        "u": w.user_without_password(), "i": int(NOW.timestamp())}), {}),
    "set_password": lambda w: ("/set-password/" + _link(link_tokens.PASSWORD, {
        "u": w.user_without_password(), "i": int(NOW.timestamp())}), {"data": {"password": "una-clave-larga"}}),
    "rate": lambda w: (f"/api/tickets/{_solved_ticket(w)}/rating", {"json": {"rating": "good"}}),
    "rate_page": lambda w: ("/rate/" + _link(link_tokens.RATING, {"t": _solved_ticket(w), "u": w.user_id("customer")}),
                            {"query_string": {"rating": "bad"}}),
    "rate_by_link": lambda w: ("/rate/" + _link(link_tokens.RATING, {
        "t": _solved_ticket(w), "u": w.user_id("customer")}), {"data": {"rating": "bad", "comment": ""}}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Intake with the demo users plus a supervisor of IMPLANTACIONES only, for the whole module."""
    with scratch_database("intake") as url:
        demo.load(url)
        with pg.connect(url) as conn:
            handlers.register_user(conn, email=EMAILS["supervisor_other_desk"], name="Inés Implantaciones",
                                   role="supervisor", password=demo.PASSWORD, desks=["IMPLANTACIONES"], now=NOW,
                                   actor=SYSTEM)
        app = create_app(intake_config(url, tmp_path_factory.mktemp("attachments")), migrate_first=True, clock=Clock(NOW))
        try:
            yield World(app, url)
        finally:
            app.extensions["intake"].pool.close()


@pytest.mark.parametrize("r, who", cases(TABLE))
def test_each_principal_gets_the_status_the_permission_table_gives_on_each_intake_route(world, r, who):
    path, kwargs = REQUESTS[r.request](world)
    response = world.client.open(path, method=r.method, headers=world.headers[who], **kwargs)
    check(response, r, who)
    if r.request == "logout" and who != "anonymous":
        world.log_in_again(who)


def test_every_intake_route_has_a_row_in_the_permission_table(world):
    assert_table_covers(world.app, TABLE)
    assert set(REQUESTS) == {r.request for r in TABLE}
    assert set(PRINCIPALS) == set(world.headers)


def test_a_customer_allowed_on_one_desk_cannot_reach_his_organisations_ticket_of_the_other_desk(world):
    with pg.connect(world.url) as conn:
        ana = handlers.authenticate(conn, "ana@countryvalencia.com.ve", demo.PASSWORD)
        number = handlers.open_ticket(conn, ana, ticket_body(desk="IMPLANTACIONES", confirmed_different_case=True),
                                      NOW).data["number"]
    peter = login(world.client, "peter@countryvalencia.com.ve")  # country-valencia, SOPORTE only
    refused = world.client.post(f"/api/tickets/{number}/messages", json={"body": "Yo también lo veo."},
                                headers=peter)
    assert refused.status_code == 404, refused.get_json()
    assert world.client.post(f"/api/tickets/{number}/away", json={}, headers=peter).status_code == 404


def test_staff_list_the_pending_access_requests_of_their_desks_only(world):
    soporte, implantaciones = world.access_request("SOPORTE"), world.access_request("IMPLANTACIONES")
    listed = {who: {r["request_id"] for r in world.client.get("/api/access-requests", headers=world.headers[who])
                    .get_json()["items"]} & {soporte, implantaciones}
              for who in ("agent", "agent_other_desk", "supervisor", "supervisor_other_desk")}
    assert listed == {"agent": {soporte}, "agent_other_desk": {implantaciones},
                      "supervisor": {soporte, implantaciones}, "supervisor_other_desk": {implantaciones}}
