"""gunicorn's own refusals (a request line over its limit) answer in our JSON, not its HTML page."""
from __future__ import annotations

import json
import logging
import socket
from types import SimpleNamespace

from gunicorn.http.errors import InvalidRequestLine, LimitRequestHeaders, LimitRequestLine

from helpdesk_shared.gunicorn_worker import JsonErrorWorker


def answer_to(exc: Exception) -> tuple[str, dict]:
    """What the worker writes to the client for `exc`: the status line and the JSON body."""
    server, client = socket.socketpair()
    worker = SimpleNamespace(log=logging.getLogger("test"))
    JsonErrorWorker.handle_error(worker, None, server, ("127.0.0.1", 5000), exc)
    server.close()
    raw = b"".join(iter(lambda: client.recv(65536), b""))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def test_a_request_line_over_gunicorns_limit_is_a_414_in_our_words():
    status, body = answer_to(LimitRequestLine(9000, 4094))
    assert status == "HTTP/1.1 414 URI Too Long"
    assert body["code"] == "URI_TOO_LONG"
    assert body["message"]["es"] == "La dirección (URL) es demasiado larga."
    assert body["message"]["en"] == "The address (URL) is too long."


def test_too_large_headers_and_a_garbled_request_line_are_ours_too():
    assert answer_to(LimitRequestHeaders("too many"))[0].startswith("HTTP/1.1 431")
    status, body = answer_to(InvalidRequestLine("GARBAGE"))
    assert status.startswith("HTTP/1.1 400") and body["message"]["en"] == "The request is not valid."
