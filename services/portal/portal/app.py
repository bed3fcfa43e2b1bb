"""The portal's composition root: `gunicorn 'portal.app:create_app()'`.

Server-rendered pages for customers; every command goes to intake and every read to query
(and sla) with the reader's bearer token. The only state is Flask's signed session cookie.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, g, has_request_context, render_template, request, session
from flask.templating import Environment
from flask_babel import Babel, get_translations
from flask_wtf.csrf import CSRFError, CSRFProtect
from prometheus_client import CollectorRegistry
from werkzeug.exceptions import HTTPException

from helpdesk_shared import logs, web
from helpdesk_shared.errors import RuleViolation

from . import access, admin, content, i18n, knowledge, pages, staff, supervisor
from .backend import Backend, Unavailable
from .config import Config

# Browsers run only our own files: no inline script or style, no framing, forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_UPLOAD_BYTES = 12 * 1024 * 1024 * 5  # a few attachments of intake's 10 MB each, plus the form


def _translations():
    """This request's catalog, looked up once (in `g`). Flask-Babel keeps it per request too, but each
    of its gettext calls walks its context, domain and locale again: ~0.2 ms a call, and a queue page
    of 50 rows calls gettext some 230 times (profiled: two thirds of the page's rendering)."""
    found = g.get("_catalog")
    if found is None:
        found = g._catalog = get_translations()
    return found


def _translate_once_per_request(app: Flask) -> None:
    """Jinja's `_()` through `_translations` (newstyle, as Flask-Babel installs it: escaping and
    `%(name)s` formatting stay Jinja's)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True)


class PortalEnvironment(Environment):
    """Jinja's environment with `t.number` on a dict (every answer the pages render is JSON) tried as
    a key first: Jinja tries the attribute first, and a dict's missing attribute costs an exception
    per access — about a thousand on a queue page of 50 rows. Anything else, and a key the dict does
    not hold (`errors.get(...)`), go Jinja's usual way."""

    def getattr(self, obj, attribute):
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def create_app(config: Config | None = None, backend: Backend | None = None) -> Flask:
    """Build the portal; `backend` replaces the HTTP adapter in tests."""
    config = config or Config.from_env()
    logs.setup("portal")
    app = Flask(__name__)
    app.jinja_environment = PortalEnvironment  # before anything builds app.jinja_env
    app.config.update(
        SECRET_KEY=config.session_secret,
        SESSION_COOKIE_NAME="mesa_portal",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),  # intake's tokens last as long
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it is bound to
        WTF_CSRF_SSL_STRICT=config.secure_cookies,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        BABEL_DEFAULT_LOCALE=i18n.DEFAULT,
        BABEL_TRANSLATION_DIRECTORIES=i18n.compile_catalogs(),
    )
    backend = backend or Backend(config, client_address=_browser_address)
    app.extensions["portal"] = pages.Portal(config, backend)
    Babel(app, locale_selector=lambda: i18n.choose(session.get("lang"), (session.get("user") or {}).get("language")))
    _translate_once_per_request(app)
    CSRFProtect(app)
    web.install(app, "portal", CollectorRegistry(), health=lambda: _health(backend))
    _install_html_errors(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(content.bp)  # supervisors' content: rules page, mail texts
    app.register_blueprint(supervisor.bp)  # staff: calendars, policies, reports (issue 9)
    app.register_blueprint(access.bp)  # staff: access requests (GET /access-requests)
    app.register_blueprint(admin.bp)  # supervisors: organisations, users, module catalogs
    app.register_blueprint(knowledge.bp)  # the knowledge base (issue 12)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)  # a download keeps its stricter one
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages hold a reader's tickets
        return response

    return app


def _health(backend: Backend) -> dict:
    """The portal has no database or consumer: its /healthz says whether the services it calls answer,
    `degraded` (still 200: it serves its pages and says what is away) when one does not."""
    services = {name: backend.probe(name) for name in ("intake", "query", "sla")}
    return {"status": "ok" if all(s["ok"] for s in services.values()) else "degraded", "services": services}


def _browser_address() -> str | None:
    """The address of the browser behind the current request (None outside a request)."""
    return request.remote_addr if has_request_context() else None


def _install_html_errors(app: Flask) -> None:
    """Errors as pages in the reader's language (web.install answers JSON; a browser reads HTML).

    Registered after web.install, so these replace its handlers for the same classes."""

    def page(status: int, kind: str, text: str | None = None):
        return render_template("error.html", status=status, kind=kind, text=text), status

    @app.errorhandler(CSRFError)
    def _csrf(err):
        return page(400, "csrf")

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        kind = {404: "not_found", 405: "method", 413: "too_large"}.get(status, "bad_request")
        return page(status, kind)

    @app.errorhandler(RuleViolation)
    def _rule(err: RuleViolation):
        return page(err.status, "refused", err.message.es if pages.language() == "es" else err.message.en)

    @app.errorhandler(Unavailable)
    def _unavailable(err: Unavailable):
        app.logger.warning("backend unavailable: %s", err)
        response = app.make_response(page(503, "unavailable"))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unhandled(err: Exception):
        # As web.install: a 500 is a bug, logged with the marker the tests look for.
        logging.getLogger("helpdesk.web").error(web.UNHANDLED_MARKER, exc_info=err,
                                                extra={"path": request.path, "method": request.method})
        web.UNHANDLED.append(f"{request.method} {request.path}: {err!r}")
        return page(500, "internal")
