"""Query's schema (the baseline and migrations 0007 and 0008, the search vectors) where the contrib extension
unaccent cannot be created: search still works (stemmed)."""
from __future__ import annotations

import importlib
import uuid

import psycopg
import pytest

from helpdesk_shared import localstack, pg
from query.app import SCHEMA

search_vectors = importlib.import_module("query.migrations.0007_ticket_search_vectors")
module_lexeme = importlib.import_module("query.migrations.0008_module_lexeme_in_one_place")

pytestmark = pytest.mark.integration


@pytest.fixture
def database_of_a_role_that_cannot_create_extensions():
    """A fresh database and a role that may create tables in it but not extensions (no CREATE on the database)."""
    name, role = f"mesa_t{uuid.uuid4().hex[:8]}_query", f"mesa_t{uuid.uuid4().hex[:8]}_reader"
    url = localstack.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create role {role} login password 'test-only'")
        conn.execute(f"grant usage, create on schema public to {role}")
    base = localstack.PG_BASE_URL.split("@", 1)[1]
    try:
        yield url, f"postgresql://{role}:test-only@{base}/{name}"
    finally:
        localstack.drop_database(name)
        with psycopg.connect(f"{localstack.PG_BASE_URL}/postgres", autocommit=True) as conn:
            conn.execute(f"drop role if exists {role}")


def test_the_schema_applies_without_unaccent_and_search_still_stems_spanish(database_of_a_role_that_cannot_create_extensions):
    admin_url, url = database_of_a_role_that_cannot_create_extensions
    pg.apply_schema(url, SCHEMA, *search_vectors.DDL, *search_vectors.FUNCTIONS,
                    *module_lexeme.FUNCTIONS)
    with pg.connect(url) as conn:
        assert conn.execute("select count(*) as n from pg_extension where extname = 'unaccent'").fetchone()["n"] == 0
        conn.execute("""insert into tickets (ticket_id, number, desk, organisation_id, module, case_summary, subject,
                                             description, urgency, status, opened_by, contact, details, attachments,
                                             out_of_hours, opened_at, updated_at, last_version)
                        values ('t1', 'SOP-1', 'SOPORTE', 'o', 'NOMINA', 'Nómina sin bonos', 'NOMINA, Nómina sin bonos',
                                'Las facturas de la quincena', 'normal', 'open', 'u', '{}', '{}', '[]', false,
                                now(), now(), 1)""")
        conn.execute("""insert into ticket_search (ticket_id, desk, organisation_id, module, opened_at, number, staff,
                                                   public)
                        select ticket_id, desk, organisation_id, module, opened_at, number, v,
                               mesa_thread_search(v, 'Revisamos los vigilantes')
                        from tickets, mesa_ticket_search(subject, case_summary, description, module) v""")
        found = [conn.execute("""select count(*) as n from ticket_search
                                 where public @@ websearch_to_tsquery('pg_catalog.spanish', %s)""",
                              (words,)).fetchone()["n"] for words in ("nómina factura", "vigilante", "inexistente")]
    assert found == [1, 1, 0]
