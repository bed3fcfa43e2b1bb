"""Kafka topic names, their layout, and which topic each event type goes to (SPEC §4).

`python -m helpdesk_shared.topics create` creates them (idempotently) on a broker.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

TICKETS = "helpdesk.tickets"
SLA = "helpdesk.sla"
ACCOUNTS = "helpdesk.accounts"
NOTIFICATIONS = "helpdesk.notifications"
# A writer's promise "every event that occurred before T is published" (see outbox.run_relay):
# lets the SLA service tell a late reply from a missing one.
WATERMARKS = "helpdesk.watermarks"
# What operations must hear of (a row a relay parked); the notifier mails it to the supervisor.
OPERATIONS = "helpdesk.operations"
# The knowledge base (issue 12): every change of an article, keyed by its stream ("article-<id>").
KNOWLEDGE = "helpdesk.knowledge"


# The one place Kafka's size limit lives. Every topic is created with `max.message.bytes` =
# MAX_MESSAGE_BYTES (create_topics) and the producer's `max_request_size` is the same
# (kafka.make_producer); Kafka's own default is 1 MiB as well. An event is checked against
# MAX_EVENT_BYTES when it is appended (outbox.encode): the margin covers its key and the
# record batch's framing, so what was accepted can always be published.
MAX_MESSAGE_BYTES = 1_048_576
MAX_EVENT_BYTES = MAX_MESSAGE_BYTES - 16_384


@dataclass(frozen=True)
class TopicSpec:
    """A topic's partitions and retention (-1 = kept forever)."""

    name: str
    partitions: int
    retention_ms: int


TOPICS = (
    # Partitions are the unit of scale (issue 11): a consumer runs as up to that many instances
    # (kafka.ConsumerLoop, group mode). create_topics never changes an existing topic: adding
    # partitions moves keys to other partitions, and the SLA's clocks remember each ticket's.
    # The ticket log is what every read model is rebuilt from: never expire it.
    TopicSpec(TICKETS, partitions=12, retention_ms=-1),
    TopicSpec(SLA, partitions=12, retention_ms=-1),
    TopicSpec(ACCOUNTS, partitions=1, retention_ms=-1),
    # Notifications are an audit trail the timeline also reads; keep them a year.
    TopicSpec(NOTIFICATIONS, partitions=12, retention_ms=365 * 24 * 3600 * 1000),
    TopicSpec(WATERMARKS, partitions=1, retention_ms=24 * 3600 * 1000),
    TopicSpec(OPERATIONS, partitions=1, retention_ms=90 * 24 * 3600 * 1000),
    # The articles' read model is rebuilt from it: kept forever, like the ticket log.
    TopicSpec(KNOWLEDGE, partitions=3, retention_ms=-1),
)

TOPIC_OF_EVENT = {
    "TicketOpened": TICKETS,
    "MessagePosted": TICKETS,
    "TicketAssigned": TICKETS,
    "CustomerAway": TICKETS,
    "ResolutionConfirmed": TICKETS,
    "TicketClosed": TICKETS,
    "BillableMarked": TICKETS,
    "ResponseOverdue": SLA,
    "DeadlineSet": SLA,
    "DeadlineMoved": SLA,
    "DeadlineMet": SLA,
    "DeadlineCleared": SLA,
    "ClockPaused": SLA,
    "AutoCloseWarning": SLA,
    "AutoClosed": SLA,
    "WorkTimeRecorded": SLA,
    "CalendarChanged": SLA,
    "PolicyChanged": SLA,
    "OrganisationRegistered": ACCOUNTS,
    "UserRegistered": ACCOUNTS,
    "UserUpdated": ACCOUNTS,
    "BearerTokensRevoked": ACCOUNTS,
    "AccessRequested": ACCOUNTS,
    "AccessGranted": ACCOUNTS,
    "AccessRejected": ACCOUNTS,
    "ModuleCatalogChanged": ACCOUNTS,
    "TrainingRequested": ACCOUNTS,
    "SpecialProcessAnnounced": ACCOUNTS,
    "RulesPageEdited": ACCOUNTS,  # intake's other per-desk content; no consumer needs it yet
    "CannedAnswerSaved": ACCOUNTS,  # per-desk content too; intake reads its own table
    "NotificationSent": NOTIFICATIONS,
    "NotificationFailed": NOTIFICATIONS,
    "OutboxDrained": WATERMARKS,
    "DeliveryParked": OPERATIONS,
    "TicketMergedInto": TICKETS,
    # knowledge base (issue 12)
    "ArticleDrafted": KNOWLEDGE,
    "ArticleEdited": KNOWLEDGE,
    "ArticlePublished": KNOWLEDGE,
    "ArticleArchived": KNOWLEDGE,
    "ArticleSuggestionOpened": KNOWLEDGE,
    "TicketRated": TICKETS,
}


def create_topics(bootstrap: str, wait_seconds: float = 60.0, prefix: str = "", topics=TOPICS) -> list[str]:
    """Create the missing topics (names prefixed by `prefix`, see KAFKA_TOPIC_PREFIX); return those created.

    Retries until the broker answers.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="mesa-topics")
            break
        except KafkaError:  # not answering yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(prefix + t.name, num_partitions=t.partitions, replication_factor=1,
                        topic_configs={"retention.ms": str(t.retention_ms),
                                       "max.message.bytes": str(MAX_MESSAGE_BYTES)})
               for t in topics if prefix + t.name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another "up" raced us; the topic is there either way
        return [t.name for t in new]
    finally:
        admin.close()


def main(argv=None) -> None:
    """CLI: `python -m helpdesk_shared.topics create --bootstrap HOST:PORT`."""
    parser = argparse.ArgumentParser(prog="helpdesk_shared.topics")
    parser.add_argument("command", choices=["create"])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--wait", type=float, default=60.0)
    parser.add_argument("--prefix", default="")
    args = parser.parse_args(argv)
    created = create_topics(args.bootstrap, args.wait, args.prefix)
    print("topics created: " + (", ".join(created) if created else "none (all present)"))


if __name__ == "__main__":
    main()
