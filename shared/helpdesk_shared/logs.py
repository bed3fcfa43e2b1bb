"""JSON logs, one object per line, with the correlation id when there is one."""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from typing import Iterator

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
               "logger": record.name, "msg": record.getMessage(), "service": getattr(record, "service", None)}
        if (cid := correlation_id.get()) is not None:
            doc["correlation_id"] = cid
        doc.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "service"})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


@contextlib.contextmanager
def bound(cid) -> Iterator[None]:
    """Within the block, log lines carry `cid` as their correlation id (a consumer applying one event)."""
    token = correlation_id.set(None if cid is None else str(cid))
    try:
        yield
    finally:
        correlation_id.reset(token)


def setup(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON tagged with the service name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(lambda r: setattr(r, "service", service) or True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("kafka").setLevel("WARNING")
