"""The notifier's small HTTP app: health (mail counts), metrics, and the templates a
supervisor reads (`gunicorn 'notifier.app:create_app()'`)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import Flask, g, jsonify
from prometheus_client import CollectorRegistry

from helpdesk_shared import logs, pg, revocations, web
from helpdesk_shared.metrics import with_now
from helpdesk_shared.clock import clock_from_env
from helpdesk_shared.errors import Message, NotFound, RuleViolation

from . import metrics, openapi, store, template_api, template_store
from .config import Config
from .consumer import CONSUMER_NAME, TOPICS, renderer


FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="No tiene permiso para esta operación.", en="You are not allowed to do this."), status=403)


def create_app(config: Config | None = None, clock: Callable[[], datetime] | None = None,
               migrate_first: bool = False) -> Flask:
    """Build the app on a migrated database (`migrate_first=True`, for tests only, migrates it)."""
    config = config or Config.from_env()
    clock = clock or clock_from_env()  # the wall clock unless a test drives it
    logs.setup("notifier")
    (store.migrate if migrate_first else store.require_migrated)(config.database_url)
    app = Flask(__name__)
    pool = pg.make_pool(config.database_url)
    render = renderer(config)

    def revoked(claims) -> bool:
        with pool.connection() as conn:
            return revocations.is_revoked(conn, claims)

    auth = web.require_auth(lambda: config.token_verify_key, clock, revoked)

    def health() -> dict:
        with pool.connection() as conn:
            return {"mails": store.stats(conn)}

    web.install(app, "notifier", CollectorRegistry(), health, pool=pool,
                consumers={CONSUMER_NAME: [config.kafka_topic_prefix + t for t in TOPICS]},
                kafka_bootstrap=config.kafka_bootstrap_servers, collectors=[with_now(metrics.mails, clock)])

    @app.get("/api/templates")
    @auth
    def templates():
        """The mail templates (staff only); override one by a file of the same name in TEMPLATES_DIR."""
        if not g.user.is_staff:
            raise FORBIDDEN
        with pool.connection() as conn:
            edited = sorted(f"{t}.{lang}" for t, lang in template_store.current_texts(conn))
        return jsonify({"templates": render.templates(), "override_dir": config.templates_dir or None,
                        "edited": edited})

    @app.get("/api/mails/<ticket_number>")
    @auth
    def mails_of_ticket(ticket_number: str):
        """What each person was sent about a ticket of the caller's desks, and when (staff only)."""
        if not g.user.is_staff:
            raise FORBIDDEN  # by role, before any lookup: the same answer for every number
        with pool.connection() as conn:
            ticket = conn.execute("select ticket_id, desk from tickets where number = %s",
                                  (ticket_number,)).fetchone()
            if ticket is None or ticket["desk"] not in g.user.desks:
                raise NotFound("ticket")
            rows = conn.execute("""select template, recipient, status, attempts, last_error, created_at, sent_at
                                   from mails where ticket_id = %s order by created_at""",
                                (ticket["ticket_id"],)).fetchall()
        return jsonify({"items": rows})

    @app.get("/api/tickets/<ticket_number>/refused-replies")
    @auth
    def refused_replies(ticket_number: str):
        """E-mail replies to the ticket refused because another address sent them (staff of its desk)."""
        if not g.user.is_staff:
            raise FORBIDDEN  # by role, before any lookup: the same answer for every number
        with pool.connection() as conn:
            ticket = conn.execute("select desk from tickets where number = %s", (ticket_number,)).fetchone()
            if ticket is None or ticket["desk"] not in g.user.desks:
                raise NotFound("ticket")
            rows = conn.execute("""select received_at, sender, envelope_sender, reason from inbound_messages
                                   where ticket_number = %s and outcome = 'refused:SENDER_MISMATCH'
                                   order by received_at""", (ticket_number,)).fetchall()
        return jsonify({"items": rows})

    app.register_blueprint(template_api.blueprint(auth, pool, render, clock))  # supervisors' mail texts
    app.get("/openapi.json")(lambda: jsonify(openapi.document()))
    return app
