"""Issue 11, one write per event: intake's `events` becomes its own outbox.

Each event row carries its Kafka bytes (`payload`, serialised once at append and shipped
unchanged), when it was stored, and `relay_xid`, the order the relay follows
(helpdesk_shared.outbox.EventLog explains why that order is safe). The relay's position lives in
`relay_cursor`. New rows no longer write `actor`/`data` (the payload holds them); rows stored
before keep them, and load_stream reads either.

`upgrade` moves what the old outbox still held unpublished: those events get their payload and
are placed after the cursor (relay_xid 1; every published event stays at 0, and real transaction
ids start at 3), in the old relay's id order; unpublished rows that were no event of this store
(operations alerts) are appended as events; a row that is not even an envelope is parked in
outbox_dead_letters, as the old relay would have. Then the old outbox is dropped.
"""
import json

DDL = (
    """
    alter table events add column if not exists payload bytea;
    alter table events add column if not exists stored_at timestamptz;
    alter table events alter column stored_at set default now();
    -- A constant default fills existing rows without a rewrite; new rows get their transaction's id.
    alter table events add column if not exists relay_xid xid8 not null default '0';
    alter table events alter column relay_xid set default pg_current_xact_id();
    alter table events alter column actor drop not null;
    alter table events alter column data drop not null;
    create index if not exists events_relay_order on events (relay_xid, global_position);
    create table if not exists relay_cursor (
        relay     text   primary key,
        relay_xid xid8   not null,
        position  bigint not null
    );
    insert into relay_cursor (relay, relay_xid, position) values ('kafka', '0', 0) on conflict do nothing;
    """,
)

_FIELDS = ("event_id", "type", "schema_version", "stream_id", "stream_version", "occurred_at", "correlation_id")


def upgrade(conn) -> None:
    """Move the old outbox's unpublished rows into the event store, then drop the old outbox."""
    if conn.execute("select to_regclass('outbox') as t").fetchone()["t"] is None:
        return
    conn.execute("""update events e set payload = o.payload, stored_at = o.stored_at, relay_xid = '1'
                    from outbox o where o.event_id = e.event_id and o.published_at is null""")
    strays = conn.execute("""select o.* from outbox o where o.published_at is null
                             and not exists (select 1 from events e where e.event_id = o.event_id)
                             order by o.id""").fetchall()
    for row in strays:
        try:
            doc = json.loads(bytes(row["payload"]))
            values = [doc[f] for f in _FIELDS]
        except (ValueError, TypeError, KeyError) as exc:
            conn.execute("""insert into outbox_dead_letters (id, event_id, topic, key, payload, stored_at, error)
                            values (%s, %s, %s, %s, %s, %s, %s) on conflict (id) do nothing""",
                         (row["id"], row["event_id"], row["topic"], row["key"], row["payload"], row["stored_at"],
                          f"not an envelope, left behind by migration 0002: {type(exc).__name__}"))
            continue
        conn.execute("""insert into events (event_id, type, schema_version, stream_id, stream_version, occurred_at,
                                            correlation_id, causation_id, payload, stored_at, relay_xid)
                        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '1') on conflict do nothing""",
                     (*values, doc.get("causation_id"), row["payload"], row["stored_at"]))
    # Published events stay behind the cursor; what was waiting follows it.
    conn.execute("""update relay_cursor set relay_xid = '0',
                    position = (select coalesce(max(global_position), 0) from events where relay_xid = '0')
                    where relay = 'kafka'""")
    conn.execute("drop table outbox")
