"""The reports' read model is a function of the log, not of the order its topics were read in.

helpdesk.tickets and helpdesk.sla are different topics (and each has many partitions): the live
consumer (a consumer group) and a rebuild (the Replayer) interleave a ticket's events with its SLA
facts differently. Every order that keeps each partition's own order must leave the same tables,
row for row: the rebuild is checked against the live model table by table.
"""
from __future__ import annotations

import pytest

from helpdesk_shared import pg
from test_query_reports import _generated_story, accounts, feed, moved_deadline_story, story

pytestmark = pytest.mark.integration

REPORT_TABLES = ("report_responses", "report_compliance_hours", "report_compliance_minutes",
                 "report_compliance_dimension_hours", "report_compliance_dimension_minutes")


def _tables(url: str) -> dict[str, list]:
    """Every row of the reports' response tables, whole and sorted (zero counts included: a row is a row)."""
    with pg.connect(url) as conn:
        return {t: sorted((tuple(r.items()) for r in conn.execute(f"select * from {t}")), key=repr)
                for t in REPORT_TABLES}


@pytest.fixture
def second_query_db(fresh_database) -> str:
    from query.app import migrate
    url = fresh_database("query")
    migrate(url)
    return url


def test_the_response_counts_are_the_same_whether_a_tickets_events_or_its_sla_facts_are_read_first(
        query_db, second_query_db):
    # Overdue responses later met (the moved deadline, the generated late answers) and overdue ones
    # closed unanswered: each moves a count from one row to another, which must leave the same rows
    # whether the ticket was there to count it at the time or only came after its facts.
    events = story() + moved_deadline_story() + _generated_story(11, 40)
    facts = [e for e in events if e.stream_id.startswith("sla-")]
    tickets = [e for e in events if not e.stream_id.startswith("sla-")]
    feed(query_db, accounts())
    feed(query_db, tickets, first_offset=100)
    feed(query_db, facts, first_offset=1000)
    feed(second_query_db, accounts())
    feed(second_query_db, facts, first_offset=1000)
    feed(second_query_db, tickets, first_offset=100)
    tickets_first, facts_first = _tables(query_db), _tables(second_query_db)
    assert tickets_first["report_compliance_hours"], "the story counts responses: the comparison is not empty"
    differing = {t: ([r for r in rows if r not in facts_first[t]], [r for r in facts_first[t] if r not in rows])
                 for t, rows in tickets_first.items() if rows != facts_first[t]}
    assert differing == {}, "(rows only when tickets came first, rows only when facts came first)"
