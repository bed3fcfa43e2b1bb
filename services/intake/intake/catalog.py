"""The desks and their module catalogs, as data."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Desk:
    """A desk on the login page, with the modules a subject may name."""

    name: str
    code: str
    modules: tuple[str, ...]


_SUPPORT_MODULES = (
    "BANCOS", "FACTURACION", "SOCIOS", "CARNETIZACION", "NOMINA", "CONTABILIDAD",
    "CXP", "CXC", "INVENTARIO", "SENIAT", "REPORTES", "SISTEMA",
)

DESKS: dict[str, Desk] = {
    "SOPORTE": Desk("SOPORTE", "SOP", _SUPPORT_MODULES),
    "IMPLANTACIONES": Desk(
        "IMPLANTACIONES", "IMP",
        _SUPPORT_MODULES + ("MIGRACION", "PARAMETRIZACION", "CAPACITACION"),
    ),
}

# "Urgente, única y exclusivamente": the three causes of the rules page, plus normal.
URGENCIES = ("normal", "platform_down", "member_billing_stopped", "announced_special_process")
