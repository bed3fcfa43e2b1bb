"""Supervisors edit the mail templates' texts (issue 9): read, preview, save, reset.

Each route is for supervisors only (a mail's wording is the vendor's voice, not one desk's);
a refusal is `{code, field, message: {es, en}}` and changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import Blueprint, g, jsonify

from helpdesk_shared.errors import Message, NotFound, RuleViolation
from helpdesk_shared.answers import OpenSchema, ResponseSchema, flag, integer, string
from helpdesk_shared.fields import Count, QueryCount, QuerySchema, RequestSchema, Text
from helpdesk_shared.openapi import documented
from helpdesk_shared.web import load_body, load_query

from . import template_samples, template_store, template_texts
from .messages import LANGUAGES, TEMPLATES
from .rendering import Renderer
from .template_texts import TemplateText


class TextEdit(RequestSchema):
    """PUT /api/templates/{name}/{lang}: the new subject and body, against the version read."""

    subject = Text(template_texts.SUBJECT_MAX, required=True)
    body = Text(template_texts.BODY_MAX, required=True)
    version = Count(0, 1_000_000, required=True, metadata={"description": "the version read (0: the packaged text)"})


class TextPreview(RequestSchema):
    """POST /api/templates/{name}/{lang}/preview: a subject and body to render with a sample mail."""

    subject = Text(template_texts.SUBJECT_MAX, required=True)
    body = Text(template_texts.BODY_MAX, required=True)


class ResetQuery(QuerySchema):
    """DELETE /api/templates/{name}/{lang}?version=: the version read."""

    version = QueryCount(0, 1_000_000, required=True, metadata={"description": "the version read"})


class TemplateState(OpenSchema):
    """A template's packaged and current texts, placeholders, a sample and its versions."""

    template = string()
    language = string()
    version = integer()
    overridden = flag()


class Rendered(ResponseSchema):
    """The text rendered with a sample mail."""

    subject = string()
    text = string()
    html = string()


class Templates(OpenSchema):
    """The mail templates, the override folder and the texts supervisors edited."""


class Rows(OpenSchema):
    """The rows (`items`)."""


_EDIT, _PREVIEW, _RESET = TextEdit(), TextPreview(), ResetQuery()
_TEMPLATE = {"name": {"enum": list(TEMPLATES)}, "language": {"enum": list(LANGUAGES)}}
FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="Solo un supervisor puede editar los textos de los correos.",
    en="Only a supervisor may edit the mails' texts."), status=403)


def _changed(current: int) -> RuleViolation:
    return RuleViolation("TEMPLATE_CHANGED", "version", Message(
        es=f"Otra persona cambió este texto mientras usted lo editaba (versión actual: {current}). "
           "Recárguelo, revise y vuelva a guardar.",
        en=f"Someone else changed this text while you were editing it (current version: {current}). "
           "Reload it, check and save again."), status=409, extra={"current_version": current})


def _refused(refusal: template_texts.Refusal) -> RuleViolation:
    return RuleViolation(refusal.code, refusal.field, Message(es=refusal.es, en=refusal.en), status=422)


def blueprint(auth, pool, render: Renderer, clock: Callable[[], datetime]) -> Blueprint:
    """The routes, given the app's bearer check, its pool, its renderer and its clock."""
    bp = Blueprint("template_texts", __name__, url_prefix="/api/templates")

    def _template(name: str, language: str) -> tuple:
        if g.user.role != "supervisor":
            raise FORBIDDEN  # by role, before any lookup
        if name not in TEMPLATES or language not in LANGUAGES:
            raise NotFound("template")
        return template_samples.samples(name, language), render.default_text(name, language)

    def _state(conn, name: str, language: str) -> dict:
        versions = template_store.history(conn, name, language)
        newest = versions[0] if versions else None
        default = render.default_text(name, language)
        sample = template_samples.samples(name, language)[0]
        return {"template": name, "language": language, "version": newest["version"] if newest else 0,
                "overridden": bool(newest and newest["subject"] is not None),
                "default": {"subject": default.subject, "body": default.body},
                "current": ({"subject": newest["subject"], "body": newest["body"], "edited_by": newest["edited_by"],
                             "edited_at": newest["edited_at"]} if newest and newest["subject"] is not None else None),
                "placeholders": sorted(set(template_texts.ALWAYS).union(
                    *(m.context.keys() for m in template_samples.samples(name, language)))),
                "sample": template_texts.sample_context(sample),
                "history": [{"version": v["version"], "reset": v["subject"] is None, "edited_by": v["edited_by"],
                             "edited_at": v["edited_at"]} for v in versions]}

    @bp.get("/<name>/<language>")
    @documented("A template's packaged and current texts, placeholders, a sample and its versions (supervisors)",
               path=_TEMPLATE, responses={200: TemplateState}, refusals=(403, 404))
    @auth
    def read(name: str, language: str):
        """A template's packaged and current texts, its placeholders, a sample and its versions."""
        _template(name, language)
        with pool.connection() as conn:
            return jsonify(_state(conn, name, language))

    @bp.post("/<name>/<language>/preview")
    @documented("Render a subject and body with the template's sample mail, checked as a save (nothing stored)",
               path=_TEMPLATE, body=TextPreview, responses={200: Rendered}, refusals=(403, 404))
    @auth
    def preview(name: str, language: str):
        """The text rendered with the template's first sample mail, checked as a save would be; nothing stored."""
        samples, default = _template(name, language)
        body = load_body(_PREVIEW)
        text = TemplateText(body["subject"], body["body"])
        refusal = template_texts.check(text, samples, default)
        if refusal:
            raise _refused(refusal)
        rendered = render.render(samples[0], text)
        return jsonify({"subject": rendered.subject, "text": rendered.text, "html": rendered.html})

    @bp.put("/<name>/<language>")
    @documented("Keep a supervisor's subject and body (a new version, against the version read); refused 422 "
               "for an unknown placeholder, a failing sample render or a dropped link", path=_TEMPLATE, body=TextEdit,
               responses={200: TemplateState}, refusals=(403, 404, 409))
    @auth
    def save(name: str, language: str):
        """Keep a supervisor's subject and body for the template (a new version), against the version read."""
        samples, default = _template(name, language)
        body = load_body(_EDIT)
        text = TemplateText(body["subject"].strip(), body["body"].strip() + "\n")
        refusal = template_texts.check(text, samples, default)
        if refusal:
            raise _refused(refusal)
        with pool.connection() as conn:
            try:
                template_store.save(conn, name, language, text, body["version"], g.user.user_id, clock())
            except template_store.VersionChanged as err:
                raise _changed(err.current) from None
            return jsonify(_state(conn, name, language))

    @bp.delete("/<name>/<language>")
    @documented("Back to the packaged text (the versions are kept)", path=_TEMPLATE, query=ResetQuery,
               responses={200: TemplateState}, refusals=(403, 404, 409, 422))
    @auth
    def reset(name: str, language: str):
        """Back to the packaged text (`?version=` the version read); the supervisor's versions are kept."""
        _template(name, language)
        version = load_query(_RESET)["version"]
        with pool.connection() as conn:
            if name not in {t for t, lang in template_store.current_texts(conn) if lang == language}:
                raise NotFound("template_text")
            try:
                template_store.save(conn, name, language, None, version, g.user.user_id, clock())
            except template_store.VersionChanged as err:
                raise _changed(err.current) from None
            return jsonify(_state(conn, name, language))

    return bp
