"""Intake's outbox relay (entry point `python -m intake.relay`); see helpdesk_shared.outbox."""
from __future__ import annotations

from helpdesk_shared.entrypoint import serve_relay

from .app import require_migrated
from .config import Config

RELAY_LOCK = 4_242_001  # one active intake relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    # Intake writes the ticket streams: its watermark tells the SLA service a reply is not late.
    serve_relay("intake-relay", Config.from_env(), require_migrated, RELAY_LOCK, watermark_source="intake")


if __name__ == "__main__":
    main()
