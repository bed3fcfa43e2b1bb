"""Intake's composition root: `gunicorn 'intake.app:create_app()'`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask import Flask, jsonify
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from helpdesk_shared.clock import clock_from_env
from helpdesk_shared import logs, migrations, pg, web

from . import admin_api, api, openapi
from .blobstore import BlobStore
from .config import Config

SCHEMA = Path(__file__).with_name("schema.sql")


@dataclass
class Intake:
    """What the views need: config, a connection pool, the blob store and the clock."""

    config: Config
    pool: ConnectionPool
    blobs: BlobStore
    clock: Callable[[], datetime]



def migrate(database_url: str) -> None:
    """Apply intake's numbered migrations (event store, outbox, lookups): `mesa migrate intake`."""
    from . import migrations as folder
    migrations.migrate(database_url, folder.DIRECTORY)


def require_migrated(database_url: str) -> None:
    """Refuse to start (migrations.NotMigrated) on a database `mesa migrate intake` has not brought up to date."""
    from . import migrations as folder
    migrations.require_current(database_url, folder.DIRECTORY, "intake")


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None,
               migrate_first: bool = False) -> Flask:
    """Build the intake app on a migrated database (`migrate_first=True`, for tests only, migrates it)."""
    config = config or Config.from_env()
    clock = clock or clock_from_env()  # the wall clock unless a test drives it
    logs.setup("intake")
    (migrate if migrate_first else require_migrated)(config.database_url)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 12 * 1024 * 1024  # one attachment plus form overhead
    app.extensions["intake"] = Intake(config, pg.make_pool(config.database_url), BlobStore(config.attachments_dir),
                                      clock)
    from . import sla_consumer  # it imports this module (require_migrated)
    ctx = app.extensions["intake"]
    web.install(app, "intake", CollectorRegistry(), pool=lambda: ctx.pool,
                consumers={sla_consumer.CONSUMER_NAME: [config.kafka_topic_prefix + t for t in sla_consumer.TOPICS]},
                kafka_bootstrap=config.kafka_bootstrap_servers)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.resolve_bp)
    app.register_blueprint(admin_api.bp)  # supervisors: catalogs, organisations, users
    app.get("/openapi.json")(lambda: jsonify(openapi.document()))
    return app
