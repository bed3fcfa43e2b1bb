"""The suite's own layout: pytest imports test modules by basename (rootdir-relative, no packages),
so two test files with one name in different folders stop the whole run at collection (.ci/run
failed so once, while each folder alone passed)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename():
    where = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name.startswith("test_") or path.name == "conftest.py":
            where[path.name].append(str(path.relative_to(TESTS)))
    shared = {name: paths for name, paths in where.items() if len(paths) > 1 and name != "conftest.py"}
    assert shared == {}
