"""What the benches share: the machine they ran on, /proc CPU readers, printing and saving figures.

The benches run as scripts (`python bench/x.py`), so `bench/` is on sys.path and they
`from machine import ...`.
"""
from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
TICK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the machine

def machine_info(packages: tuple[str, ...] = (), pg_settings: tuple[str, ...] = (), stack: bool = True) -> dict:
    """CPU, cores, RAM, kernel, load, Python; `stack`: PostgreSQL (+ `pg_settings`), Kafka; `packages`' versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem_kb = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
    info = {"cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
            "cores": len(os.sched_getaffinity(0)), "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "implementation": platform.python_implementation()}
    if stack:
        import psycopg

        from helpdesk_shared.localstack import PG_BASE_URL
        try:
            with psycopg.connect(f"{PG_BASE_URL}/postgres", connect_timeout=5) as conn:
                info["postgresql"] = conn.execute("show server_version").fetchone()[0]
                for setting in pg_settings:
                    info[f"pg_{setting}"] = conn.execute(f"show {setting}").fetchone()[0]
        except psycopg.Error as exc:
            info["postgresql"] = f"unknown ({exc.__class__.__name__})"
        pom = ROOT / "infra" / "kafka" / "pom.xml"
        found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text()) if pom.exists() else None
        info["kafka"] = found.group(1) if found else "unknown"
    for package in packages:
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = "unknown"
    return info


# --------------------------------------------------------------------------- /proc CPU readers

def machine_ticks() -> tuple[float, float]:
    """(total, idle) CPU seconds of the whole machine so far, from /proc/stat."""
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(cpu) / TICK, (cpu[3] + cpu[4]) / TICK


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process (all its threads) in seconds, from /proc/<pid>/stat; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def command_line(pid: int) -> str:
    """A process's command line shortened to 90 characters, "(exited)" once it is gone."""
    try:
        text = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        text = "(exited)"
    return text[:90]


# --------------------------------------------------------------------------- printing and saving

def print_fields(title: str, data: dict, width: int = 18) -> None:
    """Print a title, then one `key value` line per item, keys padded to `width`."""
    print(title)
    for key, value in data.items():
        print(f"  {key:{width}} {value}")


def print_block(title: str, data) -> None:
    """Print figures as indented JSON under a `== title ==` line."""
    print(f"\n== {title} ==")
    print(json.dumps(data, indent=2, ensure_ascii=False))


def save_results(name: str, data: dict) -> Path:
    """Write `data` as JSON to bench/results/<name>-<timestamp>.json, print and return that path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nsaved {path.relative_to(ROOT)}")
    return path
