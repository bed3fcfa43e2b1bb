"""A consumer batch's bookkeeping (issue 11): the events counted by type and the next offsets are
each one statement whatever the batch holds, where executemany ran one a row in pipeline mode."""
from __future__ import annotations

from unittest import mock

import pytest
from psycopg import Cursor

from helpdesk_shared import pg
from notifier import store

pytestmark = pytest.mark.integration


def test_a_batch_counts_its_events_and_saves_its_offsets_in_one_statement_each(fresh_database):
    url = fresh_database("notifier")
    store.migrate(url)
    sent = []
    execute, executemany = Cursor.execute, Cursor.executemany
    with pg.connect(url) as conn, \
            mock.patch.object(Cursor, "execute", lambda self, q, *a, **k: sent.append("execute") or execute(self, q, *a, **k)), \
            mock.patch.object(Cursor, "executemany",
                              lambda self, q, *a, **k: sent.append("executemany") or executemany(self, q, *a, **k)):
        pg.count_applied(conn, "c", ["TicketOpened", "MessagePosted", "TicketOpened"])
        pg.save_offsets(conn, "c", {("helpdesk.tickets", 3): 10, ("helpdesk.tickets", 1): 7, ("helpdesk.sla", 0): 2})
        conn.commit()
        assert sent == ["execute", "execute"]
        pg.count_applied(conn, "c", ["TicketOpened", "TicketClosed"])
        pg.count_applied(conn, "other", ["TicketOpened"])
        pg.save_offsets(conn, "c", {("helpdesk.tickets", 3): 12})
        pg.count_applied(conn, "c", [])  # a batch of parked messages only: nothing to count or store
        pg.save_offsets(conn, "c", {})
        conn.commit()
        counts = {(r["consumer"], r["type"]): r["applied"]
                  for r in conn.execute("select consumer, type, applied from consumer_events_applied")}
        offsets = pg.load_offsets(conn, "c")
    assert counts == {("c", "TicketOpened"): 3, ("c", "MessagePosted"): 1, ("c", "TicketClosed"): 1,
                      ("other", "TicketOpened"): 1}
    assert offsets == {("helpdesk.tickets", 3): 12, ("helpdesk.tickets", 1): 7, ("helpdesk.sla", 0): 2}
