"""The portal's compliance page shows the customers' verdict beside the response figures, and their
comments, to staff (issue 12; query's figures are tested in tests/integration/test_query_satisfaction.py)."""
from __future__ import annotations

import pytest

from portal.backend import Reply
from test_portal_supervisor_pages import FakeBackend, client  # noqa: F401  (client: the fixture)

ITEM = {"month": "2026-12", "desk": "SOPORTE", "clock": "first_response", "count": 4, "met": 3, "missed": 1,
        "share": 0.75, "median_business_hours": 2.5, "p90_business_hours": 10.1,
        "satisfaction": {"good": 3, "bad": 1, "total": 4, "share_good": 0.75}}
COMMENT = {"number": "SOP-302", "rating": "bad", "comment": "Tardaron tres días.", "rated_at": "2026-12-01T01:00:00+00:00",
           "month": "2026-11", "desk": "SOPORTE", "module": "NOMINA", "organisation_id": "club-caracas",
           "organisation_name": "Club Social Caracas", "agent": "u-carlos", "agent_name": "Carlos Soporte",
           "timeline": "/api/tickets/SOP-302/timeline"}


@pytest.fixture
def backend():
    backend = FakeBackend()
    backend.answers["/api/reports/compliance"] = Reply(200, {"items": [ITEM], "next_cursor": None,
                                                             "from": "2026-01", "to": "2026-12"})
    backend.answers["/api/reports/satisfaction/comments"] = Reply(200, {"items": [COMMENT], "next_cursor": None})
    return backend


def test_the_compliance_tables_show_good_bad_and_the_share_good_beside_each_group(client):
    page = client.get("/reports/compliance").get_data(as_text=True)
    assert "Buena atención" in page and "Mala atención" in page and "Satisfacción" in page
    row = page.split('id="compliance-by-month"')[1].split("</tr>", 2)[1]
    assert "<td>3</td><td>1</td><td>75" in row


def test_the_compliance_page_lists_the_customers_comments_with_their_ticket(client):
    page = client.get("/reports/compliance").get_data(as_text=True)
    listed = page.split('id="rating-comments"')[1].split("</ul>")[0]
    assert "SOP-302" in listed and "Tardaron tres días." in listed and "Mala atención" in listed
    assert "Carlos Soporte" in listed


def test_no_comment_in_the_period_is_said(client, backend):
    backend.answers["/api/reports/satisfaction/comments"] = Reply(200, {"items": [], "next_cursor": None})
    page = client.get("/reports/compliance").get_data(as_text=True)
    assert 'id="rating-comments"' not in page and "Ningún cliente dejó un comentario" in page
