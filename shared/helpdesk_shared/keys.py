"""`python -m helpdesk_shared.keys`: print a fresh set of Mesa's secrets as an env file.

One key per purpose (SPEC §6): TOKEN_SIGNING_KEY (intake mints bearer tokens) and its
public half TOKEN_VERIFY_KEY (every HTTP service checks them); LINK_SECRET (one-click links
in mails: the notifier signs, intake checks); REPLY_SECRET (reply addresses, notifier only);
INBOUND_SECRET (the notifier posting e-mail replies to intake's internal route);
PORTAL_SESSION_SECRET (signs the portal's session cookie, portal only); PORTAL_FORWARD_SECRET
(the portal signs the browser's address it forwards to intake, see helpdesk_shared.forwarding).
"""
from __future__ import annotations

import secrets

from . import auth_tokens

HMAC_SECRETS = ("LINK_SECRET", "REPLY_SECRET", "INBOUND_SECRET", "PORTAL_SESSION_SECRET", "PORTAL_FORWARD_SECRET")


def fresh() -> dict[str, str]:
    """A new value for every secret variable."""
    signing = auth_tokens.new_signing_key()
    return {"TOKEN_SIGNING_KEY": signing, "TOKEN_VERIFY_KEY": auth_tokens.verify_key_of(signing),
            **{name: secrets.token_urlsafe(48) for name in HMAC_SECRETS}}


def main() -> None:
    """Print `NAME=value` lines (bin/up keeps them in its run folder; compose reads them from .env)."""
    for name, value in fresh().items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
