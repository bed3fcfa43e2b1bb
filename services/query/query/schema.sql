-- Query's read models: dropped and rebuilt from helpdesk.tickets at will.
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

-- When an away customer said he is back (CustomerAway.back_at); null when away without a date
-- or not away. The auto-close counts from it (SLA service).
alter table tickets add column if not exists back_at timestamptz;
