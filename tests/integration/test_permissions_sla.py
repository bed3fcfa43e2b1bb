"""The SLA service's permission matrix (every route × every principal), in-process on real
PostgreSQL with a ticket's clocks seeded through the consumer's own apply_batch."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from configs import sla_config
from harness import Clock
from helpdesk_shared import pg
from permission_matrix import assert_table_covers, bearer_of, cases, check, record, row, scratch_database, ticket_opened
from sla import store
from sla.app import create_app
from sla.calendars import DEFAULT_DOC
from sla.policy import DEFAULT_POLICIES, policy_to_doc

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)

# Calendars and policies are edited by a supervisor of that desk only; anyone on staff reads them.
#   method  rule                                     request           anon cust  c-oth agent a-oth  sup  s-oth
TABLE = [
    row("GET", "/api/calendars",                        "list_calendars",  401, 403, 403, 200, 200, 200, 200),
    row("PUT", "/api/calendars/<desk>",                 "change_calendar", 401, 403, 403, 403, 403, 201, 403),
    row("GET", "/api/policies",                         "list_policies",   401, 403, 403, 200, 200, 200, 200),
    row("PUT", "/api/policies/<desk>/<urgency_class>",  "change_policy",   401, 403, 403, 403, 403, 201, 403),
    row("GET", "/api/tickets/<number>/sla",             "ticket_sla",      401, 403, 403, 200, 404, 200, 404),
]

_numbers = itertools.count(1)


class World:
    """The SLA app in-process on its own database; tickets' clocks seeded as the consumer applies them."""

    def __init__(self, app, database_url: str):
        self.app, self.url, self.client = app, database_url, app.test_client()

    def ticket(self) -> str:
        """A fresh SOPORTE ticket of club-caracas with its clocks running."""
        opened = ticket_opened(f"SOP-{next(_numbers)}", NOW)
        with pg.connect(self.url) as conn:
            store.apply_batch(conn, [record(opened)], store.load_settings(conn))
        return opened.data["number"]


REQUESTS = {
    "list_calendars": lambda w: ("/api/calendars", None),
    "change_calendar": lambda w: ("/api/calendars/SOPORTE", {"calendar": DEFAULT_DOC}),
    "list_policies": lambda w: ("/api/policies", None),
    "change_policy": lambda w: ("/api/policies/SOPORTE/normal",
                                {"policy": policy_to_doc(DEFAULT_POLICIES["SOPORTE", "normal"])}),
    "ticket_sla": lambda w: (f"/api/tickets/{w.ticket()}/sla", None),
}


@pytest.fixture(scope="module")
def world():
    """The SLA app for the whole module."""
    with scratch_database("sla") as url:
        app = create_app(sla_config(url), migrate_first=True, clock=Clock(NOW))
        try:
            yield World(app, url)
        finally:
            app.extensions["sla"].pool.close()


@pytest.mark.parametrize("r, who", cases(TABLE))
def test_each_principal_gets_the_status_the_permission_table_gives_on_each_sla_route(world, r, who):
    path, body = REQUESTS[r.request](world)
    response = world.client.open(path, method=r.method, headers=bearer_of(who, NOW), json=body)
    check(response, r, who)


def test_every_sla_route_has_a_row_in_the_permission_table(world):
    assert_table_covers(world.app, TABLE)
    assert set(REQUESTS) == {r.request for r in TABLE}


def test_a_supervisor_refused_another_desks_calendar_changes_nothing(world):
    before = world.client.get("/api/calendars", headers=bearer_of("supervisor", NOW)).get_json()["items"]
    refused = world.client.put("/api/calendars/SOPORTE", json={"calendar": DEFAULT_DOC},
                               headers=bearer_of("supervisor_other_desk", NOW))
    assert refused.status_code == 403 and refused.get_json()["code"] == "FORBIDDEN"
    assert world.client.get("/api/calendars", headers=bearer_of("supervisor", NOW)).get_json()["items"] == before


@pytest.mark.parametrize("listing", ["/api/calendars", "/api/policies"])
def test_staff_read_the_calendars_and_policies_of_their_own_desks(world, listing):
    desks = {who: {item["desk"] for item in world.client.get(listing, headers=bearer_of(who, NOW)).get_json()["items"]}
             for who in ("agent", "agent_other_desk", "supervisor", "supervisor_other_desk")}
    assert desks == {"agent": {"SOPORTE"}, "agent_other_desk": {"IMPLANTACIONES"},
                     "supervisor": {"SOPORTE", "IMPLANTACIONES"}, "supervisor_other_desk": {"IMPLANTACIONES"}}
