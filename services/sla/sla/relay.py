"""The SLA service's outbox relay to helpdesk.sla (entry point `python -m sla.relay`)."""
from __future__ import annotations

from helpdesk_shared.entrypoint import serve_relay
from helpdesk_shared.kafka import BACKGROUND_GATHER_S

from . import store
from .config import Config

RELAY_LOCK = 4_242_002  # one active SLA relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    serve_relay("sla-relay", Config.from_env(), store.require_migrated,
                RELAY_LOCK, gather_s=BACKGROUND_GATHER_S)  # off the path to the query API


if __name__ == "__main__":
    main()
