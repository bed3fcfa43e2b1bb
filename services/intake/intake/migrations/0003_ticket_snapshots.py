"""Issue 11, no stream reload per command: each ticket's state folded up to its stream's version.

A command on a ticket reads its snapshot row (`intake.ticket_snapshot`: `lifecycle.TicketState`
as JSON) instead of loading and folding the whole stream; the row is written in the same
transaction, and round trip, as the events it folds (`postgres_uow.PostgresTickets.record`).
`version` is the stream version the state is folded to: the tickets row carries the same number,
and a snapshot at another version than its ticket's row is not used (the stream is folded instead).

`upgrade` folds every existing ticket's stream with the same fold the commands use.
"""
from intake.postgres_uow import rebuild_snapshots

DDL = (
    """
    create table if not exists ticket_snapshots (
        ticket_id text  primary key,
        version   int   not null check (version >= 1),
        state     jsonb not null
    );
    """,
)


def upgrade(conn) -> None:
    """Fold every ticket's stream into its snapshot."""
    rebuild_snapshots(conn)
