"""How ticket events change query's read model (pure)."""
from __future__ import annotations

from helpdesk_shared import lifecycle
from helpdesk_shared.envelope import new_event
from query.projector import project
from test_lifecycle import AGENT, CUSTOMER, T0, message, opened


def test_an_opened_ticket_becomes_a_row_and_its_description_the_first_thread_entry():
    change = project(opened(), None)
    assert change.new_ticket["number"] == "SOP-1" and change.new_ticket["status"] == lifecycle.OPEN
    assert change.thread_entry["body"] == "..." and change.thread_entry["attachments"][0]["name"] == "pantalla.png"


def test_an_internal_note_is_an_internal_thread_entry_and_changes_no_status():
    change = project(message(2, AGENT, internal=True), lifecycle.OPEN)
    assert change.thread_entry["internal"] is True
    assert "status" not in change.ticket_updates


def test_public_answers_move_the_status_between_agents_and_customer():
    assert project(message(2, AGENT), lifecycle.OPEN).ticket_updates["status"] == lifecycle.WAITING_CUSTOMER
    assert project(message(3, CUSTOMER), lifecycle.WAITING_CUSTOMER).ticket_updates["status"] == lifecycle.OPEN


def test_a_closed_ticket_records_why():
    closed = new_event("TicketClosed", "t1", 5, {"reason": "auto_closed", "based_on_version": 4},
                       actor=AGENT, occurred_at=T0)
    assert project(closed, lifecycle.WAITING_CUSTOMER).ticket_updates == {"status": "closed",
                                                                          "close_reason": "auto_closed"}
