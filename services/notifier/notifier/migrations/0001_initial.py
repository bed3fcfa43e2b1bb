"""The notifier's schema as the services created it at boot before migrations existed: consumer
offsets, outbox, the notifier's schema.sql and the revocations table. Every statement is idempotent
(`create … if not exists`), which is how a database made the old way is adopted: 0001 runs over its
tables, changes nothing, and is recorded. Later changes go in new numbered files, never here."""
from helpdesk_shared import outbox, revocations
from helpdesk_shared.pg import OFFSETS_DDL

from notifier.store import SCHEMA

DDL = (OFFSETS_DDL, outbox.DDL, SCHEMA, revocations.DDL)
