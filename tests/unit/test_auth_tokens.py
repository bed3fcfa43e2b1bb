"""Signed, expiring bearer tokens (pure)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared.auth_tokens import Claims, InvalidToken, issue, verify

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
MARIA = Claims(user_id="u1", role="customer", organisation_id="club-caracas", desks=("SOPORTE",),
               name="María Pérez", email="maria@clubcaracas.com.ve")


def test_a_token_carries_user_role_organisation_and_desks():
    claims = verify("s3cret", issue("s3cret", MARIA, NOW, 3600), NOW + timedelta(minutes=59))
    assert (claims.user_id, claims.role, claims.organisation_id, claims.desks) == (
        "u1", "customer", "club-caracas", ("SOPORTE",))
    assert not claims.is_staff


def test_an_expired_token_is_refused():
    token = issue("s3cret", MARIA, NOW, 3600)
    with pytest.raises(InvalidToken, match="expired"):
        verify("s3cret", token, NOW + timedelta(hours=1))


def test_a_token_signed_with_another_secret_or_edited_is_refused():
    token = issue("s3cret", MARIA, NOW, 3600)
    with pytest.raises(InvalidToken):
        verify("other", token, NOW)
    payload, signature = token.split(".")
    forged = issue("attacker", Claims(**{**MARIA.__dict__, "role": "supervisor"}), NOW, 3600).split(".")[0]
    with pytest.raises(InvalidToken):
        verify("s3cret", f"{forged}.{signature}", NOW)
    with pytest.raises(InvalidToken):
        verify("s3cret", "not-a-token", NOW)
