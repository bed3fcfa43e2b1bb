"""The SLA timer process (entry point `python -m sla.consumer`).

Reads helpdesk.tickets into each ticket's clocks (offsets saved with them) and fires the
timers due up to the instant every partition has been read past (`ConsumerLoop.read_past`):
a lagging or restarted service never fires a deadline that an event still unread would have
met. It looks for due timers only when the next due instant it knows may have been read past
(sla.due_watch), not after every poll.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Callable

from helpdesk_shared.clock import clock_from_env, utc_now
from helpdesk_shared.entrypoint import serve
from helpdesk_shared.kafka import BACKGROUND_GATHER_S, ConsumerLoop
from helpdesk_shared import revocations
from helpdesk_shared.topics import ACCOUNTS, TICKETS, WATERMARKS

from . import store
from .config import Config
from .due_watch import DueWatch, reach

CONSUMER_NAME = "sla-timers"
TOPICS = (TICKETS, WATERMARKS, ACCOUNTS)



class TimerService:
    """The consumer loop plus the timer firing that follows each poll."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = utc_now, stop: threading.Event | None = None):
        store.require_migrated(config.database_url)
        self.clock = clock
        self.grace = timedelta(seconds=config.grace_seconds)
        self.settings = None
        self.require_watermark = config.require_intake_watermark
        self.intake_through: datetime | None = None  # intake's latest OutboxDrained watermark
        self.loop = ConsumerLoop(bootstrap=config.kafka_bootstrap_servers, database_url=config.database_url,
                                 consumer_name=CONSUMER_NAME,
                                 topics=[config.kafka_topic_prefix + t for t in TOPICS],
                                 handle_batch=self.apply_batch, group_id=config.kafka_topic_prefix + CONSUMER_NAME,
                                 mode=config.consumer_mode, stop=stop, gather_s=BACKGROUND_GATHER_S)
        self.watch = DueWatch()
        self.checks = 0  # timer checks run (the database looked at), for tests and benches
        self._listening = None  # the database session LISTENing for CLOCKS_MOVED

    def _settings(self, conn) -> store.Settings:
        self.settings = store.load_settings(conn, self.settings)
        return self.settings

    def apply_batch(self, conn, records) -> None:
        """Apply ticket events to clocks (in the loop's transaction); note intake's watermark."""
        for r in records:
            if r.event.type == "OutboxDrained" and r.event.data["source"] == "intake":
                store.save_watermark(conn, "intake", datetime.fromisoformat(r.event.data["through"]))
            elif r.event.type == revocations.EVENT:  # bearer tokens the SLA API must refuse from now on
                revocations.apply(conn, r.event.data["user_id"], r.event.data["valid_after"])
        tickets = [r for r in records if r.topic.endswith(TICKETS)]
        if tickets:
            # Read the calendars only once a calendar change cannot commit before this batch does.
            self.settings = store.settings_for_batch(conn, self.settings)
            self.watch = self.watch.lowered(store.apply_batch(conn, tickets, self.settings))

    def fire(self, loop: ConsumerLoop) -> int:
        """Fire what is due up to the read-past instant, on the ticket partitions this instance holds.

        A ticket's events all go to one partition (keyed by its stream id) and its clocks row
        records that partition: with N instances each fires the timers of the partitions it
        reads, so each timer fires on one instance, once (fired_timers, in the same transaction).
        """
        partitions = sorted(tp.partition for tp in loop.holds() if tp.topic.endswith(TICKETS))
        if not partitions:
            return 0
        self._listen(loop.conn)
        holding = (tuple(partitions), loop.seeks)
        now = self.clock()
        if not self.watch.must_check(holding, reach(now, loop.read_until.values(), self.grace)):
            return 0
        self.checks += 1
        safe = loop.read_past(now, self.grace)
        fired = 0
        with loop.conn.transaction():
            if self.require_watermark:
                # Read past T on every partition is not enough while intake may still hold events
                # that occurred before T in its outbox: also wait for its watermark to pass T. The
                # watermark is read from the database: another instance may hold its partition.
                self.intake_through = store.load_watermark(loop.conn, "intake")
                if self.intake_through is None:
                    safe = None
                elif safe is not None:
                    safe = min(safe, self.intake_through - self.grace)
            if safe is not None:
                fired = store.fire_due(loop.conn, self._settings(loop.conn), partitions, safe, now)
            # Read in the transaction that fired: what this instance wrote is in it, and a calendar
            # change committed after it NOTIFYs (see _listen).
            self.watch = DueWatch(holding, store.earliest_due(loop.conn, partitions))
        return fired

    def _listen(self, conn) -> None:
        """LISTEN for clocks moved by the SLA API on the loop's session; forget the due instant when notified.

        Notifications arrive while the session is idle between transactions; `notifies(timeout=0)`
        hands over the ones already received without waiting. A new session (after an outage)
        listens again and knows nothing yet.
        """
        if self._listening is not conn:
            with conn.transaction():
                conn.execute(f"listen {store.CLOCKS_MOVED}")
            self._listening = conn
            self.watch = DueWatch()
        if list(conn.notifies(timeout=0)):
            self.watch = DueWatch()

    def run(self, stop: threading.Event) -> None:
        """Consume and fire until stopped."""
        self.loop.run(stop, after_poll=self.fire)


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    serve("sla-timers", lambda stop: TimerService(Config.from_env(), clock_from_env(), stop).run(stop))


if __name__ == "__main__":
    main()
