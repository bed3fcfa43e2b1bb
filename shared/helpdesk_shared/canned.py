"""Canned answers' placeholders (pure, issue 12): which exist, which a text uses, and a text filled in.

An answer a desk keeps ready ("respuesta predefinida") is written once with placeholders in braces,
`{cliente}`, and filled for each ticket where it is inserted. Intake refuses an answer naming a
placeholder nobody fills (`unknown`); the portal fills them from the ticket it shows (`fill`).
A brace that does not open a known name's placeholder stays as it is written.
"""
from __future__ import annotations

import re
from typing import Mapping

# name -> (what it is, in Spanish and English): shown beside the editor.
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "cliente": ("el nombre del cliente que abrió el ticket", "the name of the customer who opened the ticket"),
    "ticket": ("el número del ticket", "the ticket's number"),
    "plazo": ("el próximo plazo del ticket, en hora de Caracas", "the ticket's next deadline, Caracas time"),
    "telefonos": ("los teléfonos de la oficina de la mesa", "the desk's office phones"),
    "agente": ("el nombre de quien responde", "the name of whoever answers"),
}
_PLACEHOLDER = re.compile(r"\{([a-z_]{1,30})\}")


def used(text: str) -> list[str]:
    """The placeholder names `text` writes in braces, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def unknown(text: str) -> list[str]:
    """The names in braces that are no placeholder (a misspelt `{clente}` would go out as written)."""
    return [name for name in used(text) if name not in PLACEHOLDERS]


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """`text` with each known placeholder replaced by its value ("" when the ticket has none)."""
    return _PLACEHOLDER.sub(lambda m: (values.get(m.group(1)) or "") if m.group(1) in PLACEHOLDERS else m.group(0),
                            text)
