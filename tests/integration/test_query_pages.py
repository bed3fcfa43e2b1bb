"""Query's ticket list, page by page, in-process on real PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from configs import bearer, query_config
from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.kafka import Record
from query import store
from query.app import create_app

pytestmark = pytest.mark.integration

MARIA = Claims("u-maria", "customer", "club-caracas", ("SOPORTE",), "María Pérez", "maria@clubcaracas.com.ve")


def opened(n: int, organisation_id: str, at) -> Record:
    """A TicketOpened record for SOP-n."""
    ticket_id = f"t{n}-{organisation_id}"
    event = new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": f"SOP-{n}", "desk": "SOPORTE", "organisation_id": organisation_id,
        "opened_by": "u-maria", "module": "BANCOS", "case": f"Caso {n}", "subject": f"BANCOS, Caso {n}",
        "description": "...", "urgency": "normal",
        "contact": {"name": "María", "email": "maria@clubcaracas.com.ve", "phone": "+582125550100"},
        "attachments": []}, actor=Actor("u-maria", "customer"), occurred_at=at)
    return Record("tickets", 0, n, event)


@pytest.fixture
def query_app(query_db, clock):
    """Query in-process with five club-caracas tickets SOP-1..5 (one a minute) and one of another organisation."""
    app = create_app(query_config(query_db), migrate_first=True, clock=clock)
    with pg.connect(query_db) as conn:
        store.apply_batch(conn, [opened(n, "club-caracas", clock.now - timedelta(minutes=10 - n))
                                 for n in range(1, 6)] + [opened(9, "country-valencia", clock.now)])
    yield app
    app.extensions["query"].pool.close()


def test_pages_of_two_list_every_visible_ticket_once_newest_first(query_app, now):
    client = query_app.test_client()
    headers = bearer(MARIA, now)
    pages = [client.get(f"/api/tickets?per_page=2&page={p}", headers=headers).get_json() for p in (1, 2, 3, 4)]
    assert [[t["number"] for t in page["items"]] for page in pages] == [
        ["SOP-5", "SOP-4"], ["SOP-3", "SOP-2"], ["SOP-1"], []]
    assert {(page["page"], page["per_page"], page["total"]) for page in pages} == {
        (1, 2, 5), (2, 2, 5), (3, 2, 5), (4, 2, 5)}


def test_the_default_page_is_the_first_of_twenty_five(query_app, now):
    body = query_app.test_client().get("/api/tickets", headers=bearer(MARIA, now)).get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (1, 25, 5, 5)


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page=uno", "page"), ("per_page=201", "per_page"),
                                          ("per_page=-1", "per_page")])
def test_a_page_or_page_size_out_of_range_is_a_400_that_names_it(query_app, now, query, field):
    response = query_app.test_client().get(f"/api/tickets?{query}", headers=bearer(MARIA, now))
    assert response.status_code == 400
    assert (response.get_json()["code"], response.get_json()["field"]) == ("INVALID_REQUEST", field)
