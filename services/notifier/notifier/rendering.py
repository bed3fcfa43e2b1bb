"""Turning a planned `Mail` into a subject, a plain-text body and an HTML body (pure).

Templates are files named ``<template>.<lang>.subject.txt``, ``.txt`` and ``.html``,
looked up in a list of directories, first match wins: a supervisor's override directory
goes before the packaged one (``TEMPLATES_DIR``). Files whose name starts with ``_`` are
layouts and macros, not mails.

- HTML is autoescaped (a customer's ``<script>`` shows as text); text is not.
- ``StrictUndefined``: a value the template needs and the context lacks is an error, not
  an empty string in a customer's mail.
- A language without a file falls back to Spanish, the language of the desk.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from .messages import Mail

__all__ = ["FALLBACK_LANGUAGE", "Rendered", "Renderer", "TEMPLATES_DIR"]

TEMPLATES_DIR = Path(__file__).with_name("templates")
FALLBACK_LANGUAGE = "es"
PARTS = ("subject.txt", "txt", "html")
_NAME = re.compile(r"^(?P<template>[a-z0-9][a-z0-9_]*)\.(?P<lang>[a-z]{2})\.(?P<part>subject\.txt|txt|html)$")


class Rendered(NamedTuple):
    """A mail ready for the mailer (a tuple too: `subject, text, html = render(mail)`)."""

    subject: str
    text: str
    html: str


class Renderer:
    """Renders mails from template directories; the first directory that has a file wins."""

    def __init__(self, template_dirs: Iterable[Path]) -> None:
        dirs = [str(Path(d)) for d in template_dirs]
        if not dirs:
            raise ValueError("a Renderer needs at least one template directory")
        self._env = Environment(
            loader=FileSystemLoader(dirs),
            autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=(),
                                         default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def templates(self) -> list[str]:
        """The names of the mails some directory has a template for (layouts excluded)."""
        return sorted({m["template"] for name in self._env.list_templates()
                       if (m := _NAME.match(name))})

    def render(self, mail: Mail) -> Rendered:
        """Subject (one line, prefixed with the ticket number), text and HTML of `mail`."""
        context = {
            **mail.context,
            "recipient": {"name": mail.recipient.name, "email": mail.recipient.email},
            "reply_ticket": mail.reply_ticket,
        }
        language = mail.recipient.language or FALLBACK_LANGUAGE
        subject = " ".join(self._render(mail.template, language, "subject.txt", context).split())
        number = mail.context.get("number")
        if number and not subject.startswith(f"[{number}]"):
            subject = f"[{number}] {subject}"
        text = self._render(mail.template, language, "txt", context).strip() + "\n"
        html = self._render(mail.template, language, "html", context)
        return Rendered(subject=subject, text=text, html=html)

    def _render(self, template: str, language: str, part: str, context: dict) -> str:
        try:
            tpl = self._env.get_template(f"{template}.{language}.{part}")
        except TemplateNotFound:
            if language == FALLBACK_LANGUAGE:
                raise
            tpl = self._env.get_template(f"{template}.{FALLBACK_LANGUAGE}.{part}")
            language = FALLBACK_LANGUAGE
        return tpl.render({**context, "lang": language})
