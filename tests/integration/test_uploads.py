"""Issue 7 item 10: a name belongs to its upload; uploads never attached go after a day."""
from __future__ import annotations

import io

import pytest

from harness import login
from samples import png, ticket_body

pytestmark = pytest.mark.integration

CUSTOMER = "maria@clubcaracas.com.ve"


def upload(client, headers, content: bytes, name: str) -> dict:
    """POST /api/attachments; the 201 body."""
    response = client.post("/api/attachments", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), name)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def opened_attachments(intake_app, number: str) -> list[dict]:
    with intake_app.extensions["intake"].pool.connection() as conn:
        row = conn.execute("select convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = 'TicketOpened' and convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'number' = %s",
                           (number,)).fetchone()
    return row["data"]["attachments"]


def test_the_same_bytes_uploaded_under_two_names_keep_both_names(intake_app):
    client = intake_app.test_client()
    headers = login(client, CUSTOMER)
    first = upload(client, headers, png(), "antes.png")
    second = upload(client, headers, png(), "despues.png")
    assert first["sha256"] == second["sha256"] and first["upload_id"] != second["upload_id"]
    opened = client.post("/api/tickets", headers=headers,
                         json=ticket_body(attachments=[first["upload_id"], second["upload_id"]]))
    assert opened.status_code == 201, opened.get_json()
    names = [a["name"] for a in opened_attachments(intake_app, opened.get_json()["number"])]
    assert names == ["antes.png", "despues.png"]


def test_an_upload_referenced_by_its_hash_keeps_the_name_it_was_first_given(intake_app):
    """A second upload of the same bytes no longer renames the first (the old `on conflict` did)."""
    client = intake_app.test_client()
    headers = login(client, CUSTOMER)
    first = upload(client, headers, png(), "antes.png")
    opened = client.post("/api/tickets", headers=headers, json=ticket_body(attachments=[first["upload_id"]]))
    upload(client, headers, png(), "despues.png")
    assert opened.status_code == 201
    number = opened.get_json()["number"]
    assert [a["name"] for a in opened_attachments(intake_app, number)] == ["antes.png"]
    download = client.get(f"/api/tickets/{number}/attachments/{first['sha256']}", headers=headers)
    assert download.status_code == 200 and download.data == png()
    assert "antes.png" in download.headers["Content-Disposition"]


def test_uploads_never_attached_are_removed_after_a_day_and_their_blob_only_when_unreferenced(intake_app, clock):
    from intake import cleanup
    ctx = intake_app.extensions["intake"]
    client = intake_app.test_client()
    maria = login(client, CUSTOMER)
    jose = login(client, "jose@clubcaracas.com.ve")
    attached = upload(client, maria, png(3, 3), "adjunto.png")
    assert client.post("/api/tickets", headers=maria,
                       json=ticket_body(attachments=[attached["upload_id"]])).status_code == 201
    same_bytes_unattached = upload(client, jose, png(3, 3), "copia.png")  # blob shared with the ticket
    orphan = upload(client, maria, png(4, 4), "olvidado.png")
    clock.advance(hours=20)
    maria = login(client, CUSTOMER)  # tokens last 8 hours
    recent = upload(client, maria, png(5, 5), "reciente.png")
    clock.advance(hours=5)  # the first uploads are 25 h old, `recent` 5 h
    maria = login(client, CUSTOMER)

    with ctx.pool.connection() as conn:
        removed = cleanup.remove_stale_uploads(conn, ctx.blobs, clock())
    assert removed == 2  # orphan and same_bytes_unattached

    assert not ctx.blobs.exists(orphan["sha256"])
    assert ctx.blobs.exists(attached["sha256"])  # still on a ticket
    assert ctx.blobs.exists(recent["sha256"])
    refused = client.post("/api/tickets", headers=maria,
                          json=ticket_body("Nómina quincenal calcula mal el bono nocturno", "NOMINA",
                                           attachments=[orphan["upload_id"]]))
    assert refused.status_code == 422 and refused.get_json()["code"] == "ATTACHMENT_UNKNOWN"
    kept = client.post("/api/tickets", headers=maria,
                       json=ticket_body("Nómina quincenal calcula mal el bono nocturno", "NOMINA",
                                        attachments=[recent["upload_id"]]))
    assert kept.status_code == 201, kept.get_json()
