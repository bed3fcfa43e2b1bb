"""Issue 12, merge, on query's read model fed as its consumer feeds it: the duplicate's row says it
is closed as merged and where the case continues; the receiving ticket's thread, files and timeline
show the duplicate's messages and attachments, marked as coming from it."""
from __future__ import annotations

import pytest

from configs import bearer
from helpdesk_shared.envelope import Actor
from test_query_http import CARLOS, MARIA, Feed, client, feed, file  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def merge(f: Feed, duplicate_id: str, duplicate: str, target_id: str, target: str, messages: list[dict]) -> None:
    """What intake writes for a merge: the duplicate closes as merged, the target receives its content."""
    agent = Actor(CARLOS.user_id, CARLOS.role)
    closed = f.ticket_event("TicketClosed", duplicate_id, {"reason": "merged", "merged_into": target,
                                                           "merged_into_ticket_id": target_id, "note": "mismo caso"},
                            agent)
    received = f.ticket_event("TicketMergedInto", target_id, {
        "source_ticket_id": duplicate_id, "source_number": duplicate, "merged_by": CARLOS.user_id,
        "note": "mismo caso", "subject": "BANCOS, Factura repetida", "description": "La factura 1234 sale dos veces.",
        "opened_by": MARIA.user_id, "opened_at": f.now.isoformat(), "attachments": [file("d", "duplicado.png")],
        "messages": messages}, agent)
    f(closed, received)


@pytest.fixture
def merged(feed):
    """SOP-4, María's duplicate of SOP-1 with a message and an internal note, merged into SOP-1."""
    dup = feed.open("SOP-4", "club-caracas", "SOPORTE", "BANCOS", "Factura repetida",
                    "La factura 1234 sale dos veces.", attachments=[file("d", "duplicado.png")])
    at = feed.now.isoformat()
    merge(feed, dup, "SOP-4", "t-SOP-1", "SOP-1", [
        {"message_id": "m-x", "author_id": MARIA.user_id, "author_role": "customer", "body": "Otra captura adjunta.",
         "internal": False, "attachments": [file("e", "otra.png")], "occurred_at": at},
        {"message_id": "m-y", "author_id": CARLOS.user_id, "author_role": "agent", "body": "Nota: es el SOP-1.",
         "internal": True, "attachments": [], "occurred_at": at}])
    return feed


def test_the_duplicate_shows_closed_as_merged_with_a_link_to_its_target(client, merged, now):
    ticket = client.get("/api/tickets/SOP-4", headers=bearer(MARIA, now)).get_json()
    assert (ticket["status"], ticket["close_reason"]) == ("closed", "merged")
    assert ticket["merged_into"] == {"number": "SOP-1", "link": "/api/tickets/SOP-1"}
    listed = client.get("/api/tickets", headers=bearer(MARIA, now), query_string={"status": "closed"}).get_json()
    assert [(t["number"], t["close_reason"]) for t in listed["items"]] == [("SOP-4", "merged")]


def test_the_target_thread_carries_the_duplicates_public_messages_and_files_for_its_customer(client, merged, now):
    ticket = client.get("/api/tickets/SOP-1", headers=bearer(MARIA, now)).get_json()
    assert ticket["merged_into"] is None and ticket["status"] != "closed"
    entry = next(e for e in ticket["thread"] if e["type"] == "TicketMergedInto")
    assert entry["merged"]["source_number"] == "SOP-4"
    assert entry["body"] is None  # the merge note is for staff, like a close note
    assert [m["body"] for m in entry["merged"]["messages"]] == ["Otra captura adjunta."]  # not the internal note
    assert {"duplicado.png", "otra.png"} <= {a["name"] for a in ticket["attachments"]}
    as_agent = client.get("/api/tickets/SOP-1", headers=bearer(CARLOS, now)).get_json()
    entry = next(e for e in as_agent["thread"] if e["type"] == "TicketMergedInto")
    assert len(entry["merged"]["messages"]) == 2 and entry["body"] == "mismo caso"


def test_the_target_timeline_shows_the_merge_then_the_duplicates_messages_marked_with_their_origin(client, merged, now):
    items = client.get("/api/tickets/SOP-1/timeline", headers=bearer(CARLOS, now)).get_json()["items"]
    types = [i["type"] for i in items]
    at = types.index("TicketMergedInto")
    assert "fusionó aquí el ticket SOP-4" in items[at]["summary"]["es"]
    assert "merged ticket SOP-4 into this one" in items[at]["summary"]["en"]
    copied = items[at + 1:at + 4]
    assert [i["type"] for i in copied] == ["MergedMessage"] * 3
    assert {i["merged_from"] for i in copied} == {"SOP-4"}
    assert [i["data"]["body"] for i in copied] == ["La factura 1234 sale dos veces.", "Otra captura adjunta.",
                                                  "Nota: es el SOP-1."]
    assert copied[1]["who"]["name"] == "María Pérez" and copied[1]["data"]["attachments"][0]["name"] == "otra.png"
    assert copied[1]["summary"]["es"] == "Del ticket fusionado SOP-4: mensaje de María Pérez"
    duplicate = client.get("/api/tickets/SOP-4/timeline", headers=bearer(CARLOS, now)).get_json()["items"]
    closing = next(i for i in duplicate if i["type"] == "TicketClosed")
    assert closing["summary"]["es"].endswith("fusionó este ticket con el SOP-1: el caso continúa allí")
