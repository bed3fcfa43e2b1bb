"""The portal's configuration, read once from the environment."""
from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk_shared.catalog import DESK_NAMES
from helpdesk_shared.config import env, secret


@dataclass(frozen=True)
class Config:
    """Where the portal finds the other services, and the key that signs its session cookie."""

    intake_url: str
    query_url: str
    sla_url: str
    session_secret: str  # signs the session cookie (bearer token + language); no default
    public_url: str      # where browsers reach the portal; https makes the cookie Secure
    forward_secret: str  # signs the browser's address forwarded to intake (PORTAL_FORWARD_SECRET)
    backend_timeout_seconds: float = 10.0
    # Per desk, shown on a ticket whose first answer is late; the notifier's own variables
    # (OFFICE_PHONES_<DESK>), so the mail and the page give the same numbers.
    office_phones: dict = field(default_factory=dict)
    notifier_url: str = "http://127.0.0.1:8004"  # mail templates' texts (supervisors)

    @classmethod
    def from_env(cls) -> "Config":
        """INTAKE_URL, QUERY_URL, SLA_URL, PORTAL_SESSION_SECRET, PORTAL_FORWARD_SECRET, PUBLIC_URL,
        OFFICE_PHONES_<DESK>, NOTIFIER_URL;
        a missing or short secret stops the start (MissingSecret)."""
        return cls(intake_url=env("INTAKE_URL", "http://127.0.0.1:8001").rstrip("/"),
                   query_url=env("QUERY_URL", "http://127.0.0.1:8002").rstrip("/"),
                   sla_url=env("SLA_URL", "http://127.0.0.1:8003").rstrip("/"),
                   session_secret=secret("PORTAL_SESSION_SECRET"),
                   forward_secret=secret("PORTAL_FORWARD_SECRET"),
                   public_url=env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
                   office_phones={d: tuple(p.strip() for p in env(f"OFFICE_PHONES_{d}", "+58 212 555 0100").split(",")
                                           if p.strip()) for d in DESK_NAMES},
                   notifier_url=env("NOTIFIER_URL", "http://127.0.0.1:8004").rstrip("/"))

    @property
    def secure_cookies(self) -> bool:
        """Behind TLS the session cookie is never sent over plain HTTP."""
        return self.public_url.startswith("https://")
