"""A supervisor's own subject and body for a mail template, checked before it is kept (pure).

A text is a Jinja template like the packaged ones, rendered in a sandbox
(https://jinja.palletsprojects.com/en/stable/sandbox/) with StrictUndefined, and it may not
pull other files (extends, include, import). It is refused, with a rule code, when it does not
parse, names a placeholder the template's mails do not have, fails to render with a sample
mail, or drops a link its default text carries (a "solved" link, a set-password link…): the
link is how the reader answers. Plain text only: the HTML part of an overridden mail is built
from it (paragraphs, links made clickable), inside the same layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

SUBJECT_MAX = 300
BODY_MAX = 20_000
# Names every mail's context has besides its planner's facts (rendering.Renderer.render).
ALWAYS = frozenset({"recipient", "reply_ticket", "lang"})
_FORBIDDEN = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_URL = re.compile(r"https?://[^\s<>\"')]+")

_MAX_PRODUCT = 10_000  # characters or items a `*` may build


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, also bounded in work: a mail is rendered inside the consumer's batch, so a
    text must not be able to loop or multiply its way into minutes or gigabytes (no `range`,
    no `**`, no `"x" * 10**9`)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("the power operator is not available in mail texts")
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            count = right if isinstance(left, (str, list, tuple)) else left
            size = len(left if isinstance(left, (str, list, tuple)) else right)
            if not isinstance(count, int) or size * max(count, 0) > _MAX_PRODUCT:
                raise SecurityError("the text would grow too large")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value):
        return None  # str.format stays a plain str method, which is_safe_callable refuses

    def is_safe_callable(self, obj) -> bool:
        # No methods of the context's values ("x".center(10**9), "{:>999999999}".format(1)): a mail
        # text formats with the filters below; macros, caller() and loop.cycle stay callable.
        if isinstance(getattr(obj, "__self__", None), (str, bytes, int, float, list, tuple, dict, set)):
            return False
        return super().is_safe_callable(obj)


# Filters that cannot build a large text from a short one (no center, indent, format, wordwrap).
_FILTERS = ("abs", "capitalize", "default", "d", "e", "escape", "first", "float", "int", "join", "last", "length",
            "count", "list", "lower", "replace", "round", "sort", "string", "title", "trim", "truncate", "upper",
            "urlencode", "wordcount", "striptags", "dictsort", "reverse", "unique", "min", "max", "sum",
            "selectattr", "rejectattr", "select", "reject", "map", "batch", "slice", "items", "filesizeformat")


SANDBOX = _Sandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True)
SANDBOX.globals.pop("range", None)  # loops go over the mail's own lists (attachments, phones, modules)
SANDBOX.filters = {name: f for name, f in SANDBOX.filters.items() if name in _FILTERS}


@dataclass(frozen=True)
class TemplateText:
    """A template's subject line and plain-text body (Jinja), as a supervisor wrote them."""

    subject: str
    body: str


@dataclass(frozen=True)
class Refusal:
    """Why a text is refused: a rule code, the field (`subject` or `body`) and the texts to show."""

    code: str
    field: str
    es: str
    en: str


def render_subject(subject: str, context: dict) -> str:
    """The subject rendered in the sandbox, on one line."""
    return " ".join(SANDBOX.from_string(subject).render(context).split())


def render_body(body: str, context: dict) -> str:
    """The body rendered in the sandbox."""
    return SANDBOX.from_string(body).render(context).strip()


def paragraphs(text: str) -> list[Markup]:
    """The rendered body as HTML paragraphs: escaped, lines kept, http(s) links made clickable."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if not block.strip():
            continue
        pieces, last = [], 0
        for match in _URL.finditer(block):
            url = match.group(0).rstrip(".,;:")
            end = match.start() + len(url)
            pieces += [escape(block[last:match.start()]),
                       Markup('<a href="{0}" style="color:#1d4ed8;">{0}</a>').format(url)]
            last = end
        pieces.append(escape(block[last:]))
        out.append(Markup("").join(pieces).replace("\n", Markup("<br>\n")))
    return out


def _names(source: str, field: str) -> tuple[set[str] | None, Refusal | None]:
    try:
        tree = SANDBOX.parse(source)
        forbidden = any(True for _ in tree.find_all(_FORBIDDEN))
        names = set() if forbidden else meta.find_undeclared_variables(tree)  # compiles: unknown filters fail here
    except RecursionError:
        return None, Refusal("TEMPLATE_SYNTAX", field, "El texto anida demasiadas expresiones.",
                             "The text nests too many expressions.")
    except TemplateError as err:
        return None, Refusal("TEMPLATE_SYNTAX", field, f"El texto no se puede leer como plantilla: {err}.",
                             f"The text cannot be read as a template: {err}.")
    if forbidden:
        return None, Refusal("TEMPLATE_TAG_FORBIDDEN", field,
                             "El texto no puede usar extends, include ni import: escriba el correo completo.",
                             "The text cannot use extends, include or import: write the whole mail.")
    return names, None


def check(text: TemplateText, samples, default: TemplateText) -> Refusal | None:
    """None when `text` is fit to send for every sample mail (`Mail`s with their contexts), or why not."""
    if not samples:
        return Refusal("TEMPLATE_UNKNOWN", "template", "Esa plantilla no existe.", "There is no such template.")
    if not text.subject.strip() or "\n" in text.subject.strip():
        return Refusal("TEMPLATE_SUBJECT_LINE", "subject", "El asunto debe ser una sola línea, no vacía.",
                       "The subject must be a single, non-empty line.")
    if not text.body.strip():
        return Refusal("TEMPLATE_BODY_REQUIRED", "body", "El cuerpo del correo no puede quedar vacío.",
                       "The body of the mail cannot be empty.")
    known = set(ALWAYS).union(*(m.context.keys() for m in samples))
    for field, source in (("subject", text.subject), ("body", text.body)):
        names, refusal = _names(source, field)
        if refusal:
            return refusal
        unknown = sorted(names - known)
        if unknown:
            listed = ", ".join(sorted(known))
            return Refusal("TEMPLATE_UNKNOWN_PLACEHOLDER", field,
                           f"Esta plantilla no tiene el dato «{unknown[0]}». Puede usar: {listed}.",
                           f"This template has no placeholder '{unknown[0]}'. You may use: {listed}.")
    for mail in samples:
        context = sample_context(mail)
        try:
            render_subject(text.subject, context)
            body = render_body(text.body, context)
            expected = render_body(default.body, context)
        except Exception as err:  # noqa: BLE001 - the sandbox raises many kinds; each is a refusal here
            return Refusal("TEMPLATE_RENDER_FAILED", "body",
                           f"El texto falla al armar un correo de ejemplo: {err}. Revise los datos que usa "
                           "(un dato que puede faltar va dentro de {% if dato %}…{% endif %}).",
                           f"The text fails to build a sample mail: {err}. Check the placeholders it uses "
                           "(one that may be missing goes inside {% if name %}…{% endif %}).")
        for name, value in mail.context.items():
            if name.endswith("_url") and isinstance(value, str) and value in expected and value not in body:
                return Refusal("TEMPLATE_LINK_REQUIRED", "body",
                               f"El texto debe conservar el enlace «{{{{ {name} }}}}»: es como el lector responde "
                               "o entra al portal.",
                               f"The text must keep the link '{{{{ {name} }}}}': it is how the reader answers or "
                               "reaches the portal.")
    return None


def sample_context(mail) -> dict:
    """The context a mail's templates see (as rendering.Renderer.render builds it)."""
    return {**mail.context, "recipient": {"name": mail.recipient.name, "email": mail.recipient.email},
            "reply_ticket": mail.reply_ticket, "lang": mail.recipient.language}
