"""Signed, expiring bearer tokens (pure): Ed25519, so only the holder of the private key mints them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import link_tokens
from helpdesk_shared.auth_tokens import (Claims, InvalidToken, issue, new_signing_key, verify, verify_key_of)
from helpdesk_shared.revocations import issued_too_early

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
MARIA = Claims(user_id="u1", role="customer", organisation_id="club-caracas", desks=("SOPORTE",),
               name="María Pérez", email="maria@clubcaracas.com.ve")
SIGNING = new_signing_key()
VERIFY = verify_key_of(SIGNING)


def test_a_token_carries_user_role_organisation_desks_and_when_it_was_issued():
    claims = verify(VERIFY, issue(SIGNING, MARIA, NOW, 3600), NOW + timedelta(minutes=59))
    assert (claims.user_id, claims.role, claims.organisation_id, claims.desks) == (
        "u1", "customer", "club-caracas", ("SOPORTE",))
    assert claims.iat == NOW.timestamp()
    assert not claims.is_staff


def test_an_expired_token_is_refused():
    token = issue(SIGNING, MARIA, NOW, 3600)
    with pytest.raises(InvalidToken, match="expired"):
        verify(VERIFY, token, NOW + timedelta(hours=1))


def test_a_token_signed_with_another_key_or_edited_is_refused():
    token = issue(SIGNING, MARIA, NOW, 3600)
    with pytest.raises(InvalidToken):
        verify(verify_key_of(new_signing_key()), token, NOW)
    payload, signature = token.split(".")
    forged = issue(new_signing_key(), Claims(**{**MARIA.__dict__, "role": "supervisor"}), NOW, 3600).split(".")[0]
    with pytest.raises(InvalidToken):
        verify(VERIFY, f"{forged}.{signature}", NOW)
    for garbage in ("not-a-token", "a.b", "ñ.ñ", f"{payload}.{signature}x", ""):
        with pytest.raises(InvalidToken):
            verify(VERIFY, garbage, NOW)


def test_the_verify_key_cannot_mint_a_token():
    # What query, SLA and the notifier hold is the public key: used as a private one it signs
    # for another key pair, and the token is refused.
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(VERIFY, issue(VERIFY, Claims(**{**MARIA.__dict__, "role": "supervisor"}), NOW, 3600), NOW)


def test_a_one_click_link_token_is_never_a_bearer_token():
    link = link_tokens.sign("link-secret-0123456789abcdef0123456789", link_tokens.RESOLUTION,
                            {"t": "SOP-1", "u": "u1"}, NOW, 3600)
    with pytest.raises(InvalidToken):
        verify(VERIFY, link, NOW)


def test_a_token_issued_at_or_before_a_revocation_is_revoked_and_a_later_one_is_not():
    token = verify(VERIFY, issue(SIGNING, MARIA, NOW, 3600), NOW)
    assert issued_too_early(token, NOW)
    assert issued_too_early(token, NOW + timedelta(microseconds=1))
    assert not issued_too_early(token, NOW - timedelta(microseconds=1))
    assert not issued_too_early(token, None)


def test_a_token_s_signature_is_checked_once_per_process_and_its_expiry_at_every_use(monkeypatch):
    """Issue 11: the Ed25519 check was 7 % of an intake request's CPU, paid again at every request
    of the same session. The claims of a token whose signature held are kept (same key, same bytes,
    same answer); whether it expired is still decided at each use, and a forged one is never kept."""
    from helpdesk_shared import signed_tokens
    checks = []
    real = signed_tokens.Ed25519Verifier.check
    monkeypatch.setattr(signed_tokens.Ed25519Verifier, "check",
                        lambda self, payload, signature: checks.append(1) or real(self, payload, signature))
    token = issue(SIGNING, Claims(**{**MARIA.__dict__, "user_id": "u-cached"}), NOW, 3600)
    for minutes in (1, 2, 30):
        assert verify(VERIFY, token, NOW + timedelta(minutes=minutes)).user_id == "u-cached"
    assert len(checks) == 1
    with pytest.raises(InvalidToken, match="expired"):
        verify(VERIFY, token, NOW + timedelta(hours=1))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verify(VERIFY, forged, NOW)
    assert len(checks) == 3
    with pytest.raises(InvalidToken):  # another key: checked again, and refused
        verify(verify_key_of(new_signing_key()), token, NOW)
