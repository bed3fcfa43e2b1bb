"""Rate limits for login and the unauthenticated endpoints, counted in PostgreSQL (adapter).

The counts live in the database, not in a process, so they hold across gunicorn workers
and restarts. Fixed windows: each (limit, key) counts hits in the current window of
`limit.window`; a caller over the limit is told how long until the window ends. Time is
the caller's clock value (the app's injected clock), never read here.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from helpdesk_shared.errors import RuleViolation

from .messages import message

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Limit:
    """At most `max_hits` per `window` for one key (an account, a client address)."""

    name: str
    max_hits: int
    window: timedelta


# Failed logins: an account is guessed at from many addresses, or many accounts from one.
# The address limit is higher: a club's office shares one public address.
LOGIN_PER_ACCOUNT = Limit("login-account", 10, timedelta(minutes=15))
LOGIN_PER_ADDRESS = Limit("login-address", 30, timedelta(minutes=15))
# "No poseo login" requests (each one mails the desk and the address given).
ACCESS_REQUEST_PER_ADDRESS = Limit("access-request-address", 5, timedelta(hours=1))


class Throttled(RuleViolation):
    """Too many attempts: 429, with the seconds to wait (sent as `Retry-After`)."""

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(code="TOO_MANY_ATTEMPTS", field=None, message=message("TOO_MANY_ATTEMPTS", minutes=minutes),
                         status=429, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def window_of(limit: Limit, now: datetime) -> tuple[datetime, int]:
    """The start of the window `now` falls in, and the whole seconds left until it ends (>= 1)."""
    size = limit.window.total_seconds()
    elapsed = (now - _EPOCH).total_seconds()
    start = _EPOCH + timedelta(seconds=elapsed - elapsed % size)
    return start, max(1, math.ceil(size - elapsed % size))


def _bucket(limit: Limit, key: str) -> str:
    # Hashed: the table holds no e-mail addresses, and a 10 kB "e-mail" costs a fixed-size row.
    return f"{limit.name}:{hashlib.sha256(key.strip().lower().encode('utf-8', 'surrogatepass')).hexdigest()}"


def check(conn: psycopg.Connection, limit: Limit, key: str, now: datetime) -> None:
    """Raise Throttled when `key` already used up `limit` in the current window."""
    start, left = window_of(limit, now)
    row = conn.execute("select hits from rate_limit_hits where bucket = %s and window_start = %s",
                       (_bucket(limit, key), start)).fetchone()
    if row and row["hits"] >= limit.max_hits:
        raise Throttled(left)


def hit(conn: psycopg.Connection, limit: Limit, key: str, now: datetime) -> None:
    """Count one hit of `key` in the current window (the caller commits it, even when refusing)."""
    start, _ = window_of(limit, now)
    bucket = _bucket(limit, key)
    conn.execute("""insert into rate_limit_hits (bucket, window_start, hits) values (%s, %s, 1)
                    on conflict (bucket, window_start) do update set hits = rate_limit_hits.hits + 1""",
                 (bucket, start))
    conn.execute("delete from rate_limit_hits where bucket = %s and window_start < %s", (bucket, start))
