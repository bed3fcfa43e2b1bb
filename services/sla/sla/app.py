"""The SLA service's composition root: `gunicorn 'sla.app:create_app()'`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import Flask, jsonify
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from helpdesk_shared.clock import clock_from_env
from helpdesk_shared import logs, pg, web
from helpdesk_shared.metrics import with_now

from . import api, consumer, metrics, openapi, store
from .config import Config


@dataclass
class Sla:
    """What the views need."""

    config: Config
    pool: ConnectionPool
    clock: Callable[[], datetime]


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None,
               migrate_first: bool = False) -> Flask:
    """Build the SLA admin app on a migrated database (`migrate_first=True`, for tests only, migrates it)."""
    config = config or Config.from_env()
    clock = clock or clock_from_env()  # the wall clock unless a test drives it
    logs.setup("sla")
    (store.migrate if migrate_first else store.require_migrated)(config.database_url)
    app = Flask(__name__)
    ctx = Sla(config, pg.make_pool(config.database_url), clock)
    app.extensions["sla"] = ctx

    def health() -> dict:
        with ctx.pool.connection() as conn:
            row = conn.execute("""select (select count(*) from clocks where status <> 'closed') as open_tickets,
                                         (select count(*) from fired_timers) as fired_timers""").fetchone()
        return dict(row)

    web.install(app, "sla", CollectorRegistry(), health, pool=lambda: ctx.pool,
                consumers={consumer.CONSUMER_NAME: [config.kafka_topic_prefix + t for t in consumer.TOPICS]},
                kafka_bootstrap=config.kafka_bootstrap_servers,
                collectors=[with_now(metrics.timers, clock)])
    app.register_blueprint(api.bp)
    app.get("/openapi.json")(lambda: jsonify(openapi.document()))
    return app
