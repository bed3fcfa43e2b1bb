"""Intake's repositories in memory (pure Python): the fakes the handlers' unit tests run on.

They keep the PostgreSQL ones' contract (`intake.unit_of_work`), which
tests/integration/test_intake_repositories.py proves on both: rows are dicts with the
tables' columns, a stream refuses a stale `expected_version` with VersionConflict, and a
unit of work that raises leaves nothing behind (as a rolled-back transaction). Locks are
no-ops: one test, one thread.
"""
from __future__ import annotations

import copy
import itertools
import json
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from helpdesk_shared import lifecycle
from helpdesk_shared.catalog import DESKS, Desk
from helpdesk_shared.envelope import Envelope
from helpdesk_shared.lifecycle import TicketState

from . import ticket_snapshot
from .domain import Announcement
from .messages import violation
from .throttle import Limit, Throttled, window_of
from .unit_of_work import VersionConflict


class MemoryStreams:
    def __init__(self):
        self.streams: dict[str, list[Envelope]] = {}

    def append(self, events: list[Envelope], expected_version: int) -> None:
        for i, event in enumerate(events, start=1):
            if event.stream_version != expected_version + i:
                raise ValueError(f"event {event.type} at version {event.stream_version}, "
                                 f"expected {expected_version + i}")
        for event in events:
            stream = self.streams.setdefault(event.stream_id, [])
            if any(e.stream_version == event.stream_version for e in stream):
                v = violation("VERSION_CONFLICT", None, status=409)
                raise VersionConflict(v.code, v.field, v.message, v.status)
        for event in events:
            self.streams[event.stream_id].append(event)

    def load(self, stream_id: str) -> list[Envelope]:
        return sorted(self.streams.get(stream_id, []), key=lambda e: e.stream_version)

    def version(self, stream_id: str) -> int:
        return max((e.stream_version for e in self.streams.get(stream_id, [])), default=0)

    def all(self) -> list[Envelope]:
        """Every event appended, stream by stream (for tests' assertions)."""
        return [e for stream in self.streams.values() for e in stream]


class MemoryTickets:
    def __init__(self, streams: MemoryStreams, organisations: MemoryOrganisations, catalogs: MemoryCatalogs):
        self.rows: dict[str, dict] = {}
        self.snapshots: dict[str, dict] = {}  # ticket_id -> {"version", "state": the stored document}
        self.sequences: dict[str, itertools.count] = {}
        self._streams = streams  # the unit's event store, which `record` appends to (not state of its own)
        self._organisations, self._catalogs = organisations, catalogs  # what `prepare_opening` reads with it

    def by_number(self, number: str) -> dict | None:
        return next((dict(r) for r in self.rows.values() if r["number"] == number), None)

    def add(self, row: dict) -> None:
        if row["ticket_id"] in self.rows or self.by_number(row["number"]):
            raise ValueError("ticket exists")
        self.rows[row["ticket_id"]] = dict(row)

    def set_status(self, ticket_id: str, status: str, version: int) -> None:
        if ticket_id in self.rows:
            self.rows[ticket_id].update(status=status, version=version)

    def lock(self, ticket_id: str) -> None:
        pass

    def prepare_opening(self, organisation_id: str, desk: Desk) -> tuple[dict | None, Desk]:
        # No lock to take: tests run one writer at a time (see InMemoryUnitOfWork).
        return self._organisations.get(organisation_id), self._catalogs.current(desk)

    def open_cases(self, organisation_id: str, desk: str, module: str) -> list[dict]:
        rows = [r for r in self.rows.values() if (r["organisation_id"], r["desk"], r["module"]) ==
                (organisation_id, desk, module) and r["status"] != "closed"]
        return [{"number": r["number"], "case_summary": r["case_summary"], "description": r["description"]}
                for r in sorted(rows, key=lambda r: r["number"])]

    def next_number(self, desk: Desk) -> str:
        # Like a PostgreSQL sequence: never rolled back, never repeated.
        return f"{desk.code}-{next(self.sequences.setdefault(desk.code, itertools.count(1)))}"

    def _state_of_row(self, row: dict | None) -> TicketState | None:
        if row is None:
            return None
        snapshot = self.snapshots.get(row["ticket_id"])
        if snapshot is not None and snapshot["version"] == row["version"]:
            return ticket_snapshot.from_document(copy.deepcopy(snapshot["state"]))
        return lifecycle.fold(self._streams.load(row["ticket_id"]))

    def state(self, number: str) -> TicketState | None:
        return self._state_of_row(self.by_number(number))

    def state_of(self, ticket_id: str, for_update: bool = False) -> TicketState | None:
        return self._state_of_row(self.rows.get(ticket_id))

    def record(self, events: list[Envelope], expected_version: int, state: TicketState,
               new_ticket: dict | None = None) -> None:
        self._streams.append(events, expected_version)
        if new_ticket is not None:
            self.add(new_ticket)
        else:
            self.set_status(state.ticket_id, state.status, state.version)
        stored = self.snapshots.get(state.ticket_id)
        if stored is None or stored["version"] < state.version:
            # Stored as PostgreSQL stores it (JSON), so the unit tests read back what the SQL would.
            self.snapshots[state.ticket_id] = {"version": state.version,
                                               "state": json.loads(json.dumps(ticket_snapshot.to_document(state)))}


class MemoryUsers:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    def get(self, user_id: str, for_update: bool = False) -> dict | None:
        row = self.rows.get(user_id)
        return dict(row, desks=list(row["desks"])) if row else None

    def by_email(self, email: str) -> dict | None:
        return next((self.get(r["id"]) for r in self.rows.values() if r["email"] == email), None)

    def lock_email(self, email: str) -> None:
        pass

    def add(self, row: dict) -> None:
        if row["id"] in self.rows or self.by_email(row["email"]):
            raise ValueError("user exists")
        if row["role"] == "customer" and not row.get("organisation_id"):
            raise ValueError("a customer belongs to an organisation")
        self.rows[row["id"]] = {"password_set_at": None, "disabled": False, "tokens_valid_after": None,
                                "language": "es", "phone": None, **row, "desks": list(row["desks"])}

    def set_password(self, user_id: str, password_hash: str, now: datetime) -> None:
        self.rows[user_id].update(password_hash=password_hash, password_set_at=now)

    def revoke_tokens(self, user_id: str, now: datetime) -> None:
        row = self.rows.get(user_id)
        if row is not None:
            row["tokens_valid_after"] = max(filter(None, (row["tokens_valid_after"], now)))

    def set_rights(self, user_id: str, disabled: bool, role: str, desks: list[str],
                   organisation_id: str | None) -> None:
        self.rows[user_id].update(disabled=disabled, role=role, desks=list(desks), organisation_id=organisation_id)

    def of_organisations_and_staff(self, organisation_ids: list[str], desks: list[str]) -> list[dict]:
        rows = [r for r in self.rows.values() if r["organisation_id"] in organisation_ids
                or (r["role"] != "customer" and set(r["desks"]) & set(desks))]
        return [self.get(r["id"]) for r in sorted(rows, key=lambda r: (r["name"].lower(), r["id"]))]


class MemoryOrganisations:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    def get(self, organisation_id: str) -> dict | None:
        row = self.rows.get(organisation_id)
        return dict(row, desks=list(row["desks"])) if row else None

    def add(self, row: dict) -> None:
        if row["id"] in self.rows:
            raise ValueError("organisation exists")
        self.rows[row["id"]] = dict(row, desks=list(row["desks"]))

    def lock_all(self) -> None:
        pass

    def taken(self, organisation_id: str, name: str) -> bool:
        return any(r["id"] == organisation_id or r["name"].lower() == name.lower() for r in self.rows.values())

    def on_desks(self, desks: list[str]) -> list[dict]:
        rows = [r for r in self.rows.values() if set(r["desks"]) & set(desks)]
        return [self.get(r["id"]) for r in sorted(rows, key=lambda r: (r["name"].lower(), r["id"]))]


class MemorySpecialProcesses:
    def __init__(self):
        self.rows: list[tuple[str, Announcement]] = []

    def add(self, organisation_id: str, announcement: Announcement) -> None:
        self.rows.append((organisation_id, announcement))

    def of_organisation(self, organisation_id: str) -> list[Announcement]:
        return [a for org, a in self.rows if org == organisation_id]


class MemoryAccessRequests:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    def get(self, request_id: str, for_update: bool = False) -> dict | None:
        row = self.rows.get(request_id)
        return dict(row) if row else None

    def has_pending(self, email: str, since: datetime) -> bool:
        return any(r["email"] == email and r["status"] == "pending" and r["requested_at"] > since
                   for r in self.rows.values())

    def pending(self, desks: list[str], since: datetime) -> list[dict]:
        columns = ("request_id", "name", "email", "phone", "organisation_name", "desk", "note", "requested_at")
        rows = [r for r in self.rows.values() if r["status"] == "pending" and r["desk"] in desks
                and r["requested_at"] > since]
        return [{c: r[c] for c in columns} for r in sorted(rows, key=lambda r: r["requested_at"])]

    def add(self, row: dict) -> None:
        self.rows[row["request_id"]] = {"status": "pending", "user_id": None, "decided_by": None,
                                        "decided_at": None, "reason": None, **row}

    def decide(self, request_id: str, **columns) -> None:
        self.rows[request_id].update(columns)


class MemoryUploads:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    def hold_blob(self, sha256: str) -> None:
        pass

    def add(self, row: dict) -> None:
        self.rows[row["upload_id"]] = {"attached_at": None, **row}

    def latest(self, user_id: str, *, upload_id: str | None = None, sha256: str | None = None) -> dict | None:
        mine = [r for r in self.rows.values() if r["uploaded_by"] == user_id and
                (r["sha256"] == sha256 if sha256 is not None else r["upload_id"] == upload_id)]
        if not mine:
            return None
        row = max(mine, key=lambda r: r["uploaded_at"])
        return {c: row[c] for c in ("upload_id", "sha256", "name", "size", "content_type")}

    def mark_attached(self, upload_id: str, now: datetime) -> None:
        row = self.rows[upload_id]
        row["attached_at"] = row["attached_at"] or now


class MemoryCatalogs:
    def __init__(self):
        self.desks: dict[str, Desk] = {}

    def current(self, desk: Desk) -> Desk:
        return self.desks.get(desk.name, desk)

    def every_desk(self) -> list[Desk]:
        return [self.current(desk) for desk in DESKS.values()]

    def lock(self, desk_name: str) -> None:
        pass

    def save(self, desk: Desk) -> None:
        self.desks[desk.name] = desk


class MemoryRulesPages:
    def __init__(self):
        self.rows: dict[tuple[str, str], dict] = {}

    def get(self, desk: str, language: str) -> dict | None:
        row = self.rows.get((desk, language))
        return dict(row) if row else None

    def save(self, row: dict) -> None:
        self.rows[(row["desk"], row["language"])] = dict(row)


class MemoryCannedAnswers:
    def __init__(self):
        self.rows: dict[tuple[str, str], dict] = {}

    def get(self, desk: str, answer_id: str) -> dict | None:
        row = self.rows.get((desk, answer_id))
        return dict(row) if row else None

    def of_desk(self, desk: str) -> list[dict]:
        return sorted((dict(r) for (d, _), r in self.rows.items() if d == desk),
                      key=lambda r: (r["title"].casefold(), r["answer_id"]))

    def save(self, row: dict) -> None:
        uses = self.rows.get((row["desk"], row["answer_id"]), {}).get("uses", 0)
        self.rows[(row["desk"], row["answer_id"])] = {**row, "uses": uses}

    def count_use(self, desk: str, answer_id: str) -> None:
        self.rows[(desk, answer_id)]["uses"] += 1


class MemoryIdempotencyKeys:
    def __init__(self):
        self.rows: dict[tuple[str, str], dict] = {}

    def lock(self, user_id: str, key: str) -> None:
        pass

    def get(self, user_id: str, key: str) -> dict | None:
        row = self.rows.get((user_id, key))
        return dict(row) if row else None

    def add(self, user_id: str, key: str, status: int, body: dict, endpoint: str, body_sha256: str | None) -> None:
        if (user_id, key) in self.rows:
            raise ValueError("key exists")
        self.rows[(user_id, key)] = {"status": status, "body": copy.deepcopy(body), "endpoint": endpoint,
                                     "body_sha256": body_sha256}


class MemoryRateLimits:
    def __init__(self):
        self.hits: dict[tuple[str, str, datetime], int] = {}

    def check(self, limit: Limit, key: str, now: datetime) -> None:
        start, left = window_of(limit, now)
        if self.hits.get((limit.name, key.strip().lower(), start), 0) >= limit.max_hits:
            raise Throttled(left)

    def hit(self, limit: Limit, key: str, now: datetime) -> None:
        start, _ = window_of(limit, now)
        bucket = (limit.name, key.strip().lower(), start)
        self.hits[bucket] = self.hits.get(bucket, 0) + 1


_REPOSITORIES = ("streams", "tickets", "users", "organisations", "special_processes", "access_requests", "uploads",
                 "catalogs", "rules_pages", "canned_answers", "idempotency_keys", "rate_limits")


class InMemoryUnitOfWork:
    """Every repository in memory. Used as a context manager it is one transaction: a block that
    raises restores what was there before it (as PostgreSQL rolls back); `commit()` keeps the
    work done so far. One transaction at a time: units do not nest (tests run one writer)."""

    def __init__(self):
        self.streams = MemoryStreams()
        self.organisations = MemoryOrganisations()
        self.catalogs = MemoryCatalogs()
        self.tickets = MemoryTickets(self.streams, self.organisations, self.catalogs)
        self.users = MemoryUsers()
        self.special_processes = MemorySpecialProcesses()
        self.access_requests = MemoryAccessRequests()
        self.uploads = MemoryUploads()
        self.rules_pages = MemoryRulesPages()
        self.canned_answers = MemoryCannedAnswers()
        self.idempotency_keys = MemoryIdempotencyKeys()
        self.rate_limits = MemoryRateLimits()
        self.commits = 0
        self._saved: dict | None = None

    def _snapshot(self) -> dict:
        # Sequences are not state to roll back (PostgreSQL's nextval is not transactional either).
        # Nor are references to other repositories (private attributes): a copy would cut the link.
        return {name: copy.deepcopy({k: v for k, v in vars(getattr(self, name)).items()
                                     if k != "sequences" and not k.startswith("_")})
                for name in _REPOSITORIES}

    def commit(self) -> None:
        self.commits += 1
        self._saved = self._snapshot()

    def __enter__(self) -> "InMemoryUnitOfWork":
        self._saved = self._snapshot()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None and self._saved is not None:
            for name, state in self._saved.items():
                vars(getattr(self, name)).update(state)
        elif kind is None:
            self.commits += 1
        self._saved = None

    @contextmanager
    def start(self) -> Iterator["InMemoryUnitOfWork"]:
        """`start()` for `unit_of_work.run`: this same store, one transaction per call."""
        with self:
            yield self
