"""Issue 12, merge (rule 6 after the fact), end to end on real Kafka, PostgreSQL and SMTP (an aiosmtpd
sink) on a driven clock: an agent merges a duplicate into the open ticket of its case; the customer
gets exactly one mail naming the target, the target's timeline in query shows the duplicate's
messages, the duplicate's clocks stopped (no overdue mail once its deadline has passed), and a merge
across organisations is refused and changes nothing."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

import psycopg
import pytest
import requests

import smtp_sink
from helpdesk_shared.localstack import LocalStack, free_port, wait_until
from intake import demo
from samples import CONTACT, distinct_cases, ticket_body
from smtp_sink import text_of
from tenants import own_customer

pytestmark = pytest.mark.e2e

FIRST = 60  # minutes on the driven clock
POLICY = {"first_response": {"minutes": FIRST, "clock": "24x7"},
          "next_response": {"minutes": FIRST, "clock": "24x7"},
          "auto_close_warning": {"minutes": FIRST, "clock": "24x7"},
          "auto_close": {"minutes": 2 * FIRST, "clock": "24x7"}}
PATIENCE = 120  # seconds for an outcome the pipeline owes: generous, the machine may be loaded
CASES = distinct_cases()
AGENT = "carlos@mesa.example"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Intake, query, SLA and the notifier sending to a local SMTP sink, on a driven clock, with SOPORTE's
    normal policy an hour long."""
    sink = smtp_sink.Sink(free_port()).start()
    stack = LocalStack(tmp_path_factory.mktemp("merge-stack"), load_demo=demo.load, with_notifier=True,
                       extra_env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port)}, driven_clock=True)
    stack.start()
    try:
        stack.sink = sink
        r = requests.put(f"{stack.urls['sla']}/api/policies/SOPORTE/normal", timeout=30, json={"policy": POLICY},
                         headers=stack.login("supervisor@mesa.example"))
        assert r.status_code == 201, r.text
        yield stack
    finally:
        stack.stop()
        sink.stop()


def open_ticket(stack, customer: str) -> dict:
    module, case = next(CASES)
    body = ticket_body(case, module, confirmed_different_case=True, contact={**CONTACT, "email": customer})
    r = requests.post(f"{stack.urls['intake']}/api/tickets", headers=stack.login(customer), json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def intake_ticket(stack, number: str) -> dict:
    r = requests.get(f"{stack.urls['intake']}/api/tickets/{number}", headers=stack.login(AGENT), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def merge(stack, duplicate: str, target: str) -> requests.Response:
    return requests.post(f"{stack.urls['intake']}/api/tickets/{duplicate}/merge", headers=stack.login(AGENT),
                         json={"target": target, "note": "mismo caso"}, timeout=30)


def timeline(stack, number: str) -> list[dict]:
    r = requests.get(f"{stack.urls['query']}/api/tickets/{number}/timeline", headers=stack.login(AGENT), timeout=30)
    return r.json()["items"] if r.ok else []


def thread(stack, number: str) -> list[dict]:
    r = requests.get(f"{stack.urls['query']}/api/tickets/{number}", headers=stack.login(AGENT), timeout=30)
    return r.json()["thread"] if r.ok else []


def mails_to(stack, customer: str, number: str) -> list:
    return [m for m in stack.sink.to(customer) if f"[{number}]" in str(m["Subject"])]


def overdue(stack, customer: str, number: str) -> list:
    """The overdue apologies the customer got about a ticket."""
    return [m for m in mails_to(stack, customer, number) if "Disculpe la demora" in str(m["Subject"])]


def fired_timers(stack, ticket_id: str) -> list[str]:
    with psycopg.connect(stack.env_for("sla")["DATABASE_URL"]) as conn:
        return [row[0] for row in conn.execute("select kind from fired_timers where ticket_id = %s", (ticket_id,))]


def planned_templates(stack, ticket_id: str, recipient: str) -> list[str]:
    with psycopg.connect(stack.env_for("notifier")["DATABASE_URL"]) as conn:
        return sorted(row[0] for row in conn.execute(
            "select template from mails where ticket_id = %s and recipient = %s", (ticket_id, recipient)))


def test_a_merged_duplicate_mails_its_customer_once_shows_in_the_target_and_its_clocks_stop(stack):
    customer = own_customer(stack)
    target, duplicate = open_ticket(stack, customer), open_ticket(stack, customer)
    r = requests.post(f"{stack.urls['intake']}/api/tickets/{duplicate['number']}/messages",
                      headers=stack.login(customer), json={"body": "Adjunto otra vez el detalle del recibo."},
                      timeout=30)
    assert r.status_code == 201, r.text
    wait_until(lambda: mails_to(stack, customer, duplicate["number"]), PATIENCE, "the duplicate's received mail")

    r = merge(stack, duplicate["number"], target["number"])
    assert r.status_code == 201, r.text
    assert r.json()["merged_into"] == target["number"]

    told = wait_until(lambda: [m for m in mails_to(stack, customer, duplicate["number"])
                               if target["number"] in str(m["Subject"])], PATIENCE, "the merged mail")
    assert len(told) == 1
    assert f"Continúe en el ticket {target['number']}" in text_of(told[0])
    assert f"/tickets/{target['number']}" in text_of(told[0])

    entries = wait_until(lambda: [e for e in timeline(stack, target["number"]) if e["type"] == "MergedMessage"],
                         PATIENCE, "the duplicate's messages in the target's timeline")
    assert {e["merged_from"] for e in entries} == {duplicate["number"]}
    assert "Adjunto otra vez el detalle del recibo." in [e["data"]["body"] for e in entries]

    # A reply to that mail continues the case in the target ticket.
    reply = EmailMessage()
    reply["From"], reply["To"] = customer, told[0]["Reply-To"]
    reply["Subject"], reply["Message-ID"] = "Re: " + str(told[0]["Subject"]), "<merge-reply-1@club.test>"
    reply.set_content("Entendido, sigo en el otro ticket.")
    with smtplib.SMTP("127.0.0.1", stack.inbound_port, timeout=30) as smtp:
        smtp.send_message(reply)
    wait_until(lambda: [m for m in thread(stack, target["number"]) if m["body"] == "Entendido, sigo en el otro ticket."],
               PATIENCE, "the reply in the target's thread")

    # A ticket opened after the merge is due after the duplicate would have been: once its overdue
    # mail has come, any timer of the duplicate would have fired before it.
    probe = open_ticket(stack, customer)
    wait_until(lambda: mails_to(stack, customer, probe["number"]), PATIENCE, "the probe's received mail")
    stack.advance_clock(minutes=FIRST + 5)
    wait_until(lambda: overdue(stack, customer, probe["number"]), PATIENCE, "the probe's overdue apology")
    wait_until(lambda: overdue(stack, customer, target["number"]), PATIENCE, "the (unanswered) target's apology")
    assert overdue(stack, customer, duplicate["number"]) == []
    assert fired_timers(stack, duplicate["ticket_id"]) == []
    # Exactly two mails to the customer about the duplicate, ever: received, and where to continue.
    assert planned_templates(stack, duplicate["ticket_id"], customer) == ["ticket_merged", "ticket_received"]
    assert len(mails_to(stack, customer, duplicate["number"])) == 2
    r = requests.get(f"{stack.urls['sla']}/api/tickets/{duplicate['number']}/sla", headers=stack.login(AGENT),
                     timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text


def test_a_merge_across_organisations_is_refused_and_changes_nothing(stack):
    mine, theirs = own_customer(stack), own_customer(stack)
    duplicate, foreign = open_ticket(stack, mine), open_ticket(stack, theirs)
    before = (intake_ticket(stack, duplicate["number"]), intake_ticket(stack, foreign["number"]))
    r = merge(stack, duplicate["number"], foreign["number"])
    assert r.status_code == 422 and r.json()["code"] == "MERGE_ACROSS_ORGANISATIONS", r.text
    assert r.json()["message"]["es"] and r.json()["message"]["en"]
    after = (intake_ticket(stack, duplicate["number"]), intake_ticket(stack, foreign["number"]))
    assert [(t["status"], t["version"]) for t in after] == [(t["status"], t["version"]) for t in before]
    assert all(t["status"] == "open" for t in after)
