"""Supervisors edit the mail templates' texts on the notifier (in-process, real PostgreSQL), and the
consumer renders with them: the real sender delivers the edited text to a real SMTP server."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from configs import bearer, notifier_config
from harness import Clock
from helpdesk_shared import pg
from helpdesk_shared.envelope import SYSTEM, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.localstack import free_port
from notifier import consumer, sender
from notifier.app import create_app
from notifier.mailer import Mailer
from permission_matrix import CLAIMS
from smtp_sink import Sink, text_of

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
URL = "/api/templates/access_requested_requester/es"
TEXT = {"subject": "Recibimos su pedido, {{ name }}",
        "body": "Hola {{ name }}:\n\nLa mesa {{ desk }} revisará su pedido. Texto escrito por la supervisora."}


@pytest.fixture
def client(notifier_db):
    return create_app(notifier_config(notifier_db), migrate_first=True, clock=Clock(NOW)).test_client()


def supervisor() -> dict:
    return bearer(CLAIMS["supervisor"], NOW)


def versions(url: str) -> int:
    with pg.connect(url) as conn:
        return conn.execute("select count(*) as n from template_texts").fetchone()["n"]


def test_a_supervisor_saves_a_text_reads_it_back_and_resets_it_keeping_every_version(client, notifier_db):
    before = client.get(URL, headers=supervisor()).get_json()
    assert before["version"] == 0 and before["current"] is None and "name" in before["placeholders"]
    assert before["default"]["subject"].startswith("Recibimos su solicitud") or before["default"]["subject"]
    saved = client.put(URL, json={**TEXT, "version": 0}, headers=supervisor())
    assert saved.status_code == 200, saved.get_json()
    state = client.get(URL, headers=supervisor()).get_json()
    assert state["version"] == 1 and state["current"]["subject"] == TEXT["subject"]
    assert state["current"]["edited_by"] == "u-rosa"
    assert client.get("/api/templates", headers=supervisor()).get_json()["edited"] == ["access_requested_requester.es"]
    reset = client.delete(URL + "?version=1", headers=supervisor())
    assert reset.status_code == 200 and reset.get_json()["current"] is None and reset.get_json()["version"] == 2
    assert [h["reset"] for h in reset.get_json()["history"]] == [True, False]
    assert versions(notifier_db) == 2


def test_a_second_editor_who_read_the_same_version_gets_409_and_changes_nothing(client, notifier_db):
    assert client.put(URL, json={**TEXT, "version": 0}, headers=supervisor()).status_code == 200
    late = client.put(URL, json={**TEXT, "subject": "Otro asunto", "version": 0}, headers=supervisor())
    assert late.status_code == 409 and late.get_json()["code"] == "TEMPLATE_CHANGED"
    assert "versión actual: 1" in late.get_json()["message"]["es"]
    assert versions(notifier_db) == 1
    assert client.delete(URL + "?version=0", headers=supervisor()).status_code == 409


@pytest.mark.parametrize("body, code", [
    ({**TEXT, "body": "Hola {{ nombre }}"}, "TEMPLATE_UNKNOWN_PLACEHOLDER"),
    ({**TEXT, "body": "Hola {{ name.nope }}"}, "TEMPLATE_RENDER_FAILED"),
    ({**TEXT, "body": "{% include '_layout.es.txt' %}"}, "TEMPLATE_TAG_FORBIDDEN"),
    ({**TEXT, "body": "x" * 20_001}, "TEXT_TOO_LONG"),
    ({**TEXT, "version": -1}, "FIELD_OUT_OF_RANGE"),
    ({"subject": "Asunto", "version": 0}, "FIELD_REQUIRED"),
])
def test_a_refused_text_answers_422_in_both_languages_and_stores_nothing(client, notifier_db, body, code):
    refused = client.put(URL, json={"version": 0, **body}, headers=supervisor())
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == code
    assert refused.get_json()["message"]["es"] and refused.get_json()["message"]["en"]
    assert versions(notifier_db) == 0


def test_a_text_that_drops_the_solved_link_is_refused(client, notifier_db):
    refused = client.put("/api/templates/agent_answered/es", json={
        "subject": "Respuesta", "body": "{{ body }} {{ not_solved_url }} {{ ticket_url }}", "version": 0},
        headers=supervisor())
    assert refused.status_code == 422 and refused.get_json()["code"] == "TEMPLATE_LINK_REQUIRED"
    assert versions(notifier_db) == 0


def test_the_preview_renders_the_text_with_a_sample_and_stores_nothing(client, notifier_db):
    preview = client.post(URL + "/preview", json=TEXT, headers=supervisor())
    assert preview.status_code == 200
    assert preview.get_json()["subject"] == "Recibimos su pedido, Pedro Díaz"
    assert "La mesa SOPORTE revisará su pedido." in preview.get_json()["text"]
    assert "<p" in preview.get_json()["html"]
    assert versions(notifier_db) == 0


def test_unknown_templates_and_languages_are_404_and_a_bad_reset_query_422(client):
    assert client.get("/api/templates/no_such/es", headers=supervisor()).status_code == 404
    assert client.get("/api/templates/ticket_closed/fr", headers=supervisor()).status_code == 404
    assert client.delete(URL + "?version=abc", headers=supervisor()).status_code == 422
    assert client.delete(URL + "?version=0&x=1", headers=supervisor()).status_code == 422
    assert client.delete(URL + "?version=0", headers=supervisor()).status_code == 404  # nothing to reset


def test_the_mail_the_smtp_server_receives_carries_the_supervisors_text(client, notifier_db):
    assert client.put(URL, json={**TEXT, "version": 0}, headers=supervisor()).status_code == 200
    sink = Sink(free_port()).start()
    try:
        config = notifier_config(notifier_db, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_starttls=False,
                                 smtp_username="", smtp_password="", kafka_topic_prefix="")
        requested = new_event("AccessRequested", "access-r9", 1, {
            "request_id": "r9", "name": "Pedro Díaz", "email": "pedro@club.example", "phone": "+58 412 555 0777",
            "organisation_name": "Club Ejemplo", "desk": "SOPORTE", "note": None}, actor=SYSTEM, occurred_at=NOW)
        loop = consumer.build(config, clock=Clock(NOW))
        with pg.connect(notifier_db) as conn:
            loop.handle_batch(conn, [Record("helpdesk.accounts", 0, 0, requested)])
        with pg.connect(notifier_db) as conn:
            assert sender.send_due(conn, Mailer(config), NOW, 60) == 2  # the requester's and the staff's
        [mail] = sink.to("pedro@club.example")
        assert mail["Subject"] == "Recibimos su pedido, Pedro Díaz"
        assert "La mesa SOPORTE revisará su pedido. Texto escrito por la supervisora." in text_of(mail)
        assert "Texto escrito por la supervisora." in mail.get_body(("html",)).get_content()
        [staff] = [m for m in sink.messages if m is not mail]
        assert "Texto escrito por la supervisora." not in text_of(staff)  # other templates keep their text
    finally:
        sink.stop()
