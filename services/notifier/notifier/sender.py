"""The mail sender (entry point `python -m notifier.sender`): sends what the consumer recorded.

Each mail is held (a session lock, store.claim_mails) while it is sent and until its mark
committed: a crash after the server took it and before the mark resends it once, with the same
Message-ID, so mail clients show it once. SMTP down: mails wait with exponential backoff and
nothing is dropped.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable

from helpdesk_shared.clock import clock_from_env, utc_now
from helpdesk_shared.entrypoint import serve
from helpdesk_shared import pg
from helpdesk_shared.outage import TRANSIENT_ERRORS, Backoff

from . import store
from .config import Config
from .mailer import Mailer, Outgoing, PermanentFailure, TransientFailure

log = logging.getLogger(__name__)



def send_due(conn, mailer: Mailer, now: datetime, max_backoff: float, limit: int = 20) -> int:
    """Send (or postpone, or fail) the mails due now; return how many were handled.

    `conn` is the sender's own connection; it is put in autocommit, so each mail's mark commits by
    itself, and the mails are held by session locks until the round ends (store.claim_mails)."""
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    held, mails = store.claim_mails(conn, now, limit)
    if not held:
        return 0
    handled = 0
    try:
        for mail in mails:
            try:
                mailer.send(Outgoing(recipient=mail["recipient"], subject=mail["subject"], text=mail["body_text"],
                                     html=mail["body_html"], message_id=mail["message_id"],
                                     reply_to=mail["reply_to"], language=mail["language"]))
            except PermanentFailure as exc:
                log.warning("mail refused for good", extra={"key": mail["key"], "error": str(exc)})
                store.mark_failed(conn, mail, str(exc), now)
            except TransientFailure as exc:
                log.warning("mail postponed", extra={"key": mail["key"], "error": str(exc),
                                                     "attempts": mail["attempts"] + 1})
                store.postpone(conn, mail, str(exc), now, max_backoff)
            else:
                store.mark_sent(conn, mail, now)
            handled += 1
    finally:
        if not conn.closed:  # a dead connection took its locks with it
            store.release_mails(conn)
    return handled


def run(config: Config, stop: threading.Event, clock: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None) -> None:
    """Send until stopped; wakes on NOTIFY mails or every half second.

    PostgreSQL going away is waited out: back off, reconnect, go on (a mail whose row was
    not marked when the connection died is sent again, with the same Message-ID).
    """
    backoff = backoff or Backoff()
    mailer = Mailer(config)
    try:
        while not stop.is_set():
            try:
                _send_session(config, stop, clock, mailer, backoff)
            except TRANSIENT_ERRORS as exc:
                if backoff.wait(stop, "notifier-sender", exc):
                    return
    finally:
        mailer.close()


def _send_session(config: Config, stop: threading.Event, clock: Callable[[], datetime], mailer: Mailer,
                  backoff: Backoff) -> None:
    """Send on fresh connections until stopped or the database goes away."""
    with pg.connect(config.database_url, autocommit=True) as conn, \
            pg.connect(config.database_url, autocommit=True) as listener:
        listener.execute("listen mails")
        while not stop.is_set():
            handled = send_due(conn, mailer, clock(), config.smtp_retry_max_seconds)
            backoff.reset()
            if handled == 0:
                for _ in listener.notifies(timeout=0.5, stop_after=1):
                    pass


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    config = Config.from_env()
    store.require_migrated(config.database_url)
    clock = clock_from_env()
    serve("notifier-sender", lambda stop: run(config, stop, clock))


if __name__ == "__main__":
    main()
