"""Intake's outbox relay (entry point `python -m intake.relay`); see helpdesk_shared.outbox."""
from __future__ import annotations

import signal
import threading

from helpdesk_shared import logs, outbox

from .app import migrate
from .config import Config

RELAY_LOCK = 4_242_001  # one active intake relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    logs.setup("intake-relay")
    config = Config.from_env()
    migrate(config.database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    outbox.run_relay(config.database_url, config.kafka_bootstrap_servers, config.kafka_topic_prefix, RELAY_LOCK,
                     stop)


if __name__ == "__main__":
    main()
