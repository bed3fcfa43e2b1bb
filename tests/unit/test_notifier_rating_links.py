"""The closing mail of a ticket closed as solved carries the customer's verdict links (issue 12):
"Buena atención" / "Mala atención", each a signed link of its own purpose, in the reader's language,
through the packaged templates and a supervisor's own text alike."""
from __future__ import annotations

import html
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from configs import SECRETS, notifier_config
from helpdesk_shared import link_tokens
from notifier.consumer import links as mail_links
from notifier.messages import plan
from notifier.rendering import TEMPLATES_DIR, Renderer
from notifier import template_samples
from notifier.template_texts import TemplateText, check
from test_notifier_messages import CALENDAR, DESKS, USERS, closed, only, ticket

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)
PORTAL = "https://portal.mesa.test"
LINKS = mail_links(notifier_config("postgresql://unused/none", public_url=PORTAL), lambda: NOW)


def closing_mail(reason: str, language: str = "es"):
    return only(plan(closed(reason), ticket(language), USERS, DESKS, CALENDAR, LINKS))


def _claims(url: str) -> tuple[dict, str]:
    parts = urlsplit(url)
    assert parts.path.startswith("/rate/") and f"{parts.scheme}://{parts.netloc}" == PORTAL
    token = parts.path.rsplit("/", 1)[1]
    return link_tokens.verify(SECRETS["LINK_SECRET"], link_tokens.RATING, token, NOW), parse_qs(parts.query)["rating"][0]


@pytest.mark.parametrize("reason", ["solved_by_customer", "closed_by_agent"])
@pytest.mark.parametrize("language", ["es", "en"])
def test_a_ticket_closed_as_solved_mails_its_requester_two_valid_rating_links(reason, language):
    mail = closing_mail(reason, language)
    opener = ticket(language).opened_by
    assert _claims(mail.context["good_url"]) == ({"t": "SOP-42", "u": opener}, "good")
    assert _claims(mail.context["bad_url"]) == ({"t": "SOP-42", "u": opener}, "bad")


def test_a_rating_token_is_no_solved_answer_nor_a_password_link():
    token = urlsplit(closing_mail("solved_by_customer").context["good_url"]).path.rsplit("/", 1)[1]
    for purpose in (link_tokens.RESOLUTION, link_tokens.PASSWORD):
        with pytest.raises(link_tokens.InvalidLinkToken):
            link_tokens.verify(SECRETS["LINK_SECRET"], purpose, token, NOW)


@pytest.mark.parametrize("reason", ["auto_closed", "needs_training"])
def test_a_ticket_not_closed_as_solved_asks_no_verdict(reason):
    mail = closing_mail(reason)
    assert mail.context["good_url"] is None and mail.context["bad_url"] is None
    _, text, body = Renderer([TEMPLATES_DIR]).render(mail)
    assert "/rate/" not in text and "/rate/" not in body
    assert "Buena atención" not in body


@pytest.mark.parametrize("language, good, bad", [("es", "Buena atención", "Mala atención"),
                                                 ("en", "Good service", "Bad service")])
def test_the_rendered_mail_shows_both_links_in_the_readers_language_in_text_and_html(language, good, bad):
    mail = closing_mail("solved_by_customer", language)
    _, text, body = Renderer([TEMPLATES_DIR]).render(mail)
    for label, url in ((good, mail.context["good_url"]), (bad, mail.context["bad_url"])):
        assert f"{label}: {url}" in text
        assert f'href="{html.escape(url)}"' in body or f'href="{url}"' in body
        assert label in body


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_supervisors_text_for_the_closing_mail_must_keep_the_rating_links(language):
    base = ("Cerramos {{ number }}. Abra otro: {{ new_ticket_url }} Portal: {{ ticket_url }}"
            "{% if course_url %} Curso: {{ course_url }}{% endif %}"
            "{% if articles_url %} Artículos: {{ articles_url }}{% endif %}")
    renderer = Renderer([TEMPLATES_DIR])
    samples, default = template_samples.samples("ticket_closed", language), renderer.default_text("ticket_closed",
                                                                                                    language)
    dropped = check(TemplateText("Cerrado {{ number }}", base + "{% if good_url %}{{ good_url }}{% endif %}"),
                    samples, default)
    assert dropped is not None and dropped.code == "TEMPLATE_LINK_REQUIRED" and "bad_url" in dropped.es
    kept = base + "{% if good_url %} Buena: {{ good_url }} Mala: {{ bad_url }}{% endif %}"
    assert check(TemplateText("Cerrado {{ number }}", kept), samples, default) is None
    # A kept text renders real links in a real solved mail.
    mail = closing_mail("closed_by_agent", language)
    assert mail.context["good_url"] in renderer.render(mail, TemplateText("Cerrado {{ number }}", kept)).text
