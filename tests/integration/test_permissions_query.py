"""Query's permission matrix (every route × every principal) and what each may read, in-process
on real PostgreSQL with the read model seeded through the projector."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from configs import query_config
from harness import Clock
from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from permission_matrix import (CLAIMS, PRINCIPALS, article_events, assert_table_covers, bearer_of, cases, check,
                               record, row, scratch_database, ticket_opened)
from query import store
from query.app import create_app

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)

#   method  rule                   request   anon cust  c-oth agent a-oth  sup  s-oth
TABLE = [
    row("GET", "/api/tickets",          "list",   401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/tickets/<number>", "ticket", 401, 200, 404, 200, 404, 200, 404),
    row("GET", "/api/desks/<desk>/agents", "desk_agents", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/desks/<desk>/agents", "unknown_desk_agents", 401, 403, 403, 404, 404, 404, 404),
    row("GET", "/api/organisations", "organisations", 401, 200, 200, 200, 200, 200, 200),
    # Staff pages (issue 8): a customer never reads staff figures; the ticket's own customer is told
    # it is not for him (403), another organisation's learns nothing (404).
    row("GET", "/api/desks/<desk>/queue", "desk_queue", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/desks/<desk>/queue", "unknown_desk_queue", 401, 403, 403, 404, 404, 404, 404),
    row("GET", "/api/desks/<desk>/auto-close", "desk_auto_close", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/desks/<desk>/workload", "desk_workload", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/tickets/<number>/timeline", "timeline", 401, 403, 404, 200, 404, 200, 404),
    # Reports: staff figures for staff (of their desks); the out-of-hours bill is also the customer's own.
    row("GET", "/api/reports/backlog", "backlog", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/backlog", "backlog_soporte", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/reports/compliance", "compliance", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/compliance", "compliance_soporte", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/reports/compliance/breaches", "breaches", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/compliance/breaches", "breaches_soporte", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/reports/auto-closed", "auto_closed", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/auto-closed", "auto_closed_soporte", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/reports/out-of-hours", "out_of_hours", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/reports/out-of-hours", "out_of_hours_club", 401, 200, 404, 200, 200, 200, 200),
    row("GET", "/api/reports/out-of-hours.csv", "out_of_hours_csv", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/reports/out-of-hours.csv", "out_of_hours_csv_club", 401, 200, 404, 200, 200, 200, 200),
    # Time accounting (issue 12): staff time is a staff figure, even the customer's organisation's.
    row("GET", "/api/reports/time", "time", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/time", "time_soporte", 401, 403, 403, 200, 403, 200, 403),
    # Knowledge base (issue 12): everyone reads what his scope holds (customers: published, of their
    # desks; agents: their desks; supervisors: all); an article outside it answers 404 like a missing one.
    row("GET", "/api/articles", "articles", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/articles/search", "search_articles", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/articles/suggestions", "suggest_articles", 401, 200, 200, 200, 200, 200, 200),
    row("GET", "/api/articles/<article_id>", "published_article", 401, 200, 404, 200, 404, 200, 200),
    row("GET", "/api/articles/<article_id>", "draft_article", 401, 404, 404, 200, 404, 200, 200),
    row("GET", "/api/reports/deflections", "deflections", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/deflections", "deflections_soporte", 401, 403, 403, 200, 403, 200, 200),
    # The customer's verdict (issue 12): staff figures and comments, never a customer's.
    row("GET", "/api/reports/satisfaction", "satisfaction", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/satisfaction", "satisfaction_soporte", 401, 403, 403, 200, 403, 200, 403),
    row("GET", "/api/reports/satisfaction/comments", "satisfaction_comments", 401, 403, 403, 200, 200, 200, 200),
    row("GET", "/api/reports/satisfaction/comments", "satisfaction_comments_soporte",
        401, 403, 403, 200, 403, 200, 403),
]

_numbers = itertools.count(1)


class World:
    """Query in-process on its own database, with tickets seeded as the consumer would apply them."""

    def __init__(self, app, database_url: str):
        self.app, self.url, self.client = app, database_url, app.test_client()

    def article(self, **kwargs) -> str:
        """A fresh SOPORTE article (a draft unless `publish=True`) in the read model; its id."""
        events = article_events(NOW, **kwargs)
        with pg.connect(self.url) as conn:
            store.apply_batch(conn, [record(e) for e in events])
        return events[0].data["article_id"]

    def ticket(self, desk: str = "SOPORTE", organisation_id: str = "club-caracas", *later) -> str:
        """A fresh ticket (SOPORTE, club-caracas unless said) with `later(ticket_id)` events applied."""
        prefix = "SOP" if desk == "SOPORTE" else "IMP"
        opened = ticket_opened(f"{prefix}-{next(_numbers)}", NOW, desk, organisation_id)
        with pg.connect(self.url) as conn:
            for event in [opened, *(make(opened.stream_id) for make in later)]:
                store.apply_event(conn, record(event))
        return opened.data["number"]


REQUESTS = {
    "list": lambda w: "/api/tickets",
    "ticket": lambda w: f"/api/tickets/{w.ticket()}",
    "desk_agents": lambda w: "/api/desks/SOPORTE/agents",
    "unknown_desk_agents": lambda w: "/api/desks/NO_SUCH_DESK/agents",
    "organisations": lambda w: "/api/organisations",
    "desk_queue": lambda w: "/api/desks/SOPORTE/queue",
    "unknown_desk_queue": lambda w: "/api/desks/NO_SUCH_DESK/queue",
    "desk_auto_close": lambda w: "/api/desks/SOPORTE/auto-close",
    "desk_workload": lambda w: "/api/desks/SOPORTE/workload",
    "timeline": lambda w: f"/api/tickets/{w.ticket()}/timeline",
    "backlog": lambda w: "/api/reports/backlog",
    "backlog_soporte": lambda w: "/api/reports/backlog?desk=SOPORTE",
    "compliance": lambda w: "/api/reports/compliance",
    "compliance_soporte": lambda w: "/api/reports/compliance?desk=SOPORTE",
    "breaches": lambda w: "/api/reports/compliance/breaches",
    "breaches_soporte": lambda w: "/api/reports/compliance/breaches?desk=SOPORTE",
    "auto_closed": lambda w: "/api/reports/auto-closed",
    "auto_closed_soporte": lambda w: "/api/reports/auto-closed?desk=SOPORTE",
    "out_of_hours": lambda w: "/api/reports/out-of-hours",
    "out_of_hours_club": lambda w: "/api/reports/out-of-hours?organisation_id=club-caracas",
    "out_of_hours_csv": lambda w: "/api/reports/out-of-hours.csv",
    "out_of_hours_csv_club": lambda w: "/api/reports/out-of-hours.csv?organisation_id=club-caracas",
    "time": lambda w: "/api/reports/time",
    "time_soporte": lambda w: "/api/reports/time?desk=SOPORTE",
    "articles": lambda w: "/api/articles",
    "search_articles": lambda w: "/api/articles/search?q=conciliar",
    "suggest_articles": lambda w: "/api/articles/suggestions?desk=SOPORTE&text=BANCOS%2C+no+concilia",
    "published_article": lambda w: f"/api/articles/{w.article(publish=True)}",
    "draft_article": lambda w: f"/api/articles/{w.article()}",
    "deflections": lambda w: "/api/reports/deflections",
    "deflections_soporte": lambda w: "/api/reports/deflections?desk=SOPORTE",
    "satisfaction": lambda w: "/api/reports/satisfaction",
    "satisfaction_soporte": lambda w: "/api/reports/satisfaction?desk=SOPORTE&group_by=month,agent",
    "satisfaction_comments": lambda w: "/api/reports/satisfaction/comments",
    "satisfaction_comments_soporte": lambda w: "/api/reports/satisfaction/comments?desk=SOPORTE",
}


@pytest.fixture(scope="module")
def world():
    """Query for the whole module."""
    with scratch_database("query") as url:
        app = create_app(query_config(url), migrate_first=True, clock=Clock(NOW))
        try:
            yield World(app, url)
        finally:
            app.extensions["query"].pool.close()


@pytest.mark.parametrize("r, who", cases(TABLE))
def test_each_principal_gets_the_status_the_permission_table_gives_on_each_query_route(world, r, who):
    response = world.client.open(REQUESTS[r.request](world), method=r.method, headers=bearer_of(who, NOW))
    check(response, r, who)


def test_every_query_route_has_a_row_in_the_permission_table(world):
    assert_table_covers(world.app, TABLE)
    assert set(REQUESTS) == {r.request for r in TABLE}


def test_each_principal_lists_only_the_tickets_of_its_organisation_or_desks(world):
    number = world.ticket()
    sees = {who: number in [t["number"] for t in world.client.get(
        "/api/tickets?per_page=200", headers=bearer_of(who, NOW)).get_json()["items"]] for who in PRINCIPALS[1:]}
    assert sees == {"customer": True, "customer_other_org": False, "agent": True, "agent_other_desk": False,
                    "supervisor": True, "supervisor_other_desk": False}


def _closed_with_note(ticket_id: str):
    return new_event("TicketClosed", ticket_id, 2, {"reason": "closed_by_agent",
                                                    "note": "Cliente sin inducción; cobrar la visita"},
                     actor=Actor(CLAIMS["agent"].user_id, "agent"), occurred_at=NOW)


def test_a_customer_reads_that_and_why_his_ticket_closed_but_not_the_agents_close_note(world):
    number = world.ticket("SOPORTE", "club-caracas", _closed_with_note)
    seen = world.client.get(f"/api/tickets/{number}", headers=bearer_of("customer", NOW)).get_json()
    closing = [e for e in seen["thread"] if e["type"] == "TicketClosed"]
    assert seen["close_reason"] == "closed_by_agent" and len(closing) == 1
    assert "Cliente sin inducción" not in str(seen)
    staff = world.client.get(f"/api/tickets/{number}", headers=bearer_of("agent", NOW)).get_json()
    assert [e["body"] for e in staff["thread"] if e["type"] == "TicketClosed"] == [
        "Cliente sin inducción; cobrar la visita"]


def test_a_customer_allowed_on_one_desk_does_not_read_his_organisations_tickets_of_the_other_desk(world):
    peter = Claims(user_id="u-peter", role="customer", organisation_id="country-valencia", desks=("SOPORTE",),
                   name="Peter Smith", email="peter@countryvalencia.com.ve", language="en")
    from configs import bearer
    number = world.ticket("IMPLANTACIONES", "country-valencia")
    assert world.client.get(f"/api/tickets/{number}", headers=bearer(peter, NOW)).status_code == 404
    listed = world.client.get("/api/tickets?per_page=200", headers=bearer(peter, NOW)).get_json()["items"]
    assert number not in [t["number"] for t in listed]
