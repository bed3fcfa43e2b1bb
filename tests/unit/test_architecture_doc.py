"""docs/architecture.md cannot drift silently: every file it names exists, every `file::name` defines name."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

# `path` or `path::name` in backticks; `::name` alone means the last path named on the same line.
_CODE = re.compile(r"`([^`]+)`")


def references(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, path, name or None) for every file reference of the note."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        last_path = None
        for token in _CODE.findall(line):
            path, _, name = token.partition("::")
            if not path and name and last_path:
                found.append((number, last_path, name))
                continue
            if "/" not in path or "<" in path or " " in path:
                continue  # not a file of the repository (a topic, a command, a placeholder)
            last_path = path
            found.append((number, path, name or None))
    return found


def defines(source: str, name: str) -> bool:
    """Whether Python source defines `name` (a function, class, method or module-level assignment)."""
    return re.search(rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]",
                     source, re.MULTILINE) is not None


def test_the_readme_links_the_architecture_note():
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()


def test_the_note_names_many_files_so_this_check_means_something():
    refs = references(DOC.read_text())
    assert len({path for _, path, _ in refs}) >= 40
    assert sum(1 for _, _, name in refs if name) >= 60


def test_every_file_the_architecture_note_names_exists():
    missing = [f"line {n}: {path}" for n, path, _ in references(DOC.read_text()) if not (ROOT / path).exists()]
    assert not missing, "docs/architecture.md names files that do not exist:\n" + "\n".join(missing)


def test_every_function_the_architecture_note_names_is_defined_in_its_file():
    wrong = [f"line {n}: {path}::{name}" for n, path, name in references(DOC.read_text())
             if name and (ROOT / path).is_file() and not defines((ROOT / path).read_text(), name)]
    assert not wrong, "docs/architecture.md names functions its files do not define:\n" + "\n".join(wrong)


def test_a_renamed_file_or_function_is_caught():
    text = "see `services/intake/intake/domain.py::parse_subject`, `::no_such_rule` and `services/gone.py`\n"
    refs = references(text)
    assert refs == [(1, "services/intake/intake/domain.py", "parse_subject"),
                    (1, "services/intake/intake/domain.py", "no_such_rule"), (1, "services/gone.py", None)]
    source = (ROOT / "services/intake/intake/domain.py").read_text()
    assert defines(source, "parse_subject") and not defines(source, "no_such_rule")
    assert not (ROOT / "services/gone.py").exists()
