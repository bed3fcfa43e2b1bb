"""A customer's ticket says when its first response is overdue (the portal then shows the office phones)."""
from __future__ import annotations

import pytest

from test_query_desk_pages import ANA, MARIA, app, feed, get  # noqa: F401  (fixtures: the fed SOPORTE desk)

pytestmark = pytest.mark.integration


def test_the_ticket_says_whether_its_first_response_is_overdue_to_its_customer(app):
    assert get(app, "/api/tickets/SOP-3", ANA)["first_response_overdue"] is True   # ResponseOverdue seen
    assert get(app, "/api/tickets/SOP-1", MARIA)["first_response_overdue"] is False  # due later today
    assert get(app, "/api/tickets/SOP-6", MARIA)["first_response_overdue"] is False  # closed
