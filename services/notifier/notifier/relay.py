"""The notifier's outbox relay to helpdesk.notifications (entry point `python -m notifier.relay`)."""
from __future__ import annotations

from helpdesk_shared.entrypoint import serve_relay
from helpdesk_shared.kafka import BACKGROUND_GATHER_S

from . import store
from .config import Config

RELAY_LOCK = 4_242_003  # one active notifier relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    serve_relay("notifier-relay", Config.from_env(), store.require_migrated,
                RELAY_LOCK, gather_s=BACKGROUND_GATHER_S)  # off the path to the query API


if __name__ == "__main__":
    main()
