"""'Me tengo que ausentar' on the ticket page: the form reaches intake, a refusal shows beside its field."""
from __future__ import annotations

import re

import pytest

from configs import portal_config
from portal import forms
from portal.app import create_app
from portal.backend import Reply
from test_portal_pages import FakeBackend, csrf, logged_in


class AwayBackend(FakeBackend):
    reply = Reply(201, {"number": "SOP-7", "customer_away": True})

    def away(self, token, number, body, cid=None):
        self.calls.append(("away", number, body))
        return self.reply


@pytest.fixture
def backend():
    return AwayBackend()


@pytest.fixture
def client(backend):
    return create_app(portal_config("http://intake.invalid", "http://query.invalid"), backend=backend).test_client()


def test_a_back_on_day_means_back_when_the_desk_opens_that_day_in_caracas():
    assert forms.away_body({"back_on": "2026-12-07", "away_note": " De viaje "}) == {
        "back_at": "2026-12-07T09:00:00-04:00", "note": "De viaje"}
    assert forms.away_body({"back_on": "", "away_note": ""}) == {}
    assert forms.away_body({"back_on": "el lunes"}) == {"back_at": "el lunes"}  # intake says what is wrong


def test_the_ticket_page_offers_the_away_form_and_its_post_reaches_intake(client, backend):
    logged_in(client)
    page = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert 'id="away"' in page and 'name="back_on" type="date"' in page
    r = client.post("/tickets/SOP-7/away", data={"csrf_token": csrf(client, "/tickets/SOP-7"), "back_on": "2026-12-07"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tickets/SOP-7")
    assert backend.calls[-1] == ("away", "SOP-7", {"back_at": "2026-12-07T09:00:00-04:00"})


def test_intakes_refusal_of_the_return_day_is_shown_beside_it(client, backend):
    logged_in(client)
    backend.reply = Reply(422, {"code": "AWAY_BACK_AT_NOT_FUTURE", "field": "back_at",
                                "message": {"es": "La fecha de regreso debe ser futura.", "en": "Must be future."}})
    r = client.post("/tickets/SOP-7/away", data={"csrf_token": csrf(client, "/tickets/SOP-7"), "back_on": "2020-01-01"})
    assert r.status_code == 422
    assert re.search(r'id="back_on-error"[^>]*>\s*<p>La fecha de regreso debe ser futura\.</p>', r.get_data(as_text=True))


def test_the_away_form_without_its_csrf_token_changes_nothing(client, backend):
    logged_in(client)
    assert client.post("/tickets/SOP-7/away", data={"back_on": "2026-12-07"}).status_code == 400
    assert [c for c in backend.calls if c[0] == "away"] == []


class AnnounceBackend(AwayBackend):
    announce_reply = Reply(201, {"announcement_id": "a1"})

    def announce_special_process(self, token, body, cid=None):
        self.calls.append(("announce", body))
        return self.announce_reply


def test_a_special_process_is_announced_for_whole_days_in_caracas_and_refusals_go_beside_their_field():
    backend = AnnounceBackend()
    client = create_app(portal_config("http://i.invalid", "http://q.invalid"), backend=backend).test_client()
    logged_in(client)
    form = {"csrf_token": csrf(client, "/special-processes"), "kind": "carnetizacion",
            "description": "Carnetización anual", "starts_on": "2027-01-04", "ends_on": "2027-01-08"}
    assert client.post("/special-processes", data=form).status_code == 302
    assert backend.calls[-1] == ("announce", {"kind": "carnetizacion", "description": "Carnetización anual",
                                              "starts_at": "2027-01-04T00:00:00-04:00",
                                              "ends_at": "2027-01-08T23:59:59-04:00"})
    backend.announce_reply = Reply(422, {"code": "R5_FIELD_INVALID", "field": "starts_at",
                                         "message": {"es": "Debe avisarse con antelación.", "en": "In advance."}})
    r = client.post("/special-processes", data=form)
    assert r.status_code == 422 and 'id="starts_on-error"' in r.get_data(as_text=True)


@pytest.mark.parametrize("overdue", [True, False])
def test_the_office_phones_of_the_desk_show_only_while_the_first_answer_is_overdue(overdue):
    from test_portal_pages import TICKET

    class OverdueBackend(AwayBackend):
        def ticket(self, token, number, cid=None):
            return Reply(200, {**TICKET, "status": "open", "desk": "SOPORTE", "first_response_overdue": overdue})

    config = portal_config("http://i.invalid", "http://q.invalid",
                           office_phones={"SOPORTE": ("+58 212 555 0100", "+58 212 555 0101")})
    client = create_app(config, backend=OverdueBackend()).test_client()
    logged_in(client)
    page = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert ('id="overdue-phones"' in page) == overdue
    assert ('href="tel:+582125550101"' in page) == overdue
