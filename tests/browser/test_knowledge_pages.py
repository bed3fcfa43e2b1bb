"""The knowledge base in a real browser (issue 12), on the whole system: an agent's articles go
through intake, the relay, helpdesk.knowledge and query's consumer; the customer's new-ticket form
suggests the published one as he types, and a draft never reaches him in any way."""
from __future__ import annotations

import uuid

import pytest
import requests

from helpdesk_shared.localstack import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _article(system, title: str, body: str, publish: bool) -> str:
    """An article of SOPORTE/BANCOS by Carlos through intake's API (published if asked); its id once
    query shows it in the state asked for."""
    carlos = system.login("carlos@mesa.example")
    r = requests.post(f"{system.urls['intake']}/api/articles", headers=carlos, timeout=30, json={
        "desk": "SOPORTE", "module": "BANCOS", "title_es": title, "body_es": body})
    assert r.status_code == 201, r.text
    article_id, status = r.json()["article_id"], "draft"
    if publish:
        r = requests.post(f"{system.urls['intake']}/api/articles/{article_id}/publish", headers=carlos, timeout=30,
                          json={"version": 1})
        assert r.status_code == 200, r.text
        status = "published"

    def in_query():
        found = requests.get(f"{system.urls['query']}/api/articles/{article_id}", headers=carlos, timeout=30)
        return found.ok and found.json()["status"] == status
    wait_until(in_query, 120, f"article {article_id} {status} in query", interval=0.2)
    return article_id


def test_typing_a_subject_that_matches_a_published_article_shows_it_and_a_draft_never_shows(portal, system):
    # One word of this run only, so earlier runs' articles on the shared stack do not answer for these.
    marker = "Kb" + uuid.uuid4().hex[:8]
    published_title = f"Depósito que no aparece en el extracto {marker}"
    draft_title = f"Depósitos duplicados en el extracto {marker}"
    published = _article(system, published_title, "Revise la **fecha valor** del movimiento.", publish=True)
    draft = _article(system, draft_title, "Borrador: todavía no lo ven los clientes.", publish=False)

    page = portal.page
    portal.login("maria@clubcaracas.com.ve")
    portal.goto("/tickets/new")
    assert page.is_hidden("#kb-suggestions")  # nothing typed, nothing suggested
    page.select_option("#module", "BANCOS")
    page.type("#case", f"los depósitos no aparecen {marker}", delay=20)
    suggestion = page.locator("#kb-suggestions a.kb-suggestion", has_text=published_title)
    suggestion.wait_for(state="visible")
    assert page.inner_text("#kb-suggestions h2") == "¿Esto resuelve su caso?"
    portal.screenshot("new-ticket-suggestions-desktop")
    assert draft_title not in page.inner_text("#kb-suggestions")
    assert suggestion.get_attribute("href").startswith(f"/articles/{published}?attempt=")

    # The suggested article opens (in its own tab, the form stays as typed).
    with page.context.expect_page() as opened:
        suggestion.click()
    article = opened.value
    article.wait_for_load_state()
    assert published_title in article.inner_text("h1") and "fecha valor" in article.inner_text("#article strong")
    article.close()
    assert page.input_value("#case") == f"los depósitos no aparecen {marker}"

    # Opening it from the form is counted: an attempt within its 30 minutes, no ticket yet (pending).
    carlos = system.login("carlos@mesa.example")

    def counted():
        report = requests.get(f"{system.urls['query']}/api/reports/deflections", headers=carlos, timeout=30).json()
        return next((a for a in report["articles"] if a["article_id"] == published), None)
    assert wait_until(counted, 120, "the opened suggestion in query", interval=0.2) | {"article_id": 0} == {
        "article_id": 0, "title_es": published_title, "desk": "SOPORTE", "module": "BANCOS", "module_name": "Bancos",
        "opened": 1, "deflected": 0, "ticketed": 0, "pending": 1}

    # Neither browse, nor search, nor its own URL show the draft to the customer.
    portal.goto(f"/articles?q={marker}")
    listed = page.inner_text("#main")
    assert published_title in listed and draft_title not in listed
    portal.goto("/articles?limit=50")
    assert draft_title not in page.inner_text("#main")
    response = portal.goto(f"/articles/{draft}")
    assert response.status == 404 and draft_title not in page.content()
    assert portal.csp_violations == []
