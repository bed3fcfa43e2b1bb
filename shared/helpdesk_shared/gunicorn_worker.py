"""A gunicorn worker whose own refusals speak our `{code, field, message: {es, en}}` JSON.

gunicorn answers some requests before the app sees them — a request line longer than
`limit_request_line` (414), too many or too large headers (431), a malformed request line (400) —
with its own English HTML page. This worker answers those in our words; everything else is
gunicorn's usual handling. Use it with `gunicorn -k helpdesk_shared.gunicorn_worker.JsonErrorWorker`.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.sync import SyncWorker

from .web import _HTTP_CODES, _HTTP_TEXTS

_STATUS = ((http_errors.LimitRequestLine, 414, "URI Too Long"),
           (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
           ((http_errors.InvalidRequestLine, http_errors.InvalidRequestMethod, http_errors.InvalidHTTPVersion,
             http_errors.InvalidHeader, http_errors.InvalidHeaderName), 400, "Bad Request"))


def refusal(exc: Exception) -> bytes | None:
    """The raw HTTP response for a request gunicorn refused while parsing it, or None when not ours to word."""
    for kinds, status, reason in _STATUS:
        if isinstance(exc, kinds):
            es, en = _HTTP_TEXTS[status]
            body = json.dumps({"code": _HTTP_CODES.get(status, f"HTTP_{status}"), "field": None,
                               "message": {"es": es, "en": en}}, ensure_ascii=False).encode()
            head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii")
            return head + body
    return None


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker, with its parse-time refusals in our JSON."""

    def handle_error(self, req, client, addr, exc):
        """Answer a refused request line or header in our words; anything else as gunicorn does."""
        response = refusal(exc)
        if response is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, response)
        except OSError:
            self.log.debug("Failed to send error message.")
