"""Two writers of one database at the same moment, for the race tests of consumers run as several
instances (issue 11): the first one's transaction is left in flight, the second runs in a thread
until it has finished or waits for a lock the first holds, then the first commits.

Nothing here sleeps: the second writer's state is read from pg_stat_activity with a deadline.
"""
from __future__ import annotations

import threading
from typing import Callable

import psycopg

from helpdesk_shared import pg
from helpdesk_shared.localstack import wait_until


def waiting_on_a_lock(url: str, pid: int) -> bool:
    """Whether the backend `pid` waits for a lock (a row, a table or an advisory lock)."""
    with pg.connect(url, autocommit=True) as conn:
        row = conn.execute("select wait_event_type from pg_stat_activity where pid = %s", (pid,)).fetchone()
    return bool(row) and row["wait_event_type"] == "Lock"


def while_in_flight(url: str, first: psycopg.Connection, second: psycopg.Connection,
                    work: Callable[[], None], seconds: float = 30) -> list[BaseException]:
    """`first` holds an uncommitted transaction; run `work` on `second` in a thread and commit it (a
    failure rolls it back), let it finish or wait for `first`'s locks, then commit `first`. Returns
    what the thread raised (an empty list when nothing), once it has ended."""
    done, errors = threading.Event(), []

    def run():
        try:
            work()
            second.commit()
        except BaseException as exc:  # reported to the test, which decides whether it was expected
            errors.append(exc)
            second.rollback()
        finally:
            done.set()

    thread = threading.Thread(target=run, name="second-instance")
    thread.start()
    wait_until(lambda: done.is_set() or waiting_on_a_lock(url, second.info.backend_pid), seconds,
               "the second writer finished or waiting for a lock")
    first.commit()
    thread.join(seconds)
    assert not thread.is_alive(), "the second writer did not finish after the first committed"
    return errors
