"""One signed-token format for bearer tokens and mail links (issue 10 item 2): base64url(json) "."
base64url(signature); the signature is Ed25519 for bearer tokens (only intake mints) and HMAC for
links (one secret per purpose). Each kind keeps its own key."""
from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpdesk_shared import auth_tokens, link_tokens, signed_tokens
from helpdesk_shared.auth_tokens import Claims, new_signing_key, verify_key_of

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
KERNEL = Path(signed_tokens.__file__).parent
SECRET = "link-secret-0123456789abcdef0123456789"


def test_a_sealed_body_opens_with_the_matching_key_only():
    key = signed_tokens.HmacKey(SECRET, "resolve")
    token = signed_tokens.seal(key, {"t": "SOP-1"})
    assert signed_tokens.unseal(key, token) == {"t": "SOP-1"}
    with pytest.raises(signed_tokens.BadToken, match="bad signature"):
        signed_tokens.unseal(signed_tokens.HmacKey(SECRET, "password"), token)
    with pytest.raises(signed_tokens.BadToken, match="bad signature"):
        signed_tokens.unseal(signed_tokens.HmacKey(SECRET + "x", "resolve"), token)


@pytest.mark.parametrize("garbage", ["", "a", "a.b", "ñ.ñ", "a.b.c", None, "e30.AAAA"])
def test_garbage_is_refused_as_a_bad_token(garbage):
    with pytest.raises(signed_tokens.BadToken):
        signed_tokens.unseal(signed_tokens.HmacKey(SECRET, "resolve"), garbage)


def test_an_empty_link_secret_signs_nothing():
    # Secrets fail closed: a missing LINK_SECRET must not give tokens anyone can forge.
    with pytest.raises(ValueError):
        signed_tokens.HmacKey("", "resolve")


def test_bearer_and_link_tokens_are_both_made_by_the_one_sealer():
    signing = new_signing_key()
    claims = Claims(user_id="u1", role="customer", organisation_id="club-caracas", desks=("SOPORTE",),
                    name="María", email="maria@clubcaracas.com.ve")
    bearer = auth_tokens.issue(signing, claims, NOW, 3600)
    opened = signed_tokens.unseal(signed_tokens.Ed25519Verifier(auth_tokens.load_verify_key(verify_key_of(signing))), bearer)
    assert opened["user_id"] == "u1" and opened["exp"] == int(NOW.timestamp()) + 3600
    link = link_tokens.sign(SECRET, link_tokens.RESOLUTION, {"t": "SOP-1", "u": "u1"}, NOW, 3600)
    assert signed_tokens.unseal(signed_tokens.HmacKey(SECRET, link_tokens.RESOLUTION), link)["t"] == "SOP-1"


@pytest.mark.parametrize("module", ["auth_tokens.py", "link_tokens.py"])
def test_the_token_modules_hold_no_signing_code_of_their_own(module):
    # The format lives in signed_tokens only: neither module imports hmac or base64 itself.
    tree = ast.parse((KERNEL / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"hmac", "base64", "hashlib"}
