"""Query's read model as `mesa rebuild query` / `mesa check query` see it: everything query.app.SCHEMA
(and the revocations table) creates, fed by the consumer's topics and `store.apply_batch`."""
from __future__ import annotations

import functools

from helpdesk_shared import migrations, revocations
from helpdesk_shared.rebuild import ReadModel

from . import migrations as folder, store
from .app import SCHEMA
from .consumer import CONSUMER_NAME, TOPICS

# Revocations come from helpdesk.accounts and are rebuilt with the rest; one the log no longer
# holds must still refuse its tokens, so the latest instant of either side is kept.
_KEEP_REVOCATIONS = """
insert into {live}.revoked_bearer_tokens (user_id, valid_after)
select user_id, valid_after from {retired}.revoked_bearer_tokens
on conflict (user_id) do update
set valid_after = greatest({live}.revoked_bearer_tokens.valid_after, excluded.valid_after)"""


def read_model(topic_prefix: str = "") -> ReadModel:
    """The query consumer's read model on topics named with `topic_prefix` (KAFKA_TOPIC_PREFIX)."""
    return ReadModel(consumer=CONSUMER_NAME, topics=[topic_prefix + t for t in TOPICS],
                     # the baseline (migration 0001 without the kernel's consumer tables) and every later migration
                     ddl=(SCHEMA, revocations.DDL, *migrations.ddl_after(folder.DIRECTORY)),
                     # The replay is the scratch tables' one writer: no consumer instance to wait for
                     # (store._lock_shared_rows), and no 5,000-record batch's worth of
                     # advisory locks in PostgreSQL's shared lock table.
                     handle_batch=functools.partial(store.apply_batch, sole_writer=True),
                     # counts of events applied and skipped: a replay skips none of the duplicates
                     # a relay's republish made the live consumer skip
                     ignored_tables=frozenset({"projection_stats"}),
                     merges={"revoked_bearer_tokens": _KEEP_REVOCATIONS})
