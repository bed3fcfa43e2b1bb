"""Signed, expiring bearer tokens shared by every service (pure: time is an argument).

Format: base64url(json claims) "." base64url(HMAC-SHA256(secret, payload)).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True)
class Claims:
    """Who is calling: the user, role, organisation (customers only) and desks."""

    user_id: str
    role: str                 # customer | agent | supervisor
    organisation_id: str | None
    desks: tuple[str, ...]
    name: str
    email: str
    language: str = "es"
    exp: int = 0              # unix seconds

    @property
    def is_staff(self) -> bool:
        """Agents and supervisors; they may see internal notes."""
        return self.role in ("agent", "supervisor")


class InvalidToken(Exception):
    """Malformed, forged or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def issue(secret: str, claims: Claims, now: datetime, ttl_seconds: int) -> str:
    """A token for `claims` that expires `ttl_seconds` after `now`."""
    body = asdict(claims) | {"exp": int(now.timestamp()) + ttl_seconds, "desks": list(claims.desks)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> Claims:
    """The token's claims, or InvalidToken when forged, malformed or expired at `now`."""
    try:
        payload, signature = token.split(".")
    except ValueError as exc:
        raise InvalidToken("malformed") from exc
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InvalidToken("bad signature")
    try:
        body = json.loads(_unb64(payload))
        claims = Claims(**(body | {"desks": tuple(body["desks"])}))
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidToken("malformed claims") from exc
    if claims.exp <= now.timestamp():
        raise InvalidToken("expired")
    return claims
