"""docker-compose.yml and the Dockerfile agree with the code they run.

No Docker engine is needed: the compose file is read as YAML and checked against the
services' real `Config.from_env`, their modules, bin/up, bin/stack, the Kafka settings of
infra/kafka and the topics of helpdesk_shared.topics.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import tomllib
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml

from helpdesk_shared import keys, topics
from helpdesk_shared.config import MissingSecret

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INIT_SQL = (ROOT / "infra" / "postgres" / "init.sql").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
# What a user's `.env` holds (made by `python -m helpdesk_shared.keys`, as .env.example says).
DOT_ENV = keys.fresh()

ONE_SHOTS = {"kafka-init", "demo-data", "migrate"}
# `migrate` names each service's database in its --database-url arguments, not in DATABASE_URL.
WITHOUT_DATABASE = {"kafka-init", "portal", "migrate"}  # the portal keeps nothing: it calls intake, query and sla
EXPECTED_DATABASE = {"intake": "mesa_intake", "intake-relay": "mesa_intake", "intake-cleanup": "mesa_intake",
                     "demo-data": "mesa_intake",
                     "intake-sla-consumer": "mesa_intake", "query": "mesa_query", "query-consumer": "mesa_query",
                     "sla": "mesa_sla", "sla-timers": "mesa_sla", "sla-relay": "mesa_sla",
                     "notifier": "mesa_notifier", "notifier-consumer": "mesa_notifier",
                     "notifier-sender": "mesa_notifier", "notifier-relay": "mesa_notifier",
                     "notifier-inbound": "mesa_notifier"}


# --- reading the compose file ---------------------------------------------------------------

def _interpolated(value) -> str:
    """A compose value with `${NAME:-default}` replaced by its default, as in a fresh checkout, and
    `${NAME:?message}` (required, no default) by the value a `.env` made as documented holds."""
    value = re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: DOT_ENV[m.group(1)], str(value))
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def _required_variables() -> set[str]:
    """Names the compose file interpolates as `${NAME:?...}`: compose refuses to start without them."""
    return set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))


def _environment(name: str) -> dict[str, str]:
    """The service's environment as a dict (compose accepts a mapping or a list of NAME=value)."""
    env = SERVICES[name].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _interpolated("" if value is None else value) for key, value in env.items()}


def _command(name: str) -> list[str]:
    """The service's command as argv."""
    command = SERVICES[name]["command"]
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _python_services() -> list[str]:
    """Services built from this repository's Dockerfile."""
    return sorted(name for name, service in SERVICES.items() if "build" in service)


def _gunicorn_services() -> list[str]:
    """Python services served by gunicorn."""
    return [name for name in _python_services() if _command(name)[0] == "gunicorn"]


def _gunicorn_option(argv: list[str], short: str, long: str) -> str:
    """The value of a gunicorn option given as `-b X`, `--bind X` or `--bind=X`."""
    for i, arg in enumerate(argv):
        if arg in (short, long):
            return argv[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{long} missing from {argv}")


def _gunicorn_target(argv: list[str]) -> tuple[str, str]:
    """(module, factory) of a gunicorn app path such as `intake.app:create_app()`."""
    match = re.fullmatch(r"([\w.]+):(\w+)\(\)", argv[-1])
    assert match, f"{argv[-1]!r} is not a `module:factory()` app path"
    return match.group(1), match.group(2)


def _module_of(name: str) -> str:
    """The Python module a service runs: the gunicorn app module or the `python -m` module."""
    argv = _command(name)
    if argv[0] == "gunicorn":
        return _gunicorn_target(argv)[0]
    assert argv[:2] == ["python", "-m"], f"{name}: expected `python -m module` or gunicorn, got {argv}"
    return argv[2]


def _config_class(name: str):
    """The `Config` of the service's package (`intake.relay` -> intake.config.Config), or None."""
    package = _module_of(name).split(".")[0]
    if importlib.util.find_spec(f"{package}.config") is None:
        return None
    return getattr(importlib.import_module(f"{package}.config"), "Config", None)


def _depends_on(name: str) -> dict[str, str]:
    """{service: condition} of a service's depends_on (the short list form means service_started)."""
    deps = SERVICES[name].get("depends_on") or {}
    if isinstance(deps, list):
        return {dep: "service_started" for dep in deps}
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in deps.items()}


def _healthcheck_text(name: str) -> str:
    """The healthcheck command of a service as one string."""
    test = SERVICES[name]["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def _published(name: str) -> dict[int, int]:
    """{container port: host port} of a service's `ports`."""
    published = {}
    for entry in SERVICES[name].get("ports", []):
        parts = str(entry).split(":")
        published[int(parts[-1])] = int(parts[-2])
    return published


# --- what Config.from_env really reads ------------------------------------------------------

class _RecordingEnviron(dict):
    """An environment that answers every name with a numeric sentinel of its own and records the names read."""

    def __init__(self):
        super().__init__()
        self.read: list[str] = []

    def _sentinel(self, name: str) -> str:
        if name not in self.read:
            self.read.append(name)
        if name in DOT_ENV:  # a secret must be a usable one to be read at all
            return DOT_ENV[name]
        return str(900_001 + self.read.index(name))  # numeric, so int(...) fields parse too

    def get(self, name, default=None):
        return self._sentinel(name)

    def __getitem__(self, name):
        return self._sentinel(name)

    def __contains__(self, name):
        self._sentinel(name)
        return True


def _variables_read(config_class) -> set[str]:
    """The environment variables `config_class.from_env()` reads (os.environ.get, [], getenv all count)."""
    environ = _RecordingEnviron()
    with mock.patch.object(os, "environ", environ):
        config = config_class.from_env()
    def flat(value):
        if isinstance(value, dict):
            return [x for v in value.values() for x in flat(v)]
        if isinstance(value, (tuple, list)):
            return [x for v in value for x in flat(v)]
        return [value]

    kept = flat(list(vars(config).values()))
    values = {str(v) for v in kept} | {str(int(v)) for v in kept if isinstance(v, float) and v.is_integer()}
    flags = {name for name, v in vars(config).items() if isinstance(v, bool)}  # parsed, not kept as text
    unused = [n for n in environ.read if environ._sentinel(n) not in values
              and not any(n.lower().endswith(f) for f in flags)]
    assert not unused, f"{config_class.__module__}.Config reads {unused} but keeps none of their values"
    return set(environ.read)


# --- the tests ------------------------------------------------------------------------------

def test_the_stack_has_every_service_it_promises():
    assert {"postgres", "kafka", "kafka-init", "intake", "intake-relay", "intake-sla-consumer", "query",
            "query-consumer", "sla", "sla-timers", "sla-relay", "demo-data", "mailpit"} <= set(SERVICES)
    assert set(EXPECTED_DATABASE) | WITHOUT_DATABASE == set(_python_services())


@pytest.mark.parametrize("name", _python_services())
def test_every_python_service_sets_exactly_the_variables_its_config_reads(name):
    config_class = _config_class(name)
    expected = _variables_read(config_class) if config_class else set()
    assert set(_environment(name)) == expected


@pytest.mark.parametrize("name", [n for n in _python_services() if _config_class(n)])
def test_the_compose_values_make_a_valid_config(name):
    env = _environment(name)
    with mock.patch.dict(os.environ, env, clear=True):
        config = _config_class(name).from_env()
    if name in WITHOUT_DATABASE:  # the portal reaches the others over HTTP, by their compose names
        assert {config.intake_url, config.query_url, config.sla_url} == {
            "http://intake:8001", "http://query:8002", "http://sla:8003"}
        return
    assert config.database_url == env["DATABASE_URL"]
    assert config.kafka_bootstrap_servers == env["KAFKA_BOOTSTRAP_SERVERS"]


def test_intake_processes_use_mesa_intake_and_query_processes_use_mesa_query():
    for name, database in EXPECTED_DATABASE.items():
        assert urlsplit(_environment(name)["DATABASE_URL"]).path == "/" + database, name
        assert database == "mesa_" + _module_of(name).split(".")[0], name


def test_every_database_the_services_use_is_created_by_the_postgres_init_script():
    created = {m.group(1): m.group(2)
               for m in re.finditer(r"create\s+database\s+(\w+)\s+owner\s+(\w+)", INIT_SQL, re.I)}
    postgres_env = _environment("postgres")
    for name in _python_services():
        url = _environment(name).get("DATABASE_URL")
        if url is None:
            continue
        parts = urlsplit(url)
        assert parts.hostname == "postgres" and (parts.port or 5432) == 5432, name
        assert (parts.username, parts.password) == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"])
        assert parts.path.lstrip("/") in created, f"{name} uses {parts.path}, which init.sql does not create"
    assert set(created.values()) == {postgres_env["POSTGRES_USER"]}
    mounts = [str(v) for v in SERVICES["postgres"]["volumes"]]
    assert any(m.startswith("./infra/postgres/init.sql:/docker-entrypoint-initdb.d/") for m in mounts)


def test_init_script_creates_the_same_databases_as_bin_stack():
    stack = (ROOT / "bin" / "stack").read_text()
    databases = re.search(r'DATABASES=\$\{MESA_DATABASES:-"([^"]+)"\}', stack).group(1).split()
    assert set(re.findall(r"create\s+database\s+(\w+)", INIT_SQL, re.I)) == set(databases)


def test_published_ports_match_bin_up_defaults_and_the_gunicorn_binds():
    up = (ROOT / "bin" / "up").read_text()
    defaults = {var: int(port) for var, port in re.findall(r"^(\w+_PORT)=\$\{\1:-(\d+)\}", up, re.M)}
    port_of_app = {app: defaults[var] for var, app in
                   re.findall(r"gunicorn [^\n]*-b \"127\.0\.0\.1:\$(\w+)\" '([\w.]+:\w+\(\))'", up)}
    assert port_of_app == {"portal.app:create_app()": 8000, "intake.app:create_app()": 8001, "query.app:create_app()": 8002,
                           "sla.app:create_app()": 8003, "notifier.app:create_app()": 8004}
    served = {}
    for name in _gunicorn_services():
        argv = _command(name)
        port = port_of_app[argv[-1]]
        assert _gunicorn_option(argv, "-b", "--bind") == f"0.0.0.0:{port}", name
        assert _published(name) == {port: port}, name
        served[argv[-1]] = name
    assert set(served) == set(port_of_app)


@pytest.mark.parametrize("name", _gunicorn_services())
def test_gunicorn_app_path_builds_an_app_that_serves_the_healthcheck(name):
    argv = _command(name)
    module_name, factory_name = _gunicorn_target(argv)
    factory = getattr(importlib.import_module(module_name), factory_name)
    port = _gunicorn_option(argv, "-b", "--bind").rsplit(":", 1)[1]
    healthcheck = _healthcheck_text(name)
    assert re.search(rf"(127\.0\.0\.1|localhost):{port}/healthz\b", healthcheck), healthcheck
    # gunicorn calls the factory with no arguments; keep the database and logging out of it.
    with mock.patch.dict(os.environ, _environment(name), clear=True), \
            mock.patch("helpdesk_shared.migrations.require_current"), mock.patch("helpdesk_shared.pg.make_pool"), \
            mock.patch("helpdesk_shared.pg.connect"), \
            mock.patch("helpdesk_shared.logs.setup"):
        app = factory()
    assert "/healthz" in {rule.rule for rule in app.url_map.iter_rules()}


@pytest.mark.parametrize("name", [n for n in _python_services() if _command(n)[0] == "python"])
def test_python_m_module_exists_and_runs_its_main(name):
    module_name = _module_of(name)
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin, f"{name}: no module {module_name}"
    assert re.search(r'^if __name__ == "__main__":\n    main\(\)', Path(spec.origin).read_text(), re.M)
    assert callable(getattr(importlib.import_module(module_name), "main", None))


def _kafka_env() -> dict[str, str]:
    """The broker's environment."""
    return _environment("kafka")


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """{listener name: (host, port)} of a Kafka listeners string such as `PLAINTEXT://:9092`."""
    result = {}
    for item in value.split(","):
        listener, address = item.strip().split("://")
        host, port = address.rsplit(":", 1)
        result[listener] = (host, int(port))
    return result


def test_kafka_runs_in_kraft_mode_as_one_broker_that_is_also_the_controller():
    env = _kafka_env()
    assert {"broker", "controller"} == set(env["KAFKA_PROCESS_ROLES"].split(","))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in _listeners(env["KAFKA_LISTENERS"])
    assert controller not in _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voter.split("@")[0] == env["KAFKA_NODE_ID"]
    assert int(voter.rsplit(":", 1)[1]) == _listeners(env["KAFKA_LISTENERS"])[controller][1]
    assert env["CLUSTER_ID"]  # the image refuses to start KRaft without it
    assert SERVICES["kafka"]["image"] == "apache/kafka:4.1.1"


def test_kafka_settings_match_the_local_broker_of_bin_stack():
    properties = dict(line.split("=", 1) for line in (ROOT / "infra" / "kafka" / "server.properties.in").read_text()
                      .splitlines() if line and not line.startswith("#"))
    env = _kafka_env()
    single_node = [k for k in properties if "replication.factor" in k or k.endswith("min.isr")]
    assert single_node and all(env.get("KAFKA_" + k.upper().replace(".", "_")) == "1" for k in single_node)
    for key in ("process.roles", "auto.create.topics.enable", "num.partitions", "group.initial.rebalance.delay.ms"):
        assert env["KAFKA_" + key.upper().replace(".", "_")] == properties[key], key


def test_services_bootstrap_from_the_broker_advertised_listener():
    env = _kafka_env()
    host, port = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])["PLAINTEXT"]
    assert host == "kafka" and "kafka" in SERVICES
    assert _listeners(env["KAFKA_LISTENERS"])["PLAINTEXT"][1] == port
    bootstraps = {_environment(n)["KAFKA_BOOTSTRAP_SERVERS"] for n in _python_services()
                  if "KAFKA_BOOTSTRAP_SERVERS" in _environment(n)}
    argv = _command("kafka-init")
    bootstraps.add(argv[argv.index("--bootstrap") + 1])
    assert bootstraps == {f"{host}:{port}"}


class _FakeAdmin:
    """Stands in for KafkaAdminClient: an empty broker that records what is created."""

    instances: list["_FakeAdmin"] = []

    def __init__(self, bootstrap_servers, client_id):
        self.bootstrap_servers = bootstrap_servers
        self.created = []
        _FakeAdmin.instances.append(self)

    def list_topics(self):
        return []

    def create_topics(self, new_topics):
        self.created.extend(new_topics)

    def close(self):
        pass


def test_kafka_init_creates_every_topic_under_the_prefix_the_services_use():
    argv = _command("kafka-init")
    assert argv[:2] == ["python", "-m"]
    module = importlib.import_module(argv[2])
    _FakeAdmin.instances.clear()
    with mock.patch("kafka.admin.KafkaAdminClient", _FakeAdmin):
        module.main(argv[3:])
    (admin,) = _FakeAdmin.instances
    prefixes = {_environment(n)["KAFKA_TOPIC_PREFIX"] for n in _python_services()
                if "KAFKA_TOPIC_PREFIX" in _environment(n)}
    assert len(prefixes) == 1
    prefix = prefixes.pop()
    assert {t.name for t in admin.created} == {prefix + spec.name for spec in topics.TOPICS}
    assert admin.bootstrap_servers == _environment("intake")["KAFKA_BOOTSTRAP_SERVERS"]


def test_start_order_waits_for_what_each_process_needs():
    for name in SERVICES:
        for dep, condition in _depends_on(name).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            assert condition in ("service_healthy", "service_completed_successfully"), f"{name} -> {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"
            else:
                assert dep in ONE_SHOTS, f"{name} waits for {dep} to finish; it never does"
    assert _depends_on("kafka-init") == {"kafka": "service_healthy"}
    for name in _python_services():
        deps = _depends_on(name)
        if "DATABASE_URL" in _environment(name):
            assert deps.get("postgres") == "service_healthy", name
            # Services only check their database's version: `mesa migrate` must have run first.
            assert deps.get("migrate") == "service_completed_successfully", name
        source = Path(importlib.util.find_spec(_module_of(name)).origin).read_text()
        if re.search(r"^from (kafka|helpdesk_shared\.kafka) import", source, re.M):
            assert deps.get("kafka-init") == "service_completed_successfully", name
    # The relay reads intake's outbox table, which intake's schema creates at its start.
    assert _depends_on("intake-relay").get("intake") == "service_healthy"


def test_long_running_services_restart_unless_stopped_and_one_shots_run_once():
    for name, service in SERVICES.items():
        expected = "no" if name in ONE_SHOTS else "unless-stopped"
        assert service.get("restart", "no") == expected, name
    for name in ONE_SHOTS:
        assert "ports" not in SERVICES[name] and "healthcheck" not in SERVICES[name]


SECRET_VARIABLES = {"TOKEN_SIGNING_KEY", "TOKEN_VERIFY_KEY", "LINK_SECRET", "REPLY_SECRET", "INBOUND_SECRET",
                    "PORTAL_SESSION_SECRET", "PORTAL_FORWARD_SECRET"}


def test_every_secret_comes_from_the_env_file_without_a_default():
    raw = (ROOT / "docker-compose.yml").read_text()
    assert _required_variables() == SECRET_VARIABLES
    for name in SECRET_VARIABLES:
        assert not re.search(rf"\$\{{{name}:?-", raw), f"{name} has a default in docker-compose.yml"
    for service in _python_services():
        for name in set(_environment(service)) & SECRET_VARIABLES:
            raw_value = SERVICES[service]["environment"][name]
            assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", raw_value), (service, name, raw_value)


def test_the_env_example_documents_every_secret_with_a_placeholder_no_service_accepts():
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.splitlines() if line and not line.startswith("#"))
    assert set(example) == SECRET_VARIABLES
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()
    for name in _python_services():
        config_class = _config_class(name)
        if config_class is None:
            continue
        env = {**_environment(name), **{k: v for k, v in example.items() if k in _environment(name)}}
        with mock.patch.dict(os.environ, env, clear=True), pytest.raises(MissingSecret):
            config_class.from_env()


def test_demo_users_are_loaded_only_when_the_demo_profile_is_asked_for():
    assert SERVICES["demo-data"]["profiles"] == ["demo"]
    assert all("demo-data" not in _depends_on(name) for name in SERVICES)
    assert "COMPOSE_PROFILES=demo" in ENV_EXAMPLE


def test_intake_and_every_verifying_service_share_one_key_pair_and_intake_links_to_its_published_port():
    verify_keys = {_environment(n)["TOKEN_VERIFY_KEY"] for n in _python_services()
                   if "TOKEN_VERIFY_KEY" in _environment(n)}
    assert verify_keys == {keys.auth_tokens.verify_key_of(_environment("intake")["TOKEN_SIGNING_KEY"])}
    for name in _python_services():  # only intake's processes hold the private key
        if "TOKEN_SIGNING_KEY" in _environment(name):
            assert _module_of(name).split(".")[0] == "intake", name
    public = urlsplit(_environment("intake")["PUBLIC_URL"])
    assert public.port == _published("intake")[public.port]


def test_attachments_live_on_a_named_volume_the_image_user_can_write():
    attachments_dir = _environment("intake")["ATTACHMENTS_DIR"]
    volume = next(str(v).split(":")[0] for v in SERVICES["intake"]["volumes"]
                  if str(v).split(":")[1] == attachments_dir)
    assert volume in COMPOSE["volumes"]
    user = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)[-1]
    assert user not in ("root", "0")
    assert re.search(rf"install -d -o {user} -g {user} {re.escape(attachments_dir)}\b", DOCKERFILE)


def test_dockerfile_builds_on_python_3_11_slim_and_installs_the_repository():
    assert re.search(r"^FROM python:3\.11-slim\s*$", DOCKERFILE, re.M)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for folder in project["tool"]["setuptools"]["packages"]["find"]["where"]:
        top = folder.split("/")[0]
        assert re.search(rf"^COPY {top} \./{top}\s*$", DOCKERFILE, re.M), f"{top} is not copied into the image"
    assert re.search(r"^COPY pyproject\.toml \./\s*$", DOCKERFILE, re.M)
    assert re.search(r"pip install (-e )?\.( |$)", DOCKERFILE, re.M)
    for name in _python_services():
        assert SERVICES[name]["build"]["context"] == "."


def test_the_installed_image_carries_the_schema_files_the_apps_read():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data_files = [p for folder in project["tool"]["setuptools"]["packages"]["find"]["where"]
                  for p in (ROOT / folder).rglob("*.sql")]
    assert data_files
    editable = re.search(r"pip install -e \.", DOCKERFILE)
    package_data = project["tool"]["setuptools"].get("package-data", {})
    # A plain `pip install .` keeps only .py files unless package data names the rest.
    assert editable or any("*.sql" in patterns for patterns in package_data.values())


def test_mailpit_publishes_its_web_ui_and_smtp_ports():
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit")
    assert _published("mailpit") == {8025: 8025, 1025: 1025}


def test_bin_up_runs_the_same_long_running_processes_under_supervisord_that_restarts_them():
    up = (ROOT / "bin" / "up").read_text()
    started = set(re.findall(r"^start ([\w-]+) ", up, re.M))
    long_running = {name for name in _python_services() if name not in ONE_SHOTS}
    assert started == long_running | {"mail-sink"}  # Mailpit's stand-in without Docker
    assert "nohup" not in up  # no hand-made background processes that nothing restarts
    assert re.search(r"^\s*\"\$VENV/bin/supervisord\" -c \"\$CONF\"", up, re.M)  # .venv's, never PATH's
    program = re.search(r"\[program:\$name\]\n(.*?)\nPROGRAM", up, re.S).group(1)
    settings = dict(line.split("=", 1) for line in program.splitlines())
    assert settings["autorestart"] == "true" and int(settings["startretries"]) >= 10
    assert settings["stopasgroup"] == "true"  # gunicorn's workers stop with their master
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(d.startswith("supervisor") for d in project["project"]["dependencies"])


def test_the_migrate_service_migrates_every_database_a_service_uses():
    argv = _command("migrate")
    assert argv[:4] == ["python", "-m", "helpdesk_shared.cli", "migrate"]
    given = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--database-url")
    used = {_module_of(n).split(".")[0]: _environment(n)["DATABASE_URL"]
            for n in _python_services() if "DATABASE_URL" in _environment(n)}
    assert given == used
    assert _depends_on("migrate") == {"postgres": "service_healthy"}
