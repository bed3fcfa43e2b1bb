"""Query's configuration, read once from the environment."""
from __future__ import annotations

from dataclasses import dataclass

from helpdesk_shared.config import DEFAULT_KAFKA, DEFAULT_PG, consumer_mode, env, verify_key


@dataclass(frozen=True)
class Config:
    """DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TOKEN_VERIFY_KEY."""

    database_url: str
    kafka_bootstrap_servers: str
    token_verify_key: str  # Ed25519 public key: checks intake's bearer tokens, cannot mint
    kafka_topic_prefix: str = ""  # isolates test runs sharing one broker; empty in production
    consumer_mode: str = "group"  # CONSUMER_MODE: "group" (N share partitions) or "single" (one reader, standbys)

    @classmethod
    def from_env(cls) -> "Config":
        """Read the variables (defaults fit `bin/stack up`)."""
        return cls(database_url=env("DATABASE_URL", DEFAULT_PG + "mesa_query"),
                   kafka_bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
                   token_verify_key=verify_key("TOKEN_VERIFY_KEY"),
                   kafka_topic_prefix=env("KAFKA_TOPIC_PREFIX", ""), consumer_mode=consumer_mode())
