"""A supervisor's catalog edit travels intake → helpdesk.accounts (real Kafka) → query: a ticket
opened before the rename shows the module's new name, and a retired module is refused on new tickets."""
from __future__ import annotations

import pytest
import requests

from helpdesk_shared.catalog import DESKS
from helpdesk_shared.localstack import wait_until
from samples import ticket_body

pytestmark = pytest.mark.e2e


def test_query_shows_a_renamed_module_on_an_older_ticket_once_the_catalog_event_flows_through_kafka(stack):
    intake, query = stack.urls["intake"], stack.urls["query"]
    maria = stack.login("maria@clubcaracas.com.ve")
    rosa = stack.login("supervisor@mesa.example")

    opened = requests.post(f"{intake}/api/tickets", headers=maria, timeout=30,
                           json=ticket_body("Pago a proveedor aparece dos veces en el libro", module="CXP"))
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]

    def in_query():
        r = requests.get(f"{query}/api/tickets/{number}", headers=maria, timeout=30)
        return r.json() if r.ok else None
    assert wait_until(in_query, 120, f"{number} in query")["module_name"] == "Cuentas por pagar"

    modules = [{**m.as_dict(), "name": "Proveedores", "retired": True} if m.code == "CXP" else m.as_dict()
               for m in DESKS["SOPORTE"].entries]
    edited = requests.put(f"{intake}/api/desks/SOPORTE/modules", headers=rosa, timeout=30,
                          json={"expected_version": 0, "modules": modules})
    assert edited.status_code == 200, edited.text

    def renamed():
        ticket = in_query()
        return ticket if ticket and ticket["module_name"] == "Proveedores" else None
    ticket = wait_until(renamed, 120, f"{number} shown with the renamed module")
    assert ticket["module"] == "CXP"
    listed = requests.get(f"{query}/api/tickets", headers=maria, params={"module": "CXP"}, timeout=30).json()["items"]
    assert [(t["number"], t["module_name"]) for t in listed] == [(number, "Proveedores")]

    refused = requests.post(f"{intake}/api/tickets", headers=maria, timeout=30,
                            json=ticket_body("Retenciones de proveedores mal calculadas", module="CXP"))
    assert (refused.status_code, refused.json()["code"]) == (422, "R4_MODULE_RETIRED")
