"""The knowledge base's portal pages (issue 12) with the Flask test client, against intake and query
in-process on real PostgreSQL (the staff pages' harness: intake's events pumped into query)."""
from __future__ import annotations

import re

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import from_json_bytes
from test_portal_staff import csrf, desk, page  # noqa: F401  (desk: intake, query and the portal, a fixture)

pytestmark = pytest.mark.integration


def _write(client, form: dict, path: str = "/articles/new"):
    return client.post(path, data={**form, "csrf_token": csrf(client, "/articles")})


def _created(desk, carlos, **form) -> str:
    response = _write(carlos, {"desk": "SOPORTE", "module": "BANCOS", "title_es": "Conciliar el banco Mercantil",
                               "body_es": "1. Abra **Bancos**.\n\n<script>alert(1)</script>", "action": "save",
                               **form})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    desk.pump()
    return re.search(r"/articles/([0-9a-f-]{36})/edit", response.headers["Location"]).group(1)


def test_an_agent_drafts_publishes_and_archives_and_the_customer_sees_the_article_only_while_published(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    article_id = _created(desk, carlos)
    form = page(carlos, f"/articles/{article_id}/edit")
    assert "Borrador" in form and 'id="publish-article"' in form and "<script>alert" not in form
    page(maria, f"/articles/{article_id}", 404)
    assert article_id not in page(maria, "/articles")

    published = carlos.post(f"/articles/{article_id}/edit", data={"action": "publish", "version": "1",
                                                                   "csrf_token": csrf(carlos, "/articles")})
    assert published.status_code == 302
    desk.pump()
    html = page(maria, f"/articles/{article_id}")
    assert "Conciliar el banco Mercantil" in html and "<strong>Bancos</strong>" in html and "<script>" not in html
    assert article_id in page(maria, "/articles?q=conciliación")

    carlos.post(f"/articles/{article_id}/edit", data={"action": "archive", "version": "2",
                                                       "csrf_token": csrf(carlos, "/articles")})
    desk.pump()
    page(maria, f"/articles/{article_id}", 404)


def test_the_new_ticket_forms_suggestions_are_the_published_articles_of_the_desk_that_match(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    published = _created(desk, carlos, title_es="Depósito que no aparece en el banco")
    carlos.post(f"/articles/{published}/edit", data={"action": "publish", "version": "1",
                                                      "csrf_token": csrf(carlos, "/articles")})
    draft = _created(desk, carlos, title_es="Depósito duplicado en el banco")
    desk.pump()
    form = page(maria, "/tickets/new")
    assert 'id="kb-suggestions"' in form and "¿Esto resuelve su caso?" in form and "kb_suggest.js" in form
    found = maria.get("/articles/suggestions.json?desk=SOPORTE&text=BANCOS+el+deposito+no+aparece").get_json()
    assert [item["url"] for item in found["items"]] == [f"/articles/{published}"]
    assert draft not in str(found)
    assert maria.get("/articles/suggestions.json?desk=SOPORTE&text=").get_json() == {"items": []}
    anonymous = desk.portal.test_client().get("/articles/suggestions.json?desk=SOPORTE&text=deposito")
    assert anonymous.status_code == 401


def test_a_customer_never_reaches_the_staff_pages_and_a_refusal_is_shown_beside_its_field(desk):
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    page(maria, "/articles/new", 404)
    carlos, _ = desk.browser("carlos@mesa.example")
    refused = _write(carlos, {"desk": "SOPORTE", "module": "BANCOS", "title_es": "", "body_es": "x", "action": "save"})
    assert refused.status_code == 422
    assert 'id="title_es-error"' in refused.get_data(as_text=True)


def test_two_editors_of_one_version_the_second_is_told_and_keeps_his_text(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    rosa, _ = desk.browser("supervisor@mesa.example")
    article_id = _created(desk, carlos)
    first = carlos.post(f"/articles/{article_id}/edit", data={
        "action": "save", "version": "1", "module": "BANCOS", "title_es": "Primero", "body_es": "Uno",
        "csrf_token": csrf(carlos, "/articles")})
    assert first.status_code == 302
    desk.pump()
    second = rosa.post(f"/articles/{article_id}/edit", data={
        "action": "save", "version": "1", "module": "BANCOS", "title_es": "Segundo", "body_es": "Dos",
        "csrf_token": csrf(rosa, "/articles")})
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert 'value="Segundo"' in html and 'name="version" value="2"' in html


def test_a_suggestion_opened_from_the_form_and_the_ticket_it_files_carry_the_forms_attempt(desk):
    from harness import login
    from samples import CONTACT, DESCRIPTION
    carlos, _ = desk.browser("carlos@mesa.example")
    article_id = _created(desk, carlos, title_es="Depósito que no aparece en el banco")
    carlos.post(f"/articles/{article_id}/edit", data={"action": "publish", "version": "1",
                                                       "csrf_token": csrf(carlos, "/articles")})
    desk.pump()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    form = page(maria, "/tickets/new")
    attempt = re.search(r'name="attempt_id" value="([0-9a-f-]{36})"', form).group(1)
    found = maria.get(f"/articles/suggestions.json?desk=SOPORTE&text=deposito+banco&attempt={attempt}").get_json()
    assert [item["url"] for item in found["items"]] == [f"/articles/{article_id}?attempt={attempt}"]
    page(maria, found["items"][0]["url"])
    opened = maria.post("/tickets/new", data={
        "csrf_token": csrf(maria, "/tickets/new"), "idempotency_key": attempt, "attempt_id": attempt, "desk": "SOPORTE",
        "module": "BANCOS", "case": "Factura mal cargada en el banco Mercantil", "description": DESCRIPTION,
        "contact_name": CONTACT["name"], "contact_email": CONTACT["email"], "contact_phone": CONTACT["phone"],
        "urgency": "normal", "different_case": "1"})
    assert opened.status_code == 302, re.findall(r'class="error"[^>]*>(.*?)</div>', opened.get_data(as_text=True), re.S)
    desk.pump()
    with pg.connect(desk.intake.extensions["intake"].config.database_url) as conn:
        events = [from_json_bytes(bytes(r["payload"])) for r in conn.execute(
            "select payload from events where type in ('ArticleSuggestionOpened', 'TicketOpened')").fetchall()]
    assert {(e.type, e.data.get("attempt_id")) for e in events} == {("ArticleSuggestionOpened", attempt),
                                                                   ("TicketOpened", attempt)}
    report = desk.query.test_client().get("/api/reports/deflections", headers=login(
        desk.intake.test_client(), "carlos@mesa.example")).get_json()
    assert report["total"] == {"opened": 1, "deflected": 0, "ticketed": 1, "pending": 0}
    html = page(carlos, "/articles/deflections")
    row = html[html.index('id="deflections-articles"'):]
    assert re.search(r"Depósito que no aparece en el banco</a></td><td>Bancos</td><td>1</td><td>0</td><td>1</td>"
                     r"<td>0</td>", row)


def test_staff_read_the_deflections_page_and_a_customer_gets_not_found(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    html = page(carlos, "/articles/deflections")
    assert "Tickets evitados" in html and 'id="no-deflections"' in html  # a fresh desk: nothing opened yet
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    page(maria, "/articles/deflections", 404)


def test_the_article_list_pages_on_with_its_cursor_to_the_last_article(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    for title in ("Artículo uno", "Artículo dos", "Artículo tres"):
        _created(desk, carlos, title_es=title)
    seen, path = [], "/articles?limit=1"
    while path:
        html = page(carlos, path)
        seen += re.findall(r'<li><a href="/articles/[0-9a-f-]{36}">([^<]+)</a>', html)
        found = re.search(r'id="next-page" href="([^"]+)"', html)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert seen == ["Artículo dos", "Artículo tres", "Artículo uno"]


def test_an_agent_is_offered_the_published_articles_of_the_tickets_module_to_link_in_his_answer(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    published = _created(desk, carlos, title_es="Conciliar una factura cargada dos veces")
    carlos.post(f"/articles/{published}/edit", data={"action": "publish", "version": "1",
                                                      "csrf_token": csrf(carlos, "/articles")})
    _created(desk, carlos, title_es="Borrador de conciliación")
    other_module = _created(desk, carlos, module="NOMINA", title_es="Bono nocturno")
    carlos.post(f"/articles/{other_module}/edit", data={"action": "publish", "version": "1",
                                                         "csrf_token": csrf(carlos, "/articles")})
    number = desk.open_ticket()  # BANCOS
    html = page(carlos, f"/tickets/{number}")
    offered = html[html.index('id="kb-links"'):html.index("</details>", html.index('id="kb-links"'))]
    assert re.findall(r'data-kb-text="([^"]+)"', offered) == [
        f"Conciliar una factura cargada dos veces: {desk.portal.extensions['portal'].config.public_url}"
        f"/articles/{published}"]
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    assert 'id="kb-links"' not in page(maria, f"/tickets/{number}")


def test_a_ticket_closed_as_needs_training_offers_its_customer_the_course_and_the_modules_articles(desk):
    carlos, _ = desk.browser("carlos@mesa.example")
    published = _created(desk, carlos, title_es="Conciliar el banco paso a paso")
    carlos.post(f"/articles/{published}/edit", data={"action": "publish", "version": "1",
                                                      "csrf_token": csrf(carlos, "/articles")})
    _created(desk, carlos, title_es="Borrador sobre bancos")              # a draft: never offered
    other = _created(desk, carlos, module="NOMINA", title_es="Bono nocturno")
    carlos.post(f"/articles/{other}/edit", data={"action": "publish", "version": "1",
                                                  "csrf_token": csrf(carlos, "/articles")})
    trained, solved = desk.open_ticket(), desk.open_ticket(case="Saldo del banco Banesco no cuadra", module="BANCOS")
    for number, reason in ((trained, "needs_training"), (solved, "closed_by_agent")):
        closed = carlos.post(f"/tickets/{number}/close", data={"reason": reason,
                                                               "csrf_token": csrf(carlos, f"/tickets/{number}")})
        assert closed.status_code == 302
    desk.pump()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    html = page(maria, f"/tickets/{trained}")
    offer = html[html.index('id="training-offer"'):html.index("</section>", html.index('id="training-offer"'))]
    assert 'href="/training"' in offer
    assert re.findall(r'<li><a href="(/articles/[^"]+)">([^<]+)</a></li>', offer) == [
        (f"/articles/{published}", "Conciliar el banco paso a paso")]
    assert 'id="training-offer"' not in page(maria, f"/tickets/{solved}")
