"""The desks and their module catalogs, as data: one source for every service and the seed.

The defaults live in `catalog.json` beside this module. A supervisor's edit of a desk's catalog
is an event (`ModuleCatalogChanged` on helpdesk.accounts, written by intake) that supersedes the
default for that desk; `Desk.with_modules` builds the desk as the event says. Pure: reading the
package's own data file at import is the only I/O.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

DATA = Path(__file__).with_name("catalog.json")

# A module's code is what a subject starts with ("BANCOS, ..."): capitals and digits, no comma.
MODULE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,19}$"
MODULE_CODE_MAX = 20
MODULE_NAME_MAX = 60
MODULES_MAX = 60


@dataclass(frozen=True)
class Module:
    """One entry of a desk's catalog; a retired module stays valid on the tickets that name it."""

    code: str
    name: str
    retired: bool = False

    def as_dict(self) -> dict:
        """The JSON form used in events and API answers."""
        return {"code": self.code, "name": self.name, "retired": self.retired}


@dataclass(frozen=True)
class Desk:
    """A desk on the login page, with its catalog (`entries`) at some `version` (0 = the default)."""

    name: str
    code: str
    entries: tuple[Module, ...]
    version: int = 0

    @property
    def modules(self) -> tuple[str, ...]:
        """The codes a new ticket's subject may name (retired ones left out)."""
        return tuple(m.code for m in self.entries if not m.retired)

    @property
    def retired(self) -> tuple[str, ...]:
        """Codes still valid on existing tickets but refused on new ones."""
        return tuple(m.code for m in self.entries if m.retired)

    def name_of(self, code: str) -> str:
        """The name people read for a module code (the code itself when the catalog does not know it)."""
        return next((m.name for m in self.entries if m.code == code), code)

    def with_modules(self, modules: list[dict], version: int) -> "Desk":
        """This desk with the catalog an event or a stored row gives."""
        return replace(self, entries=tuple(Module(m["code"], m["name"], bool(m.get("retired"))) for m in modules),
                       version=version)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def load(path: Path = DATA) -> dict[str, Desk]:
    """The desks of a catalog file, by name, in the file's order."""
    doc = _read(path)
    modules = doc["modules"]
    return {d["name"]: Desk(d["name"], d["code"], tuple(Module(code, modules[code]["name"]) for code in d["modules"]))
            for d in doc["desks"]}


def vocabulary(path: Path = DATA) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Rule 6's words per module code: (the words every case of it uses, its synonym groups)."""
    modules = _read(path)["modules"]
    return ({code: m["words"] for code, m in modules.items() if "words" in m},
            {code: m["synonyms"] for code, m in modules.items() if "synonyms" in m})


DESKS: dict[str, Desk] = load()
DESK_NAMES: tuple[str, ...] = tuple(DESKS)
