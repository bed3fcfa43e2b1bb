"""The customer's verdict as figures, the pure parts (query.satisfaction) and the timeline's line for
a rating (query.timeline). The SQL: tests/integration/test_query_satisfaction.py."""
from __future__ import annotations

import pytest

from query import satisfaction
from query.reports import group_cursor
from query.timeline import summary


@pytest.mark.parametrize("good, bad, share", [(3, 1, 0.75), (2, 1, 0.6667), (0, 1, 0.0), (1, 0, 1.0), (0, 0, None)])
def test_the_share_good_is_rounded_to_four_decimals_and_none_without_ratings(good, bad, share):
    assert satisfaction.share_good(good, bad) == share
    assert satisfaction.figures(good, bad) == {"good": good, "bad": bad, "total": good + bad, "share_good": share}


def test_a_rating_counts_for_who_last_answered_else_the_assignee_else_nobody():
    assert satisfaction.rated_agent("u-rosa", "u-carlos") == "u-rosa"
    assert satisfaction.rated_agent(None, "u-carlos") == "u-carlos"
    assert satisfaction.rated_agent(None, None) is None


def test_groups_sort_in_code_point_order_with_no_agent_last_and_page_by_cursor():
    groups = [{"agent": None, "good": 1, "bad": 0}, {"agent": "u-rosa", "good": 2, "bad": 0},
              {"agent": "u-carlos", "good": 1, "bad": 1}]
    rows = satisfaction.items(groups, ("agent",))
    assert [(r["agent"], r["share_good"]) for r in rows] == [("u-carlos", 0.5), ("u-rosa", 1.0), (None, 1.0)]
    first, cursor = satisfaction.page(rows, ("agent",), None, 2)
    assert [r["agent"] for r in first] == ["u-carlos", "u-rosa"] and cursor
    rest, end = satisfaction.page(rows, ("agent",), group_cursor(cursor, ("agent",)), 2)
    assert [r["agent"] for r in rest] == [None] and end is None


def test_the_timeline_says_who_rated_how_with_the_comment():
    line = summary("TicketRated", {"rating": "bad", "comment": "Tardaron.", "rated_by": "u-maria"}, "María", {})
    assert line == {"es": "María calificó la atención como mala: Tardaron.", "en": "María rated the service bad: Tardaron."}
    plain = summary("TicketRated", {"rating": "good", "comment": None, "rated_by": "u-maria"}, "María", {})
    assert plain == {"es": "María calificó la atención como buena", "en": "María rated the service good"}
