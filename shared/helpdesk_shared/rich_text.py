"""The small Markdown subset staff write (the desks' rules page), rendered to HTML and sanitised (pure).

Two locks, each enough alone: markdown-it-py parses only the subset below with raw HTML off
(a `<script>` typed in the text comes out as text), and nh3 (the Rust `ammonia` sanitiser)
then keeps only the subset's own tags, no attribute but a link's `href`, and only http(s),
mailto and tel links. https://nh3.readthedocs.io/ · https://markdown-it-py.readthedocs.io/
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# Headings, paragraphs, ordered and bulleted lists, bold, italic, links, line breaks, rules.
_PARSER = MarkdownIt("zero", {"html": False, "linkify": False, "breaks": False}).enable(
    ["heading", "paragraph", "list", "emphasis", "link", "newline", "hr", "escape", "backticks"])

TAGS = {"h2", "h3", "h4", "p", "ol", "ul", "li", "strong", "em", "a", "br", "hr", "code"}
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def sanitise(html: str) -> str:
    """`html` with only the subset's tags, a link's href (http, https, mailto, tel) and nothing else."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer", strip_comments=True)


def to_html(text: str) -> str:
    """The subset's Markdown as sanitised HTML ("" for an empty text).

    A top-level `#` heading is read as `##`: the page owns its one `<h1>`."""
    return sanitise(_PARSER.render(_demote_h1(text or ""))).strip()


def _demote_h1(text: str) -> str:
    return "\n".join("#" + line if line.startswith("# ") else line for line in text.split("\n"))
