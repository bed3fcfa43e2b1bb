"""Each desk's rules page as content its supervisors edit (intake), in-process on real PostgreSQL."""
from __future__ import annotations

import json

import pytest

from harness import login
from helpdesk_shared import pg
from helpdesk_shared.topics import TOPIC_OF_EVENT

pytestmark = pytest.mark.integration

SUPERVISOR = "supervisor@mesa.example"
PAGE = "/api/desks/SOPORTE/rules-page"


def _events(intake_db: str) -> list[dict]:
    with pg.connect(intake_db) as conn:
        rows = conn.execute("""select stream_id, stream_version, payload from events where type = 'RulesPageEdited'
                               order by global_position""").fetchall()
    # An event's data lives in its stored bytes (the Kafka payload), not in a column of its own.
    return [{"stream_id": r["stream_id"], "stream_version": r["stream_version"],
             "data": json.loads(bytes(r["payload"]))["data"]} for r in rows]


def _outbox(intake_db: str) -> int:
    with pg.connect(intake_db) as conn:
        # The event store is intake's outbox: every accounts event stored is queued for Kafka.
        return conn.execute("""select count(*) as n from events where type = any(%s)""",
                            ([t for t, topic in TOPIC_OF_EVENT.items() if topic == 'helpdesk.accounts'],)).fetchone()["n"]


def test_a_fresh_install_serves_todays_rules_to_anyone_without_a_token(intake_app):
    client = intake_app.test_client()
    page = client.get(PAGE).get_json()
    assert page["version"] == 0 and page["edited_by"] is None
    assert page["html"].startswith("<ol>")
    assert "Cada caso va en su propio ticket" in page["html"]
    english = client.get(PAGE + "?lang=en").get_json()
    assert "Each case goes in its own ticket" in english["html"] and english["shown_language"] == "en"


def test_a_supervisor_edits_the_page_and_everyone_reads_the_sanitised_html(intake_app, intake_db):
    client = intake_app.test_client()
    headers = login(client, SUPERVISOR)
    text = "## Horario\n\nDe **lunes a viernes**. <script>alert(1)</script> [Portal](javascript:alert(2))"
    saved = client.put(PAGE, json={"language": "es", "text": text, "version": 0}, headers=headers)
    assert saved.status_code == 200, saved.get_json()
    page = client.get(PAGE).get_json()
    assert page["version"] == 1 and page["text"] == text and page["edited_by"]
    assert "<h2>Horario</h2>" in page["html"] and "<strong>lunes a viernes</strong>" in page["html"]
    assert "<script" not in page["html"] and "href" not in page["html"]
    [event] = _events(intake_db)
    assert event["stream_id"] == "rules-page-SOPORTE-es" and event["stream_version"] == 1
    assert event["data"] == {"desk": "SOPORTE", "language": "es", "text": text, "version": 1,
                             "edited_by": page["edited_by"]}


def test_a_second_editor_who_read_the_same_version_gets_409_and_changes_nothing(intake_app, intake_db):
    client = intake_app.test_client()
    headers = login(client, SUPERVISOR)
    first = client.put(PAGE, json={"language": "es", "text": "Primera versión.", "version": 0}, headers=headers)
    assert first.status_code == 200
    late = client.put(PAGE, json={"language": "es", "text": "Otra versión.", "version": 0}, headers=headers)
    assert late.status_code == 409
    refusal = late.get_json()
    assert refusal["code"] == "RULES_PAGE_CHANGED" and refusal["field"] == "version"
    assert "versión actual: 1" in refusal["message"]["es"] and "current version: 1" in refusal["message"]["en"]
    assert client.get(PAGE).get_json()["text"] == "Primera versión."
    assert len(_events(intake_db)) == 1


@pytest.mark.parametrize("body, code", [
    ({"language": "es", "text": "   ", "version": 0}, "RULES_PAGE_TEXT_REQUIRED"),
    ({"language": "es", "text": "x" * 20_001, "version": 0}, "TEXT_TOO_LONG"),
    ({"language": "fr", "text": "Bonjour", "version": 0}, "FIELD_NOT_CHOICE"),
    ({"language": "es", "text": "Hola", "version": "0"}, "FIELD_NOT_INTEGER"),
    ({"language": "es", "text": "Hola"}, "FIELD_REQUIRED"),
    ({"language": "es", "text": "Hola", "version": 0, "html": "<b>x</b>"}, "FIELD_UNKNOWN"),
])
def test_a_refused_edit_answers_422_in_both_languages_and_changes_nothing(intake_app, intake_db, body, code):
    client = intake_app.test_client()
    headers, queued = login(client, SUPERVISOR), _outbox(intake_db)
    refused = client.put(PAGE, json=body, headers=headers)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == code and refused.get_json()["message"]["es"]
    assert refused.get_json()["message"]["en"]
    assert _events(intake_db) == [] and _outbox(intake_db) == queued
    assert client.get(PAGE).get_json()["version"] == 0


def test_agents_and_customers_cannot_edit_the_page(intake_app, intake_db):
    client = intake_app.test_client()
    for email in ("carlos@mesa.example", "maria@clubcaracas.com.ve"):
        refused = client.put(PAGE, json={"language": "es", "text": "Nada.", "version": 0},
                             headers=login(client, email))
        assert refused.status_code == 403 and refused.get_json()["code"] == "FORBIDDEN"
    assert client.put(PAGE, json={"language": "es", "text": "Nada.", "version": 0}).status_code == 401
    assert _events(intake_db) == []


def test_an_english_page_left_empty_shows_the_spanish_one(intake_app):
    client = intake_app.test_client()
    headers = login(client, SUPERVISOR)
    assert client.put(PAGE, json={"language": "es", "text": "Solo en español.", "version": 0},
                      headers=headers).status_code == 200
    # The Spanish page changed: the English default no longer says the same, so English shows Spanish.
    assert client.get(PAGE + "?lang=en").get_json()["shown_language"] == "es"
    assert client.put(PAGE, json={"language": "en", "text": "In English.", "version": 0},
                      headers=headers).status_code == 200
    assert client.get(PAGE + "?lang=en").get_json()["html"] == "<p>In English.</p>"
    assert client.put(PAGE, json={"language": "en", "text": "", "version": 1}, headers=headers).status_code == 200
    english = client.get(PAGE + "?lang=en").get_json()
    assert english["shown_language"] == "es" and english["html"] == "<p>Solo en español.</p>"


def test_an_unknown_desk_is_404_and_an_unknown_parameter_422_naming_the_valid_one(intake_app):
    client = intake_app.test_client()
    assert client.get("/api/desks/VENTAS/rules-page").status_code == 404
    refused = client.get(PAGE + "?language=en")
    assert refused.status_code == 422 and refused.get_json()["code"] == "UNKNOWN_PARAMETER"
    assert "lang" in refused.get_json()["message"]["en"]
    assert client.get(PAGE + "?lang=fr").status_code == 422
