"""The one envelope every event travels in (SPEC §4)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a user id (or a service name) and a role."""

    id: str
    role: str  # customer | agent | supervisor | system


SYSTEM = Actor(id="system", role="system")


@dataclass(frozen=True)
class Envelope:
    """An event: identity, position in its stream, causality and its typed `data`."""

    type: str
    stream_id: str
    stream_version: int
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any]
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schema_version: int = 1
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (UTC)")
        if self.correlation_id is None:
            # A command's first event starts its own correlation.
            object.__setattr__(self, "correlation_id", self.event_id)

    def at_version(self, stream_version: int) -> "Envelope":
        """The same event placed at another position of its stream."""
        return replace(self, stream_version=stream_version)


def new_event(type: str, stream_id: str, stream_version: int, data: dict, *, actor: Actor,
              occurred_at: datetime, correlation_id: uuid.UUID | None = None,
              causation_id: uuid.UUID | None = None) -> Envelope:
    """Build an envelope with validated, serialised `data`; `occurred_at` is normalised to UTC."""
    from .schemas import validate_data
    return Envelope(type=type, stream_id=stream_id, stream_version=stream_version,
                    occurred_at=occurred_at.astimezone(timezone.utc), actor=actor, data=validate_data(type, data),
                    correlation_id=correlation_id, causation_id=causation_id)


def to_json_bytes(event: Envelope) -> bytes:
    """Serialise an envelope for Kafka (validated by its marshmallow schema)."""
    from .schemas import dump_envelope
    return json.dumps(dump_envelope(event), separators=(",", ":"), ensure_ascii=False).encode()


def from_json_bytes(raw: bytes) -> Envelope:
    """Parse and validate an envelope read off Kafka; raises `UndecodableEvent`.

    A document in the serialised form our producers write is checked and built without a
    marshmallow load+dump (trusted_decode); any other goes through the schemas, which normalise
    it or refuse it."""
    from .schemas import load_envelope
    from .trusted_decode import decode
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:  # TypeError: a tombstone (no value)
        raise UndecodableEvent(str(exc)) from exc
    return decode(doc) or load_envelope(doc)


class UndecodableEvent(ValueError):
    """A message that is not a valid envelope of a known type and schema."""
