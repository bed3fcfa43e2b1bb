"""Signed, expiring bearer tokens (pure: time is an argument).

Format: base64url(json claims) "." base64url(Ed25519 signature of the first part), sealed by
helpdesk_shared.signed_tokens (the same format as the links in mails, another key).
Only intake holds the private key (TOKEN_SIGNING_KEY) and mints tokens; every other
service holds the public key (TOKEN_VERIFY_KEY) and can check them but never forge one
(SPEC §6, one key per purpose). Keys travel as base64url of their raw 32 bytes.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .signed_tokens import BadToken, Ed25519Signer, Ed25519Verifier, seal, unseal
from .signed_tokens import b64 as _b64
from .signed_tokens import unb64 as _unb64


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
    iat: float = 0.0          # unix seconds (with microseconds): revocations end tokens issued up to then

    @property
    def is_staff(self) -> bool:
        """Agents and supervisors; they may see internal notes."""
        return self.role in ("agent", "supervisor")


class InvalidToken(Exception):
    """Malformed, forged or expired."""


def _raw_key(value: str, name: str) -> bytes:
    from .config import MissingSecret  # config imports this module for its checks
    try:
        raw = _unb64(value.strip())
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise MissingSecret(f"{name} must be base64url of a 32-byte Ed25519 key "
                            f"(python -m helpdesk_shared.keys prints a fresh set)")
    return raw


@functools.lru_cache(maxsize=8)
def load_signing_key(value: str, name: str = "TOKEN_SIGNING_KEY") -> Ed25519PrivateKey:
    """The private key in `value`; MissingSecret naming `name` when it is not one."""
    return Ed25519PrivateKey.from_private_bytes(_raw_key(value, name))


@functools.lru_cache(maxsize=8)
def load_verify_key(value: str, name: str = "TOKEN_VERIFY_KEY") -> Ed25519PublicKey:
    """The public key in `value`; MissingSecret naming `name` when it is not one."""
    return Ed25519PublicKey.from_public_bytes(_raw_key(value, name))


def new_signing_key() -> str:
    """A fresh private key, as TOKEN_SIGNING_KEY holds it."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat
    return _b64(Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


@functools.lru_cache(maxsize=8)  # intake derives it at every request
def verify_key_of(signing_key: str) -> str:
    """The public key (TOKEN_VERIFY_KEY) that goes with a private key."""
    return _b64(load_signing_key(signing_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def issue(signing_key: str, claims: Claims, now: datetime, ttl_seconds: int) -> str:
    """A token for `claims`, issued at `now`, that expires `ttl_seconds` later."""
    body = asdict(claims) | {"exp": int(now.timestamp()) + ttl_seconds, "iat": now.timestamp(),
                             "desks": list(claims.desks)}
    return seal(Ed25519Signer(load_signing_key(signing_key)), body)


def verify(verify_key: str, token: str, now: datetime) -> Claims:
    """The token's claims, or InvalidToken when forged, malformed or expired at `now`."""
    claims = _signed_claims(verify_key, token)
    if claims.exp <= now.timestamp():
        raise InvalidToken("expired")
    return claims


# A session sends the same token with every request, and its Ed25519 check was 7 % of an intake
# request's CPU (issue 11). Same key and same bytes give the same answer, so the claims of a token
# whose signature held are kept (a token is a few hundred bytes; frozen claims cannot be changed by
# a caller). Expiry is decided at every use, above; revocation by each service's own check; a
# token refused raises here and is never kept.
@functools.lru_cache(maxsize=4096)
def _signed_claims(verify_key: str, token: str) -> Claims:
    try:
        body = unseal(Ed25519Verifier(load_verify_key(verify_key)), token)
    except BadToken as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        return Claims(**(body | {"desks": tuple(body["desks"])}))
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidToken("malformed claims") from exc
