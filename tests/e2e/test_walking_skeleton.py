"""A ticket travels intake → PostgreSQL → Kafka → query, on the real parts, services under gunicorn."""
from __future__ import annotations

import signal

import pytest
import requests
from kafka import KafkaConsumer

from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.topics import TICKETS
from samples import png, ticket_body

pytestmark = pytest.mark.e2e


def events_on_topic(stack, ticket_id: str, expected: int) -> list:
    """The ticket's events as a plain kafka-python consumer reads them off helpdesk.tickets."""
    consumer = KafkaConsumer(stack.prefix + TICKETS, bootstrap_servers=stack.kafka, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    found = []
    try:
        def more():
            for batch in consumer.poll(timeout_ms=200).values():
                found.extend(e for e in (from_json_bytes(m.value) for m in batch) if e.stream_id == ticket_id)
            return len(found) >= expected
        wait_until(more, 120, f"{expected} events of {ticket_id} on the topic")
    finally:
        consumer.close()
    return found


def visible(stack, headers, number: str, thread_length: int):
    """Poll the query API until the ticket shows `thread_length` entries."""
    def check():
        r = requests.get(f"{stack.urls['query']}/api/tickets/{number}", headers=headers, timeout=30)
        return r.json() if r.ok and len(r.json()["thread"]) >= thread_length else None
    return wait_until(check, 120, f"{number} with {thread_length} thread entries in query")


def test_a_ticket_with_a_screenshot_travels_to_the_query_api_and_stays_within_its_organisation(stack):
    intake, query = stack.urls["intake"], stack.urls["query"]
    maria = stack.login("maria@clubcaracas.com.ve")
    agent = stack.login("carlos@mesa.example")
    ana = stack.login("ana@countryvalencia.com.ve")  # another organisation

    upload = requests.post(f"{intake}/api/attachments", headers=maria,
                           files={"file": ("pantalla.png", png(), "image/png")}, timeout=30)
    assert upload.status_code == 201, upload.text
    screenshot = upload.json()
    assert screenshot["content_type"] == "image/png"

    opened = requests.post(f"{intake}/api/tickets", headers=maria,
                           json=ticket_body(attachments=[screenshot["sha256"]]), timeout=30)
    assert opened.status_code == 201, opened.text
    number, ticket_id = opened.json()["number"], opened.json()["ticket_id"]

    answer = requests.post(f"{intake}/api/tickets/{number}/messages", headers=agent, timeout=30,
                           json={"body": "Buenos días, María. Revisamos la conciliación y corregimos el cargo."})
    note = requests.post(f"{intake}/api/tickets/{number}/messages", headers=agent, timeout=30,
                         json={"body": "Nota interna: revisar el lote 77 del banco.", "internal": True})
    assert (answer.status_code, note.status_code) == (201, 201)

    events = events_on_topic(stack, ticket_id, 3)
    assert [(e.type, e.stream_version) for e in events] == [("TicketOpened", 1), ("MessagePosted", 2),
                                                             ("MessagePosted", 3)]
    assert events[0].data["attachments"][0]["sha256"] == screenshot["sha256"]

    as_agent = visible(stack, agent, number, 3)
    assert as_agent["status"] == "waiting_customer"
    assert [m["internal"] for m in as_agent["thread"]] == [False, False, True]
    as_customer = visible(stack, maria, number, 2)
    assert len(as_customer["thread"]) == 2  # the internal note is never shown to the customer
    assert "Nota interna" not in str(as_customer)
    listed = requests.get(f"{query}/api/tickets", headers=maria, params={"status": "waiting_customer"}, timeout=30)
    assert [t["number"] for t in listed.json()["items"]] == [number]

    download = requests.get(f"{intake}/api/tickets/{number}/attachments/{screenshot['sha256']}", headers=maria,
                            timeout=30)
    assert download.status_code == 200 and download.content == png()
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")

    missing = requests.get(f"{query}/api/tickets/SOP-99999", headers=ana, timeout=30)
    for r in (requests.get(f"{query}/api/tickets/{number}", headers=ana, timeout=30),
              requests.get(f"{intake}/api/tickets/{number}/attachments/{screenshot['sha256']}", headers=ana,
                           timeout=30),
              requests.post(f"{intake}/api/tickets/{number}/messages", headers=ana, json={"body": "hola"},
                            timeout=30)):
        assert r.status_code == 404
        assert r.json()["code"] == missing.json()["code"] == "not_found"
    assert requests.get(f"{query}/api/tickets", headers=ana, timeout=30).json()["total"] == 0
    assert requests.get(f"{query}/api/tickets/{number}", timeout=30).status_code == 401


def test_the_query_service_killed_and_restarted_applies_nothing_twice(stack):
    intake, query = stack.urls["intake"], stack.urls["query"]
    maria = stack.login("maria@clubcaracas.com.ve")
    agent = stack.login("carlos@mesa.example")
    cases = ["Factura mal cargada en el banco Mercantil", "Socio sin carnet después de renovar la cuota",
             "Nómina quincenal calcula mal el bono nocturno", "Reporte de cuentas por cobrar sale vacío",
             "Inventario del bar no descuenta las ventas", "Declaración de IVA rechazada por el portal"]
    modules = ["BANCOS", "CARNETIZACION", "NOMINA", "CXC", "INVENTARIO", "SENIAT"]
    numbers = []
    for i, (module, case) in enumerate(zip(modules, cases)):
        r = requests.post(f"{intake}/api/tickets", headers=maria, json=ticket_body(case, module), timeout=30)
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])
        if i == 2:
            stack.processes["query-consumer"].kill(signal.SIGKILL)  # mid-stream, no goodbye
        for j in range(3):
            who = agent if j % 2 == 0 else maria
            requests.post(f"{intake}/api/tickets/{numbers[-1]}/messages", headers=who, timeout=30,
                          json={"body": f"Seguimiento {j} del caso {case}"}).raise_for_status()
    stack.processes["query-consumer"].start()
    published = 4 * len(numbers)

    def health():
        return requests.get(f"{query}/healthz", timeout=30).json()
    wait_until(lambda: health()["applied_events"] >= published, 120, "query applied every published event")
    consumer = KafkaConsumer(stack.prefix + TICKETS, bootstrap_servers=stack.kafka, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
    on_topic = {from_json_bytes(m.value).event_id for m in consumer}
    consumer.close()
    assert len(on_topic) == published
    assert health()["applied_events"] == published
    for number in numbers:
        assert len(visible(stack, agent, number, 4)["thread"]) == 4
