"""Reading flat upper-case environment variables once (each service has its own Config)."""
from __future__ import annotations

import os

DEFAULT_PG = "postgresql://mesa:mesa@127.0.0.1:5432/"
DEFAULT_KAFKA = "127.0.0.1:9092"
DEV_AUTH_SECRET = "dev-only-secret-change-me"


def env(name: str, default: str) -> str:
    """The variable's value, or `default` when unset or empty."""
    return os.environ.get(name) or default
