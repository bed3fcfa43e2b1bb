"""Comparing a live read model with one rebuilt from the log (pure).

Each side gives, per table, its row count and an order-independent checksum (the sum of
a 60-bit hash of every row, computed in SQL); the tables whose figures differ are then
compared row by row, paired by primary key, to print the first differences.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSum:
    """A table's row count and the sum of its rows' hashes."""

    rows: int
    checksum: int


def differing_tables(live: dict[str, TableSum], rebuilt: dict[str, TableSum]) -> list[str]:
    """Tables whose figures differ, or that exist on one side only, in name order."""
    return sorted(t for t in live.keys() | rebuilt.keys() if live.get(t) != rebuilt.get(t))


@dataclass(frozen=True)
class RowDifference:
    """One row that is not the same in the live model and in the rebuilt one.

    kind: "changed" (same key, other values: `columns` maps each differing column to
    (live, rebuilt)), "only_live" or "only_rebuilt" (`row` is the whole row).
    """

    table: str
    key: dict
    kind: str
    columns: dict = field(default_factory=dict)
    row: dict = field(default_factory=dict)


def row_differences(table: str, key_columns: list[str], only_live: list[dict], only_rebuilt: list[dict],
                    limit: int = 5) -> list[RowDifference]:
    """Pair rows found on one side only by their key; the first `limit` differences in key order.

    Without a primary key (`key_columns` empty) a row is its own key: every difference is
    then a row present on one side only.
    """
    def key_of(row: dict) -> tuple:
        cols = key_columns or sorted(row)
        return tuple((c, _sortable(row.get(c))) for c in cols)

    live = {key_of(r): r for r in only_live}
    rebuilt = {key_of(r): r for r in only_rebuilt}
    found = []
    for key in sorted(live.keys() | rebuilt.keys()):
        a, b = live.get(key), rebuilt.get(key)
        shown_key = {c: (a or b)[c] for c in (key_columns or sorted(a or b))}
        if a is not None and b is not None:
            cols = {c: (a.get(c), b.get(c)) for c in sorted(a.keys() | b.keys()) if a.get(c) != b.get(c)}
            found.append(RowDifference(table, shown_key, "changed", columns=cols))
        elif a is not None:
            found.append(RowDifference(table, shown_key, "only_live", row=a))
        else:
            found.append(RowDifference(table, shown_key, "only_rebuilt", row=b))
        if len(found) >= limit:
            break
    return found


def _sortable(value) -> tuple:
    # Keys mix types only across None; sort None first and everything else by its text.
    return (0, "") if value is None else (1, str(value))


def describe(d: RowDifference) -> str:
    """One difference in a line or a few, Spanish first."""
    key = ", ".join(f"{c}={v!r}" for c, v in d.key.items())
    if d.kind == "changed":
        cols = "; ".join(f"{c}: vivo/live={a!r} reconstruido/rebuilt={b!r}" for c, (a, b) in d.columns.items())
        return f"{d.table} [{key}] difiere / differs: {cols}"
    where = ("solo en el modelo vivo / only in the live model" if d.kind == "only_live"
             else "solo en el reconstruido / only in the rebuilt model")
    return f"{d.table} [{key}] {where}: {d.row!r}"
