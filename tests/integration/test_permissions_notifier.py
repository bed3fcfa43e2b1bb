"""The notifier's permission matrix (every route × every principal), in-process on real
PostgreSQL with its read model of tickets and its mail log seeded as rows."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone

import pytest
from psycopg.types.json import Jsonb

from configs import notifier_config
from harness import Clock
from helpdesk_shared import pg
from notifier.app import create_app
from permission_matrix import assert_table_covers, bearer_of, cases, check, row, scratch_database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)

# The mail log is staff's, of their desks' tickets; customers read what they were sent in query.
#   method  rule                           request                   anon cust  c-oth agent a-oth  sup  s-oth
TABLE = [
    row("GET", "/api/templates",               "templates",               401, 403, 403, 200, 200, 200, 200),
    # A mail's wording is the vendor's voice: supervisors only, of any desk.
    row("GET", "/api/templates/<name>/<language>", "template_text",       401, 403, 403, 403, 403, 200, 200),
    row("PUT", "/api/templates/<name>/<language>", "save_template_text",  401, 403, 403, 403, 403, 200, 200),
    row("DELETE", "/api/templates/<name>/<language>", "reset_template_text",
                                                                          401, 403, 403, 403, 403, 200, 200),
    row("POST", "/api/templates/<name>/<language>/preview", "preview_template_text",
                                                                          401, 403, 403, 403, 403, 200, 200),
    row("GET", "/api/mails/<ticket_number>",   "mails",                   401, 403, 403, 200, 404, 200, 404),
    row("GET", "/api/mails/<ticket_number>",   "mails_of_unknown_ticket", 401, 403, 403, 404, 404, 404, 404),
    row("GET", "/api/tickets/<ticket_number>/refused-replies", "refused_replies",
                                                                          401, 403, 403, 200, 404, 200, 404),
    row("GET", "/api/tickets/<ticket_number>/refused-replies", "refused_replies_of_unknown_ticket",
                                                                          401, 403, 403, 404, 404, 404, 404),
]

_numbers = itertools.count(1)


class World:
    """The notifier's app in-process on its own database."""

    def __init__(self, app, database_url: str):
        self.app, self.url, self.client = app, database_url, app.test_client()

    def ticket_with_a_mail(self) -> str:
        """A fresh SOPORTE ticket of club-caracas and the "received" mail sent to María about it."""
        number, ticket_id = f"SOP-{next(_numbers)}", str(uuid.uuid4())
        with pg.connect(self.url) as conn:
            conn.execute("""insert into tickets (ticket_id, number, desk, subject, organisation_id, opened_by, contact,
                                                 language, urgency, status, opened_at, version)
                            values (%s, %s, 'SOPORTE', 'BANCOS, Factura mal cargada', 'club-caracas', 'u-maria',
                                    %s, 'es', 'normal', 'open', %s, 1)""",
                         (ticket_id, number, Jsonb({"email": "maria@clubcaracas.com.ve"}), NOW))
            conn.execute("""insert into mails (key, cause_event_id, template, recipient, language, ticket_id, subject,
                                               body_text, body_html, message_id, next_attempt_at, created_at)
                            values (%s, %s, 'ticket_received', 'maria@clubcaracas.com.ve', 'es', %s, 'Recibido',
                                    'texto', '<p>texto</p>', %s, %s, %s)""",
                         (f"{ticket_id}:received", uuid.uuid4(), ticket_id, f"<{ticket_id}@mesa.example>", NOW, NOW))
        return number


def _text_version(w, overridden: bool = False) -> int:
    """The newest version of ticket_closed's Spanish text; with `overridden`, one is saved first."""
    with pg.connect(w.url) as conn:
        version = conn.execute("""select coalesce(max(version), 0) as v from template_texts
                                  where template = 'ticket_closed' and language = 'es'""").fetchone()["v"]
        if overridden:
            version += 1
            conn.execute("""insert into template_texts (template, language, version, subject, body, edited_by,
                                                        edited_at)
                            values ('ticket_closed', 'es', %s, 'Cerrado', 'Texto', 'u-rosa', %s)""", (version, NOW))
    return version


_CLOSED_TEXT = {"subject": "Cerramos su ticket {{ number }}",
                "body": "Cerrado. {{ ticket_url }} {{ new_ticket_url }}{% if course_url %} {{ course_url }}{% endif %}"
                        "{% if articles_url %} {{ articles_url }}{% endif %}"
                        "{% if good_url %} {{ good_url }} {{ bad_url }}{% endif %}"}  # the rating links (issue 12)

REQUESTS = {
    "template_text": lambda w: "/api/templates/ticket_closed/es",
    "save_template_text": lambda w: ("/api/templates/ticket_closed/es",
                                     {"json": {**_CLOSED_TEXT, "version": _text_version(w)}}),
    "reset_template_text": lambda w: (f"/api/templates/ticket_closed/es?version={_text_version(w, True)}", {}),
    "preview_template_text": lambda w: ("/api/templates/ticket_closed/es/preview", {"json": _CLOSED_TEXT}),
    "templates": lambda w: "/api/templates",
    "mails": lambda w: f"/api/mails/{w.ticket_with_a_mail()}",
    "mails_of_unknown_ticket": lambda w: "/api/mails/SOP-999999",
    "refused_replies": lambda w: f"/api/tickets/{w.ticket_with_a_mail()}/refused-replies",
    "refused_replies_of_unknown_ticket": lambda w: "/api/tickets/SOP-999999/refused-replies",
}


@pytest.fixture(scope="module")
def world():
    """The notifier's app for the whole module."""
    with scratch_database("notifier") as url:
        app = create_app(notifier_config(url), migrate_first=True, clock=Clock(NOW))
        yield World(app, url)


@pytest.mark.parametrize("r, who", cases(TABLE))
def test_each_principal_gets_the_status_the_permission_table_gives_on_each_notifier_route(world, r, who):
    built = REQUESTS[r.request](world)
    path, kwargs = built if isinstance(built, tuple) else (built, {})
    response = world.client.open(path, method=r.method, headers=bearer_of(who, NOW), **kwargs)
    check(response, r, who)


def test_every_notifier_route_has_a_row_in_the_permission_table(world):
    assert_table_covers(world.app, TABLE)
    assert set(REQUESTS) == {r.request for r in TABLE}


def test_an_agent_of_the_desk_reads_the_mails_sent_about_a_ticket(world):
    number = world.ticket_with_a_mail()
    items = world.client.get(f"/api/mails/{number}", headers=bearer_of("agent", NOW)).get_json()["items"]
    assert [(m["template"], m["recipient"]) for m in items] == [("ticket_received", "maria@clubcaracas.com.ve")]
