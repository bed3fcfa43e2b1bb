"""Fixtures on the real parts: fresh PostgreSQL databases, prefixed Kafka topics, local services.

Integration and end-to-end tests need PostgreSQL and Kafka: the local processes of `bin/stack up`
(bin/test does it) or, where a Docker engine answers, containers (tests/infra_choice.py decides;
MESA_INFRA=local|containers overrides).
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from intake import demo
from helpdesk_shared import localstack
from helpdesk_shared.config import DEFAULT_KAFKA, env
from helpdesk_shared.topics import TOPICS, create_topics

import infra_choice
from harness import Clock, login  # noqa: F401  (re-exported for fixtures below)

TESTS = Path(__file__).resolve().parent
_INFRA: dict = {}  # {"choice": "local"|"containers", "containers": infra_containers.Containers}


def pytest_collect_file(file_path, parent):
    """Before the first test module that needs servers is imported, choose local processes or containers.

    Here rather than in a fixture: test modules may read `localstack.PG_BASE_URL` when imported, and a
    run of tests/unit alone neither asks Docker nor starts anything.
    """
    if "choice" not in _INFRA and infra_choice.needs_servers(Path(file_path).resolve(), TESTS):
        _use_infra()


def _use_infra() -> None:
    import infra_containers
    choice = infra_choice.choose_infra(os.environ, infra_containers.docker_answers())
    _INFRA["choice"] = choice
    if choice == infra_choice.CONTAINERS:
        containers = _INFRA["containers"] = infra_containers.Containers().start()
        # Every fixture, LocalStack and service process started from here on finds the containers.
        os.environ.update(containers.env)
        localstack.PG_BASE_URL = containers.env["PG_BASE_URL"]


def pytest_unconfigure(config):
    """Stop the containers this session started (none on the local path)."""
    containers = _INFRA.pop("containers", None)
    if containers:
        containers.stop()


def pytest_terminal_summary(terminalreporter):
    """Say which PostgreSQL and Kafka the tests ran against."""
    if "choice" in _INFRA:
        where = ("containers (" + ", ".join((infra_choice.POSTGRES_IMAGE, infra_choice.KAFKA_IMAGE)) + ")"
                 if _INFRA["choice"] == infra_choice.CONTAINERS else "local processes (bin/stack up)")
        terminalreporter.write_line(f"PostgreSQL and Kafka: {where}")


@pytest.fixture(autouse=True)
def no_500_anywhere():
    """Every test fails when a service answered 500 while it ran (in-process apps or LocalStack logs)."""
    from helpdesk_shared import web
    web.UNHANDLED.clear()
    seen = {id(s): len(s.unhandled_errors()) for s in localstack.STARTED}
    yield
    errors = list(web.UNHANDLED)
    for s in localstack.STARTED:
        errors += s.unhandled_errors()[seen.get(id(s), 0):]
    web.UNHANDLED.clear()
    if errors:
        pytest.fail("a service answered 500 (a 500 is always a bug):\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def fresh_database():
    """A factory of empty databases, dropped after the test."""
    names = []

    def make(service: str) -> str:
        name = f"mesa_t{uuid.uuid4().hex[:8]}_{service}"
        names.append(name)
        return localstack.create_database(name)

    yield make
    for name in names:
        localstack.drop_database(name)


@pytest.fixture
def intake_db(fresh_database) -> str:
    """A fresh intake database with its schema and the demo users."""
    from intake import demo
    url = fresh_database("intake")
    demo.load(url)
    return url


@pytest.fixture
def notifier_db(fresh_database) -> str:
    """A fresh notifier database, migrated."""
    from notifier import store
    url = fresh_database("notifier")
    store.migrate(url)
    return url


@pytest.fixture
def query_db(fresh_database) -> str:
    """A fresh query database, migrated (as `mesa migrate query`)."""
    from query.app import migrate
    url = fresh_database("query")
    migrate(url)
    return url


@pytest.fixture
def kafka_bootstrap() -> str:
    """The broker started by bin/stack."""
    return env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)


@pytest.fixture
def topic_prefix(kafka_bootstrap):
    """This test's own copies of every topic (deleted afterwards)."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix=prefix)
    yield prefix
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([prefix + t.name for t in TOPICS])
    finally:
        admin.close()


@pytest.fixture
def stack(tmp_path):
    """intake and query running as real processes (gunicorn, relay, consumer) on fresh databases."""
    s = localstack.LocalStack(tmp_path / "stack", load_demo=demo.load).start()
    yield s
    s.stop()


@pytest.fixture
def now() -> datetime:
    """A fixed instant: a Wednesday, 10:00 in Caracas."""
    return datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock(now) -> Clock:
    """A settable clock starting at `now`."""
    return Clock(now)


@pytest.fixture
def intake_app(intake_db, tmp_path, clock):
    """Intake's Flask app in-process on a fresh database with the demo users (test_client, no gunicorn)."""
    from configs import intake_config
    from intake.app import create_app
    app = create_app(intake_config(intake_db, tmp_path / "attachments"), clock=clock)
    yield app
    app.extensions["intake"].pool.close()
