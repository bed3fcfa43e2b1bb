"""Numbered schema migrations, one folder per service, applied by `mesa migrate` before a service starts.

A migration is a file `NNNN_what.sql` (run as it is) or `NNNN_what.py` (a module with `DDL`, a tuple of
SQL texts or Paths run in order, and/or `upgrade(conn)` for what SQL alone cannot say, such as seed rows
built from code). Each one runs once per database, in its own transaction, and is recorded in
`schema_migrations` in that same transaction. A session-level advisory lock is held for the whole run,
so two runners (two `mesa migrate`, or a deploy beside a test) never race: the second waits, then finds
every file applied and does nothing. Services only check the version at boot (`require_current`);
they never apply DDL themselves, so N gunicorn workers never take DDL locks against each other's writes.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from . import pg

# One key for every runner of every service: advisory locks live in the database they were taken
# in, so runners on different databases never wait for each other.
LOCK_ID = 727375
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(sql|py)$")

VERSIONS_DDL = """
create table if not exists schema_migrations (
    version    int         primary key,
    name       text        not null,
    applied_at timestamptz not null default now()
)"""


@dataclass(frozen=True)
class Migration:
    """One numbered file of a service's migrations folder."""

    version: int
    name: str
    path: Path


class NotMigrated(RuntimeError):
    """The database is behind the code: `mesa migrate SERVICE` has not been run."""


def discover(directory: Path) -> list[Migration]:
    """The migrations of `directory` in order; refuses two files with one number or a gap."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        match = _NAME.match(path.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations numbered {version:04d} in {directory}: "
                             f"{found[version].path.name}, {path.name}")
        found[version] = Migration(version, path.stem, path)
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations in {directory} must be numbered 0001, 0002, … without gaps: {versions}")
    return [found[v] for v in versions]


def expected_version(directory: Path) -> int:
    """The version a database has once every migration of `directory` is applied."""
    migrations = discover(directory)
    return migrations[-1].version if migrations else 0


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"_mesa_migration_{path.parent.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    if migration.path.suffix == ".sql":
        conn.execute(migration.path.read_text())
        return
    module = _module(migration.path)
    for item in getattr(module, "DDL", ()):
        conn.execute(item.read_text() if isinstance(item, Path) else item)
    if hasattr(module, "upgrade"):
        module.upgrade(conn)


def ddl_after(directory: Path, version: int = 1) -> list:
    """The DDL of every migration numbered after `version` (SQL files whole, a module's `DDL`), in order:
    what a scratch schema needs beyond the baseline to look like a migrated database (`mesa rebuild`)."""
    items: list = []
    for migration in discover(directory):
        if migration.version <= version:
            continue
        if migration.path.suffix == ".sql":
            items.append(migration.path.read_text())
        else:
            items.extend(getattr(_module(migration.path), "DDL", ()))
    return items


def applied_versions(conn: psycopg.Connection) -> set[int]:
    """The versions recorded in this database (none when it was never migrated)."""
    if conn.execute("select to_regclass('schema_migrations') as t").fetchone()["t"] is None:
        return set()
    return {row["version"] for row in conn.execute("select version from schema_migrations")}


def migrate(url: str, directory: Path) -> list[int]:
    """Apply every migration of `directory` not yet recorded in the database at `url`; the versions applied."""
    done = []
    with pg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LOCK_ID,))
        try:
            conn.execute(VERSIONS_DDL)
            applied = applied_versions(conn)
            for migration in discover(directory):
                if migration.version in applied:
                    continue
                with conn.transaction():
                    _apply(conn, migration)
                    conn.execute("insert into schema_migrations (version, name) values (%s, %s)",
                                 (migration.version, migration.name))
                done.append(migration.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (LOCK_ID,))
    return done


def current_version(url: str) -> int:
    """The highest version applied to the database at `url` (0 when never migrated)."""
    with pg.connect(url) as conn:
        return max(applied_versions(conn), default=0)


def require_current(url: str, directory: Path, service: str) -> None:
    """Refuse (NotMigrated) unless every migration of `directory` is applied to the database at `url`.

    A database ahead of the code is accepted: migrations add before code uses, so the previous
    release keeps running while the next one's migrations are applied.
    """
    with pg.connect(url) as conn:
        applied = applied_versions(conn)
    missing = [m.name for m in discover(directory) if m.version not in applied]
    if missing:
        raise NotMigrated(
            f"La base de datos de {service} no está migrada (faltan: {', '.join(missing)}): ejecute "
            f"`mesa migrate {service}` antes de arrancar el servicio / {service}'s database is not migrated "
            f"(missing: {', '.join(missing)}): run `mesa migrate {service}` before starting the service")
