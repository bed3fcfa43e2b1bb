"""Query's projector process (entry point `python -m query.consumer`): helpdesk.tickets,
helpdesk.notifications, helpdesk.accounts and helpdesk.sla → read models."""
from __future__ import annotations

import threading

from helpdesk_shared.entrypoint import serve
from helpdesk_shared.kafka import ConsumerLoop
from helpdesk_shared.topics import ACCOUNTS, KNOWLEDGE, NOTIFICATIONS, SLA, TICKETS

from . import store
from .app import require_migrated
from .config import Config

CONSUMER_NAME = "query-tickets"
# Accounts give the views the names of people and organisations; the SLA service's facts give
# the deadlines (query never recomputes business time); the knowledge base its articles (issue 12).
TOPICS = (TICKETS, NOTIFICATIONS, ACCOUNTS, SLA, KNOWLEDGE)


def build(config: Config, stop: threading.Event | None = None) -> ConsumerLoop:
    """The consumer loop that feeds the ticket read model (waiting for Kafka, the database and the
    topics until they are there, or `stop`)."""
    require_migrated(config.database_url)  # `mesa migrate query` ran before
    prefix = config.kafka_topic_prefix
    return ConsumerLoop(bootstrap=config.kafka_bootstrap_servers, database_url=config.database_url,
                        consumer_name=CONSUMER_NAME, topics=[prefix + t for t in TOPICS],
                        handle_batch=store.apply_batch, group_id=prefix + CONSUMER_NAME,
                        mode=config.consumer_mode, stop=stop)


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    serve("query-consumer", lambda stop: build(Config.from_env(), stop).run(stop))


if __name__ == "__main__":
    main()
