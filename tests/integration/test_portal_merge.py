"""Issue 12, merge, in the portal: the staff's "Fusionar con…" form on the ticket page, intake's
refusals beside the field in the reader's language, and the merged ticket's page telling the
customer where to continue. Intake and query in-process on real PostgreSQL (test_portal_staff.Desk)."""
from __future__ import annotations

import pytest

from harness import login
from samples import ticket_body
from test_portal_staff import Desk, csrf, desk, page  # noqa: F401  (desk: the fixture)

pytestmark = pytest.mark.integration


def _open_as(desk: Desk, email: str, **overrides) -> str:
    client = desk.intake.test_client()
    response = client.post("/api/tickets", json=ticket_body(confirmed_different_case=True, **overrides),
                           headers=login(client, email))
    assert response.status_code == 201, response.get_json()
    desk.pump()
    return response.get_json()["number"]


def test_an_agent_merges_a_duplicate_and_the_customer_is_told_where_to_continue(desk):
    target = desk.open_ticket()
    duplicate = desk.open_ticket()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    token = csrf(maria, f"/tickets/{duplicate}")
    assert maria.post(f"/tickets/{duplicate}/messages", data={"body": "Mando otra captura del error.",
                                                              "csrf_token": token}).status_code == 302
    carlos, _ = desk.browser("carlos@mesa.example")
    ticket = page(carlos, f"/tickets/{duplicate}")
    assert 'id="merge-form"' in ticket and "Fusionar con…" in ticket
    merged = carlos.post(f"/tickets/{duplicate}/merge", data={"merge_target": target.lower(), "merge_note": "mismo caso",
                                                              "csrf_token": csrf(carlos, f"/tickets/{duplicate}")})
    assert merged.status_code == 302 and merged.headers["Location"].endswith(f"/tickets/{target}")
    desk.pump()
    customer_view = page(maria, f"/tickets/{duplicate}")
    assert 'id="merged-notice"' in customer_view and f'href="/tickets/{target}"' in customer_view
    assert f"Continúe en el ticket {target}" in customer_view
    assert 'id="closed-notice"' not in customer_view
    target_view = page(maria, f"/tickets/{target}")
    assert f"Del ticket fusionado {duplicate}" in target_view and "Mando otra captura del error." in target_view
    staff_view = page(carlos, f"/tickets/{target}")
    assert f"fusionó aquí el ticket {duplicate}" in staff_view  # the timeline's line


def test_a_merge_across_organisations_is_refused_beside_the_field_in_the_readers_language(desk):
    duplicate = desk.open_ticket()
    foreign = _open_as(desk, "ana@countryvalencia.com.ve")
    carlos, _ = desk.browser("carlos@mesa.example")
    form = {"merge_target": foreign, "csrf_token": csrf(carlos, f"/tickets/{duplicate}")}
    refused = carlos.post(f"/tickets/{duplicate}/merge", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="merge_target-error"' in text and "Solo se fusionan tickets de la misma organización" in text
    assert f'value="{foreign}"' in text  # what he typed stays in the field
    carlos.post("/language", data={"csrf_token": form["csrf_token"], "lang": "en", "next": "/"})
    english = carlos.post(f"/tickets/{duplicate}/merge", data=form).get_data(as_text=True)
    assert "Only tickets of the same organisation are merged" in english and "Merge into…" in english
    desk.pump()
    assert page(carlos, f"/tickets/{duplicate}").count('id="merged-notice"') == 0  # nothing changed


def test_an_empty_target_is_refused_beside_the_field_without_asking_intake(desk):
    duplicate = desk.open_ticket()
    carlos, _ = desk.browser("carlos@mesa.example")
    desk.backend.asked.clear()
    refused = carlos.post(f"/tickets/{duplicate}/merge", data={"merge_target": " ",
                                                               "csrf_token": csrf(carlos, f"/tickets/{duplicate}")})
    assert refused.status_code == 422 and 'id="merge_target-error"' in refused.get_data(as_text=True)
    assert not [p for p in desk.backend.asked if p.endswith("/merge")]


def test_a_customer_has_no_merge_form_and_its_route_is_not_found_for_him(desk):
    target, duplicate = desk.open_ticket(), desk.open_ticket()
    maria, _ = desk.browser("maria@clubcaracas.com.ve")
    assert 'id="merge-form"' not in page(maria, f"/tickets/{duplicate}")
    response = maria.post(f"/tickets/{duplicate}/merge", data={"merge_target": target,
                                                               "csrf_token": csrf(maria, f"/tickets/{duplicate}")})
    assert response.status_code == 404
