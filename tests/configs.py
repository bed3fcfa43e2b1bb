"""Service configs and bearer tokens for tests that build apps in-process (Flask `test_client`).

Every new test builds configs and tokens through these functions only, so a change of how a
service is configured (secrets, keys) is made here once.
"""
from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from unittest import mock

from helpdesk_shared import auth_tokens
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.config import DEFAULT_KAFKA, env

# Test-only secrets (never used outside tests): one per purpose, as in production.
TOKEN_SIGNING_KEY = auth_tokens.new_signing_key()
SECRETS = {
    "TOKEN_SIGNING_KEY": TOKEN_SIGNING_KEY,
    "TOKEN_VERIFY_KEY": auth_tokens.verify_key_of(TOKEN_SIGNING_KEY),
    "LINK_SECRET": "test-only-link-secret-0123456789abcdef0123456789",
    "REPLY_SECRET": "test-only-reply-secret-0123456789abcdef0123456789",
    "INBOUND_SECRET": "test-only-inbound-secret-0123456789abcdef0123456789",
    "PORTAL_SESSION_SECRET": "test-only-portal-session-secret-0123456789abcdef",
    "PORTAL_FORWARD_SECRET": "test-only-portal-forward-secret-0123456789abcdef",
}


def _build(config_class, **overrides):
    with mock.patch.dict(os.environ, SECRETS):
        base = config_class.from_env()
    kafka = env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)  # a container's, when conftest started one
    return dataclasses.replace(base, **{"kafka_bootstrap_servers": kafka, **overrides})


def intake_config(database_url: str, attachments_dir: str | Path, **overrides):
    """Intake's config on a test database and attachments folder."""
    from intake.config import Config
    return _build(Config, database_url=database_url, attachments_dir=str(attachments_dir), **overrides)


def query_config(database_url: str, **overrides):
    """Query's config on a test database."""
    from query.config import Config
    return _build(Config, database_url=database_url, **overrides)


def sla_config(database_url: str, **overrides):
    """The SLA service's config on a test database."""
    from sla.config import Config
    return _build(Config, database_url=database_url, **overrides)


def notifier_config(database_url: str, **overrides):
    """The notifier's config on a test database."""
    from notifier.config import Config
    return _build(Config, database_url=database_url, **overrides)


def portal_config(intake_url: str, query_url: str, sla_url: str = "http://127.0.0.1:9", **overrides):
    """The portal's config pointing at services started by the test."""
    from portal.config import Config
    with mock.patch.dict(os.environ, SECRETS):
        base = Config.from_env()
    return dataclasses.replace(base, intake_url=intake_url, query_url=query_url, sla_url=sla_url, **overrides)


def bearer(claims: Claims, now: datetime, ttl_seconds: int = 3600) -> dict:
    """The Authorization header of a valid bearer token for `claims` (as intake would issue it)."""
    return {"Authorization": f"Bearer {auth_tokens.issue(TOKEN_SIGNING_KEY, claims, now, ttl_seconds)}"}


def link_token(purpose: str, claims: dict, now: datetime, ttl_seconds: int = 3600) -> str:
    """A valid one-click link token (`link_tokens.RESOLUTION`, `PASSWORD`) as the notifier would mail it."""
    from helpdesk_shared import link_tokens
    return link_tokens.sign(SECRETS["LINK_SECRET"], purpose, claims, now, ttl_seconds)
