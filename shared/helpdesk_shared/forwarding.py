"""The browser's address, forwarded by the portal to intake and signed (pure).

Behind the portal every request reaches intake from one address, so intake's per-address
limits (login failures, access requests) would be one budget for all customers. The portal
sends the browser's address with an HMAC made with PORTAL_FORWARD_SECRET, which only the
portal and intake hold; intake believes the address only when the signature matches, and
otherwise counts the peer's own address. A bare X-Forwarded-For is never believed: anyone
on the internet can write it.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Mapping

ADDRESS_HEADER = "X-Mesa-Client-Address"
SIGNATURE_HEADER = "X-Mesa-Client-Signature"
MAX_ADDRESS = 64  # an IPv6 address with a zone fits; anything longer is not an address


def _signature(secret: str, address: str) -> str:
    return hmac.new(f"forward:{secret}".encode(), address.encode(), hashlib.sha256).hexdigest()


def headers(secret: str, address: str) -> dict[str, str]:
    """The headers the portal adds to a call it makes for a browser at `address`."""
    return {ADDRESS_HEADER: address, SIGNATURE_HEADER: _signature(secret, address)}


def client_address(secret: str, request_headers: Mapping[str, str], peer: str) -> str:
    """The forwarded address when signed with `secret`, else `peer` (the TCP peer's address)."""
    address = request_headers.get(ADDRESS_HEADER) or ""
    signature = request_headers.get(SIGNATURE_HEADER) or ""
    if not secret or not address or len(address) > MAX_ADDRESS or not address.isascii():
        return peer
    if not signature.isascii() or not hmac.compare_digest(signature, _signature(secret, address)):
        return peer
    return address
