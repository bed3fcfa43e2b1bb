"""The SLA service's outbox relay to helpdesk.sla (entry point `python -m sla.relay`)."""
from __future__ import annotations

from helpdesk_shared.entrypoint import serve_relay

from . import store
from .config import Config

RELAY_LOCK = 4_242_002  # one active SLA relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    serve_relay("sla-relay", Config.from_env(), store.require_migrated, RELAY_LOCK)


if __name__ == "__main__":
    main()
