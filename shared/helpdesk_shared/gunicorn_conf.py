"""gunicorn's settings for every Mesa service (`gunicorn -c python:helpdesk_shared.gunicorn_conf ...`):
its own error log and an access log as JSON lines, like the apps' logs (helpdesk_shared.logs).

Each access line carries the request's correlation id (the X-Correlation-Id the app answered
with), so one grep finds a request in the access log, the app's log and the consumers' logs.
"""
from __future__ import annotations

import sys

from gunicorn import glogging

from .logs import JsonFormatter

accesslog = "-"  # stdout, one JSON line per request
errorlog = "-"   # stderr
logger_class = "helpdesk_shared.gunicorn_conf.JsonLogger"


def _service_of(cfg) -> str:
    """The service a gunicorn runs, from its app ('query.app:create_app()' -> 'query')."""
    name = cfg.proc_name or getattr(cfg, "default_proc_name", None) or "gunicorn"
    return name.split(".")[0].split(":")[0]


class JsonLogger(glogging.Logger):
    """gunicorn's logger with JSON lines: its error log as our formatter, and a structured access log."""

    def setup(self, cfg):
        """gunicorn's handlers, each with the JSON formatter and the service's name."""
        super().setup(cfg)
        service = _service_of(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
                handler.addFilter(lambda record, service=service: setattr(record, "service", service) or True)

    def access(self, resp, req, environ, request_time):
        """One line per request: method, path, status, bytes, duration and the correlation id."""
        if not self.access_log_enabled:
            return
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        try:
            self.access_log.info("request", extra={
                "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
                "status": int(status) if status else None, "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "remote": environ.get("REMOTE_ADDR"),
                # The app answers with the id it used; a request it never saw keeps the caller's.
                "correlation_id": headers.get("x-correlation-id") or environ.get("HTTP_X_CORRELATION_ID")})
        except Exception:  # as gunicorn's own access(): a log line never fails a request
            self.error("access log failed", exc_info=sys.exc_info())

