"""JSON logs, one object per line, with the correlation id when there is one."""
from __future__ import annotations

import contextvars
import json
import logging
import sys

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


def setup(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON tagged with the service name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(lambda r: setattr(r, "service", service) or True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("kafka").setLevel("WARNING")
