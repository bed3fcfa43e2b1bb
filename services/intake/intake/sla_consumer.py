"""Intake's consumer of helpdesk.sla (entry point `python -m intake.sla_consumer`).

Turns the SLA service's AutoClosed decisions into TicketClosed(reason=auto_closed) when the
ticket has not moved since; the close, its outbox row and the offsets commit together, so
a restart neither loses nor repeats one.
"""
from __future__ import annotations

import logging
import threading

from helpdesk_shared import logs
from helpdesk_shared.entrypoint import serve
from helpdesk_shared.kafka import BACKGROUND_GATHER_S, ConsumerLoop
from helpdesk_shared.topics import SLA

from . import handlers
from .app import require_migrated
from .config import Config

log = logging.getLogger(__name__)
CONSUMER_NAME = "intake-sla-decisions"
TOPICS = (SLA,)


def apply_batch(conn, records) -> None:
    """Accept or refuse each AutoClosed of the batch."""
    for record in records:
        if record.event.type != "AutoClosed":
            continue
        with logs.bound(record.event.correlation_id):
            closed = handlers.accept_auto_close(conn, record.event)
            log.info("auto-close accepted" if closed else "auto-close refused: the ticket moved on",
                     extra={"ticket_id": record.event.data["ticket_id"],
                            "based_on_version": record.event.data["based_on_version"]})


def build(config: Config, stop: threading.Event | None = None) -> ConsumerLoop:
    """The consumer loop over helpdesk.sla (waiting for what it depends on until it is there, or `stop`)."""
    require_migrated(config.database_url)
    return ConsumerLoop(bootstrap=config.kafka_bootstrap_servers, database_url=config.database_url,
                        consumer_name=CONSUMER_NAME, topics=[config.kafka_topic_prefix + t for t in TOPICS],
                        handle_batch=apply_batch, group_id=config.kafka_topic_prefix + CONSUMER_NAME,
                        mode=config.consumer_mode, stop=stop, gather_s=BACKGROUND_GATHER_S)


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    serve("intake-sla-consumer", lambda stop: build(Config.from_env(), stop).run(stop))


if __name__ == "__main__":
    main()
