"""The ticket list's query string, checked name by name and value by value (pure).

A filter the list does not know, or a value no ticket can have (`status=abierto`), would
otherwise narrow nothing and look like "no tickets": it is a 422 that names the filter and
lists what is valid, in both languages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from helpdesk_shared import lifecycle
from helpdesk_shared.errors import Message, RuleViolation
from helpdesk_shared.schemas import DESKS, URGENCIES

STATUSES = (lifecycle.OPEN, lifecycle.WAITING_CUSTOMER, lifecycle.CLOSED)
# `assigned_to=none`: the tickets nobody has taken (the queue).
UNASSIGNED = object()
MAX_TEXT = 200
MAX_ID = 100
_MODULE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
# NUL cannot be stored in PostgreSQL text; other control characters and lone surrogates match nothing.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class ListQuery:
    """What a ticket list asks for: equality filters by column, a text search, a page."""

    filters: dict = field(default_factory=dict)
    text: str | None = None
    page: int = 1
    per_page: int = 25


def _invalid(name: str, value: str, valid: Sequence[str] | None, es: str, en: str) -> RuleViolation:
    extra = {"valid": list(valid)} if valid is not None else {}
    shown = _shown(value)
    return RuleViolation("INVALID_FILTER", name, Message(
        es=f"Filtro «{name}»: el valor «{shown}» no es válido; {es}.",
        en=f"Filter '{name}': the value '{shown}' is not valid; {en}."), extra=extra)


def _shown(text: str) -> str:
    """What the caller sent, quoted back short and printable."""
    return _UNPRINTABLE.sub("?", text[:60])


def _one_of(name: str, choices: Sequence[str]) -> Callable[[str, str], object]:
    def check(value: str, caller: str):
        if value not in choices:
            listed = ", ".join(choices)
            raise _invalid(name, value, choices, f"use uno de: {listed}", f"use one of: {listed}")
        return value
    return check


def _boolean(value: str, caller: str) -> bool:
    # Strictly the two words: "1", "yes" or "True" silently meaning something else is what item 11 was about.
    if value not in ("true", "false"):
        raise _invalid("out_of_hours", value, ("true", "false"), "use true o false", "use true or false")
    return value == "true"


def _module(value: str, caller: str) -> str:
    if not _MODULE.match(value):
        raise _invalid("module", value, None, "use el código del módulo (letras, p. ej. BANCOS)",
                       "use the module's code (letters, e.g. BANCOS)")
    return value.upper()


def _identifier(name: str) -> Callable[[str, str], str]:
    def check(value: str, caller: str) -> str:
        if len(value) > MAX_ID or _UNPRINTABLE.search(value):
            raise _invalid(name, value, None, f"use un identificador de hasta {MAX_ID} caracteres",
                           f"use an identifier of up to {MAX_ID} characters")
        return value
    return check


def _assignee(value: str, caller: str):
    if value == "me":
        return caller
    if value == "none":
        return UNASSIGNED
    try:
        return _identifier("assigned_to")(value, caller)
    except RuleViolation as err:
        raise _invalid("assigned_to", value, None, "use me, none o el id de un agente",
                       "use me, none or an agent's id") from err


FILTERS: dict[str, Callable[[str, str], object]] = {
    "status": _one_of("status", STATUSES),
    "desk": _one_of("desk", DESKS),
    "module": _module,
    "organisation_id": _identifier("organisation_id"),
    "urgency": _one_of("urgency", URGENCIES),
    "assigned_to": _assignee,
    "out_of_hours": _boolean,
}
ALIASES = {"organisation": "organisation_id"}
PAGING = {"page": 100_000, "per_page": 200}
PARAMETERS = (*FILTERS, *ALIASES, "q", *PAGING)


def _positive_int(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise RuleViolation("INVALID_REQUEST", name, Message(
            es=f"«{name}» debe ser un entero entre 1 y {maximum}.",
            en=f"'{name}' must be an integer between 1 and {maximum}."), status=400)
    return int(raw)


def _text(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if len(text) > MAX_TEXT or _UNPRINTABLE.search(text):
        raise _invalid("q", text, None, f"escriba hasta {MAX_TEXT} caracteres de texto",
                       f"write up to {MAX_TEXT} characters of text")
    return text or None


def single_values(args: Mapping[str, Sequence[str]], valid: Sequence[str], page_name: Message,
                  aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each parameter's one value (under its canonical name), or a 422 naming a parameter the page
    does not know (with the valid ones) or one given twice. `page_name` names the page in both languages."""
    single: dict[str, str] = {}
    for name, values in args.items():
        canonical = (aliases or {}).get(name, name)
        if canonical not in valid:
            listed = ", ".join(valid) or "—"
            shown = _shown(name)
            raise RuleViolation("UNKNOWN_FILTER", shown, Message(
                es=f"{page_name.es} no tiene el parámetro «{shown}». Parámetros válidos: {listed}.",
                en=f"{page_name.en} has no parameter '{shown}'. Valid parameters: {listed}."),
                extra={"valid": list(valid)})
        if len(values) > 1 or canonical in single:
            raise RuleViolation("FILTER_REPEATED", canonical, Message(
                es=f"El parámetro «{canonical}» se dio más de una vez; dé un solo valor.",
                en=f"The parameter '{canonical}' was given more than once; give one value."))
        single[canonical] = values[0] if values else ""
    return single


def parse_list_query(args: Mapping[str, Sequence[str]], caller_id: str) -> ListQuery:
    """The list request in `args` (each parameter's values, as given), or a RuleViolation naming the parameter."""
    single = single_values(args, PARAMETERS, Message(es="La lista de tickets", en="The ticket list"), aliases=ALIASES)
    filters = {name: check(single[name], caller_id) for name, check in FILTERS.items() if single.get(name)}
    return ListQuery(filters=filters, text=_text(single.get("q")),
                     page=_positive_int("page", single.get("page"), 1, PAGING["page"]),
                     per_page=_positive_int("per_page", single.get("per_page"), 25, PAGING["per_page"]))
