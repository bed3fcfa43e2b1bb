"""The ports intake's command handlers use (pure): a unit of work holding one repository per
kind of state, and the one place a command is run in a transaction and retried.

Handlers receive a `UnitOfWork` instead of a database connection (cosmicpython's
`service_layer/unit_of_work.py`), so every rule and permission check is unit-tested with the
in-memory implementation (`intake.memory`) while the SQL of each PostgreSQL repository
(`intake.postgres_uow`) is proven once on a real database. Rows are plain dicts with the
columns of intake's tables, whichever implementation answers.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Callable, Protocol, TypeVar

from helpdesk_shared.catalog import Desk
from helpdesk_shared.envelope import Envelope
from helpdesk_shared.errors import RuleViolation
from helpdesk_shared.lifecycle import TicketState

from .domain import Announcement


class Streams(Protocol):
    """The event store: one ordered stream per aggregate, optimistic concurrency per stream."""

    def append(self, events: list[Envelope], expected_version: int) -> None:
        """Append after `expected_version`; a VersionConflict (409) when the stream moved on."""

    def load(self, stream_id: str) -> list[Envelope]:
        """Every event of a stream, in order ([] when it has none)."""

    def version(self, stream_id: str) -> int:
        """The stream's last version (0 when it has no events)."""


class Tickets(Protocol):
    """The write side's index of tickets (number, desk, organisation, case and status) and each
    ticket's snapshot: its state folded up to its stream's version, kept with the stream."""

    def by_number(self, number: str) -> dict | None: ...
    def add(self, row: dict) -> None: ...
    def set_status(self, ticket_id: str, status: str, version: int) -> None: ...
    def lock(self, ticket_id: str) -> None: ...
    def prepare_opening(self, organisation_id: str, desk: Desk) -> tuple[dict | None, Desk]:
        """The organisation's row (None when there is none) and `desk` with its current catalog, read
        in the statement that takes the lock serialising openings of the organisation's desk until the
        transaction ends: rule 6 reads the open cases after it, in a statement of its own."""
    def open_cases(self, organisation_id: str, desk: str, module: str) -> list[dict]:
        """number, case_summary, description of the open tickets of the module, by number."""
    def next_number(self, desk: Desk) -> str: ...
    def state(self, number: str) -> TicketState | None:
        """The ticket's state as its snapshot holds it (the fold of its stream): one row, not the stream."""
    def state_of(self, ticket_id: str, for_update: bool = False) -> TicketState | None:
        """The same by ticket id; `for_update` holds the snapshot row until the transaction ends."""
    def record(self, events: list[Envelope], expected_version: int, state: TicketState,
               new_ticket: dict | None = None) -> None:
        """Append `events` to the ticket's stream after `expected_version`, store `state` (their fold
        onto the state read) as its snapshot, and insert `new_ticket` as its index row (an opening) or
        else set the row's status and version: all or nothing, VersionConflict when the stream moved on."""


class Users(Protocol):
    """Users with their password hash, rights and token cut-off."""

    def get(self, user_id: str, for_update: bool = False) -> dict | None: ...
    def by_email(self, email: str) -> dict | None: ...
    def lock_email(self, email: str) -> None:
        """Serialise everything that may create a user for this e-mail until the transaction ends."""
    def add(self, row: dict) -> None: ...
    def set_password(self, user_id: str, password_hash: str, now: datetime) -> None: ...
    def revoke_tokens(self, user_id: str, now: datetime) -> None:
        """tokens_valid_after becomes `now` unless it is already later."""
    def set_rights(self, user_id: str, disabled: bool, role: str, desks: list[str],
                   organisation_id: str | None) -> None: ...
    def of_organisations_and_staff(self, organisation_ids: list[str], desks: list[str]) -> list[dict]:
        """Users of those organisations and staff of any of those desks, by lower(name), id."""


class Organisations(Protocol):
    def get(self, organisation_id: str) -> dict | None: ...
    def add(self, row: dict) -> None: ...
    def lock_all(self) -> None:
        """Serialise registrations (one name, one organisation) until the transaction ends."""
    def taken(self, organisation_id: str, name: str) -> bool:
        """Whether the id, or the name in any case, is already an organisation's."""
    def on_desks(self, desks: list[str]) -> list[dict]:
        """The organisations on any of `desks`, by lower(name), id."""


class SpecialProcesses(Protocol):
    def add(self, organisation_id: str, announcement: Announcement) -> None: ...
    def of_organisation(self, organisation_id: str) -> list[Announcement]: ...


class AccessRequests(Protocol):
    def get(self, request_id: str, for_update: bool = False) -> dict | None: ...
    def has_pending(self, email: str, since: datetime) -> bool: ...
    def pending(self, desks: list[str], since: datetime) -> list[dict]: ...
    def add(self, row: dict) -> None: ...
    def decide(self, request_id: str, **columns) -> None:
        """Set status, decided_by, decided_at and (granted) user_id or (rejected) reason."""


class Uploads(Protocol):
    def hold_blob(self, sha256: str) -> None:
        """Serialise storing a blob with its removal by the cleanup until the transaction ends."""
    def add(self, row: dict) -> None: ...
    def latest(self, user_id: str, *, upload_id: str | None = None, sha256: str | None = None) -> dict | None:
        """The user's latest upload with that id or those bytes."""
    def mark_attached(self, upload_id: str, now: datetime) -> None: ...


class Catalogs(Protocol):
    def current(self, desk: Desk) -> Desk: ...
    def every_desk(self) -> list[Desk]: ...
    def lock(self, desk_name: str) -> None: ...
    def save(self, desk: Desk) -> None:
        """Store the desk's catalog at its version (with the event that changed it)."""


class CannedAnswers(Protocol):
    """Each desk's canned answers as their last save left them, with how many messages used each."""

    def get(self, desk: str, answer_id: str) -> dict | None:
        """desk, answer_id, title, body, version, retired, uses, edited_by, edited_at."""
    def of_desk(self, desk: str) -> list[dict]:
        """The desk's answers by title (retired ones too)."""
    def save(self, row: dict) -> None:
        """Insert or replace (desk, answer_id)'s title, body, version, retired, edited_by, edited_at."""
    def count_use(self, desk: str, answer_id: str) -> None: ...


class RulesPages(Protocol):
    def get(self, desk: str, language: str) -> dict | None:
        """text, html, version, edited_by, edited_at of a page edited at least once."""
    def save(self, row: dict) -> None:
        """Insert or replace the page of (desk, language)."""


class IdempotencyKeys(Protocol):
    def lock(self, user_id: str, key: str) -> None: ...
    def get(self, user_id: str, key: str) -> dict | None:
        """status, body, endpoint, body_sha256 of the stored answer."""
    def add(self, user_id: str, key: str, status: int, body: dict, endpoint: str, body_sha256: str | None) -> None: ...


class RateLimits(Protocol):
    """Hits counted per key in fixed windows (`intake.throttle`), across workers and restarts."""

    def check(self, limit, key: str, now: datetime) -> None:
        """Raise throttle.Throttled when `key` used up `limit` in the current window."""
    def hit(self, limit, key: str, now: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over every repository: what a command reads and writes commits together."""

    streams: Streams
    tickets: Tickets
    users: Users
    organisations: Organisations
    special_processes: SpecialProcesses
    access_requests: AccessRequests
    uploads: Uploads
    catalogs: Catalogs
    rules_pages: RulesPages
    canned_answers: CannedAnswers
    idempotency_keys: IdempotencyKeys
    rate_limits: RateLimits

    def commit(self) -> None:
        """Make what was done so far permanent (the rest of the unit goes on in a new transaction)."""


class VersionConflict(RuleViolation):
    """Someone else appended to the stream since we read it."""


T = TypeVar("T")
ATTEMPTS = 3


def run(start: Callable[[], AbstractContextManager[UnitOfWork]], command: Callable[[UnitOfWork], T],
        attempts: int = ATTEMPTS) -> T:
    """Run `command(uow)` in a unit of work that commits when it returns and rolls back when it raises.

    A VersionConflict (another writer appended to the stream since we read it) runs the
    command again in a new unit of work, so it is validated against the fresh state; after
    `attempts` the conflict goes to the client (409), who may retry.
    """
    for attempt in range(1, attempts + 1):
        try:
            with start() as uow:
                return command(uow)
        except VersionConflict:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
