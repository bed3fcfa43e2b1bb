"""Query shows each ticket's module by the name its desk's catalog gives it now: the kernel's
default until ModuleCatalogChanged, then the event's (a rename shows on older tickets too)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from configs import bearer, query_config
from helpdesk_shared import pg
from helpdesk_shared.catalog import DESKS
from helpdesk_shared.envelope import Actor, new_event
from permission_matrix import CLAIMS, record, ticket_opened
from query import store
from query.app import create_app

pytestmark = pytest.mark.integration


def catalog_changed(version: int, cxp_name: str, now):
    modules = [{**m.as_dict(), "name": cxp_name} if m.code == "CXP" else m.as_dict() for m in DESKS["SOPORTE"].entries]
    return new_event("ModuleCatalogChanged", "catalog-SOPORTE", version, {
        "desk": "SOPORTE", "version": version, "modules": modules, "changed_by": "u-rosa"},
        actor=Actor("u-rosa", "supervisor"), occurred_at=now + timedelta(minutes=version))


def feed(url: str, *events) -> None:
    with pg.connect(url) as conn:
        store.apply_batch(conn, [record(e, offset=n) for n, e in enumerate(events)])


def cxp_ticket(now):
    event = ticket_opened("SOP-901", now)
    return replace(event, data={**event.data, "module": "CXP", "subject": "CXP, Pago a proveedor duplicado"})


@pytest.fixture
def client(query_db, now):
    app = create_app(query_config(query_db), migrate_first=True, clock=lambda: now)
    yield app.test_client()
    app.extensions["query"].pool.close()


def test_a_ticket_shows_its_modules_default_name_before_any_catalog_edit(client, query_db, now):
    feed(query_db, cxp_ticket(now))
    carlos = bearer(CLAIMS["agent"], now)
    assert client.get("/api/tickets/SOP-901", headers=carlos).get_json()["module_name"] == "Cuentas por pagar"
    [item] = client.get("/api/tickets", headers=carlos).get_json()["items"]
    assert (item["module"], item["module_name"]) == ("CXP", "Cuentas por pagar")


def test_a_renamed_module_shows_its_new_name_on_older_tickets_and_a_replayed_older_edit_changes_nothing(
        client, query_db, now):
    feed(query_db, cxp_ticket(now), catalog_changed(1, "Proveedores", now),
         catalog_changed(2, "Pagos a proveedores", now))
    feed(query_db, catalog_changed(1, "Proveedores", now))  # a relay's republish, or a replay
    maria = bearer(CLAIMS["customer"], now)
    ticket = client.get("/api/tickets/SOP-901", headers=maria).get_json()
    assert (ticket["module"], ticket["module_name"]) == ("CXP", "Pagos a proveedores")
    assert client.get("/api/tickets", headers=maria).get_json()["items"][0]["module_name"] == "Pagos a proveedores"
    with pg.connect(query_db) as conn:
        assert conn.execute("select applied, skipped from projection_stats where name = 'catalogs'").fetchone() == \
            {"applied": 2, "skipped": 1}


def test_the_desk_queue_names_each_tickets_module_as_its_catalog_does_now(client, query_db, now):
    feed(query_db, cxp_ticket(now))
    carlos = bearer(CLAIMS["agent"], now)
    [item] = client.get("/api/desks/SOPORTE/queue", headers=carlos).get_json()["items"]
    assert (item["module"], item["module_name"]) == ("CXP", "Cuentas por pagar")
    feed(query_db, catalog_changed(1, "Proveedores", now))
    [item] = client.get("/api/desks/SOPORTE/queue", headers=carlos).get_json()["items"]
    assert item["module_name"] == "Proveedores"
