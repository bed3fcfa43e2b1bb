"""Migrations as a step (issue 10 item 5): numbered files per service, applied once each by
`mesa migrate`, giving exactly the schema the services used to create at boot; services refuse an
un-migrated database instead of applying DDL in every worker."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpdesk_shared import migrations, outbox, pg, revocations

from configs import intake_config, notifier_config, query_config, sla_config

SERVICES = ("intake", "query", "sla", "notifier")


def _directory(service: str) -> Path:
    module = __import__(f"{service}.migrations", fromlist=["DIRECTORY"])
    return module.DIRECTORY


def _old_install(service: str, url: str) -> None:
    """A fresh install the way the services did it at boot before migrations (apply_schema + seed)."""
    if service == "intake":
        from intake.app import SCHEMA
        pg.apply_schema(url, outbox.DDL, SCHEMA)
    elif service == "query":
        from query.app import SCHEMA
        pg.apply_schema(url, SCHEMA, revocations.DDL)
    elif service == "notifier":
        from notifier.store import SCHEMA
        pg.apply_schema(url, outbox.DDL, SCHEMA, revocations.DDL)
    else:
        from sla.store import SCHEMA, seed_defaults
        pg.apply_schema(url, outbox.DDL, SCHEMA, revocations.DDL)
        with pg.connect(url) as conn:
            seed_defaults(conn)


_BOOKKEEPING = ("schema_digests", "schema_migrations")


def _schema(url: str) -> dict:
    """Everything pg_catalog says about the public schema (and each table's row count, for seeds),
    without the tables that record how the schema was applied."""
    with pg.connect(url) as conn:
        def rows(query: str) -> list[tuple]:
            return sorted(tuple(r.values()) for r in conn.execute(query, (list(_BOOKKEEPING),)).fetchall())
        tables = rows("""select table_name, table_type from information_schema.tables
                         where table_schema = 'public' and table_name <> all(%s)""")
        snapshot = {
            "tables": tables,
            "columns": rows("""select table_name, column_name, ordinal_position, data_type, udt_name,
                                      character_maximum_length, is_nullable, column_default, is_identity
                               from information_schema.columns
                               where table_schema = 'public' and table_name <> all(%s)"""),
            "indexes": rows("""select tablename, indexname, indexdef from pg_indexes
                               where schemaname = 'public' and tablename <> all(%s)"""),
            "constraints": rows("""select t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid)
                                   from pg_constraint c join pg_class t on t.oid = c.conrelid
                                   join pg_namespace n on n.oid = t.relnamespace
                                   where n.nspname = 'public' and t.relname <> all(%s)"""),
            "triggers": rows("""select t.relname, g.tgname, pg_get_triggerdef(g.oid)
                                from pg_trigger g join pg_class t on t.oid = g.tgrelid
                                join pg_namespace n on n.oid = t.relnamespace
                                where not g.tgisinternal and n.nspname = 'public' and t.relname <> all(%s)"""),
            "functions": rows("""select p.proname, pg_get_functiondef(p.oid) from pg_proc p
                                 join pg_namespace n on n.oid = p.pronamespace
                                 where n.nspname = 'public' and p.proname <> all(%s)"""),
            "views": rows("""select viewname, definition from pg_views
                             where schemaname = 'public' and viewname <> all(%s)"""),
            "sequences": rows("""select sequence_name, data_type, start_value, increment
                                 from information_schema.sequences
                                 where sequence_schema = 'public' and sequence_name <> all(%s)"""),
            "extensions": sorted(r["extname"] for r in conn.execute("select extname from pg_extension")),
        }
        snapshot["rows"] = {name: conn.execute(f'select count(*) as n from "{name}"').fetchone()["n"]
                            for name, kind in tables if kind == "BASE TABLE"}
    return snapshot


@pytest.mark.parametrize("service", SERVICES)
def test_every_migration_on_an_empty_database_gives_the_schema_of_a_fresh_install_the_old_way(
        fresh_database, service):
    old, new = fresh_database(service), fresh_database(service)
    _old_install(service, old)
    migrations.migrate(old, _directory(service))  # adopted at 0001, then brought up to date like any other
    applied = migrations.migrate(new, _directory(service))
    assert applied == list(range(1, migrations.expected_version(_directory(service)) + 1))
    expected, got = _schema(old), _schema(new)
    assert expected["tables"], "the old install created no table: the comparison would prove nothing"
    assert got == expected


@pytest.mark.parametrize("service", SERVICES)
def test_migrating_twice_applies_nothing_the_second_time(fresh_database, service):
    url = fresh_database(service)
    migrations.migrate(url, _directory(service))
    before = _schema(url)
    assert migrations.migrate(url, _directory(service)) == []
    assert _schema(url) == before
    assert migrations.current_version(url) == migrations.expected_version(_directory(service))


@pytest.mark.parametrize("service", SERVICES)
def test_a_database_made_the_old_way_is_adopted_by_recording_0001_without_changing_it(
        fresh_database, service, tmp_path):
    url = fresh_database(service)
    _old_install(service, url)
    before = _schema(url)
    first = next(m for m in migrations.discover(_directory(service)) if m.version == 1)
    (tmp_path / first.path.name).write_text(first.path.read_text())  # later migrations do change it
    assert migrations.migrate(url, tmp_path) == [1]
    assert _schema(url) == before


def test_two_concurrent_runners_apply_each_file_exactly_once(fresh_database, tmp_path):
    url = fresh_database("migr")
    # Not idempotent on purpose: a second run of either file would fail or add a row.
    (tmp_path / "0001_runs.sql").write_text("create table runs (version int not null); insert into runs values (1);"
                                            "select pg_sleep(0.3);")
    (tmp_path / "0002_again.sql").write_text("insert into runs values (2); select pg_sleep(0.3);")
    start, results, errors = threading.Barrier(2), [], []

    def run():
        start.wait()
        try:
            results.append(migrations.migrate(url, tmp_path))
        except Exception as error:  # noqa: BLE001 — the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(results) == [[], [1, 2]]
    with pg.connect(url) as conn:
        assert [r["version"] for r in conn.execute("select version from runs order by version")] == [1, 2]
        assert [r["version"] for r in conn.execute("select version from schema_migrations order by 1")] == [1, 2]


def test_a_failing_migration_leaves_nothing_of_itself_and_is_retried_next_time(fresh_database, tmp_path):
    url = fresh_database("migr")
    (tmp_path / "0001_ok.sql").write_text("create table ok (n int);")
    (tmp_path / "0002_broken.sql").write_text("create table half (n int); select no_such_function();")
    with pytest.raises(Exception):
        migrations.migrate(url, tmp_path)
    with pg.connect(url) as conn:
        assert conn.execute("select to_regclass('half') as t").fetchone()["t"] is None
    assert migrations.current_version(url) == 1
    (tmp_path / "0002_broken.sql").write_text("create table half (n int);")
    assert migrations.migrate(url, tmp_path) == [2]


def test_migration_files_numbered_twice_or_with_a_gap_are_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0003_c.sql").write_text("")
    with pytest.raises(ValueError, match="without gaps"):
        migrations.discover(tmp_path)
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(ValueError, match="two migrations numbered 0001"):
        migrations.discover(tmp_path)


def _create_app(service: str, url: str, tmp_path: Path):
    if service == "intake":
        from intake.app import create_app
        return create_app(intake_config(url, tmp_path / "attachments"))
    if service == "query":
        from query.app import create_app
        return create_app(query_config(url))
    if service == "sla":
        from sla.app import create_app
        return create_app(sla_config(url))
    from notifier.app import create_app
    return create_app(notifier_config(url))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_refuses_to_start_on_an_unmigrated_database_and_says_to_run_mesa_migrate(
        fresh_database, tmp_path, service):
    url = fresh_database(service)
    with pytest.raises(migrations.NotMigrated, match=f"mesa migrate {service}") as refused:
        _create_app(service, url, tmp_path)
    assert "no está migrada" in str(refused.value)
    with pg.connect(url) as conn:  # and it created nothing on the way
        assert conn.execute("select count(*) as n from pg_tables where schemaname = 'public'").fetchone()["n"] == 0


def test_mesa_migrate_brings_the_named_services_up_to_date_and_says_so(fresh_database, capsys):
    from helpdesk_shared import cli
    query, sla = fresh_database("query"), fresh_database("sla")
    with pytest.raises(SystemExit) as done:
        cli.main(["migrate", "query", "sla", "--database-url", f"query={query}", "--database-url", f"sla={sla}"])
    assert done.value.code == 0
    latest = migrations.discover(_directory("query"))[-1].version   # query's newest numbered file
    assert f"query: versión/version {latest:04d}" in capsys.readouterr().out
    for service, url in (("query", query), ("sla", sla)):
        migrations.require_current(url, _directory(service), service)  # does not raise
    with pytest.raises(SystemExit) as refused:
        cli.main(["migrate", "portal"])  # the portal has no database, so no migrations
    assert refused.value.code == 2


def test_mesa_migrate_without_a_service_names_every_service_with_a_database():
    from helpdesk_shared import cli
    assert cli.parser().parse_args(["migrate"]).service == []
