"""Flask pieces every HTTP service shares: errors as `{code, field, message}`, bearer auth,
correlation ids, /healthz and Prometheus /metrics, and the edge every request body goes through."""
from __future__ import annotations

import functools
import json
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import psycopg
from flask import Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from . import auth_tokens, fields, logs, openapi
from .health import KafkaOffsets, ServiceProbe
from .metrics import SqlCollector, SqlMetrics, consumer_lag, dead_letters, events_applied, outbox_backlog
from .errors import Message, RuleViolation

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

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


def _pool_getter(pool) -> Callable:
    """`pool` itself when it is a callable giving the current pool (tests swap a service's pool), else a getter."""
    return pool if callable(pool) else (lambda: pool)


def install(app: Flask, service: str, registry: CollectorRegistry,
            health: Callable[[], dict] | None = None, pool=None, *,
            consumers: Mapping[str, Iterable[str]] | None = None, kafka_bootstrap: str | None = None,
            collectors: Iterable[SqlMetrics] = ()) -> None:
    """Register error handlers, correlation ids, /healthz and /metrics on `app`.

    With the service's connection `pool` (or a callable giving it): /healthz checks the database
    (503 without it) and, with `kafka_bootstrap`, Kafka and the lag of the `consumers` (name ->
    topics) whose offsets this database stores; /metrics adds, read from the database at each
    scrape (helpdesk_shared.metrics), dead letters, events applied, the outbox backlog, consumer
    lag and the service's own `collectors` (each `read(conn)` -> metric families).
    `health()` gives the service's own /healthz fields.
    """
    app.json = IsoJSONProvider(app)
    probe = None
    if pool is not None:
        pool_of = _pool_getter(pool)
        consumers = {name: list(topics) for name, topics in (consumers or {}).items()}
        kafka = (KafkaOffsets(kafka_bootstrap, [t for topics in consumers.values() for t in topics])
                 if kafka_bootstrap and consumers else None)
        probe = ServiceProbe(service, pool_of, consumers, kafka, health)
        # One collector, one connection per scrape: the database away costs one bounded wait.
        registry.register(SqlCollector(pool_of, [dead_letters, events_applied, outbox_backlog, *collectors,
                                                 consumer_lag(probe)]))
    app.extensions["mesa.probe"] = probe
    requests_total = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                             registry=registry)
    latency = Histogram("http_request_seconds", "HTTP request latency", ["endpoint"], registry=registry)

    @app.before_request
    def _start():
        g.correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        g.token = logs.correlation_id.set(g.correlation_id)
        g.started = datetime.now(timezone.utc)

    @app.teardown_request
    def _forget_correlation_id(_exc):
        # The worker's next log lines (and its next request) must not carry this request's id.
        if "token" in g:
            logs.correlation_id.reset(g.pop("token"))

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

    @app.before_request
    def _refuse_bad_characters():
        # A NUL reaches PostgreSQL as an error (a 500), so it is refused before any view runs.
        for name, value in [*(request.view_args or {}).items(), *request.args.items(multi=True)]:
            if isinstance(value, str) and fields.has_bad_characters(value) or fields.has_bad_characters(name):
                raise RuleViolation("TEXT_INVALID_CHARACTERS", name if not fields.has_bad_characters(name) else None,
                                    fields.text("TEXT_INVALID_CHARACTERS", name), status=400)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        # Every text is ours: never werkzeug's English page or description.
        es, en = _HTTP_TEXTS.get(err.code, _HTTP_TEXTS[400 if (err.code or 500) < 500 else 500])
        code = _HTTP_CODES.get(err.code, f"HTTP_{err.code}")
        response = jsonify({"code": code, "field": None, "message": {"es": es, "en": en}})
        if err.code == 405 and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response, err.code

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
    @openapi.HEALTHZ
    def healthz():
        if probe is None:
            return jsonify({"service": service, "status": "ok", **(health() if health else {})})
        body, status = probe.report()
        return jsonify(body), status

    @app.get("/metrics")
    @openapi.METRICS
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


# Every unhandled error of this process (a 500), newest last; tests fail when it is not empty.
UNHANDLED: list[str] = []
UNHANDLED_MARKER = "unhandled error (HTTP 500)"

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE", 414: "URI_TOO_LONG",
               415: "UNSUPPORTED_MEDIA_TYPE", 500: "INTERNAL_ERROR"}
# Our own words for the statuses the framework raises by itself (Spanish, English).
_HTTP_TEXTS: dict[int, tuple[str, str]] = {
    400: ("La solicitud no es válida.", "The request is not valid."),
    401: ("Debe iniciar sesión.", "You must log in."),
    403: ("No tiene permiso para esta operación.", "You are not allowed to do this."),
    404: ("No existe o no tiene acceso a este recurso.", "It does not exist or you have no access to it."),
    405: ("Esta dirección no admite ese método HTTP.", "This address does not take that HTTP method."),
    406: ("No podemos responder en el formato pedido; respondemos en JSON.",
          "We cannot answer in the requested format; we answer in JSON."),
    408: ("La solicitud tardó demasiado en llegar.", "The request took too long to arrive."),
    409: ("La solicitud choca con el estado actual.", "The request conflicts with the current state."),
    411: ("Indique el largo del contenido (Content-Length).", "Give the length of the content (Content-Length)."),
    413: ("El contenido enviado es demasiado grande.", "The content sent is too large."),
    414: ("La dirección (URL) es demasiado larga.", "The address (URL) is too long."),
    415: ("Tipo de contenido no admitido: envíe JSON (application/json).",
          "Content type not supported: send JSON (application/json)."),
    416: ("El rango pedido no existe en este archivo.", "The requested range is not in this file."),
    429: ("Demasiadas solicitudes; espere un momento.", "Too many requests; wait a moment."),
    431: ("Los encabezados de la solicitud son demasiado grandes.", "The request headers are too large."),
    500: ("Ocurrió un error de nuestro lado; no se guardó nada. Intente de nuevo.",
          "Something failed on our side; nothing was stored. Please try again."),
    501: ("Esta operación no está implementada.", "This operation is not implemented."),
    503: ("El servicio no está disponible por ahora; intente de nuevo en un momento.",
          "The service is unavailable for now; try again in a moment."),
}


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
            token = header[7:].strip()
            if not token.isascii():  # our tokens are base64url; other bytes are garbage, not a crash
                raise AUTH_REQUIRED
            try:
                claims = auth_tokens.verify(verify_key_of(), token, clock())
            except auth_tokens.InvalidToken:
                raise AUTH_REQUIRED from None
            if revoked is not None and revoked(claims):
                raise AUTH_REQUIRED
            g.user = claims
            return view(*args, **kwargs)
        wrapped.requires_bearer = True  # the OpenAPI document gives it the bearer scheme and 401
        return wrapped
    return decorator


# A JSON command is a few kilobytes: the longest text field is 20,000 characters. Uploads
# (multipart) keep the app's own MAX_CONTENT_LENGTH.
JSON_MAX_BYTES = 256 * 1024
# Request bodies are flat objects with a few nested levels; deeper is an attack, not a command.
JSON_MAX_DEPTH = 20


def _bad_request(code: str, es: str, en: str, status: int = 400) -> RuleViolation:
    return RuleViolation(code, None, Message(es=es, en=en), status=status)


def _depth_and_bad_text(value) -> tuple[int, str | None]:
    """The nesting depth of a parsed JSON value, and the path of its first string with a NUL or a
    lone surrogate (walked without recursion, since the value may be deep)."""
    deepest, bad = 0, None
    stack = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            for key, sub in item.items():
                here = f"{path}.{key}" if path else key
                if bad is None and fields.has_bad_characters(key):
                    bad = path or "?"
                stack.append((sub, depth + 1, here))
        elif isinstance(item, list):
            stack.extend((sub, depth + 1, f"{path}.{i}" if path else str(i)) for i, sub in enumerate(item))
        elif isinstance(item, str) and bad is None and fields.has_bad_characters(item):
            bad = path
    return deepest, bad


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body() -> dict:
    """The request's JSON object, parsed defensively: 415 unless JSON, 413 over JSON_MAX_BYTES,
    400 when malformed, not an object or nested too deep, 422 for NUL or lone surrogates."""
    if not request.is_json:
        raise _bad_request("UNSUPPORTED_MEDIA_TYPE", *_HTTP_TEXTS[415], status=415)
    request.max_content_length = JSON_MAX_BYTES  # werkzeug answers 413 past it, even for chunked bodies
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise _bad_request("JSON_TOO_DEEP", f"El JSON está anidado a más de {JSON_MAX_DEPTH} niveles.",
                           f"The JSON is nested deeper than {JSON_MAX_DEPTH} levels.") from None
    except ValueError:  # also UnicodeDecodeError and ints past Python's digit limit
        raise _bad_request("JSON_INVALID", "El cuerpo de la solicitud no es JSON válido (UTF-8).",
                           "The request body is not valid JSON (UTF-8).") from None
    if not isinstance(body, dict):
        raise _bad_request("INVALID_REQUEST", "El cuerpo de la solicitud debe ser un objeto JSON.",
                           "The request body must be a JSON object.")
    depth, bad = _depth_and_bad_text(body)
    if depth > JSON_MAX_DEPTH:
        raise _bad_request("JSON_TOO_DEEP", f"El JSON está anidado a más de {JSON_MAX_DEPTH} niveles.",
                           f"The JSON is nested deeper than {JSON_MAX_DEPTH} levels.")
    if bad is not None:
        raise RuleViolation("TEXT_INVALID_CHARACTERS", bad, fields.text("TEXT_INVALID_CHARACTERS", bad))
    return body


def load(schema: Schema, data: dict) -> dict:
    """`data` loaded by `schema` (types, bounds, required fields), or a 422 naming the first bad field."""
    try:
        return schema.load(data)
    except ValidationError as err:
        raise fields.refusal(err) from None


def load_body(schema: Schema) -> dict:
    """The request's JSON object loaded by `schema` before any handler runs; refusals change nothing.

    `schema` must be the body the route declares (`openapi.documented(body=...)`): a view loading
    another would accept what its document does not say, so that is a bug, not a refusal."""
    declared = openapi.declaration(current_app.view_functions.get(request.endpoint))
    if declared is not None and declared.body is not None and not isinstance(schema, declared.body):
        raise TypeError(f"{request.endpoint} loads {type(schema).__name__} but documents {declared.body.__name__}")
    return load(schema, json_body())


def load_query(schema: Schema) -> dict:
    """The request's query string loaded by `schema` (a `fields.QuerySchema`): a 422 for a parameter
    the route does not know (listing the valid ones) or one given twice, else the schema's refusals."""
    valid = sorted(schema.fields)
    single: dict[str, str] = {}
    for name, values in request.args.lists():
        if name not in schema.fields:
            listed = ", ".join(valid) or "—"
            raise RuleViolation("UNKNOWN_PARAMETER", name, fields.text("UNKNOWN_PARAMETER", name, listed),
                                status=422, extra={"valid": valid})
        if len(values) > 1:
            raise RuleViolation("PARAMETER_REPEATED", name, fields.text("PARAMETER_REPEATED", name), status=422)
        single[name] = values[0]
    return load(schema, single)


def ascii_token(token: str, refused: RuleViolation) -> str:
    """A link token from a path, or `refused` when it holds bytes no token of ours has."""
    if not token.isascii() or fields.has_bad_characters(token):
        raise refused
    return token


class RequestConnection:
    """An HTTP request's one pooled connection: borrowed (and checked) at its first use, given back
    when the request ends. The token's revocation check and the view or command share it, so a call
    pays one checkout, not two (issue 9's page bench for query, issue 11 for intake).

    `give_back(exc)` returns it as `with pool.connection()` ends: after an error rolled back (a
    broken one is replaced by the pool), else committed. A service calls it from its teardown, and at
    once when a statement fails, so a failed connection is never used again by the same request."""

    def __init__(self, name: str, pool: Callable[[], ConnectionPool]):
        self._conn, self._stack, self._pool = f"{name}_conn", f"{name}_conn_stack", pool

    def get(self) -> psycopg.Connection:
        if self._conn not in g:
            stack = ExitStack()
            setattr(g, self._conn, stack.enter_context(self._pool().connection()))
            setattr(g, self._stack, stack)
        return getattr(g, self._conn)

    def give_back(self, exc: BaseException | None = None) -> None:
        stack = g.pop(self._stack, None)
        g.pop(self._conn, None)
        if stack is not None:
            stack.__exit__(type(exc), exc, exc.__traceback__) if exc is not None else stack.close()
