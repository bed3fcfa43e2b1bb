"""How every long-running process of Mesa starts and stops: JSON logs, and a stop event set
by SIGTERM or SIGINT that its loop checks (so a batch in flight commits or rolls back whole)."""
from __future__ import annotations

import signal
import threading
from typing import Callable

from . import logs


def serve(service: str, run: Callable[[threading.Event], None]) -> None:
    """Run `run(stop)` under the service's name until SIGTERM/SIGINT sets `stop`."""
    logs.setup(service)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(stop)


def serve_relay(service: str, config, require_migrated: Callable[[str], None], lock_id: int,
                watermark_source: str | None = None) -> None:
    """A service's outbox relay: its database checked to be migrated, then `outbox.run_relay` until stopped."""
    from . import outbox
    from .clock import clock_from_env
    require_migrated(config.database_url)
    clock = clock_from_env()  # the watermark is told on the time line the service stamps its events with
    serve(service, lambda stop: outbox.run_relay(config.database_url, config.kafka_bootstrap_servers,
                                                 config.kafka_topic_prefix, lock_id, stop,
                                                 watermark_source=watermark_source, clock=clock))
