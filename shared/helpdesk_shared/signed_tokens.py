"""Mesa's one signed-token format (pure): base64url(compact json body) "." base64url(signature).

Bearer tokens (auth_tokens) and links in mails (link_tokens) are both sealed here; only the key
differs. Bearer tokens use Ed25519 so that intake alone mints them and every other service only
verifies (SPEC §6); links use HMAC-SHA256 with a secret of their own, keyed per purpose, so a
"solved" link never opens a set-password page. (itsdangerous, once declared, signs with HMAC only:
it cannot hold the bearer tokens' public/private pair, so one format here serves both.)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class BadToken(ValueError):
    """Malformed or forged: the reason is the message ("malformed", "bad signature", "malformed claims")."""


class Signer(Protocol):
    def sign(self, payload: bytes) -> bytes: ...


class Checker(Protocol):
    def check(self, payload: bytes, signature: bytes) -> bool: ...


def b64(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """The bytes of base64url text with or without padding; binascii.Error/ValueError when it is not."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HmacKey:
    """Signs and checks with HMAC-SHA256 of a secret for one purpose (16 bytes of MAC: 22 characters)."""

    MAC_BYTES = 16

    def __init__(self, secret: str, purpose: str):
        if not secret:  # fail closed: an unset secret must not sign tokens anyone could forge
            raise ValueError("an HMAC token needs a secret / se necesita un secreto")
        self._key = f"{purpose}:{secret}".encode()

    def sign(self, payload: bytes) -> bytes:
        """The MAC of `payload`."""
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:self.MAC_BYTES]

    def check(self, payload: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's MAC of `payload` (constant time)."""
        return hmac.compare_digest(signature, self.sign(payload))


class Ed25519Signer:
    """Signs with an Ed25519 private key (intake's TOKEN_SIGNING_KEY)."""

    def __init__(self, key: Ed25519PrivateKey):
        self._key = key

    def sign(self, payload: bytes) -> bytes:
        """The signature of `payload`."""
        return self._key.sign(payload)


class Ed25519Verifier:
    """Checks with an Ed25519 public key (TOKEN_VERIFY_KEY, loaded by auth_tokens.load_verify_key)."""

    def __init__(self, key: Ed25519PublicKey):
        self._key = key

    def check(self, payload: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key pair's signature of `payload`."""
        try:
            self._key.verify(signature, payload)
        except InvalidSignature:
            return False
        return True


def seal(signer: Signer, body: dict) -> str:
    """The token carrying `body` (json-able), signed by `signer`."""
    payload = b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{b64(signer.sign(payload.encode()))}"


def unseal(checker: Checker, token: str) -> dict:
    """The body of a token `checker` signed; BadToken when malformed or forged."""
    try:
        payload, signature = token.split(".")
        raw_signature = unb64(signature)
        signed = payload.encode("ascii")
    except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeError) as exc:
        raise BadToken("malformed") from exc
    if not checker.check(signed, raw_signature):
        raise BadToken("bad signature")
    try:
        body = json.loads(unb64(payload))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadToken("malformed claims") from exc
    if not isinstance(body, dict):
        raise BadToken("malformed claims")
    return body
