"""How a read model's applier says it takes a whole run of records at once (set-based), not one record.

`store.apply_batch` cuts a polled batch into runs of consecutive events of one topic and gives each
applier a run: one marked `@applies_batch` gets the run's records in order and returns how many it
applied; an unmarked one (the older contract, apply(conn, record) -> bool) is called once per record.
"""
from __future__ import annotations

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
