"""Desks' current module catalogs in intake's database (adapter): the kernel's default until a
supervisor's first edit, then the row that edit wrote with its event."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared.catalog import DESKS, Desk


def current(conn: psycopg.Connection, desk: Desk) -> Desk:
    """`desk` with its catalog as last edited (the default at version 0 before any edit)."""
    return of_row(desk, conn.execute("select modules, version from desk_catalogs where desk = %s",
                                     (desk.name,)).fetchone())


def of_row(desk: Desk, row: dict | None) -> Desk:
    """`desk` with the catalog of its `desk_catalogs` row (modules, version); the default when there is none."""
    return desk.with_modules(row["modules"], row["version"]) if row and row["version"] is not None else desk


def every_desk(conn: psycopg.Connection) -> list[Desk]:
    """Every desk with its current catalog."""
    return [current(conn, desk) for desk in DESKS.values()]


def save(conn: psycopg.Connection, desk: Desk) -> None:
    """Store the desk's catalog at its version (in the transaction that appends its event)."""
    conn.execute("""insert into desk_catalogs (desk, modules, version) values (%s, %s, %s)
                    on conflict (desk) do update set modules = excluded.modules, version = excluded.version""",
                 (desk.name, Jsonb([m.as_dict() for m in desk.entries]), desk.version))
