"""How a read model's applier says it takes a whole run of records at once (set-based), not one record.

`store.apply_batch` cuts a polled batch into runs of consecutive events of one topic and gives each
applier a run: one marked `@applies_batch` gets the run's records in order and returns how many it
applied; an unmarked one (the older contract, apply(conn, record) -> bool) is called once per record.
"""
from __future__ import annotations

import json

import orjson
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def applies_batch(apply: F) -> F:
    """Mark `apply(conn, records: list[Record]) -> int` (events applied) as a set-based applier."""
    apply.applies_batch = True
    return apply


def takes_batches(apply: Callable) -> bool:
    """Whether `apply` is a set-based applier (see `applies_batch`)."""
    return getattr(apply, "applies_batch", False)


def copy_rows(conn, table: str, columns: tuple[str, ...], rows: list) -> None:
    """Write new rows with COPY (the cheapest way to insert many; psycopg formats them in C).

    Only for rows known to be new (a duplicate key fails the whole batch): the appliers filter
    what was applied before and what the batch repeats. `table` and `columns` are literals of
    the caller, never input."""
    if not rows:
        return
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)


_DATA_JSON: dict = {}


def data_json(event) -> str:
    """The event's data as JSON text for a jsonb column (COPY takes the text as it is).

    The thread and the timeline both store an event's data: it is serialised once, remembered by
    event id for the batch (a republished event carries the same data); the memory is bounded."""
    text = _DATA_JSON.get(event.event_id)
    if text is None:
        if len(_DATA_JSON) >= 20_000:
            _DATA_JSON.clear()
        text = _DATA_JSON[event.event_id] = _json_text(event.data)
    return text


def _json_text(value) -> str:
    """Compact JSON text, non-ASCII kept as is: orjson (C), or `json` for what orjson refuses
    (an integer past 64 bits). Both write the same text for the JSON values decoding gives."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def list_json(items) -> str:
    """A list as JSON text for a jsonb column; most are empty (attachments)."""
    return _json_text(list(items)) if items else "[]"
