"""The small Markdown subset supervisors write (rules page) becomes HTML that nh3 has cleaned:
what a browser could run or be tricked by never comes out."""
from __future__ import annotations

import pytest

from helpdesk_shared.rich_text import sanitise, to_html


def test_headings_lists_emphasis_and_links_become_their_html():
    html = to_html("## Cómo trabajamos\n\n1. Un caso, un **ticket**.\n2. El *asunto* dice el módulo.\n\n"
                   "- [Portal](https://mesa.example/tickets)\n- [Correo](mailto:soporte@mesa.example)")
    assert "<h2>Cómo trabajamos</h2>" in html
    assert "<ol>" in html and "<li>Un caso, un <strong>ticket</strong>.</li>" in html
    assert "<em>asunto</em>" in html
    assert '<a href="https://mesa.example/tickets" rel="noopener noreferrer">Portal</a>' in html
    assert 'href="mailto:soporte@mesa.example"' in html


def test_a_script_element_written_in_the_text_is_shown_as_text_never_as_a_script():
    html = to_html("Hola <script>alert('x')</script> mundo")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:msgbox(1)",
                                  "data:text/html;base64,PHNjcmlwdD4="])
def test_a_link_to_a_script_or_data_url_is_never_a_link(link):
    html = to_html(f"[pulse aquí]({link})")
    assert "pulse aquí" in html
    assert "<a" not in html and "href" not in html  # left as inert text


def test_raw_html_with_event_handlers_is_escaped_by_the_markdown_step():
    html = to_html('<img src="x" onerror="alert(1)"> <a href="#" onclick="alert(2)">x</a>')
    assert "<img" not in html and "<a " not in html  # shown as text, inert
    assert "&lt;img" in html


@pytest.mark.parametrize("dirty", [
    '<p onclick="alert(1)">hola</p>',
    '<a href="javascript:alert(1)">x</a>',
    '<script>alert(1)</script><p>hola</p>',
    '<img src=x onerror=alert(1)>',
    '<p style="background:url(javascript:alert(1))">hola</p>',
    '<iframe src="https://evil.example"></iframe>',
])
def test_the_sanitiser_removes_scripts_event_handlers_styles_and_script_links(dirty):
    clean = sanitise(dirty)
    lowered = clean.lower()
    assert "<script" not in lowered and "onclick" not in lowered and "onerror" not in lowered
    assert "javascript:" not in lowered and "style=" not in lowered and "<iframe" not in lowered
    assert "<img" not in lowered


def test_the_sanitiser_keeps_the_subsets_own_tags_and_safe_links():
    kept = '<h3>Horario</h3><p>Lunes a <strong>viernes</strong></p><ul><li><a href="https://mesa.example">x</a></li></ul>'
    assert sanitise(kept) == kept.replace('">x', '" rel="noopener noreferrer">x')


def test_an_empty_text_renders_to_nothing():
    assert to_html("") == ""
