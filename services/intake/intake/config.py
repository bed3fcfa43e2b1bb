"""Intake's configuration, read once from the environment."""
from __future__ import annotations

from dataclasses import dataclass

from helpdesk_shared.config import DEFAULT_KAFKA, DEFAULT_PG, consumer_mode, env, secret, signing_key


@dataclass(frozen=True)
class Config:
    """Everything intake needs from outside; tests build one directly."""

    database_url: str
    kafka_bootstrap_servers: str
    token_signing_key: str  # Ed25519 private key: only intake mints bearer tokens
    link_secret: str        # checks the one-click links the notifier signs (resolve, set password)
    inbound_secret: str     # the notifier's credential for posting e-mail replies
    portal_forward_secret: str  # proves a browser's address forwarded by the portal (helpdesk_shared.forwarding)
    attachments_dir: str
    public_url: str
    token_ttl_seconds: int = 8 * 3600
    kafka_topic_prefix: str = ""  # isolates test runs sharing one broker; empty in production
    consumer_mode: str = "group"  # CONSUMER_MODE: "group" (N share partitions) or "single" (one reader, standbys)

    @classmethod
    def from_env(cls) -> "Config":
        """DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TOKEN_SIGNING_KEY, LINK_SECRET, INBOUND_SECRET, PORTAL_FORWARD_SECRET,
        ATTACHMENTS_DIR,
        PUBLIC_URL, TOKEN_TTL_SECONDS; a missing or short secret stops the start (MissingSecret)."""
        return cls(database_url=env("DATABASE_URL", DEFAULT_PG + "mesa_intake"),
                   kafka_bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
                   token_signing_key=signing_key("TOKEN_SIGNING_KEY"),
                   link_secret=secret("LINK_SECRET"),
                   inbound_secret=secret("INBOUND_SECRET"),
                   portal_forward_secret=secret("PORTAL_FORWARD_SECRET"),
                   kafka_topic_prefix=env("KAFKA_TOPIC_PREFIX", ""), consumer_mode=consumer_mode(),
                   attachments_dir=env("ATTACHMENTS_DIR", ".run/attachments"),
                   public_url=env("PUBLIC_URL", "http://127.0.0.1:8001"),
                   token_ttl_seconds=int(env("TOKEN_TTL_SECONDS", str(8 * 3600))))
