"""Which PostgreSQL and Kafka the tests use (local processes or containers), and the containers' configuration."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import infra_choice
from infra_choice import CONTAINERS, LOCAL, InfraChoiceError, choose_infra

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_without_the_variable_containers_are_used_exactly_when_docker_answers():
    assert choose_infra({}, docker_answers=True) == CONTAINERS
    assert choose_infra({}, docker_answers=False) == LOCAL
    assert choose_infra({"MESA_INFRA": ""}, docker_answers=True) == CONTAINERS


def test_mesa_infra_local_keeps_the_local_processes_even_where_docker_answers():
    assert choose_infra({"MESA_INFRA": "local"}, docker_answers=True) == LOCAL
    assert choose_infra({"MESA_INFRA": " Local "}, docker_answers=False) == LOCAL


def test_mesa_infra_containers_uses_containers_and_refuses_to_fall_back_when_docker_is_silent():
    assert choose_infra({"MESA_INFRA": "containers"}, docker_answers=True) == CONTAINERS
    with pytest.raises(InfraChoiceError, match="no Docker engine answers"):
        choose_infra({"MESA_INFRA": "containers"}, docker_answers=False)


def test_an_unknown_mesa_infra_is_refused_with_the_valid_values():
    with pytest.raises(InfraChoiceError, match="'local' or 'containers'"):
        choose_infra({"MESA_INFRA": "docker"}, docker_answers=True)


def test_the_images_are_the_versions_the_local_scripts_and_compose_run():
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom).group(1)
    assert infra_choice.KAFKA_IMAGE == f"apache/kafka:{kafka_version}" == COMPOSE["kafka"]["image"]
    pg_tag = infra_choice.POSTGRES_IMAGE.removeprefix("postgres:")
    # compose pins the major (postgres:15) as Debian 12 ships it; the tests pin the exact release
    # on Debian 12 (bookworm), as bin/stack installs it.
    assert pg_tag.split(".")[0] == COMPOSE["postgres"]["image"].removeprefix("postgres:")
    assert re.fullmatch(r"\d+\.\d+-bookworm", pg_tag), "a moving tag would test against whatever was pushed last"


def test_postgres_runs_with_the_mesa_superuser_on_a_port_docker_picks():
    spec = infra_choice.postgres_spec()
    assert spec.env == {"POSTGRES_USER": "mesa", "POSTGRES_PASSWORD": "mesa"}
    assert spec.ports == {5432: None}


def test_kafka_is_a_single_kraft_node_advertising_the_host_port_fixed_before_start():
    spec = infra_choice.kafka_spec("docker.example", 49152)
    assert spec.ports == {9092: 49152}
    assert spec.env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert spec.env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://docker.example:49152"
    assert spec.env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert all(isinstance(v, str) for v in spec.env.values())  # Docker takes strings only


def test_kafka_in_a_test_container_is_configured_as_compose_configures_it():
    spec = infra_choice.kafka_spec("localhost", 40000)
    compose = {k: str(v) for k, v in COMPOSE["kafka"]["environment"].items()}
    # Only where clients reach it and where it keeps its data differ (a test container is thrown away).
    for differs in ("KAFKA_ADVERTISED_LISTENERS", "KAFKA_LOG_DIRS"):
        compose.pop(differs)
    assert {k: spec.env[k] for k in compose} == compose


def test_kafka_in_a_test_container_has_the_local_brokers_partitions_and_replication():
    props = dict(line.split("=", 1) for line in (ROOT / "infra" / "kafka" / "server.properties.in").read_text()
                 .splitlines() if line and not line.startswith("#"))
    env = infra_choice.kafka_spec("localhost", 40000).env
    for name in ("num.partitions", "auto.create.topics.enable", "offsets.topic.replication.factor",
                 "offsets.topic.num.partitions", "transaction.state.log.replication.factor",
                 "transaction.state.log.min.isr", "group.initial.rebalance.delay.ms"):
        assert env["KAFKA_" + name.upper().replace(".", "_")] == props[name], name


def test_the_endpoints_are_the_variables_localstack_and_the_fixtures_read():
    assert infra_choice.endpoints("localhost", 32768, "localhost", 40000) == {
        "PG_BASE_URL": "postgresql://mesa:mesa@localhost:32768", "KAFKA_BOOTSTRAP_SERVERS": "localhost:40000"}


def test_only_test_modules_outside_tests_unit_need_the_servers():
    assert not infra_choice.needs_servers(TESTS / "unit" / "test_schemas.py", TESTS)
    assert infra_choice.needs_servers(TESTS / "integration" / "test_intake_http.py", TESTS)
    assert infra_choice.needs_servers(TESTS / "e2e" / "test_rebuild_and_ops.py", TESTS)
    assert not infra_choice.needs_servers(TESTS / "browser" / "conftest.py", TESTS)
    assert not infra_choice.needs_servers(ROOT / "bench" / "test_like_name.py", TESTS)


class FakeContainer:
    """Records what the adapter asks of a testcontainers DockerContainer."""

    def __init__(self, image):
        self.image, self.env, self.exposed, self.bound, self.started = image, {}, [], {}, False

    def with_env(self, name, value):
        self.env[name] = value

    def with_exposed_ports(self, port):
        self.exposed.append(port)

    def with_bind_ports(self, inside, outside):
        self.bound[inside] = outside

    def start(self):
        self.started = True


def test_a_spec_becomes_a_started_container_with_its_image_environment_and_ports():
    import infra_containers
    running = infra_containers.Containers()
    kafka = running._run(FakeContainer, infra_choice.kafka_spec("localhost", 40000))
    pg = running._run(FakeContainer, infra_choice.postgres_spec())
    assert (kafka.image, kafka.bound, kafka.exposed, kafka.started) == (infra_choice.KAFKA_IMAGE, {9092: 40000}, [], True)
    assert kafka.env == infra_choice.kafka_spec("localhost", 40000).env
    assert (pg.image, pg.bound, pg.exposed) == (infra_choice.POSTGRES_IMAGE, {}, [5432])
    assert running.started == [kafka, pg]


def test_a_docker_host_that_does_not_answer_means_no_docker():
    import infra_containers
    from helpdesk_shared.localstack import free_port
    assert infra_containers.docker_answers({"DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}"}) is False
