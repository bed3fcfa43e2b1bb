-- The SLA service's database: calendars and policies (versioned data), each ticket's
-- clocks, the timers fired, and its outbox to helpdesk.sla.

create table if not exists calendars (
    desk           text        not null,
    version        int         not null,
    effective_from timestamptz not null,
    doc            jsonb       not null,
    changed_by     text        not null,
    primary key (desk, version)
);

create table if not exists policies (
    desk           text        not null,
    urgency_class  text        not null,
    version        int         not null,
    effective_from timestamptz not null,
    doc            jsonb       not null,
    changed_by     text        not null,
    primary key (desk, urgency_class, version)
);

-- One row per ticket: its clocks as a document (policy and calendar pinned by version),
-- the earliest pending timer not yet fired, and where its events arrive in Kafka (a
-- service instance fires only for the partitions it owns).
create table if not exists clocks (
    ticket_id   text primary key,
    number      text        not null unique,
    partition   int         not null,
    status      text        not null,
    state       jsonb       not null,
    fired       text[]      not null default '{}',
    next_due    timestamptz,
    sla_version int         not null default 0   -- versions of the "sla-<ticket_id>" stream
);
create index if not exists clocks_due on clocks (partition, next_due) where next_due is not null;
-- A desk's open tickets, whose running deadlines a calendar change moves (sla.store.change_calendar).
create index if not exists clocks_open_by_desk on clocks ((state->>'desk')) where status <> 'closed';

-- Every timer fired, once: the key is stable across restarts (see sla.timers.Timer).
create table if not exists fired_timers (
    key       text primary key,
    ticket_id text        not null,
    kind      text        not null,
    due_at    timestamptz not null,
    fired_at  timestamptz not null,
    event_id  uuid        not null
);
