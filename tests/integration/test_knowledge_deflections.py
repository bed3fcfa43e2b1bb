"""Deflections of the knowledge base (issue 12) on real PostgreSQL, with hand-computed expectations.

An attempt (one load of the new-ticket form) that opened a suggested article is deflected when no
ticket carrying it was opened within 30 minutes of its first opened article; until then it is
pending (query.articles.attempt_state). NOW is 14:00 UTC; every time below is of the same day."""
from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timezone

import pytest

from configs import query_config
from harness import Clock
from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from permission_matrix import article_events, bearer_of, record, scratch_database, ticket_opened
from query import store
from query.app import create_app

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
_numbers = itertools.count(1)


def at(hour: int, minute: int) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def opened(article: dict, attempt: str, when: datetime, version: int):
    return new_event("ArticleSuggestionOpened", f"attempt-{attempt}", version, {
        "article_id": article["id"], "desk": article["desk"], "module": article["module"], "attempt_id": attempt,
        "opened_by": "u-maria", "organisation_id": "club-caracas"}, actor=Actor("u-maria", "customer"),
        occurred_at=when)


def ticket(attempt: str, when: datetime):
    event = ticket_opened(f"SOP-{next(_numbers)}", when)
    return dataclasses.replace(event, data={**event.data, "attempt_id": attempt})


@pytest.fixture
def deflections():
    """Query with three SOPORTE articles (A1, A2 BANCOS; A3 NOMINA), one IMPLANTACIONES (B1), and the
    attempts t1..t7; yields (get(path, who) -> JSON, clock)."""
    with scratch_database("query") as url:
        clock = Clock(NOW)
        app = create_app(query_config(url), migrate_first=True, clock=clock)
        articles = {}
        records = []
        for name, desk, module in (("A1", "SOPORTE", "BANCOS"), ("A2", "SOPORTE", "BANCOS"),
                                   ("A3", "SOPORTE", "NOMINA"), ("B1", "IMPLANTACIONES", "BANCOS")):
            events = article_events(at(9, 0), desk, module, title_es=f"Artículo {name}", publish=True)
            articles[name] = {"id": events[0].data["article_id"], "desk": desk, "module": module}
            records += [record(e) for e in events]
        a1, a2, a3, b1 = (articles[n] for n in ("A1", "A2", "A3", "B1"))
        records += [record(e) for e in (
            opened(a1, "t1", at(12, 0), 1),                                             # no ticket: deflected
            opened(a1, "t2", at(12, 0), 1), opened(a2, "t2", at(12, 5), 2), ticket("t2", at(12, 20)),  # ticketed
            opened(a2, "t3", at(12, 0), 1), ticket("t3", at(13, 0)),                    # ticket after 12:30: deflected
            opened(a3, "t4", at(13, 45), 1),                                            # until 14:15: pending
            opened(a1, "t5", at(13, 0), 1), opened(a2, "t5", at(13, 10), 2),            # deflected at 13:30
            opened(a3, "t6", at(13, 50), 1), ticket("t6", at(13, 55)),                  # ticketed
            opened(b1, "t7", at(12, 0), 1),                                             # IMPLANTACIONES: deflected
            opened(a1, "t1", at(12, 10), 2),                                            # t1 opens A1 again: one
        )]
        with pg.connect(url) as conn:
            store.apply_batch(conn, records)
        client = app.test_client()

        def get(path: str, who: str = "agent") -> dict:
            response = client.get(path, headers=bearer_of(who, clock()))
            assert response.status_code == 200, response.get_json()
            return response.get_json()
        get.client = client
        try:
            yield get, clock, {name: a["id"] for name, a in articles.items()}
        finally:
            app.extensions["query"].pool.close()


def _counts(item: dict) -> tuple:
    return item["opened"], item["deflected"], item["ticketed"], item["pending"]


def test_deflections_per_article_and_module_are_the_hand_counted_ones(deflections):
    get, _, ids = deflections
    report = get("/api/reports/deflections")  # Carlos: SOPORTE
    assert report["window_minutes"] == 30
    # (opened, deflected, ticketed, pending): A1 by t1 t2 t5; A2 by t2 t3 t5; A3 by t4 t6.
    assert {a["article_id"]: _counts(a) for a in report["articles"]} == {
        ids["A1"]: (3, 2, 1, 0), ids["A2"]: (3, 2, 1, 0), ids["A3"]: (2, 0, 1, 1)}
    # Distinct attempts per module: BANCOS t1 t2 t3 t5; NOMINA t4 t6.
    assert {(m["desk"], m["module"]): _counts(m) for m in report["modules"]} == {
        ("SOPORTE", "BANCOS"): (4, 3, 1, 0), ("SOPORTE", "NOMINA"): (2, 0, 1, 1)}
    assert _counts(report["total"]) == (6, 3, 2, 1)
    assert report["modules"][0]["module_name"] == "Bancos"


def test_a_pending_attempt_is_deflected_once_its_window_has_passed(deflections):
    get, clock, _ = deflections
    clock.now = at(14, 20)  # t4's window ended at 14:15
    nomina = [m for m in get("/api/reports/deflections")["modules"] if m["module"] == "NOMINA"]
    assert [_counts(m) for m in nomina] == [(2, 1, 1, 0)]


def test_a_supervisor_reads_every_desk_and_a_desk_filter_narrows_it(deflections):
    get, _, ids = deflections
    assert _counts(get("/api/reports/deflections", who="supervisor")["total"]) == (7, 4, 2, 1)
    only = get("/api/reports/deflections?desk=IMPLANTACIONES", who="supervisor")
    assert [(a["article_id"], _counts(a)) for a in only["articles"]] == [(ids["B1"], (1, 1, 0, 0))]



def test_the_deflections_are_a_prometheus_series_per_desk_module_and_outcome(deflections):
    get, _, _ = deflections
    metrics = get.client.get("/metrics").get_data(as_text=True)
    # Every desk (a scrape has no reader): SOPORTE's BANCOS t1 t3 t5 deflected, t2 ticketed; NOMINA t4 pending.
    for line in ('mesa_kb_attempts{desk="SOPORTE",module="BANCOS",outcome="deflected"} 3.0',
                 'mesa_kb_attempts{desk="SOPORTE",module="BANCOS",outcome="ticketed"} 1.0',
                 'mesa_kb_attempts{desk="SOPORTE",module="NOMINA",outcome="pending"} 1.0',
                 'mesa_kb_attempts{desk="IMPLANTACIONES",module="BANCOS",outcome="deflected"} 1.0'):
        assert line in metrics, line
