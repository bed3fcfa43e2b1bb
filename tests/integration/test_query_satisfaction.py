"""The customer's verdict as figures (issue 12) on real PostgreSQL, fed through query.store.apply_batch
as the consumer feeds it, against figures computed by hand.

Times: Caracas local (UTC-4). Every answer is in business hours, one hour after its ticket opened
(3600 business seconds, the SLA's figure); the compliance figures are not what this file checks.

  R1 SOP-301 SOPORTE club-caracas BANCOS (María): Carlos answers Tue 10 Nov; María says solved Wed 11 Nov
     and rates it GOOD (no comment).                               -> 2026-11, agent Carlos
  R2 SOP-302 SOPORTE club-caracas NOMINA (María): Carlos answers Tue 17 Nov; Carlos closes it as done
     Fri 20 Nov; María rates it BAD Mon 30 Nov 21:00 (Tue 1 Dec 01:00 UTC: a November rating in
     Caracas), "Tardaron tres días."                                -> 2026-11, agent Carlos
  R3 SOP-303 SOPORTE club-caracas BANCOS (María): assigned to Rosa, no public answer (an internal note
     by Carlos), Rosa closes it as done Wed 2 Dec; María rates it GOOD.
                                                                    -> 2026-12, agent Rosa (the assignee)
  R4 SOP-304 SOPORTE country-valencia BANCOS (Ana): Carlos answers, then Rosa answers last; Ana says
     solved Thu 10 Dec and rates it GOOD, "Muy amables."            -> 2026-12, agent Rosa (last answer)
  R5 IMP-301 IMPLANTACIONES distribuidora-andina MIGRACION (Luis): Elena answers; Luis says solved Fri
     11 Dec and rates it BAD, "Sin respuesta clara."               -> 2026-12, agent Elena

SOPORTE: 3 good, 1 bad across two months and two agents: November 1 good 1 bad (share 0.5, both
Carlos's), December 2 good (share 1.0, both Rosa's).
"""
from __future__ import annotations

import pytest

from configs import query_config
from harness import Clock
from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor
from query.app import create_app
from test_query_reports import (ANA, CARLOS, ELENA, LUIS, MARIA, NOW, ROSA, Story, accounts, feed, get,
                                local)

pytestmark = pytest.mark.integration

PERIOD = {"from": "2026-11", "to": "2026-12"}


class RatedStory(Story):
    """The reports' story builder, with the customer's verdict."""

    def rate(self, key: str, rating: str, by, at, comment: str | None = None) -> None:
        self._add("TicketRated", f"t-{key}", {"rating": rating, "comment": comment, "rated_by": by.user_id},
                  Actor(by.user_id, by.role), at)

    def note(self, key: str, by, at) -> None:
        import uuid
        self._add("MessagePosted", f"t-{key}", {
            "message_id": str(uuid.uuid4()), "author_id": by.user_id, "author_role": by.role, "body": "Nota.",
            "internal": True, "out_of_hours_requested": False}, Actor(by.user_id, by.role), at)

    def solved(self, key: str, by, at) -> None:
        self._add("ResolutionConfirmed", f"t-{key}", {"solved": True, "body": None}, Actor(by.user_id, by.role), at)
        self.close(key, "solved_by_customer", Actor(by.user_id, by.role), at)


def _answer(s: RatedStory, key: str, number: str, by, day: str, opened: str = "10:00", answered: str = "11:00"):
    s.answer(key, number, "first_response", by, local(day, opened), local(day, "17:00"), local(day, answered), 3600,
             False)


def rated_story() -> list:
    s = RatedStory()
    s.open("R1", "SOP-301", "SOPORTE", "club-caracas", "BANCOS", MARIA, local("2026-11-10", "10:00"))
    _answer(s, "R1", "SOP-301", CARLOS, "2026-11-10")
    s.solved("R1", MARIA, local("2026-11-11", "09:30"))
    s.rate("R1", "good", MARIA, local("2026-11-11", "09:31"))
    s.open("R2", "SOP-302", "SOPORTE", "club-caracas", "NOMINA", MARIA, local("2026-11-17", "10:00"))
    _answer(s, "R2", "SOP-302", CARLOS, "2026-11-17")
    s.close("R2", "closed_by_agent", Actor(CARLOS.user_id, "agent"), local("2026-11-20", "16:00"))
    s.rate("R2", "bad", MARIA, local("2026-11-30", "21:00"), "Tardaron tres días.")
    s.open("R3", "SOP-303", "SOPORTE", "club-caracas", "BANCOS", MARIA, local("2026-12-01", "10:00"))
    s.assign("R3", ROSA, local("2026-12-01", "10:30"))
    s.note("R3", CARLOS, local("2026-12-01", "11:00"))
    s.close("R3", "closed_by_agent", Actor(ROSA.user_id, "supervisor"), local("2026-12-02", "10:00"))
    s.rate("R3", "good", MARIA, local("2026-12-02", "12:00"))
    s.open("R4", "SOP-304", "SOPORTE", "country-valencia", "BANCOS", ANA, local("2026-12-08", "10:00"))
    _answer(s, "R4", "SOP-304", CARLOS, "2026-12-08")
    s.message("R4", ANA, local("2026-12-09", "10:00"))
    s.answer("R4", "SOP-304", "next_response", ROSA, local("2026-12-09", "10:00"), local("2026-12-09", "17:00"),
             local("2026-12-09", "11:00"), 3600, False)
    s.solved("R4", ANA, local("2026-12-10", "09:00"))
    s.rate("R4", "good", ANA, local("2026-12-10", "09:05"), "Muy amables.")
    s.open("R5", "IMP-301", "IMPLANTACIONES", "distribuidora-andina", "MIGRACION", LUIS, local("2026-12-10", "10:00"))
    _answer(s, "R5", "IMP-301", ELENA, "2026-12-10")
    s.solved("R5", LUIS, local("2026-12-11", "09:00"))
    s.rate("R5", "bad", LUIS, local("2026-12-11", "09:10"), "Sin respuesta clara.")
    return s.events


@pytest.fixture
def client(query_db):
    """Query in-process on the rated story's read models."""
    feed(query_db, accounts() + rated_story())
    app = create_app(query_config(query_db), migrate_first=True, clock=Clock(NOW))
    yield app.test_client()
    app.extensions["query"].pool.close()


def _cells(body: dict, *keys: str) -> list[tuple]:
    return [(*(i[k] for k in keys), i["good"], i["bad"], i["total"], i["share_good"]) for i in body["items"]]


def test_satisfaction_per_month_and_desk_counts_each_rating_in_its_caracas_month(client):
    body = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="month,desk")
    assert _cells(body, "month", "desk") == [
        ("2026-11", "SOPORTE", 1, 1, 2, 0.5),          # R1 good, R2 bad (rated 30 Nov 21:00 Caracas)
        ("2026-12", "IMPLANTACIONES", 0, 1, 1, 0.0),   # R5
        ("2026-12", "SOPORTE", 2, 0, 2, 1.0),          # R3, R4
    ]
    assert body["next_cursor"] is None


def test_satisfaction_per_month_and_agent_counts_the_last_public_answer_else_the_assignee(client):
    body = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="month,agent", desk="SOPORTE")
    assert [(i["month"], i["agent"], i["agent_name"], i["good"], i["bad"], i["share_good"]) for i in body["items"]] \
        == [("2026-11", "u-carlos", "Carlos Soporte", 1, 1, 0.5),
            # R3: nobody answered publicly (Carlos's note is internal): its assignee Rosa; R4: Rosa answered last.
            ("2026-12", "u-rosa", "Rosa Supervisora", 2, 0, 1.0)]


def test_satisfaction_per_organisation_module_and_agent_over_both_months(client):
    by_org = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="organisation")
    assert [(i["organisation_id"], i["organisation_name"], i["good"], i["bad"], i["share_good"])
            for i in by_org["items"]] == [("club-caracas", "Club Social Caracas", 2, 1, 0.6667),
                                          ("country-valencia", 'Valencia "Country" Club; Sede Guataparo', 1, 0, 1.0),
                                          ("distribuidora-andina", "Distribuidora Andina, C.A.", 0, 1, 0.0)]
    by_module = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="desk,module")
    assert _cells(by_module, "desk", "module") == [("IMPLANTACIONES", "MIGRACION", 0, 1, 1, 0.0),
                                                   ("SOPORTE", "BANCOS", 3, 0, 3, 1.0),
                                                   ("SOPORTE", "NOMINA", 0, 1, 1, 0.0)]
    all_five = get(client, ROSA, "/api/reports/satisfaction", **PERIOD,
                   group_by="month,module,agent,desk,organisation", agent="u-rosa")
    assert _cells(all_five, "month", "module", "agent", "desk", "organisation_id") == [
        ("2026-12", "BANCOS", "u-rosa", "SOPORTE", "club-caracas", 1, 0, 1, 1.0),
        ("2026-12", "BANCOS", "u-rosa", "SOPORTE", "country-valencia", 1, 0, 1, 1.0)]


def test_an_agent_reads_his_desks_figures_only_and_a_month_filter_narrows_them(client):
    body = get(client, CARLOS, "/api/reports/satisfaction", **PERIOD, group_by="desk")
    assert _cells(body, "desk") == [("SOPORTE", 3, 1, 4, 0.75)]
    november = get(client, CARLOS, "/api/reports/satisfaction", **{"from": "2026-11", "to": "2026-11"},
                   group_by="desk")
    assert _cells(november, "desk") == [("SOPORTE", 1, 1, 2, 0.5)]
    get(client, CARLOS, "/api/reports/satisfaction", 403, **PERIOD, desk="IMPLANTACIONES")


def test_the_satisfaction_groups_page_by_cursor_in_order(client):
    first = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="month,desk", limit=2)
    assert [(i["month"], i["desk"]) for i in first["items"]] == [("2026-11", "SOPORTE"),
                                                                 ("2026-12", "IMPLANTACIONES")]
    rest = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="month,desk", limit=2,
               cursor=first["next_cursor"])
    assert [(i["month"], i["desk"]) for i in rest["items"]] == [("2026-12", "SOPORTE")]
    assert rest["next_cursor"] is None


def test_staff_read_the_comments_oldest_first_with_a_link_to_the_timeline(client):
    body = get(client, ROSA, "/api/reports/satisfaction/comments", **PERIOD)
    assert [(i["number"], i["rating"], i["comment"], i["agent"], i["month"]) for i in body["items"]] == [
        ("SOP-302", "bad", "Tardaron tres días.", "u-carlos", "2026-11"),
        ("SOP-304", "good", "Muy amables.", "u-rosa", "2026-12"),
        ("IMP-301", "bad", "Sin respuesta clara.", "u-elena", "2026-12")]
    assert body["items"][0]["timeline"] == "/api/tickets/SOP-302/timeline"
    carlos = get(client, CARLOS, "/api/reports/satisfaction/comments", **PERIOD, limit=1)
    assert [i["number"] for i in carlos["items"]] == ["SOP-302"]
    more = get(client, CARLOS, "/api/reports/satisfaction/comments", **PERIOD, limit=1, cursor=carlos["next_cursor"])
    assert [i["number"] for i in more["items"]] == ["SOP-304"] and more["next_cursor"] is None


@pytest.mark.parametrize("path", ["/api/reports/satisfaction", "/api/reports/satisfaction/comments"])
def test_customers_never_read_the_staff_figures_or_comments(client, path):
    for customer in (MARIA, ANA):
        body = get(client, customer, path, 403, **PERIOD)
        assert body["code"] == "FORBIDDEN" and body["message"]["es"] and body["message"]["en"]


def test_an_unknown_parameter_is_refused_listing_the_valid_ones(client):
    body = get(client, ROSA, "/api/reports/satisfaction", 422, **PERIOD, stars="5")
    assert body["field"] == "stars" and "group_by" in body["message"]["en"]


def test_the_compliance_report_shows_satisfaction_beside_the_response_figures_of_each_group(client):
    body = get(client, ROSA, "/api/reports/compliance", **PERIOD, group_by="month,desk")
    rows = [(i["month"], i["desk"], i["clock"], i["count"], i["satisfaction"]) for i in body["items"]]
    good_bad = lambda g, b, s: {"good": g, "bad": b, "total": g + b, "share_good": s}  # noqa: E731
    assert rows == [
        ("2026-11", "SOPORTE", "first_response", 2, good_bad(1, 1, 0.5)),
        ("2026-12", "IMPLANTACIONES", "first_response", 1, good_bad(0, 1, 0.0)),
        ("2026-12", "SOPORTE", "first_response", 1, good_bad(2, 0, 1.0)),
        ("2026-12", "SOPORTE", "next_response", 1, good_bad(2, 0, 1.0)),
    ]
    by_agent = get(client, ROSA, "/api/reports/compliance", **PERIOD, group_by="agent", desk="SOPORTE")
    assert [(i["agent"], i["clock"], i["satisfaction"]["good"], i["satisfaction"]["bad"]) for i in by_agent["items"]] \
        == [("u-carlos", "first_response", 1, 1), ("u-rosa", "next_response", 2, 0)]


def test_a_replayed_rating_counts_once(client, query_db):
    feed(query_db, rated_story(), first_offset=1000)
    body = get(client, ROSA, "/api/reports/satisfaction", **PERIOD, group_by="desk")
    assert _cells(body, "desk") == [("IMPLANTACIONES", 0, 1, 1, 0.0), ("SOPORTE", 3, 1, 4, 0.75)]
    with pg.connect(query_db) as conn:
        assert conn.execute("select count(*) as n from report_ratings").fetchone()["n"] == 5
