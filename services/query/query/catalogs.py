"""The desks' module catalogs on the read side: ModuleCatalogChanged → desk_modules, and the
name a ticket's module code shows with (the kernel's default until a supervisor's first edit)."""
from __future__ import annotations

import psycopg

from helpdesk_shared.catalog import DESKS
from helpdesk_shared.kafka import Record

PROJECTION = "catalogs"


def module_name(desk: str, code: str, stored: str | None) -> str:
    """The name to show for `code` on `desk`: the catalog's as edited, else the default's, else the code (pure)."""
    if stored:
        return stored
    return DESKS[desk].name_of(code) if desk in DESKS else code


def named(rows: list[dict]) -> list[dict]:
    """Rows with `desk`, `module` and the joined `module_name` given their name to show (pure)."""
    for row in rows:
        row["module_name"] = module_name(row["desk"], row["module"], row.get("module_name"))
    return rows


def apply_catalog_changed(conn: psycopg.Connection, record: Record) -> bool:
    """Replace a desk's modules with the event's full list; False for another event type or an
    older or repeated version (a replay)."""
    event = record.event
    if event.type != "ModuleCatalogChanged":
        return False
    d = event.data
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"desk_modules/{d['desk']}",))
    stored = conn.execute("select max(version) as v from desk_modules where desk = %s", (d["desk"],)).fetchone()["v"]
    if stored is not None and stored >= d["version"]:
        return False
    conn.execute("delete from desk_modules where desk = %s", (d["desk"],))
    conn.cursor().executemany(
        "insert into desk_modules (desk, code, name, retired, version) values (%s, %s, %s, %s, %s)",
        [(d["desk"], m["code"], m["name"], m["retired"], d["version"]) for m in d["modules"]])
    return True
