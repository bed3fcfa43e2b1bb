"""A supervisor's own subject and body for a mail template (notifier.template_texts, rendering):
what is refused and why, and how an accepted text renders."""
from __future__ import annotations

from dataclasses import replace

import pytest

from notifier.messages import LANGUAGES, TEMPLATES
from notifier.rendering import TEMPLATES_DIR, Renderer
from notifier.template_samples import samples
from notifier.template_texts import TemplateText, check

RENDERER = Renderer([TEMPLATES_DIR])


def refusal(template: str, subject: str = "Asunto", body: str = "Hola", language: str = "es"):
    return check(TemplateText(subject, body), samples(template, language), RENDERER.default_text(template, language))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_packaged_text_passes_its_own_checks_and_renders_the_same_text_mail(template, language):
    default = RENDERER.default_text(template, language)
    assert check(default, samples(template, language), default) is None
    for mail in samples(template, language):
        packaged, saved_unchanged = RENDERER.render(mail), RENDERER.render(mail, default)
        assert saved_unchanged.subject == packaged.subject
        assert saved_unchanged.text.split() == packaged.text.split()


def test_an_unknown_placeholder_is_refused_naming_it_and_the_valid_ones():
    refused = refusal("agent_answered", body="{{ solved_url }} {{ not_solved_url }} {{ ticket_url }} {{ numero }}")
    assert refused.code == "TEMPLATE_UNKNOWN_PLACEHOLDER" and refused.field == "body"
    assert "numero" in refused.es and "solved_url" in refused.en


def test_an_unknown_placeholder_in_the_subject_is_refused_too():
    assert refusal("ticket_closed", subject="Cerrado {{ motivo }}").field == "subject"


@pytest.mark.parametrize("template, body, link", [
    ("agent_answered", "Respondimos: {{ body }}\n{{ not_solved_url }}\n{{ ticket_url }}", "solved_url"),
    ("auto_close_warning", "Se cierra el {{ closes_at.local }}. {{ solved_url }} {{ ticket_url }}", "not_solved_url"),
    ("access_granted", "Bienvenido, {{ name }}. Entre en {{ portal_url }}. Cursos: {{ course_url }}", "set_password_url"),
    ("reply_to_closed", "El ticket {{ number }} está cerrado.", "new_ticket_url"),
])
def test_a_text_that_drops_a_link_its_default_carries_is_refused(template, body, link):
    refused = refusal(template, body=body)
    assert refused.code == "TEMPLATE_LINK_REQUIRED" and link in refused.es and link in refused.en


def test_a_link_the_default_carries_only_in_one_case_is_required_in_that_case():
    # ticket_closed offers the course only when the case needs training.
    body = "Cerramos {{ number }}. Abra otro: {{ new_ticket_url }} Portal: {{ ticket_url }}"
    assert refusal("ticket_closed", body=body).code == "TEMPLATE_LINK_REQUIRED"
    # ...and the rating links only when it closed as solved (issue 12).
    rating = "{% if good_url %} Buena: {{ good_url }} Mala: {{ bad_url }}{% endif %}"
    assert refusal("ticket_closed", body=body + rating).code == "TEMPLATE_LINK_REQUIRED"
    # ...and the module's knowledge-base articles with the course (issue 12).
    course = "{% if course_url %} Curso: {{ course_url }}{% endif %}"
    articles = "{% if articles_url %} Artículos: {{ articles_url }}{% endif %}"
    assert refusal("ticket_closed", body=body + course + rating).code == "TEMPLATE_LINK_REQUIRED"
    assert refusal("ticket_closed", body=body + course + articles).code == "TEMPLATE_LINK_REQUIRED"
    assert refusal("ticket_closed", body=body + course + articles + rating) is None


def test_a_placeholder_that_may_be_missing_must_be_guarded():
    body = ("Vuelve el {{ away_until.local }}. {{ solved_url }} {{ not_solved_url }} {{ ticket_url }}")
    assert refusal("auto_close_warning", body=body).code == "TEMPLATE_RENDER_FAILED"
    guarded = "{% if away_until %}Vuelve el {{ away_until.local }}.{% endif %} " + body.split(". ", 1)[1]
    assert refusal("auto_close_warning", body=guarded) is None


@pytest.mark.parametrize("body, code", [
    ("{% if %}", "TEMPLATE_SYNTAX"),
    ("{{ name ", "TEMPLATE_SYNTAX"),
    ('{% include "_layout.es.txt" %}', "TEMPLATE_TAG_FORBIDDEN"),
    ('{% extends "_layout.es.txt" %}', "TEMPLATE_TAG_FORBIDDEN"),
    ('{% import "_macros.html" as m %}', "TEMPLATE_TAG_FORBIDDEN"),
    ("{{ name.__class__.__mro__ }}", "TEMPLATE_RENDER_FAILED"),   # the sandbox refuses internals
    ("{{ name.nope }}", "TEMPLATE_RENDER_FAILED"),
    ("   ", "TEMPLATE_BODY_REQUIRED"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
     "TEMPLATE_UNKNOWN_PLACEHOLDER"),                              # no range: loops go over the mail's lists
    ('{{ "x" * 1000000000 }}', "TEMPLATE_RENDER_FAILED"),
    ("{{ 10 ** 10 ** 10 }}", "TEMPLATE_RENDER_FAILED"),
    ("{{ name.center(1000000000) }}", "TEMPLATE_RENDER_FAILED"),
    ('{{ "{:>999999999}".format(name) }}', "TEMPLATE_RENDER_FAILED"),
    ("{{ name|center(1000000000) }}", "TEMPLATE_SYNTAX"),           # a filter the sandbox does not offer
    ("{{ " + "(" * 5000 + "name" + ")" * 5000 + " }}", "TEMPLATE_SYNTAX"),
])
def test_texts_that_cannot_be_sent_are_refused_with_their_rule_code(body, code):
    refused = refusal("access_requested_requester", body=body)
    assert refused is not None and refused.code == code and refused.es and refused.en


def test_a_subject_on_two_lines_is_refused():
    assert refusal("access_requested_requester", subject="Uno\nDos").code == "TEMPLATE_SUBJECT_LINE"


def test_an_overridden_text_renders_its_subject_text_and_an_html_part_with_clickable_links_and_escaped_values():
    mail = samples("agent_answered", "es")[0]
    mail = replace(mail, context={**mail.context, "body": "<script>alert(1)</script>"})
    text = TemplateText("Le respondimos: {{ subject }}",
                        "Hola {{ recipient.name }}:\n\n{{ body }}\n\nResuelto: {{ solved_url }}\n"
                        "No resuelto: {{ not_solved_url }}")
    rendered = RENDERER.render(mail, text)
    assert rendered.subject == "[SOP-42] Le respondimos: BANCOS, Factura mal cargada"
    assert "Hola María Pérez:" in rendered.text and mail.context["solved_url"] in rendered.text
    assert f'<a href="{mail.context["solved_url"]}"' in rendered.html
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "Si responde a este correo" in rendered.text  # the layout's footer stays


def test_a_text_that_fails_on_a_real_mail_falls_back_to_the_packaged_one():
    mail = samples("access_requested_requester", "es")[0]
    broken = TemplateText("Asunto", "{{ name.nope }}")
    assert RENDERER.render(mail, broken) == RENDERER.render(mail)
