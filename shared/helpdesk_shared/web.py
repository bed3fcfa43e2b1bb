"""Flask pieces every HTTP service shares: errors as `{code, field, message}`, bearer auth,
correlation ids, /healthz and Prometheus /metrics."""
from __future__ import annotations

import functools
import uuid
from datetime import datetime, timezone
from typing import Callable

import psycopg
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from werkzeug.exceptions import HTTPException

from . import auth_tokens, logs
from .errors import Message, RuleViolation

AUTH_REQUIRED = RuleViolation("AUTH_REQUIRED", None, Message(
    es="Debe iniciar sesión: falta el token de acceso o ya venció.",
    en="You must log in: the access token is missing or has expired."), status=401)

RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = RuleViolation("SERVICE_UNAVAILABLE", None, Message(
    es="El servicio no puede atender en este momento: su base de datos no responde. Intente de nuevo en unos segundos.",
    en="The service cannot answer right now: its database does not respond. Try again in a few seconds."),
    status=503)


class IsoJSONProvider(DefaultJSONProvider):
    """JSON with ISO 8601 datetimes (Flask's default is the e-mail date format)."""

    @staticmethod
    def default(o):
        if isinstance(o, datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    sort_keys = False


def install(app: Flask, service: str, registry: CollectorRegistry,
            health: Callable[[], dict] | None = None) -> None:
    """Register error handlers, correlation ids, /healthz and /metrics on `app`."""
    app.json = IsoJSONProvider(app)
    requests_total = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                             registry=registry)
    latency = Histogram("http_request_seconds", "HTTP request latency", ["endpoint"], registry=registry)

    @app.before_request
    def _start():
        g.correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        g.token = logs.correlation_id.set(g.correlation_id)
        g.started = datetime.now(timezone.utc)

    @app.after_request
    def _finish(response):
        response.headers["X-Correlation-Id"] = g.get("correlation_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(request.method, endpoint, response.status_code).inc()
        if "started" in g:
            latency.labels(endpoint).observe((datetime.now(timezone.utc) - g.started).total_seconds())
        return response

    @app.errorhandler(RuleViolation)
    def _rule(err: RuleViolation):
        return jsonify(err.as_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        body = {"code": f"HTTP_{err.code}", "field": None,
                "message": {"es": _HTTP_ES.get(err.code, "Solicitud no válida."), "en": err.description or err.name}}
        return jsonify(body), err.code

    @app.errorhandler(psycopg.OperationalError)  # PoolTimeout included
    @app.errorhandler(psycopg.InterfaceError)
    def _database_unavailable(err: psycopg.Error):
        # The database is down or restarting: say so and when to try again, not 500.
        app.logger.warning("database unavailable: %s: %s", type(err).__name__, err)
        response = jsonify(DATABASE_UNAVAILABLE.as_dict())
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, 503

    @app.errorhandler(Exception)
    def _unhandled(err: Exception):
        # A 500 is always a bug: logged with a marker the test suite looks for (tests fail on it).
        import logging
        logging.getLogger("helpdesk.web").error(UNHANDLED_MARKER, exc_info=err, extra={
            "path": request.path, "method": request.method})
        UNHANDLED.append(f"{request.method} {request.path}: {err!r}")
        return jsonify({"code": "INTERNAL_ERROR", "field": None, "message": {
            "es": "Error interno; quedó registrado. Intente de nuevo más tarde.",
            "en": "Internal error; it was logged. Please try again later."}}), 500

    @app.get("/healthz")
    def healthz():
        return jsonify({"service": service, "status": "ok", **(health() if health else {})})

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


# Every unhandled error of this process (a 500), newest last; tests fail when it is not empty.
UNHANDLED: list[str] = []
UNHANDLED_MARKER = "unhandled error (HTTP 500)"

_HTTP_ES = {400: "Solicitud no válida.", 404: "No existe o no tiene acceso a este recurso.",
            405: "Método no permitido.", 413: "El contenido es demasiado grande.",
            415: "Tipo de contenido no admitido."}


def require_auth(verify_key_of: Callable[[], str], clock: Callable[[], datetime],
                 revoked: Callable[[auth_tokens.Claims], bool] | None = None):
    """Decorator: the view runs only with a valid bearer token; its claims land in `g.user`.

    `verify_key_of()` gives intake's public key; `revoked(claims)` says whether the token was
    ended early (logout, password or rights changed) — a revoked token is refused like an
    expired one.
    """
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise AUTH_REQUIRED
            try:
                claims = auth_tokens.verify(verify_key_of(), header[7:].strip(), clock())
            except auth_tokens.InvalidToken:
                raise AUTH_REQUIRED from None
            if revoked is not None and revoked(claims):
                raise AUTH_REQUIRED
            g.user = claims
            return view(*args, **kwargs)
        return wrapped
    return decorator


def json_body() -> dict:
    """The request's JSON object, or a 400 rule violation in both languages."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RuleViolation("INVALID_REQUEST", None, Message(
            es="El cuerpo de la solicitud debe ser un objeto JSON.",
            en="The request body must be a JSON object."), status=400)
    return body
