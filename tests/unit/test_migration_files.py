"""The migrations folder as the runner reads it (no database): order, numbering, DDL for rebuilds."""
from __future__ import annotations

from helpdesk_shared import migrations


def test_a_rebuild_gets_the_ddl_of_every_migration_after_the_baseline_in_order(tmp_path):
    (tmp_path / "0001_initial.sql").write_text("create table if not exists a (n int);")
    (tmp_path / "0002_b.sql").write_text("create table b (n int);")
    (tmp_path / "0003_c.py").write_text('DDL = ("create table c (n int)",)\n\ndef upgrade(conn):\n    raise AssertionError\n')
    (tmp_path / "README.md").write_text("not a migration")
    assert migrations.ddl_after(tmp_path) == ["create table b (n int);", "create table c (n int)"]
    assert [m.name for m in migrations.discover(tmp_path)] == ["0001_initial", "0002_b", "0003_c"]
    assert migrations.expected_version(tmp_path) == 3


def test_every_service_with_a_database_has_a_baseline_migration():
    import intake.migrations
    import notifier.migrations
    import query.migrations
    import sla.migrations
    for folder in (intake.migrations, query.migrations, sla.migrations, notifier.migrations):
        assert migrations.discover(folder.DIRECTORY)[0].name == "0001_initial"
