"""Signed, expiring tokens carried in links of e-mails, e.g. the one-click "solved" answer (pure).

A token is `base64url(json payload).base64url(HMAC-SHA256)[:22]`, valid for one purpose.
(Reply addresses need something shorter and case-proof for the 64-character local part
of an address; the notifier keeps those, see notifier.replies.)
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime


class InvalidLinkToken(Exception):
    """Forged, malformed or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, payload: str) -> str:
    return _b64(hmac.new(f"{purpose}:{secret}".encode(), payload.encode(), hashlib.sha256).digest())[:22]


def sign(secret: str, purpose: str, claims: dict, now: datetime, ttl_seconds: int) -> str:
    """A token for `claims`, valid for `purpose` only, until `now + ttl_seconds`."""
    payload = _b64(json.dumps({**claims, "x": int(now.timestamp()) + ttl_seconds}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}"


def verify(secret: str, purpose: str, token: str, now: datetime) -> dict:
    """The claims of a valid token for `purpose`; InvalidLinkToken otherwise."""
    try:
        payload, mac = token.split(".")
    except (ValueError, AttributeError):
        raise InvalidLinkToken("malformed") from None
    if not hmac.compare_digest(mac, _mac(secret, purpose, payload)):
        raise InvalidLinkToken("bad signature")
    try:
        claims = json.loads(_unb64(payload))
        expires = int(claims.pop("x"))
    except (ValueError, KeyError, TypeError):
        raise InvalidLinkToken("malformed claims") from None
    if expires <= now.timestamp():
        raise InvalidLinkToken("expired")
    return claims


def unverified_claims(token: str) -> dict:
    """The claims a token carries, NOT verified: for showing (a ticket number) only, after the
    holder of the secret said the token is valid. {} when malformed."""
    try:
        claims = json.loads(_unb64(token.split(".")[0]))
    except (ValueError, AttributeError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


RESOLUTION = "resolve"  # /resolve/<token>: {"t": ticket number, "u": user id}
PASSWORD = "password"   # /set-password/<token>: {"u": user id, "i": issued at (unix seconds)}
