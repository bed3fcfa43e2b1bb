"""The envelope's own types (SPEC §4): frozen dataclasses and the decoding error (pure).

Kept apart from envelope.py so schemas.py can import them while envelope.py imports
schemas.py for its codec: envelope -> schemas -> envelope_types, no circle."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
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


class UndecodableEvent(ValueError):
    """A message that is not a valid envelope of a known type and schema."""
