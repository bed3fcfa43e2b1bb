"""Issue 12, merge: `POST /api/tickets/<n>/merge` in-process on real PostgreSQL: both streams, the
index rows and the snapshots written in one transaction, the Idempotency-Key, and a refusal that
changes nothing. The rules themselves: tests/unit/test_intake_merge_in_memory.py."""
from __future__ import annotations

import threading

import pytest

from harness import login
from helpdesk_shared import lifecycle, pg
from intake import eventstore, ticket_snapshot
from samples import ticket_body

pytestmark = pytest.mark.integration


def _open(client, headers, **extra) -> str:
    response = client.post("/api/tickets", json=ticket_body(confirmed_different_case=True, **extra), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def _rows(url: str, *numbers: str) -> dict:
    with pg.connect(url) as conn:
        rows = conn.execute("""select t.number, t.ticket_id, t.status, t.version, s.version as snapshot_version, s.state
                               from tickets t join ticket_snapshots s using (ticket_id)
                               where t.number = any(%s)""", (list(numbers),)).fetchall()
        return {r["number"]: {**r, "events": eventstore.load_stream(conn, r["ticket_id"])} for r in rows}


def test_a_merge_closes_the_duplicate_and_records_it_on_the_target_in_one_transaction(intake_app, intake_db):
    client = intake_app.test_client()
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    target, duplicate = _open(client, maria), _open(client, maria)
    assert client.post(f"/api/tickets/{duplicate}/messages", json={"body": "Otra captura"},
                       headers=maria).status_code == 201
    response = client.post(f"/api/tickets/{duplicate}/merge", json={"target": target, "note": "mismo caso"},
                           headers={**carlos, "Idempotency-Key": "merge-1"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"number": duplicate, "status": "closed", "merged_into": target,
                                   "link": f"/api/tickets/{target}"}
    rows = _rows(intake_db, target, duplicate)
    closed, received = rows[duplicate]["events"][-1], rows[target]["events"][-1]
    assert (closed.type, closed.data["reason"], closed.data["merged_into"]) == ("TicketClosed", "merged", target)
    assert (received.type, received.data["source_number"]) == ("TicketMergedInto", duplicate)
    assert [m["body"] for m in received.data["messages"]] == ["Otra captura"]
    for number, row in rows.items():  # index row and snapshot at the stream's version, the snapshot its fold
        assert row["version"] == row["snapshot_version"] == row["events"][-1].stream_version
        assert ticket_snapshot.from_document(row["state"]) == lifecycle.fold(row["events"])
    assert rows[duplicate]["status"] == "closed" and rows[target]["status"] == "open"
    # The same key and body again: the first answer, no second effect.
    again = client.post(f"/api/tickets/{duplicate}/merge", json={"target": target, "note": "mismo caso"},
                        headers={**carlos, "Idempotency-Key": "merge-1"})
    assert (again.status_code, again.get_json()) == (201, response.get_json())
    assert len(_rows(intake_db, target)[target]["events"]) == len(rows[target]["events"])
    summary = client.get(f"/api/tickets/{duplicate}", headers=maria).get_json()
    assert (summary["status"], summary["close_reason"], summary["merged_into"]) == ("closed", "merged", target)


def test_a_merge_across_organisations_is_refused_bilingually_and_changes_nothing(intake_app, intake_db):
    client = intake_app.test_client()
    maria, ana = login(client, "maria@clubcaracas.com.ve"), login(client, "ana@countryvalencia.com.ve")
    carlos = login(client, "carlos@mesa.example")
    duplicate, foreign = _open(client, maria), _open(client, ana)
    before = _rows(intake_db, duplicate, foreign)
    response = client.post(f"/api/tickets/{duplicate}/merge", json={"target": foreign}, headers=carlos)
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["field"]) == ("MERGE_ACROSS_ORGANISATIONS", "target")
    assert body["message"]["es"] and body["message"]["en"]
    after = _rows(intake_db, duplicate, foreign)
    assert {n: len(r["events"]) for n, r in after.items()} == {n: len(r["events"]) for n, r in before.items()}


def test_a_missing_target_field_is_a_422_naming_it(intake_app):
    client = intake_app.test_client()
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    duplicate = _open(client, maria)
    response = client.post(f"/api/tickets/{duplicate}/merge", json={}, headers=carlos)
    assert response.status_code == 422 and response.get_json()["field"] == "target"


def test_two_merges_of_one_pair_in_opposite_directions_leave_exactly_one_merged(intake_app, intake_db):
    client = intake_app.test_client()
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    a, b = _open(client, maria), _open(client, maria)
    answers = {}

    def merge(source, target):
        answers[source] = intake_app.test_client().post(f"/api/tickets/{source}/merge", json={"target": target},
                                                        headers=carlos).status_code

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(answers.values()) == [201, 409], answers  # the second finds its target (or itself) closed
    rows = _rows(intake_db, a, b)
    assert sorted(r["status"] for r in rows.values()) == ["closed", "open"]


def test_a_duplicate_too_large_to_copy_in_one_event_is_refused_with_413_and_nothing_changes(intake_app, intake_db):
    # A merged duplicate's messages travel in one TicketMergedInto: past Kafka's message size the
    # append is refused (outbox.EventTooLarge) and the whole merge rolls back, the duplicate left open.
    client = intake_app.test_client()
    maria, carlos = login(client, "maria@clubcaracas.com.ve"), login(client, "carlos@mesa.example")
    target, duplicate = _open(client, maria), _open(client, maria)
    text = "Detalle del error " * 1_100  # ~19,800 characters, under the message bound
    for _ in range(55):
        assert client.post(f"/api/tickets/{duplicate}/messages", json={"body": text},
                           headers=maria).status_code == 201
    before = _rows(intake_db, target, duplicate)
    response = client.post(f"/api/tickets/{duplicate}/merge", json={"target": target}, headers=carlos)
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["code"] == "EVENT_TOO_LARGE" and response.get_json()["message"]["es"]
    after = _rows(intake_db, target, duplicate)
    assert {n: (r["status"], r["version"]) for n, r in after.items()} == \
        {n: (r["status"], r["version"]) for n, r in before.items()}
