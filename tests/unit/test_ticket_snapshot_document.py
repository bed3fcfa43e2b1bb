"""A ticket's snapshot row stores its folded state as JSON (`intake.ticket_snapshot`): what goes in comes out."""
from __future__ import annotations

import json

from helpdesk_shared import lifecycle
from intake import ticket_snapshot

STATE = lifecycle.TicketState(ticket_id="0b6c1d9e-3f1a-4c44-9a3e-2f5c7d8e9a10", number="SOP-1", desk="SOPORTE",
                              organisation_id="club", module="BANCOS", case="caso", urgency="normal", status="open",
                              version=3, assigned_to="u-carlos", customer_away=True, attachment_bytes=10,
                              attachment_hashes=frozenset({"b" * 64, "a" * 64}), close_reason=None, billable=False)


def test_a_state_read_back_from_its_stored_json_document_is_the_same_state():
    document = json.loads(json.dumps(ticket_snapshot.to_document(STATE)))
    assert ticket_snapshot.from_document(document) == STATE


def test_equal_states_give_equal_documents_whatever_the_order_of_their_attachment_hashes():
    assert ticket_snapshot.to_document(STATE)["attachment_hashes"] == ["a" * 64, "b" * 64]


def test_a_key_the_fold_no_longer_has_is_ignored_and_one_it_gained_since_takes_its_default():
    document = ticket_snapshot.to_document(STATE)
    del document["billable"]
    assert ticket_snapshot.from_document({**document, "retired_field": 1}) == \
        lifecycle.TicketState(**{**vars(STATE), "billable": None})
