"""Logs are JSON lines with the correlation id: gunicorn's access and error logs (through the config
every service starts with) and the consumers' line per applied event."""
from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from gunicorn.app.base import Application

from helpdesk_shared import logs
from helpdesk_shared.envelope import Actor, Envelope
from helpdesk_shared.kafka import Record, log_applied


class ConfiguredLikeAService(Application):
    """A gunicorn application loading the config file the services use, as `-c python:...` does."""

    def init(self, parser, opts, args):
        return None

    def load_config(self):
        self.load_config_from_module_name_or_filename("python:helpdesk_shared.gunicorn_conf")
        self.cfg.set("default_proc_name", "query.app:create_app()")

    def load(self):
        return lambda environ, start_response: None


@pytest.fixture
def gunicorn_logger(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    app = ConfiguredLikeAService()
    logger = app.cfg.logger_class(app.cfg)
    yield logger, out, err
    for log in (logger.error_log, logger.access_log):
        log.handlers.clear()


def test_gunicorns_access_log_is_a_json_line_with_the_requests_correlation_id(gunicorn_logger):
    logger, out, _ = gunicorn_logger
    resp = SimpleNamespace(status="404 NOT FOUND", sent=120,
                           headers=[("Content-Type", "application/json"), ("X-Correlation-Id", "c-123")])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/tickets/SOP-9", "RAW_URI": "/api/tickets/SOP-9",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7"}
    logger.access(resp, None, environ, timedelta(milliseconds=12.5))
    line = json.loads(out.getvalue().strip())
    assert line["correlation_id"] == "c-123"
    assert (line["method"], line["path"], line["status"], line["duration_ms"]) == ("GET", "/api/tickets/SOP-9", 404, 12.5)
    assert line["service"] == "query" and line["logger"] == "gunicorn.access"


def test_gunicorns_own_error_log_is_json_too(gunicorn_logger):
    logger, _, err = gunicorn_logger
    logger.warning("Invalid request from ip=%s", "10.0.0.7")
    line = json.loads(err.getvalue().strip())
    assert line["msg"] == "Invalid request from ip=10.0.0.7" and line["level"] == "WARNING"
    assert line["service"] == "query"


def test_a_consumer_logs_each_event_it_applies_with_that_events_correlation_id(caplog):
    correlation = uuid.uuid4()
    event = Envelope("TicketOpened", "t1", 1, datetime(2026, 11, 25, 14, tzinfo=timezone.utc), Actor("u1", "customer"),
                     {"ticket_id": "t1"}, correlation_id=correlation)
    with caplog.at_level(logging.INFO):
        log_applied("query-tickets", [Record("helpdesk.tickets", 2, 41, event)])
    [record] = [r for r in caplog.records if r.getMessage() == "event applied"]
    assert record.correlation_id == str(correlation)
    doc = json.loads(logs.JsonFormatter().format(record))
    assert doc["correlation_id"] == str(correlation)
    assert (doc["consumer"], doc["type"], doc["offset"]) == ("query-tickets", "TicketOpened", 41)


def test_a_large_batch_is_one_summary_line_not_one_line_per_event(caplog):
    events = [Envelope("MessagePosted", "t1", n, datetime(2026, 11, 25, 14, tzinfo=timezone.utc),
                       Actor("u1", "customer"), {}) for n in range(1, 202)]
    with caplog.at_level(logging.INFO):
        log_applied("query-tickets", [Record("helpdesk.tickets", 0, n, e) for n, e in enumerate(events)])
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in lines] == ["batch applied"]
    assert lines[0].events == 201 and lines[0].types == {"MessagePosted": 201}


def test_the_request_correlation_id_does_not_outlive_its_request():
    from flask import Flask
    from prometheus_client import CollectorRegistry
    from helpdesk_shared import web
    app = Flask(__name__)
    web.install(app, "test", CollectorRegistry())
    seen = {}
    app.get("/x")(lambda: seen.setdefault("during", logs.correlation_id.get()) or "ok")
    app.test_client().get("/x", headers={"X-Correlation-Id": "c-9"})
    assert seen["during"] == "c-9"
    assert logs.correlation_id.get() is None
