"""The wall clock: the one place Mesa reads it. Composition roots pass it in; domain code takes time as an argument."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)
