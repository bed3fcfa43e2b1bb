"""How every long-running process of Mesa starts and stops: JSON logs, and a stop event set
by SIGTERM or SIGINT that its loop checks (so a batch in flight commits or rolls back whole)."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from . import logs
from .outage import TRANSIENT_ERRORS, Backoff, Stopped

log = logging.getLogger(__name__)


def serve(service: str, run: Callable[[threading.Event], None]) -> None:
    """Run `run(stop)` under the service's name until SIGTERM/SIGINT sets `stop`.

    An outage that reaches this far came from starting (the loops wait out their own): PostgreSQL
    or Kafka not up yet, a database not reachable for its schema check. It is waited out with
    back-off and `run` is called again; a stop while waiting ends the process cleanly.
    """
    logs.setup(service)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    backoff = Backoff()
    while not stop.is_set():
        try:
            run(stop)
            return
        except Stopped:
            log.info("stopped while starting", extra={"service": service})
            return
        except TRANSIENT_ERRORS as exc:
            if backoff.wait(stop, f"{service} starting", exc):
                return


def serve_relay(service: str, config, require_migrated: Callable[[str], None], lock_id: int, **options) -> None:
    """A service's outbox relay: its database checked to be migrated, then `outbox.run_relay` until stopped
    (`options`, e.g. watermark_source or gather_s, are run_relay's own, with its defaults)."""
    from . import outbox
    from .clock import clock_from_env
    require_migrated(config.database_url)
    clock = clock_from_env()  # the watermark is told on the time line the service stamps its events with
    serve(service, lambda stop: outbox.run_relay(config.database_url, config.kafka_bootstrap_servers,
                                                 config.kafka_topic_prefix, lock_id, stop, clock=clock, **options))
