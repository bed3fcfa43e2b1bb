"""The notifier's configuration, read once from the environment."""
from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk_shared.catalog import DESK_NAMES as DESKS  # the desks: helpdesk_shared/catalog.json
from helpdesk_shared.config import DEFAULT_KAFKA, DEFAULT_PG, consumer_mode, env, secret, verify_key


@dataclass(frozen=True)
class Config:
    """SMTP out and in, where links point, and each desk's addresses and office phones."""

    database_url: str
    kafka_bootstrap_servers: str
    token_verify_key: str  # checks intake's bearer tokens (its API), cannot mint them
    link_secret: str       # signs one-click links (intake checks them)
    reply_secret: str      # signs reply addresses (only the notifier reads them back)
    inbound_secret: str    # posts e-mail replies through intake's internal route
    kafka_topic_prefix: str
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_username: str
    smtp_password: str
    mail_from: str
    inbound_host: str
    inbound_port: int
    reply_domain: str
    intake_url: str
    public_url: str
    templates_dir: str
    staff_address: str
    supervisor_address: str
    queue_addresses: dict
    office_phones: dict
    reply_token_days: int = 30
    smtp_retry_max_seconds: float = 300.0  # backoff cap while the SMTP server is down
    # Per desk: urgent tickets alert this address at once, day or night ("" or absent: none).
    oncall_addresses: dict = field(default_factory=dict)
    consumer_mode: str = "group"  # CONSUMER_MODE: "group" (N share partitions) or "single" (one reader, standbys)

    @classmethod
    def from_env(cls) -> "Config":
        """Read the variables (defaults fit `bin/up`: Mailpit-style SMTP on 127.0.0.1:1025)."""
        return cls(
            database_url=env("DATABASE_URL", DEFAULT_PG + "mesa_notifier"),
            kafka_bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
            token_verify_key=verify_key("TOKEN_VERIFY_KEY"),
            link_secret=secret("LINK_SECRET"),
            reply_secret=secret("REPLY_SECRET"),
            inbound_secret=secret("INBOUND_SECRET"),
            kafka_topic_prefix=env("KAFKA_TOPIC_PREFIX", ""), consumer_mode=consumer_mode(),
            smtp_host=env("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env("SMTP_PORT", "1025")),
            smtp_starttls=env("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
            smtp_username=env("SMTP_USERNAME", ""),
            smtp_password=env("SMTP_PASSWORD", ""),
            mail_from=env("MAIL_FROM", "Mesa de ayuda <soporte@mesa.example>"),
            inbound_host=env("INBOUND_SMTP_HOST", "127.0.0.1"),
            inbound_port=int(env("INBOUND_SMTP_PORT", "2525")),
            reply_domain=env("REPLY_DOMAIN", "mesa.example"),
            intake_url=env("INTAKE_URL", "http://127.0.0.1:8001"),
            public_url=env("PUBLIC_URL", "http://127.0.0.1:8000"),  # the portal: links in mails open its pages
            templates_dir=env("TEMPLATES_DIR", ""),
            staff_address=env("STAFF_ADDRESS", "equipo@mesa.example"),
            supervisor_address=env("SUPERVISOR_ADDRESS", "supervision@mesa.example"),
            queue_addresses={d: env(f"QUEUE_ADDRESS_{d}", f"{d.lower()}@mesa.example") for d in DESKS},
            oncall_addresses={d: env(f"ONCALL_ADDRESS_{d}", f"guardia-{d.lower()}@mesa.example") for d in DESKS},
            office_phones={d: tuple(p.strip() for p in env(f"OFFICE_PHONES_{d}", "+58 212 555 0100").split(",")
                                    if p.strip()) for d in DESKS},
            reply_token_days=int(env("REPLY_TOKEN_DAYS", "30")),
            smtp_retry_max_seconds=float(env("SMTP_RETRY_MAX_SECONDS", "300")),
        )
