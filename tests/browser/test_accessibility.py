"""axe-core (from the npm registry, fetched by `bin/stack install` into infra/axe-core/) finds no
serious or critical accessibility violation on the portal's main pages, at desktop and at phone
width; each page is also saved as a screenshot at both widths and has no horizontal scroll at 360 px.

To check a new page, add a row to PAGES: its screenshot name, who reads it, and its path (or a
function that brings the page up and returns nothing).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pytest
import requests

from browser_support import DESKTOP, PHONE, ROOT, Portal
from helpdesk_shared.localstack import wait_until
from samples import CONTACT, DESCRIPTION

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AXE = ROOT / "infra" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
MARIA, CARLOS, SUPERVISOR = "maria@clubcaracas.com.ve", "carlos@mesa.example", "supervisor@mesa.example"


@dataclass(frozen=True)
class Page:
    """A page to check: screenshot name, reader (None: nobody logged in), and how to reach it."""

    name: str
    reader: str | None
    path: str | Callable[[Portal, dict], None]


def login_refused(portal: Portal, _known: dict) -> None:
    """The entry page after a wrong password (the error beside the form)."""
    portal.goto("/")
    portal.page.fill("#email", MARIA)
    portal.page.fill("#password", "no-es-la-clave")
    portal.page.click("#login-submit")
    portal.page.wait_for_selector("#login-error")


def new_ticket_refused(portal: Portal, _known: dict) -> None:
    """The new-ticket form with intake's refusals beside their fields."""
    page = portal.page
    portal.goto("/tickets/new")
    page.select_option("#module", "BANCOS")
    page.fill("#case", "Urgente")
    page.fill("#description", DESCRIPTION)
    page.fill("#contact_phone", CONTACT["phone"])
    page.click("#send-ticket")
    page.wait_for_selector("#case-error")


def access_request_filed(portal: Portal, _known: dict) -> None:
    """"No tengo usuario" sent: the entry page saying what happens next."""
    page = portal.page
    portal.goto("/")
    page.fill("#access-name", "Inés Blanco")
    page.fill("#access-email", "ines.blanco@clubcaracas.com.ve")
    page.fill("#access-phone", "+58 414 555 0177")
    page.fill("#access-organisation_name", "Club Social Caracas")
    page.click("#no-user button[type=submit]")
    page.wait_for_selector("#access-sent")


PAGES = [
    Page("entry", None, "/"),
    Page("entry-implantaciones", None, "/implantaciones"),
    Page("login-error", None, login_refused),
    Page("access-requested", None, access_request_filed),
    Page("my-tickets", MARIA, "/tickets"),
    Page("new-ticket", MARIA, "/tickets/new"),
    Page("new-ticket-refused", MARIA, new_ticket_refused),
    Page("ticket", MARIA, lambda portal, known: portal.goto(f"/tickets/{known['ticket']}")),
    Page("training", MARIA, "/training"),
    Page("special-process", MARIA, "/special-processes"),
    Page("not-found", MARIA, "/tickets/SOP-999999"),
    # Staff
    Page("queue", CARLOS, "/desks/SOPORTE/queue"),
    Page("access-requests", CARLOS, "/access-requests"),
    Page("staff-ticket", CARLOS, lambda portal, known: portal.goto(f"/tickets/{known['ticket']}")),
    Page("access-requests-supervisor", SUPERVISOR, "/access-requests"),
    Page("report-compliance", CARLOS, "/reports/compliance"),
    Page("report-backlog", CARLOS, "/reports/backlog"),
    Page("report-workload", CARLOS, "/reports/workload"),
    Page("report-out-of-hours", CARLOS, "/reports/out-of-hours"),
    Page("report-time", CARLOS, "/reports/time"),
    Page("canned-answers", CARLOS, "/desks/SOPORTE/canned-answers"),
    Page("supervisor-calendars", SUPERVISOR, "/supervisor/calendars"),
    Page("supervisor-policies", SUPERVISOR, "/supervisor/policies"),
    Page("supervisor-rules", SUPERVISOR, "/supervisor/rules"),
    Page("supervisor-templates", SUPERVISOR, "/supervisor/templates"),
    Page("supervisor-organisations", SUPERVISOR, "/supervisor/organisations"),
    Page("supervisor-users", SUPERVISOR, "/supervisor/users?organisation=club-caracas"),
    Page("supervisor-catalog", SUPERVISOR, "/supervisor/catalog?desk=SOPORTE"),
    # The knowledge base (issue 12)
    Page("articles", MARIA, "/articles"),
    Page("article", MARIA, lambda portal, known: portal.goto(f"/articles/{known['article']}")),
    Page("articles-staff", CARLOS, "/articles"),
    Page("article-new", CARLOS, "/articles/new"),
    Page("article-edit", CARLOS, lambda portal, known: portal.goto(f"/articles/{known['article']}/edit")),
    Page("article-deflections", SUPERVISOR, "/articles/deflections"),
    # A new page: add its row here.
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, as `bin/stack install` fetched it."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run bin/stack install (or bin/stack axe) to fetch axe-core from npm",
                    pytrace=False)
    return AXE.read_text()


@pytest.fixture(scope="module")
def known(system) -> dict:
    """Things the pages show: a ticket of maria's (opened at intake, once query has it) and a pending
    access request (so the staff page lists one). Its module is one no other browser test files
    maria's tickets in, so rule 6 never offers it as their case."""
    headers = system.login(MARIA)
    r = requests.post(f"{system.urls['intake']}/api/tickets", headers=headers, timeout=30, json={
        "desk": "SOPORTE", "subject": "REPORTES, Libro de ventas de noviembre sale sin totales por página",
        "description": DESCRIPTION, "contact": CONTACT, "confirmed_different_case": True})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    agent = system.login(CARLOS)
    wait_until(lambda: requests.get(f"{system.urls['query']}/api/tickets/{number}", headers=headers, timeout=30).ok,
               120, f"{number} in query")
    answered = requests.post(f"{system.urls['intake']}/api/tickets/{number}/messages", headers=agent, timeout=30,
                             json={"body": "Revisamos la conciliación; pruebe de nuevo, por favor."})
    assert answered.status_code == 201, answered.text
    wait_until(lambda: requests.get(f"{system.urls['query']}/api/tickets/{number}", headers=headers,
                                    timeout=30).json().get("status") == "waiting_customer", 120, "the answer in query")
    filed = requests.post(f"{system.urls['intake']}/api/access-requests", timeout=30, json={
        "name": "Tomás Rivas", "email": "tomas.rivas@clubcaracas.com.ve", "phone": "+58 212 555 0142",
        "organisation_name": "Club Social Caracas", "desk": "SOPORTE", "note": "Soy el nuevo contador."})
    assert filed.status_code == 202, filed.text
    article = requests.post(f"{system.urls['intake']}/api/articles", headers=agent, timeout=30, json={
        "desk": "SOPORTE", "module": "REPORTES", "title_es": "Totales por página del libro de ventas",
        "body_es": "## Pasos\n\n1. Abra **Reportes**.\n2. Marque *Totales por página*."}).json()["article_id"]
    assert requests.post(f"{system.urls['intake']}/api/articles/{article}/publish", headers=agent, timeout=30,
                         json={"version": 1}).status_code == 200
    wait_until(lambda: requests.get(f"{system.urls['query']}/api/articles/{article}", headers=headers,
                                    timeout=30).ok, 120, "the article in query")
    return {"ticket": number, "article": article}


@pytest.fixture(scope="module")
def readers(system, browser):
    """One browser context per reader, logged in once. bypass_csp lets Playwright inject axe's script
    (the portal's CSP rightly refuses inline scripts); the pages themselves run as they always do."""
    contexts, portals = [], {}

    def reader(email: str | None) -> Portal:
        if email not in portals:
            context = browser.new_context(viewport=DESKTOP, locale="es-VE", bypass_csp=True)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(60_000)
            portal = portals[email] = Portal(page, system.urls["portal"])
            if email:
                portal.goto("/")
                page.fill("#email", email)
                page.fill("#password", "mesa-demo")
                page.click("#login-submit")
                page.wait_for_load_state()
                assert page.locator("#login-submit").count() == 0, f"{email} could not log in"
        return portals[email]

    yield reader
    for context in contexts:
        context.close()


def violations_of(page, axe_source: str) -> list[dict]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    page.evaluate(axe_source)  # the file's source, evaluated: no script tag for the CSP to weigh
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""")


def test_the_checker_itself_finds_a_missing_label_poor_contrast_and_a_missing_lang(readers, axe_source):
    page = readers(None).page
    page.set_content("<html><head><title>x</title></head><body><main><input id=q type=text>"
                     "<p style='color:#aaa;background:#fff'>Texto gris claro sobre blanco</p></main></body></html>")
    found = {v["id"]: v for v in violations_of(page, axe_source)}
    assert found["label"]["impact"] == "critical" and found["label"]["nodes"][0]["target"] == "#q"
    assert found["color-contrast"]["impact"] == "serious"
    assert found["html-has-lang"]["impact"] == "serious"


def describe(violations: list[dict]) -> str:
    """Each violation's id, impact and nodes, for the failure message."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n['target']}: {(n['summary'] or '').replace(chr(10), ' ')}" for n in v["nodes"]]
    return "\n".join(lines)


@pytest.mark.parametrize("page_spec", PAGES, ids=[p.name for p in PAGES])
def test_the_page_has_no_serious_or_critical_accessibility_violation(page_spec, readers, known, axe_source):
    portal = readers(page_spec.reader)
    page = portal.page
    page.set_viewport_size(DESKTOP)
    if callable(page_spec.path):
        page_spec.path(portal, known)
    else:
        portal.goto(page_spec.path)
    page.wait_for_load_state()
    portal.screenshot(f"{page_spec.name}-desktop")

    found = violations_of(page, axe_source)
    print(f"\naxe on {page_spec.name} ({page.url}):\n{describe(found) or '  no violations'}")
    (ROOT / ".run" / "screenshots" / f"{page_spec.name}-axe.json").write_text(json.dumps(found, indent=1,
                                                                                        ensure_ascii=False))
    failing = [v for v in found if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe: serious or critical violations on {page_spec.name}:\n{describe(failing)}"

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], \
        f"{page_spec.name} scrolls sideways at {PHONE['width']} px"
    portal.screenshot(f"{page_spec.name}-phone")
    on_phone = [v for v in violations_of(page, axe_source) if v["impact"] in FAILING_IMPACTS]
    assert not on_phone, f"axe at {PHONE['width']} px: serious or critical violations on {page_spec.name}:\n" \
                         f"{describe(on_phone)}"
