"""Turning a planned `Mail` into a subject, a plain-text body and an HTML body (pure).

Templates are files named ``<template>.<lang>.subject.txt``, ``.txt`` and ``.html``,
looked up in a list of directories, first match wins: a supervisor's override directory
goes before the packaged one (``TEMPLATES_DIR``). Files whose name starts with ``_`` are
layouts and macros, not mails.

- HTML is autoescaped (a customer's ``<script>`` shows as text); text is not.
- ``StrictUndefined``: a value the template needs and the context lacks is an error, not
  an empty string in a customer's mail.
- A language without a file falls back to Spanish, the language of the desk.
- Files are read once per process (a changed file counts from the next start).
- A supervisor's own subject and body (`template_texts.TemplateText`, kept in the notifier's
  database) replace the files' for that template and language; see `render(mail, text)`.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from . import template_texts
from .messages import Mail
from .template_texts import TemplateText

__all__ = ["FALLBACK_LANGUAGE", "Rendered", "Renderer", "TEMPLATES_DIR"]

TEMPLATES_DIR = Path(__file__).with_name("templates")
FALLBACK_LANGUAGE = "es"
PARTS = ("subject.txt", "txt", "html")
_WRAPPER = re.compile(r"^\{% extends [^%]*%\}\s*\{% block content %\}\n?(?P<body>.*?)\{% endblock %\}\s*$", re.S)
log = logging.getLogger(__name__)
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
            # Files are read once per process: checking each one's mtime at every render was ~9 % of
            # the notifier consumer (issue 11). A changed file takes effect at the next start; a
            # supervisor's texts, kept in the database, take effect at once.
            auto_reload=False,
        )

    def templates(self) -> list[str]:
        """The names of the mails some directory has a template for (layouts excluded)."""
        return sorted({m["template"] for name in self._env.list_templates()
                       if (m := _NAME.match(name))})

    def default_text(self, template: str, language: str) -> TemplateText:
        """The packaged subject and body of a template (the body without its layout's wrapper)."""
        source = self._env.loader.get_source
        subject = source(self._env, f"{template}.{language}.subject.txt")[0].strip()
        body = source(self._env, f"{template}.{language}.txt")[0]
        wrapped = _WRAPPER.match(body)
        return TemplateText(subject=subject, body=(wrapped.group("body") if wrapped else body).strip() + "\n")

    def render(self, mail: Mail, text: TemplateText | None = None) -> Rendered:
        """Subject (one line, prefixed with the ticket number), text and HTML of `mail`; with `text`,
        a supervisor's subject and body for the mail's template and language instead of the files'.

        A supervisor's text was checked against sample mails when it was saved; should a real
        mail still fail with it, the packaged text is used (logged), so the mail goes out."""
        context = {
            **mail.context,
            "recipient": {"name": mail.recipient.name, "email": mail.recipient.email},
            "reply_ticket": mail.reply_ticket,
        }
        language = mail.recipient.language or FALLBACK_LANGUAGE
        if text is not None:
            try:
                return self._render_text(mail, text, context, language)
            except Exception as err:  # noqa: BLE001 - any failure of the sandboxed text falls back
                log.error("a supervisor's mail text failed; the packaged one was used",
                          extra={"template": mail.template, "language": language, "error": repr(err)})
        subject = " ".join(self._render(mail.template, language, "subject.txt", context).split())
        return self._finish(mail, subject, self._render(mail.template, language, "txt", context),
                            self._render(mail.template, language, "html", context))

    def _render_text(self, mail: Mail, text: TemplateText, context: dict, language: str) -> Rendered:
        context = {**context, "lang": language}
        subject = template_texts.render_subject(text.subject, context)
        body = template_texts.render_body(text.body, context)
        plain = self._env.get_template(f"_override.{language}.txt").render({**context, "override_text": body})
        html = self._env.get_template(f"_override.{language}.html").render(
            {**context, "override_paragraphs": template_texts.paragraphs(body)})
        return self._finish(mail, subject, plain, html)

    def _finish(self, mail: Mail, subject: str, text: str, html: str) -> Rendered:
        number = mail.context.get("number")
        if number and not subject.startswith(f"[{number}]"):
            subject = f"[{number}] {subject}"
        return Rendered(subject=subject, text=text.strip() + "\n", html=html)

    def _render(self, template: str, language: str, part: str, context: dict) -> str:
        try:
            tpl = self._env.get_template(f"{template}.{language}.{part}")
        except TemplateNotFound:
            if language == FALLBACK_LANGUAGE:
                raise
            tpl = self._env.get_template(f"{template}.{FALLBACK_LANGUAGE}.{part}")
            language = FALLBACK_LANGUAGE
        return tpl.render({**context, "lang": language})
