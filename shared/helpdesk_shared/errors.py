"""Typed domain errors that carry a rule code and a message in Spanish and English."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    """A text the reader sees, Spanish first."""

    es: str
    en: str

    def as_dict(self) -> dict[str, str]:
        """Render as the API's `{es, en}` object."""
        return {"es": self.es, "en": self.en}


@dataclass
class RuleViolation(Exception):
    """A command broke one of the help desk's rules; nothing was stored.

    `status` is the HTTP status the API answers with; `extra` carries
    machine-readable details (e.g. the existing ticket number of a duplicate).
    """

    code: str
    field: str | None
    message: Message
    status: int = 422
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message.en}"

    def with_extra(self, **extra) -> "RuleViolation":
        """The same violation with machine-readable details added to its body."""
        self.extra = {**self.extra, **extra}
        return self

    def as_dict(self) -> dict:
        """The API's error body: `{code, field, message: {es, en}, ...extra}`."""
        return {"code": self.code, "field": self.field, "message": self.message.as_dict(), **self.extra}


class NotFound(RuleViolation):
    """The thing does not exist, or the reader may not see it (same answer for both)."""

    def __init__(self, what: str = "ticket"):
        super().__init__(
            code="not_found",
            field=None,
            message=Message(es="No existe o no tiene acceso a este recurso.",
                            en="It does not exist or you have no access to it."),
            status=404,
            extra={"resource": what},
        )
