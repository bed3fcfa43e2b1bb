-- Query's read models: dropped and rebuilt from helpdesk.tickets and helpdesk.accounts at will.
create table if not exists tickets (
    ticket_id       text primary key,
    number          text        not null unique,
    desk            text        not null,
    organisation_id text        not null,
    module          text        not null,
    case_summary    text        not null,
    subject         text        not null,
    description     text        not null,
    urgency         text        not null,
    status          text        not null,
    opened_by       text        not null,
    contact         jsonb       not null,
    details         jsonb       not null,  -- número de acción, dates, vouchers, menu path, previous ticket
    attachments     jsonb       not null,
    out_of_hours    boolean     not null,
    assigned_to     text,
    customer_away   boolean     not null default false,
    close_reason    text,
    opened_at       timestamptz not null,
    updated_at      timestamptz not null,
    last_version    int         not null   -- events at or below it are already applied
);
create index if not exists tickets_list on tickets (organisation_id, status, opened_at desc);
create index if not exists tickets_desk on tickets (desk, status, opened_at desc);
-- Staff lists are newest first across desks: an index in that order serves "limit n" directly.
create index if not exists tickets_recent on tickets (opened_at desc, number desc);

create table if not exists thread (
    ticket_id      text        not null references tickets (ticket_id),
    stream_version int         not null,
    type           text        not null,
    author_id      text        not null,
    author_role    text        not null,
    body           text,
    internal       boolean     not null,
    attachments    jsonb       not null,
    data           jsonb       not null,
    occurred_at    timestamptz not null,
    primary key (ticket_id, stream_version)
);

-- How many events this read model applied (duplicates dropped are not counted).
create table if not exists projection_stats (
    name    text primary key,
    applied bigint not null,
    skipped bigint not null
);
insert into projection_stats (name, applied, skipped) values ('tickets', 0, 0) on conflict do nothing;

-- What the customer (and others) were told by e-mail, from helpdesk.notifications.
create table if not exists notifications (
    event_id    uuid primary key,
    ticket_id   text        not null,
    type        text        not null,   -- NotificationSent | NotificationFailed
    recipient   text        not null,
    template    text        not null,
    error       text,
    occurred_at timestamptz not null
);
create index if not exists notifications_ticket on notifications (ticket_id, occurred_at);

-- Who an id names, from helpdesk.accounts: joined into the views so staff read names, not ids.
create table if not exists users (
    id              text primary key,
    email           text   not null,
    name            text   not null,
    role            text   not null,      -- customer | agent | supervisor
    organisation_id text,                 -- customers only
    desks           text[] not null,
    phone           text
);
create index if not exists users_organisation on users (organisation_id);

create table if not exists organisations (
    id     text primary key,
    name   text   not null,
    tax_id text,                          -- RIF
    desks  text[] not null
);
insert into projection_stats (name, applied, skipped) values ('accounts', 0, 0) on conflict do nothing;

-- The running deadline of each ticket's clocks, from the SLA service's facts on helpdesk.sla (query
-- never recomputes business time: open_intervals are the counted spans up to due_at). One row per
-- (ticket, clock), kept when the clock stops (running = false).
create table if not exists deadlines (
    ticket_id        text        not null,
    clock            text        not null,   -- first_response | next_response | auto_close
    running          boolean     not null,
    clock_type       text,                   -- business | 24x7
    due_at           timestamptz not null,
    warning_at       timestamptz,            -- auto_close: when the warning mail is due
    open_intervals   jsonb,                  -- [[start, end], ...] ISO 8601; null when the fact had none
    policy_version   int,
    calendar_version int,
    overdue          boolean     not null default false,  -- ResponseOverdue seen for this deadline
    -- The last AutoCloseWarning's closes_at and instant: the warning of the current deadline went
    -- out when its closes_at is due_at (a moved deadline is warned about again, SLA timers).
    warned_closes_at timestamptz,
    warned_at        timestamptz,
    sla_version      int         not null,   -- of the last fact applied to the row (for who reads it)
    event_id         uuid        not null,   -- that fact
    primary key (ticket_id, clock)
);
-- Every SLA fact applied to the deadlines: one seen again (a republish, a replay) changes nothing.
create table if not exists deadline_facts (
    event_id uuid primary key
);
create index if not exists deadlines_running on deadlines (ticket_id, due_at) where running;
insert into projection_stats (name, applied, skipped) values ('deadlines', 0, 0) on conflict do nothing;

-- The queue's order kept with the deadlines: a desk's open tickets by their nearest running
-- deadline ('infinity' when none runs), so a page of the queue is an index range read, not a
-- sort of every open ticket of the desk.
create table if not exists queue_order (
    ticket_id text primary key,
    desk      text,                                    -- null until its TicketOpened is applied
    open      boolean     not null default true,       -- false once closed (never reopened)
    sort_due  timestamptz not null default 'infinity', -- the nearest running deadline
    overdue   boolean     not null default false       -- the SLA service reported that deadline missed
);
create index if not exists queue_order_desk on queue_order (desk, sort_due, ticket_id) where open;

-- Every event about a ticket (helpdesk.tickets, helpdesk.sla, helpdesk.notifications) for its
-- timeline; event_id unique so a replay adds nothing. causal_rank orders a cause before its
-- effects at the same instant (query.timeline.causal_rank).
create table if not exists timeline (
    event_id       uuid primary key,
    ticket_id      text        not null,
    occurred_at    timestamptz not null,
    causal_rank    smallint    not null,
    stream_version int         not null,
    type           text        not null,
    actor_id       text        not null,
    actor_role     text        not null,
    correlation_id uuid,
    causation_id   uuid,
    data           jsonb       not null
);
create index if not exists timeline_ticket on timeline (ticket_id, occurred_at, causal_rank, stream_version, event_id);
insert into projection_stats (name, applied, skipped) values ('timeline', 0, 0) on conflict do nothing;

-- The agents' workload: each agent's tickets not closed, and the public answers of one day.
create index if not exists tickets_assignee_open on tickets (assigned_to, desk) where status <> 'closed';
create index if not exists thread_public_answers on thread (occurred_at, author_id)
    where type = 'MessagePosted' and not internal;

-- Text search over subject, case and description with the Spanish stemmer ("facturas" finds
-- "factura", "conciliación" finds "conciliar"), and accents folded where the contrib extension
-- unaccent can be created ("facturacion" typed without its accent finds "Facturación"). The stemmer
-- needs the accents ("-ación" is a suffix, "-acion" is not), so the vector holds both the stemmed
-- words and the stemmed accent-folded ones; a search is read with the plain Spanish configuration.
-- mesa_search keeps its name whether or not unaccent was available, so nothing else depends on it.
-- https://www.postgresql.org/docs/current/unaccent.html
do $$
begin
    if not exists (select 1 from pg_ts_config where cfgname = 'mesa_search') then
        create text search configuration mesa_search (copy = pg_catalog.spanish);
        begin
            create extension if not exists unaccent;
            alter text search configuration mesa_search
                alter mapping for hword, hword_part, word with unaccent, spanish_stem;
        exception when undefined_file or insufficient_privilege or feature_not_supported or undefined_object then
            raise notice 'unaccent is not available: ticket search stems Spanish but folds no accents';
        end;
    end if;
end
$$;
alter table tickets add column if not exists search tsvector generated always as (
    to_tsvector('pg_catalog.spanish', subject || ' ' || case_summary || ' ' || description)
    || to_tsvector('mesa_search', subject || ' ' || case_summary || ' ' || description)) stored;
create index if not exists tickets_search on tickets using gin (search);

-- When an away customer said he is back (CustomerAway.back_at); null when away without a date
-- or not away. The auto-close counts from it (SLA service).
alter table tickets add column if not exists back_at timestamptz;

-- Reports (issue 8, reports.py / reports_store.py): the supervisor's backlog, SLA compliance,
-- auto-closed and out-of-hours billing, kept up to date by the events, never by scanning tickets.
-- A ticket as the reports see it: where it belongs, and the last stream version applied (a
-- replayed event at or below it changes nothing, so the daily counts are never counted twice).
create table if not exists report_tickets (
    ticket_id              text primary key,
    number                 text        not null,
    desk                   text        not null,
    module                 text        not null,
    organisation_id        text        not null,
    opened_at              timestamptz not null,
    closed_at              timestamptz,
    close_reason           text,
    out_of_hours_requested boolean     not null default false,
    last_version           int         not null
);
-- How tickets moved per Caracas day: movement is 'opened' or a close reason.
create table if not exists report_daily (
    day             date not null,
    desk            text not null,
    module          text not null,
    organisation_id text not null,
    movement        text not null,
    n               int  not null,
    primary key (day, desk, module, organisation_id, movement)
);
-- Out-of-hours attention asked for, once per ticket and Caracas month (TicketOpened/MessagePosted).
create table if not exists report_ooh_requests (
    ticket_id text        not null,
    month     text        not null,
    first_at  timestamptz not null,
    primary key (ticket_id, month)
);
create index if not exists report_ooh_requests_month on report_ooh_requests (month);
-- Each response clock that was answered (DeadlineMet) or went overdue (ResponseOverdue), with the
-- SLA service's own measure of it; one row per (ticket, clock, deadline), so a replay updates nothing.
create table if not exists report_responses (
    ticket_id              text        not null,
    clock                  text        not null,   -- first_response | next_response
    due_at                 timestamptz not null,
    month                  text        not null,   -- Caracas month of met_at, or of due_at while unanswered
    met_at                 timestamptz,
    met_in_time            boolean,
    business_seconds       int,
    outside_hours_seconds  int,
    answered_outside_hours boolean,
    answered_by            text,
    overdue_at             timestamptz,
    cleared_at             timestamptz,              -- closed without an answer
    -- The ticket's, copied in when both are known (the SLA's facts and the ticket's opening come on
    -- different topics, in either order): compliance then reads this table alone. Null: not counted yet.
    desk                   text,
    module                 text,
    organisation_id        text,
    -- An overdue row whose deadline then moved and was met under the new one: the same response,
    -- counted once in the met row (kept so that a replayed ResponseOverdue adds nothing).
    superseded             boolean     not null default false,
    primary key (ticket_id, clock, due_at)
);
-- Compliance reads a period of a desk from the index alone (an index-only scan, no join, no heap).
create index if not exists report_responses_month on report_responses (month, desk)
    include (clock, module, organisation_id, answered_by, met_in_time, business_seconds, superseded);
create index if not exists report_responses_breaches on report_responses (due_at, ticket_id, clock)
    where met_in_time is not true and not superseded;
insert into projection_stats (name, applied, skipped) values ('reports', 0, 0) on conflict do nothing;
-- The backlog's current counts read the tickets not closed (a few thousand of 100,000), not the table;
-- out-of-hours billing reads the tickets that asked for it and the answers given outside hours alone.
create index if not exists tickets_not_closed on tickets (desk) where status <> 'closed';
create index if not exists report_tickets_out_of_hours on report_tickets (ticket_id)
    include (desk, module, organisation_id) where out_of_hours_requested;
create index if not exists report_responses_outside_hours on report_responses (month)
    include (ticket_id, outside_hours_seconds) where answered_outside_hours;
-- Compliance per Caracas month x desk x clock, by answered hour (counts and met) and answered minute
-- (counts): the common reports (grouped by month and/or desk) read the hours (a few thousand rows for
-- a year) and then only the minutes of the hours their median and p90 fall in, instead of every
-- response of the period (issue 8 benchmark: p99 <= 50 ms with 100,000 tickets). Median and p90 are
-- of answered times truncated to the whole minute, in both reading paths (reports_store.compliance).
-- Kept by a row trigger on report_responses, in the applier's own transaction: every statement
-- that writes a response (met, overdue, cleared, superseded, the ticket's desk copied in) moves
-- exactly the old row's contribution to the new row's, which a replay that changes no row never does.
create table if not exists report_compliance_hours (
    month  text not null,
    desk   text not null,
    clock  text not null,
    hour   int  not null,   -- business_seconds / 3600, or -1 while never answered (a breach)
    n      int  not null,
    met    int  not null,   -- of n, met in time
    primary key (month, desk, clock, hour)
);
create table if not exists report_compliance_minutes (
    desk   text not null,
    clock  text not null,
    minute int  not null,   -- business_seconds / 60 (answered ones only)
    month  text not null,
    n      int  not null,
    primary key (desk, clock, minute, month)
);
-- The same counts per module and per agent who answered (dimension, value), for the reports that group
-- or filter by one of them besides month and desk. value is '' for a response nobody answered (no
-- agent; a key column cannot be null). Not kept per organisation: with hundreds of organisations a
-- month's (organisation, clock, minute) rows are nearly as many as its responses, which is what such
-- a report reads anyway (report_responses_month).
create table if not exists report_compliance_dimension_hours (
    dimension text not null,   -- module | agent
    value     text not null,
    month     text not null,
    desk      text not null,
    clock     text not null,
    hour      int  not null,
    n         int  not null,
    met       int  not null,
    primary key (dimension, month, desk, clock, value, hour)
) with (fillfactor = 50);
create table if not exists report_compliance_dimension_minutes (
    dimension text not null,
    value     text not null,
    clock     text not null,
    minute    int  not null,
    month     text not null,
    desk      text not null,
    n         int  not null,
    primary key (dimension, value, clock, minute, month, desk)
) with (fillfactor = 50);
-- A report grouped by month reads the minutes of one (month, desk, clock) hour at a time: an index range.
create index if not exists report_compliance_minutes_month on report_compliance_minutes (month, desk, clock, minute);
-- Every response applied updates one row of each table (n, met: no indexed column), so room is left on
-- each page for the new version to stay on it (a HOT update: no new index entry, pruned in place);
-- packed full, the few hundred rows a year has would spread over many pages as they are rewritten.
-- https://www.postgresql.org/docs/current/storage-hot.html
alter table report_compliance_hours set (fillfactor = 50);
alter table report_compliance_minutes set (fillfactor = 50);
-- migrations/0002_compliance_counts_without_empty_rows.sql replaces this function (a count that falls
-- to 0 deletes its row, so the rows do not depend on the order the topics were read in).
-- The statements are written out rather than shared through a function taking the row: a PL/pgSQL
-- call with a row argument per response cost the applier several times these statements' own time.
create or replace function report_compliance_count() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') and not old.superseded and old.desk is not null then
        update report_compliance_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where month = old.month and desk = old.desk and clock = old.clock
          and hour = coalesce(old.business_seconds / 3600, -1);
        update report_compliance_minutes set n = n - 1
        where desk = old.desk and clock = old.clock and minute = old.business_seconds / 60 and month = old.month;
        update report_compliance_dimension_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where dimension = 'module' and month = old.month and desk = old.desk and clock = old.clock
          and value = old.module and hour = coalesce(old.business_seconds / 3600, -1);
        update report_compliance_dimension_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where dimension = 'agent' and month = old.month and desk = old.desk and clock = old.clock
          and value = coalesce(old.answered_by, '') and hour = coalesce(old.business_seconds / 3600, -1);
        if old.business_seconds is not null then
            update report_compliance_dimension_minutes set n = n - 1
            where dimension = 'module' and value = old.module and clock = old.clock
              and minute = old.business_seconds / 60 and month = old.month and desk = old.desk;
            update report_compliance_dimension_minutes set n = n - 1
            where dimension = 'agent' and value = coalesce(old.answered_by, '') and clock = old.clock
              and minute = old.business_seconds / 60 and month = old.month and desk = old.desk;
        end if;
    end if;
    if tg_op in ('INSERT', 'UPDATE') and not new.superseded and new.desk is not null then
        insert into report_compliance_hours (month, desk, clock, hour, n, met)
        values (new.month, new.desk, new.clock, coalesce(new.business_seconds / 3600, -1), 1,
                (new.met_in_time is true)::int)
        on conflict (month, desk, clock, hour) do update
            set n = report_compliance_hours.n + 1, met = report_compliance_hours.met + excluded.met;
        insert into report_compliance_dimension_hours (dimension, value, month, desk, clock, hour, n, met)
        values ('module', new.module, new.month, new.desk, new.clock, coalesce(new.business_seconds / 3600, -1), 1,
                (new.met_in_time is true)::int),
               ('agent', coalesce(new.answered_by, ''), new.month, new.desk, new.clock,
                coalesce(new.business_seconds / 3600, -1), 1, (new.met_in_time is true)::int)
        on conflict (dimension, month, desk, clock, value, hour) do update
            set n = report_compliance_dimension_hours.n + 1, met = report_compliance_dimension_hours.met + excluded.met;
        if new.business_seconds is not null then
            insert into report_compliance_minutes (desk, clock, minute, month, n)
            values (new.desk, new.clock, new.business_seconds / 60, new.month, 1)
            on conflict (desk, clock, minute, month) do update set n = report_compliance_minutes.n + 1;
            insert into report_compliance_dimension_minutes (dimension, value, clock, minute, month, desk, n)
            values ('module', new.module, new.clock, new.business_seconds / 60, new.month, new.desk, 1),
                   ('agent', coalesce(new.answered_by, ''), new.clock, new.business_seconds / 60, new.month,
                    new.desk, 1)
            on conflict (dimension, value, clock, minute, month, desk) do update
                set n = report_compliance_dimension_minutes.n + 1;
        end if;
    end if;
    return null;
end $$;
create or replace function report_compliance_truncate() returns trigger language plpgsql as $$
begin
    truncate report_compliance_hours, report_compliance_minutes, report_compliance_dimension_hours,
             report_compliance_dimension_minutes;
    return null;
end $$;
create or replace trigger report_compliance_count after insert or update or delete on report_responses
    for each row execute function report_compliance_count();
create or replace trigger report_compliance_truncate after truncate on report_responses
    for each statement execute function report_compliance_truncate();
-- A database whose responses predate these tables: counted once here. create trigger above waited for
-- every writer of report_responses and holds them off until this transaction commits, so no
-- response is missed or counted twice.
insert into report_compliance_hours (month, desk, clock, hour, n, met)
select month, desk, clock, coalesce(business_seconds / 3600, -1), count(*), count(*) filter (where met_in_time)
from report_responses
where not superseded and desk is not null
  and not exists (select 1 from report_compliance_hours)
group by 1, 2, 3, 4;
insert into report_compliance_minutes (desk, clock, minute, month, n)
select desk, clock, business_seconds / 60, month, count(*)
from report_responses
where not superseded and desk is not null and business_seconds is not null
  and not exists (select 1 from report_compliance_minutes)
group by 1, 2, 3, 4;
insert into report_compliance_dimension_hours (dimension, value, month, desk, clock, hour, n, met)
select d.dimension, d.value, month, desk, clock, coalesce(business_seconds / 3600, -1), count(*),
       count(*) filter (where met_in_time)
from report_responses cross join lateral (values ('module', module), ('agent', coalesce(answered_by, '')))
     as d(dimension, value)
where not superseded and desk is not null
  and not exists (select 1 from report_compliance_dimension_hours)
group by 1, 2, 3, 4, 5, 6;
insert into report_compliance_dimension_minutes (dimension, value, clock, minute, month, desk, n)
select d.dimension, d.value, clock, business_seconds / 60, month, desk, count(*)
from report_responses cross join lateral (values ('module', module), ('agent', coalesce(answered_by, '')))
     as d(dimension, value)
where not superseded and desk is not null and business_seconds is not null
  and not exists (select 1 from report_compliance_dimension_minutes)
group by 1, 2, 3, 4, 5, 6;

-- The desk's billable mark (BillableMarked, issue 9): null until an agent decides; when set it
-- overrides the customer's out_of_hours request in the queue. The report counts the tickets
-- whose last mark is billable, in the Caracas month of that mark.
alter table tickets add column if not exists billable boolean;
alter table report_tickets add column if not exists billable boolean;
alter table report_tickets add column if not exists billable_month text;
create index if not exists report_tickets_billable on report_tickets (billable_month)
    include (desk, module, organisation_id) where billable;

-- Each desk's module catalog as its last ModuleCatalogChanged gave it (query.catalogs): the
-- names people read for the module codes tickets carry. A desk without rows reads the kernel's
-- default names (helpdesk_shared/catalog.json).
create table if not exists desk_modules (
    desk    text    not null,
    code    text    not null,
    name    text    not null,
    retired boolean not null,
    version int     not null,
    primary key (desk, code)
);
insert into projection_stats (name, applied, skipped) values ('catalogs', 0, 0) on conflict do nothing;
