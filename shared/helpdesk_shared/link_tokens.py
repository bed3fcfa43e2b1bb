"""Signed, expiring tokens carried in links of e-mails, e.g. the one-click "solved" answer (pure).

A token is `base64url(json payload).base64url(HMAC-SHA256[:16])` (helpdesk_shared.signed_tokens),
valid for one purpose.
(Reply addresses need something shorter and case-proof for the 64-character local part
of an address; the notifier keeps those, see notifier.replies.)
"""
from __future__ import annotations

import json
from datetime import datetime

from .signed_tokens import BadToken, HmacKey, seal, unb64, unseal


class InvalidLinkToken(Exception):
    """Forged, malformed or expired."""


def sign(secret: str, purpose: str, claims: dict, now: datetime, ttl_seconds: int) -> str:
    """A token for `claims`, valid for `purpose` only, until `now + ttl_seconds`."""
    return seal(HmacKey(secret, purpose), {**claims, "x": int(now.timestamp()) + ttl_seconds})


def verify(secret: str, purpose: str, token: str, now: datetime) -> dict:
    """The claims of a valid token for `purpose`; InvalidLinkToken otherwise."""
    try:
        claims = unseal(HmacKey(secret, purpose), token)
        expires = int(claims.pop("x"))
    except BadToken as exc:
        raise InvalidLinkToken(str(exc)) from None
    except (ValueError, KeyError, TypeError):
        raise InvalidLinkToken("malformed claims") from None
    if expires <= now.timestamp():
        raise InvalidLinkToken("expired")
    return claims


def unverified_claims(token: str) -> dict:
    """The claims a token carries, NOT verified: for showing (a ticket number) only, after the
    holder of the secret said the token is valid. {} when malformed."""
    try:
        claims = json.loads(unb64(token.split(".")[0]))
    except (ValueError, AttributeError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


RESOLUTION = "resolve"  # /resolve/<token>: {"t": ticket number, "u": user id}
PASSWORD = "password"   # /set-password/<token>: {"u": user id, "i": issued at (unix seconds)}
RATING = "rate"         # /rate/<token>?rating=good|bad: {"t": ticket number, "u": user id} (its own key: HmacKey)
