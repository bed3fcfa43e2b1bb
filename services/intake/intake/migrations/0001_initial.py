"""Intake's schema as the services created it at boot before migrations existed: consumer offsets,
outbox, and intake's schema.sql. Every statement is idempotent (`create … if not exists`), which is
how a database made the old way is adopted: 0001 runs over its tables, changes nothing, and is recorded.
Later changes go in new numbered files, never here."""
from helpdesk_shared.outbox import DDL as OUTBOX_DDL
from helpdesk_shared.pg import OFFSETS_DDL

from intake.app import SCHEMA

DDL = (OFFSETS_DDL, OUTBOX_DDL, SCHEMA)
