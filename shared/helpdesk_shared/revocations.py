"""Bearer tokens ended before they expire (adapter): a user's logout, password change, or a
change of his rights (disabled, role, desks, organisation) ends every token issued up to then.

Intake decides and publishes `BearerTokensRevoked {user_id, valid_after}` on
helpdesk.accounts; query, SLA and the notifier keep the latest instant per user in this
table of their own database (written by their consumer) and refuse older tokens.
"""
from __future__ import annotations

from datetime import datetime

import psycopg

from .auth_tokens import Claims

EVENT = "BearerTokensRevoked"

DDL = """
create table if not exists revoked_bearer_tokens (
    user_id     text primary key,
    valid_after timestamptz not null  -- tokens issued at or before this instant are refused
);
"""


def apply(conn: psycopg.Connection, user_id: str, valid_after: datetime | str) -> None:
    """Record a revocation; a replayed or older one never moves the instant back."""
    conn.execute("""insert into revoked_bearer_tokens (user_id, valid_after) values (%s, %s)
                    on conflict (user_id) do update
                    set valid_after = greatest(revoked_bearer_tokens.valid_after, excluded.valid_after)""",
                 (user_id, valid_after))


def issued_too_early(claims: Claims, valid_after: datetime | None) -> bool:
    """Whether a token was issued at or before the user's latest revocation (pure)."""
    return valid_after is not None and claims.iat <= valid_after.timestamp()


def is_revoked(conn: psycopg.Connection, claims: Claims) -> bool:
    """Whether the token behind `claims` was ended by a revocation this service has read."""
    row = conn.execute("select valid_after from revoked_bearer_tokens where user_id = %s",
                       (claims.user_id,)).fetchone()
    return issued_too_early(claims, row["valid_after"] if row else None)
