"""The notifier's outbox relay to helpdesk.notifications (entry point `python -m notifier.relay`)."""
from __future__ import annotations

import signal
import threading

from helpdesk_shared import logs, outbox

from . import store
from .config import Config

RELAY_LOCK = 4_242_003  # one active notifier relay at a time


def main() -> None:
    """Run the relay until SIGTERM/SIGINT."""
    logs.setup("notifier-relay")
    config = Config.from_env()
    store.migrate(config.database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    outbox.run_relay(config.database_url, config.kafka_bootstrap_servers, config.kafka_topic_prefix, RELAY_LOCK,
                     stop)


if __name__ == "__main__":
    main()
