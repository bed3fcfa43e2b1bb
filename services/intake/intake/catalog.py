"""The desks (from the kernel's catalog data) and the rules of a supervisor's edit of a
desk's module catalog (pure).

A module keeps its code for ever (subjects, events and the duplicate vocabulary name it);
a supervisor adds modules, renames them (the name people read) and retires them: a retired
module stays valid on the tickets that name it and is refused on new ones (R4_MODULE_RETIRED).
Removing a module from the list is refused: its tickets would name something the desk no
longer knows.
"""
from __future__ import annotations

import re
import unicodedata

from helpdesk_shared.catalog import DESKS, MODULE_CODE_PATTERN, MODULES_MAX, Desk, Module
from helpdesk_shared.schemas import URGENCIES

from .messages import violation

__all__ = ["DESKS", "URGENCIES", "Desk", "Module", "revise"]

_CODE = re.compile(MODULE_CODE_PATTERN)


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", " ".join(text.split()).casefold())
                   if not unicodedata.combining(c))


def revise(current: tuple[Module, ...], proposed: list[dict]) -> tuple[Module, ...]:
    """The desk's new catalog from the supervisor's full list, or the rule it breaks.

    `proposed` is loaded by `requests.ModuleCatalog` (bounded strings); here the meaning:
    well-formed, unique codes and names, nothing removed, at least one module open to new tickets.
    """
    modules = tuple(Module(m["code"].strip().upper(), " ".join(m["name"].split()), bool(m.get("retired")))
                    for m in proposed)
    if not modules or len(modules) > MODULES_MAX:
        raise violation("CATALOG_EMPTY", "modules")
    for m in modules:
        if not _CODE.match(m.code):
            raise violation("CATALOG_MODULE_CODE_INVALID", "modules", module=m.code)
        if not m.name:
            raise violation("CATALOG_MODULE_NAME_REQUIRED", "modules", module=m.code)
    for key in (lambda m: m.code, lambda m: _folded(m.name)):
        seen: set[str] = set()
        for m in modules:
            if key(m) in seen:
                raise violation("CATALOG_MODULE_DUPLICATE", "modules", module=m.code)
            seen.add(key(m))
    removed = [m.code for m in current if m.code not in {n.code for n in modules}]
    if removed:
        raise violation("CATALOG_MODULE_REMOVED", "modules", module=removed[0])
    if all(m.retired for m in modules):
        raise violation("CATALOG_EMPTY", "modules")
    return modules
