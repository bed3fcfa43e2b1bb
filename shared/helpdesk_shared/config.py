"""Reading flat upper-case environment variables once (each service has its own Config).

Secrets have no default: a service that lacks one refuses to start and names the variable
(SPEC §6: nothing in the repository is a usable key).
"""
from __future__ import annotations

import os

DEFAULT_PG = "postgresql://mesa:mesa@127.0.0.1:5432/"
DEFAULT_KAFKA = "127.0.0.1:9092"
MIN_SECRET_BYTES = 32


class MissingSecret(RuntimeError):
    """A secret variable is unset, too short or malformed: the process must not start."""


def env(name: str, default: str) -> str:
    """The variable's value, or `default` when unset or empty."""
    return os.environ.get(name) or default


def consumer_mode() -> str:
    """CONSUMER_MODE: how a consumer's instances share its topics ("group", the default, or "single";
    kafka.ConsumerLoop refuses any other value before it connects anywhere).

    "group" again since kafka_net_watch and the fetch watchdog (fetch_watch) replace a client that
    stalls, the way kafka-python 3.0.12's group members were seen to under load; "single" (one
    reader, hot standbys) stays the fallback if they are seen to stall again (docs/scaling.md).
    """
    return env("CONSUMER_MODE", "group")


def check_secret(name: str, value: str | None) -> str:
    """`value` when it is a usable HMAC secret (32 bytes or more); MissingSecret naming `name` otherwise."""
    if not value:
        raise MissingSecret(f"{name} is not set: every Mesa service refuses to start without its secrets "
                            f"(bin/up writes them to its run folder; for docker compose copy .env.example "
                            f"to .env and fill it, see README)")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise MissingSecret(f"{name} is too short: at least {MIN_SECRET_BYTES} bytes "
                            f"(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return value


def secret(name: str) -> str:
    """The secret in variable `name`; MissingSecret when unset or shorter than 32 bytes."""
    return check_secret(name, os.environ.get(name))


def signing_key(name: str) -> str:
    """An Ed25519 private key (base64url of its 32-byte seed) from `name`; MissingSecret when unusable."""
    from . import auth_tokens
    value = secret(name)
    auth_tokens.load_signing_key(value, name)
    return value


def verify_key(name: str) -> str:
    """An Ed25519 public key (base64url of its 32 bytes) from `name`; MissingSecret when unusable."""
    from . import auth_tokens
    value = os.environ.get(name)
    if not value:
        raise MissingSecret(f"{name} is not set: every Mesa HTTP service needs the public key that checks "
                            f"intake's bearer tokens (python -m helpdesk_shared.keys prints a full set)")
    auth_tokens.load_verify_key(value, name)
    return value
