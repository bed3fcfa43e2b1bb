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
