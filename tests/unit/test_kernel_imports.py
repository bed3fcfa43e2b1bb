"""The kernel (shared/helpdesk_shared) stands alone: it imports no service, and its modules
import each other without a circle (issue 10 item 4)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parents[2] / "shared" / "helpdesk_shared"
SERVICES = {"intake", "query", "sla", "notifier", "portal"}


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too), relative ones resolved."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # `from .x import y` or `from . import y` inside the kernel
                base = f"helpdesk_shared.{node.module}" if node.module else "helpdesk_shared"
                names.add(base)
                if not node.module:
                    names |= {f"helpdesk_shared.{alias.name}" for alias in node.names}
            else:
                names.add(node.module)
    return names


def kernel_graph() -> dict[str, set[str]]:
    """Kernel module -> the kernel modules it imports."""
    graph = {}
    for path in KERNEL.glob("*.py"):
        module = "helpdesk_shared" if path.stem == "__init__" else f"helpdesk_shared.{path.stem}"
        graph[module] = {n for n in imported_names(path) if n.startswith("helpdesk_shared.")}
    return graph


def test_no_kernel_module_imports_a_service():
    offenders = sorted(f"{path.name}: {name}" for path in KERNEL.glob("*.py") for name in imported_names(path)
                       if name.split(".")[0] in SERVICES)
    assert offenders == []


def test_envelope_and_schemas_do_not_import_each_other_in_a_circle():
    graph = kernel_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo += graph.get(here, ())
        return False

    assert not (reaches("helpdesk_shared.envelope", "helpdesk_shared.schemas")
                and reaches("helpdesk_shared.schemas", "helpdesk_shared.envelope"))


@pytest.mark.parametrize("first", ["helpdesk_shared.envelope", "helpdesk_shared.schemas"])
def test_envelope_and_schemas_each_import_alone_in_a_fresh_interpreter(first):
    # Each module, imported first in a new process, must work and give a usable codec.
    code = (f"import {first}\n"
            "from datetime import datetime, timezone\n"
            "from helpdesk_shared.envelope import SYSTEM, from_json_bytes, to_json_bytes, Envelope\n"
            "from helpdesk_shared import schemas\n"
            "assert schemas.Envelope is Envelope\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
