"""Mesa's services as local processes on fresh databases and prefixed topics (tests, bench).

Needs `bin/stack up` (PostgreSQL and Kafka). Each LocalStack gets its own databases and
its own topic prefix, so runs sharing one broker and one server never see each other.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
import requests

from . import keys
from .config import DEFAULT_KAFKA, env
from .topics import create_topics

# When PostgreSQL runs in a container (tests/infra_choice.py), the tests' conftest rebinds this
# (and the variable) before the first test module that needs it is imported.
PG_BASE_URL = env("PG_BASE_URL", "postgresql://mesa:mesa@127.0.0.1:5432")
# The office phones of the test stacks: the notifier mails them and the portal shows them (the
# overdue notice, canned answers' {telefonos}); both must say the same numbers.
OFFICE_PHONES = {"OFFICE_PHONES_SOPORTE": "+58 212 555 0100, +58 212 555 0101"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(name: str) -> str:
    """Create an empty database; return its URL."""
    with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return f"{PG_BASE_URL}/{name}"


def drop_database(name: str) -> None:
    """Drop a database, ending its remaining sessions."""
    with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def wait_until(predicate, seconds: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + seconds
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds} s waiting for {what}{exited_processes()}")
        time.sleep(interval)


def exited_processes() -> str:
    """What a timed-out wait adds to its message: the started stacks' processes that are no longer
    running (a test stopped by a test is listed too), each with the last line of its log."""
    gone = []
    for stack in STARTED:
        for p in stack.processes.values():
            if p.popen is not None and not p.running:
                last = ""
                if p.log_path.exists():
                    lines = p.log_path.read_text(errors="replace").strip().splitlines()
                    last = lines[-1][:400] if lines else ""
                gone.append(f"{p.name} exited with {p.popen.returncode}: {last}")
    return f" (processes not running: {'; '.join(gone)})" if gone else ""


@dataclass
class Process:
    """A started service process and where its output goes."""

    name: str
    argv: list[str]
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        """Start (or restart) the process."""
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's workers too) and reap it."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return bool(self.popen) and self.popen.poll() is None


def stop_processes(processes: list[Process], patience_s: float) -> list[str]:
    """SIGTERM every running process at once, wait up to `patience_s` for all of them, SIGKILL (with
    its process group) each one still running; return the names of those that had to be killed."""
    running = [p for p in processes if p.running]
    for p in running:
        try:
            os.killpg(p.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # exited meanwhile
    deadline = time.monotonic() + patience_s
    stuck = []
    for p in running:
        try:
            p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stuck.append(p.name)
            p.kill(signal.SIGKILL)
    return stuck


STARTED: list["LocalStack"] = []  # stacks running in this process (tests check their logs for 500s)
# How long a stack's processes get to exit after SIGTERM (all signalled at once) before they are killed.
STOP_PATIENCE_S = 30.0


@dataclass(eq=False)
class LocalStack:
    """intake (API, relay, SLA-decision consumer), query (consumer + API) and sla (timers,
    relay, API) on their own databases and topics."""

    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    # Read when a stack is made, not at import: the test fixtures may point it at a container.
    kafka: str = field(default_factory=lambda: env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA))
    # This run's own secrets, one per purpose (helpdesk_shared.keys), never a fixed value.
    secrets: dict = field(default_factory=keys.fresh)
    gunicorn_workers: int = 2
    processes: dict[str, Process] = field(default_factory=dict)
    extra_env: dict = field(default_factory=dict)
    with_notifier: bool = False  # needs SMTP_HOST/SMTP_PORT of a server the caller runs, in extra_env
    with_portal: bool = False    # the web pages (no database of its own), at urls["portal"]
    # Fills intake's fresh database (given its URL) before the processes start, e.g. intake.demo.load.
    # An argument, not an import: the kernel imports no service (issue 10).
    load_demo: Callable[[str], None] | None = None
    # Every process runs on one driven clock (helpdesk_shared.clock) that `advance_clock` moves on:
    # tests that need a deadline to pass move the clock past it instead of waiting out a window.
    driven_clock: bool = False

    def __post_init__(self):
        self.prefix = f"t{self.run_id}."
        services = ("intake", "query", "sla") + (("notifier",) if self.with_notifier else ())
        self.databases = {s: f"mesa_t{self.run_id}_{s}" for s in services}
        self.inbound_port = free_port() if self.with_notifier else None
        self.urls: dict[str, str] = {}
        self.clock_file = self.workdir / "clock" if self.driven_clock else None

    def env_for(self, service: str) -> dict:
        """The environment a service process gets (flat upper-case variables)."""
        return {**os.environ, "DATABASE_URL": f"{PG_BASE_URL}/{self.databases[service]}",
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka, **self.secrets,
                "KAFKA_TOPIC_PREFIX": self.prefix, "ATTACHMENTS_DIR": str(self.workdir / "attachments"),
                "PYTHONUNBUFFERED": "1", **self._notifier_env(), **self._clock_env(), **self.extra_env}

    def _clock_env(self) -> dict:
        from .clock import CLOCK_FILE_VAR
        return {CLOCK_FILE_VAR: str(self.clock_file)} if self.clock_file else {}

    def clock(self):
        """The stack's clock as its processes read it (the wall clock unless `driven_clock`)."""
        from .clock import DrivenClock, utc_now
        return DrivenClock(self.clock_file)() if self.clock_file else utc_now()

    def advance_clock(self, **delta) -> None:
        """Move every process's clock forward by a timedelta's keyword arguments (needs `driven_clock`)."""
        from datetime import timedelta
        from .clock import advance
        if not self.clock_file:
            raise RuntimeError("advance_clock needs LocalStack(driven_clock=True)")
        advance(self.clock_file, timedelta(**delta).total_seconds())

    def _notifier_env(self) -> dict:
        if not self.with_notifier:
            return {}
        # Links in mails open the portal's pages when it runs (intake's own pages otherwise).
        public_url = self.urls.get("portal") or self.urls.get("intake", "")
        return {"INTAKE_URL": self.urls.get("intake", ""), "PUBLIC_URL": public_url,
                "INBOUND_SMTP_HOST": "127.0.0.1", "INBOUND_SMTP_PORT": str(self.inbound_port),
                "REPLY_DOMAIN": "mesa.test", "STAFF_ADDRESS": "equipo@mesa.test",
                "SUPERVISOR_ADDRESS": "supervision@mesa.test", "QUEUE_ADDRESS_SOPORTE": "soporte@mesa.test",
                "QUEUE_ADDRESS_IMPLANTACIONES": "implantaciones@mesa.test",
                "ONCALL_ADDRESS_SOPORTE": "guardia-soporte@mesa.test",
                "ONCALL_ADDRESS_IMPLANTACIONES": "guardia-implantaciones@mesa.test",
                **OFFICE_PHONES, "SMTP_RETRY_MAX_SECONDS": "2"}

    def start(self) -> "LocalStack":
        """Create databases and topics, load demo users (load_demo), start all four processes, wait for health."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.clock_file:
            self.clock_file.touch()  # no jump yet: the wall clock until a test moves it
        for name in self.databases.values():
            create_database(name)
        create_topics(self.kafka, prefix=self.prefix)
        # `mesa migrate` first, as bin/up and compose do: the services only check the version at boot.
        from .cli import migrate_services
        migrate_services({s: f"{PG_BASE_URL}/{name}" for s, name in self.databases.items()})
        if self.load_demo is not None:
            self.load_demo(self.env_for("intake")["DATABASE_URL"])
        py = sys.executable
        apps = [("intake", "intake.app:create_app()"), ("query", "query.app:create_app()"),
                ("sla", "sla.app:create_app()")] + ([("notifier", "notifier.app:create_app()")]
                                                    if self.with_notifier else [])
        for service, _ in apps:
            self.urls[service] = f"http://127.0.0.1:{free_port()}"
        if self.with_portal:
            self.urls["portal"] = f"http://127.0.0.1:{free_port()}"  # before the notifier's env names it
        for service, app in apps:
            self._add(service, service, [py, "-m", "gunicorn", "-c", "python:helpdesk_shared.gunicorn_conf",
                                         "-k", "helpdesk_shared.gunicorn_worker.JsonErrorWorker",
                                         "-w", str(self.gunicorn_workers),
                                         "-b", self.urls[service].removeprefix("http://"), app])
        self._add("relay", "intake", [py, "-m", "intake.relay"])
        self._add("query-consumer", "query", [py, "-m", "query.consumer"])
        self._add("intake-sla-consumer", "intake", [py, "-m", "intake.sla_consumer"])
        self._add("sla-timers", "sla", [py, "-m", "sla.consumer"])
        self._add("sla-relay", "sla", [py, "-m", "sla.relay"])
        if self.with_notifier:
            for name, module in (("notifier-consumer", "notifier.consumer"), ("notifier-sender", "notifier.sender"),
                                 ("notifier-relay", "notifier.relay"), ("notifier-inbound", "notifier.inbound_server")):
                self._add(name, "notifier", [py, "-m", module])
        if self.with_portal:
            self._add_portal()
        for p in self.processes.values():
            p.start()
        for service, url in self.urls.items():
            wait_until(lambda: self._healthy(url), 60, f"{service} /healthz")
        STARTED.append(self)
        return self

    def _add_portal(self) -> None:
        env = {**os.environ, "PORTAL_SESSION_SECRET": self.secrets["PORTAL_SESSION_SECRET"],
               "PORTAL_FORWARD_SECRET": self.secrets["PORTAL_FORWARD_SECRET"],
               "PUBLIC_URL": self.urls["portal"], "INTAKE_URL": self.urls["intake"], "QUERY_URL": self.urls["query"],
               "SLA_URL": self.urls["sla"], "NOTIFIER_URL": self.urls.get("notifier", "http://127.0.0.1:9"),
               "PYTHONUNBUFFERED": "1", **OFFICE_PHONES, **self._clock_env(), **self.extra_env}
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:helpdesk_shared.gunicorn_conf",
                "-k", "helpdesk_shared.gunicorn_worker.JsonErrorWorker",
                "-w", str(self.gunicorn_workers), "-b", self.urls["portal"].removeprefix("http://"),
                "portal.app:create_app()"]
        self.processes["portal"] = Process("portal", argv, env, self.workdir / "portal.log")

    def _add(self, name: str, service: str, argv: list[str]) -> None:
        self.processes[name] = Process(name, argv, self.env_for(service), self.workdir / f"{name}.log")

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def login(self, email: str, password: str = "mesa-demo") -> dict:
        """Authorization headers for a demo user."""
        r = requests.post(f"{self.urls['intake']}/api/auth/login", json={"email": email, "password": password},
                          timeout=10)
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def unhandled_errors(self) -> list[str]:
        """Lines of the services' logs that record a 500 (an unhandled error): each is a bug."""
        from .web import UNHANDLED_MARKER
        found = []
        for p in self.processes.values():
            if p.log_path.exists():
                found += [f"{p.name}: {line[:300]}" for line in p.log_path.read_text(errors="replace").splitlines()
                          if UNHANDLED_MARKER in line]
        return found

    def stop(self) -> None:
        """Stop every process and drop the databases and topics."""
        stuck = stop_processes(list(self.processes.values()), STOP_PATIENCE_S)
        if self in STARTED:
            STARTED.remove(self)
        for name in self.databases.values():
            drop_database(name)
        self.delete_topics()
        if stuck:
            raise RuntimeError(f"{', '.join(stuck)} did not stop within {STOP_PATIENCE_S} s of SIGTERM (killed)")

    def delete_topics(self) -> None:
        """Delete this run's topics."""
        from kafka.admin import KafkaAdminClient
        from .topics import TOPICS
        admin = KafkaAdminClient(bootstrap_servers=self.kafka)
        try:
            admin.delete_topics([self.prefix + t.name for t in TOPICS])
        finally:
            admin.close()
