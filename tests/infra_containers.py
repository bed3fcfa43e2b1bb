"""Adapter: asks whether a Docker engine answers, and starts PostgreSQL and Kafka with testcontainers.

What to start and how is decided in tests/infra_choice.py (pure); this module does the I/O.
testcontainers is imported only on the containers path, so the local path never needs it.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

import infra_choice

DOCKER_SOCKET = Path("/var/run/docker.sock")


def docker_answers(env=os.environ) -> bool:
    """Whether a Docker engine answers a ping (DOCKER_HOST, else /var/run/docker.sock), within 3 s."""
    if not env.get("DOCKER_HOST") and not DOCKER_SOCKET.exists():
        return False  # nothing to ask: skip importing the Docker SDK
    try:
        import docker
        client = docker.from_env(timeout=3, environment=dict(env))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure to reach the engine means "no Docker" here
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@dataclass
class Containers:
    """PostgreSQL and Kafka running in containers for this test session."""

    started: list = field(default_factory=list)
    env: dict = field(default_factory=dict)

    def start(self) -> "Containers":
        """Start both, wait until each answers a real client, and fill `env` (PG_BASE_URL, KAFKA_BOOTSTRAP_SERVERS)."""
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.docker_client import DockerClient

        from helpdesk_shared.localstack import wait_until

        host = DockerClient().host()
        try:
            pg = self._run(DockerContainer, infra_choice.postgres_spec())
            kafka_port = _free_port()
            kafka = self._run(DockerContainer, infra_choice.kafka_spec(host, kafka_port))
            self.env = infra_choice.endpoints(host, int(pg.get_exposed_port(5432)), host, kafka_port)
            wait_until(lambda: _postgres_answers(self.env["PG_BASE_URL"]), 120, "PostgreSQL in its container")
            wait_until(lambda: _kafka_answers(self.env["KAFKA_BOOTSTRAP_SERVERS"]), 180, "Kafka in its container")
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, container_class, spec: infra_choice.ContainerSpec):
        container = container_class(spec.image)
        for name, value in spec.env.items():
            container.with_env(name, value)
        for inside, outside in spec.ports.items():
            if outside is None:
                container.with_exposed_ports(inside)
            else:
                container.with_bind_ports(inside, outside)
        container.start()
        self.started.append(container)
        return container

    def stop(self) -> None:
        """Stop and remove every container started (Ryuk would remove them too, when the session dies)."""
        while self.started:
            self.started.pop().stop()


def _postgres_answers(base_url: str) -> bool:
    try:
        with psycopg.connect(f"{base_url}/postgres", connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _kafka_answers(bootstrap: str) -> bool:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
