"""The query view shows when an away customer is back (issue 7 item 18)."""
from __future__ import annotations

from datetime import timedelta

from helpdesk_shared import lifecycle
from helpdesk_shared.envelope import new_event
from query.projector import project
from query.views import _LIST_COLUMNS
from test_lifecycle import CUSTOMER, T0, message


def away(back_at):
    return new_event("CustomerAway", "t1", 3, {"back_at": back_at, "note": "de viaje"}, actor=CUSTOMER,
                     occurred_at=T0)


def test_away_until_a_date_shows_the_date():
    back = T0 + timedelta(days=3)
    updates = project(away(back), lifecycle.WAITING_CUSTOMER).ticket_updates
    assert updates == {"customer_away": True, "back_at": back}


def test_away_without_a_date_shows_no_date():
    assert project(away(None), lifecycle.WAITING_CUSTOMER).ticket_updates == {"customer_away": True, "back_at": None}


def test_the_customers_next_message_clears_the_date_too():
    updates = project(message(4, CUSTOMER), lifecycle.WAITING_CUSTOMER).ticket_updates
    assert updates["customer_away"] is False and updates["back_at"] is None


def test_the_ticket_list_has_the_back_at_column():
    assert "back_at" in _LIST_COLUMNS
