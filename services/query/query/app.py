"""Query's composition root: `gunicorn 'query.app:create_app()'`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask import Flask
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from helpdesk_shared.clock import clock_from_env
from helpdesk_shared import logs, migrations, openapi, pg, web
from helpdesk_shared.metrics import with_now

from . import api, store
from .config import Config
from .report_cache import ReportCache

SCHEMA = Path(__file__).with_name("schema.sql")


@dataclass
class Query:
    """What the views need."""

    config: Config
    pool: ConnectionPool
    clock: Callable[[], datetime]
    # Compliance answers per read-model state (query.report_cache); None computes every request.
    report_cache: ReportCache | None = field(default=None)



def migrate(database_url: str) -> None:
    """Apply query's numbered migrations: `mesa migrate query`."""
    from . import migrations as folder
    migrations.migrate(database_url, folder.DIRECTORY)


def require_migrated(database_url: str) -> None:
    """Refuse to start (migrations.NotMigrated) on a database `mesa migrate query` has not brought up to date."""
    from . import migrations as folder
    migrations.require_current(database_url, folder.DIRECTORY, "query")


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None,
               migrate_first: bool = False) -> Flask:
    """Build the query app on a migrated database (`migrate_first=True`, for tests only, migrates it)."""
    config = config or Config.from_env()
    clock = clock or clock_from_env()  # the wall clock unless a test drives it
    logs.setup("query")
    (migrate if migrate_first else require_migrated)(config.database_url)
    app = Flask(__name__)
    ctx = Query(config, pg.make_pool(config.database_url), clock)
    app.extensions["query"] = ctx

    def health() -> dict:
        with ctx.pool.connection() as conn:
            return store.stats(conn)

    from . import consumer, metrics  # consumer imports this module (SCHEMA)
    ctx.report_cache = ReportCache(consumer.CONSUMER_NAME)
    prefix = config.kafka_topic_prefix
    web.install(app, "query", CollectorRegistry(), health, pool=lambda: ctx.pool,
                consumers={consumer.CONSUMER_NAME: [prefix + t for t in consumer.TOPICS]},
                kafka_bootstrap=config.kafka_bootstrap_servers,
                collectors=[metrics.open_tickets, with_now(metrics.compliance, clock),
                            with_now(metrics.deflections, clock)])
    app.register_blueprint(api.bp)
    from . import articles_api  # issue 12's knowledge base
    app.register_blueprint(articles_api.bp)
    openapi.serve(app, "Mesa query", "Read API of Mesa's help desk. Every refusal is "
                  "`{code, field, message: {es, en}}`.")
    return app
