"""The portal's pages for the customer's verdict (issue 12): the closing mail's one-click link
`/rate/<token>` (a confirmation page, then thanks; a second click says it was already rated) and
the rating form on the customer's closed ticket. Intake and query are faked; intake's own rules
are tested in tests/unit/test_ticket_rating_handlers.py and over HTTP in
tests/integration/test_ticket_rating_http.py."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from configs import portal_config
from portal.app import create_app
from portal.backend import Reply
from test_portal_mail_links import LINKS, PORTAL, LinkBackend, path_of
from test_portal_pages import TICKET, csrf, logged_in

ALREADY = Reply(409, {"code": "RATING_ALREADY_GIVEN", "field": "rating",
                      "message": {"es": "Ya fue calificada.", "en": "Already rated."}})
CLOSED = {**TICKET, "status": "closed", "close_reason": "solved_by_customer", "desk": "SOPORTE", "module": "BANCOS"}


class RatingBackend(LinkBackend):
    """Intake as far as ratings go: one rating per ticket, then RATING_ALREADY_GIVEN."""

    def __init__(self):
        super().__init__()
        self.rated = False
        self.ticket_body = CLOSED

    def check_link(self, kind, token, cid=None):
        checked = super().check_link(kind, token, cid)
        return ALREADY if checked.ok and kind == "rate" and self.rated else checked

    def rate_link(self, token, rating, comment, cid=None):
        self.calls.append(("rate_link", token, rating, comment))
        if self.rated:
            return ALREADY
        self.rated = True
        return Reply(200)

    def ticket(self, token, number, cid=None):
        return Reply(200, {**self.ticket_body, "number": number}) if number == "SOP-7" else super().ticket(
            token, number, cid)

    def intake_ticket(self, token, number, cid=None):
        self.calls.append(("intake_ticket", number))
        return Reply(200, {"number": number, "rated": self.rated, "may_rate": not self.rated})

    def articles(self, token, params, cid=None):
        """query's knowledge base: none (a ticket closed as "needs training" lists its module's)."""
        return Reply(200, {"items": [], "next_cursor": None})

    def rate(self, token, number, rating, comment, cid=None):
        self.calls.append(("rate", number, rating, comment))
        if rating not in ("good", "bad"):
            return Reply(422, {"code": "FIELD_NOT_CHOICE", "field": "rating",
                               "message": {"es": "Escoja buena o mala.", "en": "Choose good or bad."}})
        self.rated = True
        return Reply(201, {"number": number, "rating": rating})


@pytest.fixture
def backend():
    return RatingBackend()


@pytest.fixture
def client(backend):
    return create_app(portal_config("http://intake.invalid", "http://query.invalid", public_url=PORTAL),
                      backend=backend).test_client()


def rating_link(rating: str) -> str:
    return path_of(LINKS.rating_url("SOP-42", "u-maria", rating))


def test_the_mailed_bad_link_opens_a_confirmation_with_bad_chosen_and_rates_nothing(client, backend):
    page = client.get(rating_link("bad"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm-rating-button"' in text and "SOP-42" in text
    assert 'value="bad" id="rating-bad" checked' in text and 'id="rating-good" checked' not in text
    assert not [c for c in backend.calls if c[0] == "rate_link"]


def test_confirming_posts_the_choice_and_comment_with_the_links_token_then_thanks(client, backend):
    link = rating_link("good")
    token = urlsplit(link).path.rsplit("/", 1)[1]
    assert client.post(f"/rate/{token}", data={"rating": "good"}).status_code == 400  # no CSRF token
    assert backend.calls == []
    done = client.post(f"/rate/{token}", data={"rating": "bad", "comment": " Tardaron. ",
                                               "csrf_token": csrf(client, link)})
    assert done.status_code == 200 and 'id="rating-done"' in done.get_data(as_text=True)
    assert backend.calls == [("rate_link", token, "bad", "Tardaron.")]


def test_a_second_click_on_the_link_says_it_was_already_rated(client, backend):
    link = rating_link("good")
    token = urlsplit(link).path.rsplit("/", 1)[1]
    form = {"rating": "good", "csrf_token": csrf(client, link)}
    assert client.post(f"/rate/{token}", data=form).status_code == 200
    again = client.get(link)
    assert again.status_code == 200 and 'id="rating-already"' in again.get_data(as_text=True)
    assert 'id="confirm-rating-button"' not in again.get_data(as_text=True)
    twice = client.post(f"/rate/{token}", data=form)  # a confirmation page left open in another tab
    assert twice.status_code == 409 and 'id="rating-already"' in twice.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/rate/forged.token", "/rate/a..b", "/rate/" + "x" * 700])
def test_a_forged_or_malformed_rating_link_says_it_no_longer_works(client, path):
    r = client.get(path)
    assert r.status_code == 400 and 'id="link-invalid"' in r.get_data(as_text=True)


def test_a_solved_link_token_does_not_open_the_rating_page(client):
    solved = path_of(LINKS.resolution_url("SOP-42", "u-maria", "solved"))
    r = client.get("/rate/" + urlsplit(solved).path.rsplit("/", 1)[1])
    assert r.status_code == 400 and 'id="link-invalid"' in r.get_data(as_text=True)


def test_the_customers_closed_ticket_offers_the_rating_form_once(client, backend):
    logged_in(client)
    page = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert 'id="rate-ticket"' in page and 'id="send-rating"' in page
    sent = client.post("/tickets/SOP-7/rating", data={"rating": "good", "comment": "Muy bien",
                                                      "csrf_token": csrf(client, "/tickets/SOP-7")})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/tickets/SOP-7")
    assert ("rate", "SOP-7", "good", "Muy bien") in backend.calls
    after = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert 'id="rate-ticket"' not in after and 'id="rated-notice"' in after
    assert "Gracias por calificar la atención." in after


def test_a_rating_without_a_choice_is_said_beside_the_form(client, backend):
    logged_in(client)
    refused = client.post("/tickets/SOP-7/rating", data={"csrf_token": csrf(client, "/tickets/SOP-7")})
    assert refused.status_code == 422 and 'id="rating-error"' in refused.get_data(as_text=True)
    assert backend.rated is False


@pytest.mark.parametrize("changes", [{"status": "waiting_customer", "close_reason": None},
                                     {"close_reason": "needs_training"}, {"close_reason": "auto_closed"}])
def test_an_open_ticket_or_one_not_closed_as_solved_shows_no_rating_and_asks_intake_nothing(
        client, backend, changes):
    backend.ticket_body = {**CLOSED, **changes}
    logged_in(client)
    page = client.get("/tickets/SOP-7").get_data(as_text=True)
    assert 'id="rate-ticket"' not in page and 'id="rated-notice"' not in page
    assert ("intake_ticket", "SOP-7") not in backend.calls
