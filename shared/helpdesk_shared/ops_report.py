"""What the `mesa` command shows people (pure): consumer lag, event filters and lines, text tables."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .topics import TICKETS


def lag(ends: dict[tuple[str, int], int], stored: dict[tuple[str, int], int],
        beginnings: dict[tuple[str, int], int] | None = None) -> dict[tuple[str, int], int]:
    """Events each partition still has to give the consumer: end − stored next offset.

    A partition with no stored offset is read from its beginning (its first offset still
    kept, 0 unless retention removed older ones).
    """
    beginnings = beginnings or {}
    return {tp: max(0, end - stored.get(tp, beginnings.get(tp, 0))) for tp, end in ends.items()}


@dataclass
class EventFilter:
    """Which events `mesa events tail` prints: by type, ticket (number or id) and organisation.

    A ticket's events other than TicketOpened carry only its id (the stream id), so the
    filter learns each ticket's number and organisation from the events it sees (and from
    `known`, e.g. read from query's database) to match them.
    """

    types: frozenset[str] = frozenset()
    ticket: str | None = None
    organisation: str | None = None
    number_of: dict[str, str] = field(default_factory=dict)  # ticket id -> number
    organisation_of: dict[str, str] = field(default_factory=dict)  # ticket id -> organisation id

    def learn(self, doc: dict) -> None:
        """Remember what an event says about its ticket."""
        data = doc.get("data") or {}
        ticket_id = data.get("ticket_id") or (doc.get("stream_id") if doc.get("type") == "TicketOpened" else None)
        if ticket_id and data.get("number"):
            self.number_of[ticket_id] = data["number"]
        if ticket_id and data.get("organisation_id"):
            self.organisation_of[ticket_id] = data["organisation_id"]

    @staticmethod
    def ticket_of(doc: dict, topic: str) -> str | None:
        """The ticket id an event is about, if any (a ticket's stream id is its ticket id)."""
        data = doc.get("data") or {}
        if data.get("ticket_id"):
            return data["ticket_id"]
        return doc.get("stream_id") if topic.endswith(TICKETS) else None

    def matches(self, doc: dict, topic: str) -> bool:
        """Whether the event passes every filter given (learning from it first)."""
        self.learn(doc)
        if self.types and doc.get("type") not in self.types:
            return False
        ticket_id = self.ticket_of(doc, topic)
        if self.ticket:
            if ticket_id is None:
                return False
            if self.ticket != ticket_id and self.ticket.upper() != (self.number_of.get(ticket_id) or "").upper():
                return False
        if self.organisation:
            data = doc.get("data") or {}
            org = data.get("organisation_id") or (self.organisation_of.get(ticket_id) if ticket_id else None)
            if org != self.organisation:
                return False
        return True


def event_lines(topic: str, partition: int, offset: int, doc: dict, number: str | None = None) -> str:
    """An event for people: a header line (when, where, what, whose) and its data indented."""
    actor = doc.get("actor") or {}
    about = f"{doc.get('stream_id')} v{doc.get('stream_version')}" + (f" ({number})" if number else "")
    head = (f"{doc.get('occurred_at', '?')}  {topic}/{partition}@{offset}  {doc.get('type', '?')}  {about}  "
            f"por/by {actor.get('id', '?')} ({actor.get('role', '?')})")
    data = json.dumps(doc.get("data"), ensure_ascii=False, indent=2, sort_keys=True)
    return head + "\n" + "\n".join("    " + line for line in data.splitlines())


def text_table(headers: list[str], rows: list[list]) -> str:
    """Columns padded to their widest cell, numbers right-aligned."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows if row[i] is not None) and rows
               for i in range(len(headers))]

    def fmt(row):
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells]).rstrip()
