"""Intake's seams hold (issue 10 item 3): the views hold no SQL and no retry loop, the command
handlers reach state only through the unit of work, and the in-memory fakes need no database."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

INTAKE = Path(__file__).resolve().parents[2] / "services" / "intake" / "intake"
VIEWS = ("api.py", "admin_api.py")
HANDLERS = ("handlers.py", "admin.py", "rules_page.py")


def _tree(name: str) -> ast.Module:
    return ast.parse((INTAKE / name).read_text(), filename=name)


def _calls(tree: ast.Module) -> set[str]:
    """Names of the attributes called anywhere in a module (`x.execute(...)` -> "execute")."""
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", VIEWS + HANDLERS)
def test_views_and_handlers_run_no_sql_and_open_no_connection_of_their_own(name):
    tree = _tree(name)
    assert not _calls(tree) & {"execute", "executemany", "rollback", "cursor"}
    if name in VIEWS:
        assert "commit" not in _calls(tree)  # handlers may commit their unit of work (a counted failure)
    assert "psycopg" not in _imports(tree)
    connections = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "connection"]
    assert len(connections) <= (1 if name == "api.py" else 0)  # api's `_run` is the one way in


@pytest.mark.parametrize("name", VIEWS)
def test_views_hold_no_retry_loop_and_leave_version_conflicts_to_the_unit_of_work_runner(name):
    tree = _tree(name)
    source = (INTAKE / name).read_text()
    assert "VersionConflict" not in source
    # `for attempt in range(3): try: ...` was the retry each view wrote for itself.
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.For) and isinstance(node.iter, ast.Call)
                and getattr(node.iter.func, "id", None) == "range" and any(isinstance(n, ast.Try)
                                                                           for n in ast.walk(node))]


def test_the_in_memory_fakes_and_the_ports_import_no_database_driver():
    for name in ("memory.py", "unit_of_work.py"):
        assert not _imports(_tree(name)) & {"psycopg", "psycopg_pool", "flask", "kafka"}, name
