"""The SLA service's schema as the services created it at boot before migrations existed: consumer
offsets, outbox, the SLA's schema.sql, the revocations table, and version 1 of every desk's calendar
and policies. Every statement is idempotent (`create … if not exists`, `on conflict do nothing`), which
is how a database made the old way is adopted: 0001 runs over its tables, changes nothing, and is
recorded. Later changes go in new numbered files, never here."""
from helpdesk_shared import outbox, revocations
from helpdesk_shared.pg import OFFSETS_DDL

from sla.store import SCHEMA, seed_defaults

DDL = (OFFSETS_DDL, outbox.DDL, SCHEMA, revocations.DDL)


def upgrade(conn) -> None:
    """Version 1 of each desk's calendar and policies (kept when they exist)."""
    seed_defaults(conn)
