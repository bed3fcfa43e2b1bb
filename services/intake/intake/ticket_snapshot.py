"""A ticket's folded state as the document its snapshot row stores, and back (pure).

Issue 11, "no stream reload per command": a command on a ticket reads one snapshot row instead
of its whole stream. The row holds `lifecycle.TicketState` as JSON; it is written in the same
transaction as the events it folds, so it is always the fold of the stream up to its version
(tests/integration/test_ticket_snapshots.py compares every snapshot with the fold of its stream).
When the fold itself changes (a new field, a new event type that moves one), a new numbered
migration rebuilds the snapshots from the streams (`postgres_uow.rebuild_snapshots`), as 0003 did.
"""
from __future__ import annotations

from dataclasses import fields

from helpdesk_shared.lifecycle import TicketState

_NAMES = tuple(f.name for f in fields(TicketState))
_FIELDS = frozenset(_NAMES)


def to_document(state: TicketState) -> dict:
    """The JSON document of `state` (hashes sorted, so equal states give equal documents).

    Field by field rather than `dataclasses.asdict`, which deep-copies every value: this runs on
    every ticket command, and the fields are flat."""
    document = {name: getattr(state, name) for name in _NAMES}
    document["attachment_hashes"] = sorted(state.attachment_hashes)
    return document


def from_document(document: dict) -> TicketState:
    """The state a snapshot document holds; keys the fold no longer has are ignored."""
    known = {k: v for k, v in document.items() if k in _FIELDS}
    known["attachment_hashes"] = frozenset(known.get("attachment_hashes") or ())
    return TicketState(**known)
