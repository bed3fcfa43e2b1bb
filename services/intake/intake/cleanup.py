"""Removes uploads nobody attached (entry point `python -m intake.cleanup`, runs hourly).

An upload is kept a day for its ticket or message to be sent; after that, an upload never
attached is forgotten, and its blob deleted when no other upload and no ticket refers to it.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import pg
from helpdesk_shared.clock import clock_from_env, utc_now
from helpdesk_shared.entrypoint import serve

from .app import require_migrated
from .blobstore import BlobStore
from .config import Config
from .handlers import hold_blob

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(days=1)
INTERVAL_SECONDS = 3600


def remove_stale_uploads(conn: psycopg.Connection, blobs: BlobStore, now: datetime) -> int:
    """Delete uploads never attached and older than STALE_AFTER; return how many went."""
    rows = conn.execute("""delete from uploads where attached_at is null and uploaded_at < %s
                           returning sha256""", (now - STALE_AFTER,)).fetchall()
    for sha256 in sorted({r["sha256"] for r in rows}):
        hold_blob(conn, sha256)  # an upload of the same bytes in flight commits first, or waits
        in_use = conn.execute("select 1 from uploads where sha256 = %s limit 1", (sha256,)).fetchone() or \
            conn.execute("""select 1 from events
                            where data->'attachments' @> %(used)s
                               or (position(convert_to(%(sha)s, 'UTF8') in payload) > 0  -- cheap test first
                                   and convert_from(payload, 'UTF8')::jsonb->'data'->'attachments' @> %(used)s)
                            limit 1""",  # events stored since migration 0002 hold their data in payload
                         {"used": Jsonb([{"sha256": sha256}]), "sha": sha256}).fetchone()
        if not in_use:
            blobs.delete(sha256)
    return len(rows)


def run(config: Config, stop: threading.Event, clock: Callable[[], datetime] = utc_now) -> None:
    """Clean up every INTERVAL_SECONDS until stopped; a database outage only skips a round."""
    blobs = BlobStore(config.attachments_dir)
    while not stop.is_set():
        try:
            with pg.connect(config.database_url) as conn:
                removed = remove_stale_uploads(conn, blobs, clock())
            log.info("stale uploads removed", extra={"removed": removed})
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("cleanup skipped: database unreachable", extra={"error": str(exc)})
        stop.wait(INTERVAL_SECONDS)


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    config = Config.from_env()
    require_migrated(config.database_url)
    clock = clock_from_env()
    serve("intake-cleanup", lambda stop: run(config, stop, clock))


if __name__ == "__main__":
    main()
