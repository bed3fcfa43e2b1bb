"""The notifier's small HTTP app: health (mail counts), metrics, and the templates a
supervisor reads (`gunicorn 'notifier.app:create_app()'`)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import Flask, g, jsonify
from prometheus_client import CollectorRegistry

from helpdesk_shared import logs, pg, revocations, web
from helpdesk_shared.clock import utc_now
from helpdesk_shared.errors import Message, NotFound, RuleViolation

from . import store
from .config import Config
from .consumer import renderer



def create_app(config: Config | None = None, clock: Callable[[], datetime] = utc_now) -> Flask:
    """Build the app; applies the notifier's schema at start."""
    config = config or Config.from_env()
    logs.setup("notifier")
    store.migrate(config.database_url)
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

    web.install(app, "notifier", CollectorRegistry(), health)

    @app.get("/api/templates")
    @auth
    def templates():
        """The mail templates (staff only); override one by a file of the same name in TEMPLATES_DIR."""
        if not g.user.is_staff:
            raise RuleViolation("FORBIDDEN", None, Message(es="No tiene permiso.", en="Not allowed."), status=403)
        return jsonify({"templates": render.templates(), "override_dir": config.templates_dir or None})

    @app.get("/api/mails/<ticket_number>")
    @auth
    def mails_of_ticket(ticket_number: str):
        """What each person was sent about a ticket, and when (staff only)."""
        if not g.user.is_staff:
            raise NotFound("ticket")
        with pool.connection() as conn:
            rows = conn.execute("""select m.template, m.recipient, m.status, m.attempts, m.last_error, m.created_at,
                                          m.sent_at from mails m join tickets t on t.ticket_id = m.ticket_id
                                   where t.number = %s order by m.created_at""", (ticket_number,)).fetchall()
        return jsonify({"items": rows})

    return app
