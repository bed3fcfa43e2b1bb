"""Which PostgreSQL and Kafka the tests use, and how the containers are configured (pure).

Local processes (`bin/stack up`: Debian's PostgreSQL, Kafka from Maven Central) or, where a
Docker engine answers, containers started by testcontainers. The adapter that pings Docker and
starts the containers is tests/infra_containers.py; this module only decides and describes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

INFRA_VARIABLE = "MESA_INFRA"
LOCAL, CONTAINERS = "local", "containers"

# The versions the local scripts run, so both paths test against the same servers:
# PostgreSQL 15 is Debian 12 (bookworm)'s package, 15.18 on the machine this was written on,
# and docker-compose.yml's postgres:15; Kafka is infra/kafka/pom.xml's kafka.version, which is
# also docker-compose.yml's image (tests/unit/test_infra_choice.py keeps them in step).
POSTGRES_IMAGE = "postgres:15.18-bookworm"
KAFKA_IMAGE = "apache/kafka:4.1.1"
PG_USER = PG_PASSWORD = "mesa"  # as bin/stack and docker-compose.yml
KAFKA_CLUSTER_ID = "9C_njpMJTsKXWOAg2Wfuiw"  # any fixed base64 UUID: each container formats fresh storage


class InfraChoiceError(ValueError):
    """MESA_INFRA names something unknown, or containers were asked for without a Docker engine."""


def choose_infra(env: Mapping[str, str], docker_answers: bool) -> str:
    """`local` or `containers`: MESA_INFRA when set, otherwise containers exactly when Docker answers."""
    asked = env.get(INFRA_VARIABLE, "").strip().lower()
    if asked == LOCAL:
        return LOCAL
    if asked == CONTAINERS:
        if not docker_answers:
            raise InfraChoiceError(f"{INFRA_VARIABLE}=containers but no Docker engine answers "
                                   "(DOCKER_HOST or /var/run/docker.sock)")
        return CONTAINERS
    if asked:
        raise InfraChoiceError(f"{INFRA_VARIABLE}={asked!r}: use {LOCAL!r} or {CONTAINERS!r}")
    return CONTAINERS if docker_answers else LOCAL


@dataclass(frozen=True)
class ContainerSpec:
    """One container: its image, environment and ports (container port -> host port, None = any)."""

    image: str
    env: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)


def postgres_spec() -> ContainerSpec:
    """PostgreSQL with the `mesa` superuser the tests connect as; the tests create their own databases."""
    return ContainerSpec(POSTGRES_IMAGE, {"POSTGRES_USER": PG_USER, "POSTGRES_PASSWORD": PG_PASSWORD},
                         {5432: None})


def kafka_spec(host: str, host_port: int) -> ContainerSpec:
    """A single-node KRaft broker configured as infra/kafka/server.properties.in and docker-compose.yml.

    Kafka tells clients the address to reconnect to (the advertised listener), so the host port is
    fixed before the container starts and advertised as `host:host_port`.
    """
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{host_port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "CLUSTER_ID": KAFKA_CLUSTER_ID,
        "KAFKA_NUM_PARTITIONS": "3",
        # Topics are created by the tests with their partitions and retention, never by accident.
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_HEAP_OPTS": "-Xmx512m",  # as bin/stack; the image's default is 1 GB
    }
    return ContainerSpec(KAFKA_IMAGE, env, {9092: host_port})


def endpoints(pg_host: str, pg_port: int, kafka_host: str, kafka_port: int) -> dict[str, str]:
    """The variables the fixtures and every started service read to find the servers."""
    return {"PG_BASE_URL": f"postgresql://{PG_USER}:{PG_PASSWORD}@{pg_host}:{pg_port}",
            "KAFKA_BOOTSTRAP_SERVERS": f"{kafka_host}:{kafka_port}"}


def needs_servers(test_file, tests_root) -> bool:
    """Whether a test file needs PostgreSQL and Kafka: any test module under tests/ but outside tests/unit."""
    if not (test_file.name.startswith("test_") and test_file.suffix == ".py"):
        return False
    try:
        parts = test_file.relative_to(tests_root).parts
    except ValueError:
        return False  # not one of Mesa's tests
    return len(parts) > 1 and parts[0] != "unit"
