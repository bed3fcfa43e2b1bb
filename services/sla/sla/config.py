"""The SLA service's configuration, read once from the environment."""
from __future__ import annotations

from dataclasses import dataclass

from helpdesk_shared.config import DEFAULT_KAFKA, DEFAULT_PG, consumer_mode, env, verify_key


@dataclass(frozen=True)
class Config:
    """DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TOKEN_VERIFY_KEY, KAFKA_TOPIC_PREFIX, SLA_GRACE_SECONDS."""

    database_url: str
    kafka_bootstrap_servers: str
    token_verify_key: str  # Ed25519 public key: checks intake's bearer tokens, cannot mint
    kafka_topic_prefix: str = ""
    # How far behind "now" (or the last event read) a deadline must lie before it fires:
    # covers the relay's publishing delay and occurred_at values committed out of order.
    grace_seconds: float = 0.5
    # Fire only up to intake's OutboxDrained watermark too, so a reply stuck in intake's outbox
    # (relay down) is never taken for a missing one. Off only for benches that feed Kafka directly.
    require_intake_watermark: bool = True
    consumer_mode: str = "group"  # CONSUMER_MODE: "group" (N share partitions) or "single" (one reader, standbys)

    @classmethod
    def from_env(cls) -> "Config":
        """Read the variables (defaults fit `bin/stack up`)."""
        return cls(database_url=env("DATABASE_URL", DEFAULT_PG + "mesa_sla"),
                   kafka_bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
                   token_verify_key=verify_key("TOKEN_VERIFY_KEY"),
                   kafka_topic_prefix=env("KAFKA_TOPIC_PREFIX", ""), consumer_mode=consumer_mode(),
                   grace_seconds=float(env("SLA_GRACE_SECONDS", "0.5")),
                   require_intake_watermark=env("SLA_REQUIRE_INTAKE_WATERMARK", "true").lower() in ("1", "true", "yes"))
