-- The notifier's database: what it knows of users and tickets (from the topics), every
-- mail it owes (recorded before it is sent), reply addresses, and replies already taken in.

create table if not exists users (
    user_id         text primary key,
    email           text   not null,
    name            text   not null,
    role            text   not null,
    language        text   not null,
    organisation_id text,
    desks           text[] not null
);

create table if not exists tickets (
    ticket_id       text primary key,
    number          text        not null unique,
    desk            text        not null,
    subject         text        not null,
    organisation_id text        not null,
    opened_by       text        not null,
    contact         jsonb       not null,
    language        text        not null,
    urgency         text        not null,
    assigned_to     text,
    status          text        not null,
    opened_at       timestamptz not null,
    version         int         not null
);

-- One row per (event, recipient, template), written in the transaction that read the
-- event: a restart finds it and sends it (again only if it was not marked sent).
create table if not exists mails (
    key             text primary key,
    cause_event_id  uuid        not null,
    template        text        not null,
    recipient       text        not null,
    language        text        not null,
    ticket_id       text,
    subject         text        not null,
    body_text       text        not null,
    body_html       text        not null,
    reply_to        text,
    message_id      text        not null,
    status          text        not null default 'pending',  -- pending | sent | failed
    attempts        int         not null default 0,
    next_attempt_at timestamptz not null,
    last_error      text,
    created_at      timestamptz not null,
    sent_at         timestamptz
);
create index if not exists mails_due on mails (next_attempt_at) where status = 'pending';  -- replaced by 0003

create table if not exists reply_tokens (
    token         text primary key,
    ticket_number text        not null,
    user_id       text,
    email         text        not null,
    expires_at    timestamptz not null
);

create table if not exists inbound_messages (
    message_id  text primary key,
    received_at timestamptz not null,
    outcome     text        not null
);

-- Replies refused because their sender is not the person the reply token was made for
-- (outcome 'refused:SENDER_MISMATCH'): agents of the ticket's desk see them through
-- GET /api/tickets/<number>/refused-replies.
alter table inbound_messages add column if not exists ticket_number text;
alter table inbound_messages add column if not exists sender text;
alter table inbound_messages add column if not exists envelope_sender text;
alter table inbound_messages add column if not exists reason text;
create index if not exists inbound_messages_refused on inbound_messages (ticket_number)
    where outcome = 'refused:SENDER_MISMATCH';

-- What the received mail repeats from TicketOpened.
alter table tickets add column if not exists out_of_hours_requested boolean not null default false;
alter table tickets add column if not exists previous_ticket text;
alter table tickets add column if not exists month_end_warning boolean not null default false;

-- The SLA service's DeadlineSet for each ticket's first response (what the received mail
-- quotes). Its own table: it may arrive before the ticket's TicketOpened (another topic);
-- whichever of the two is read second plans the received mail.
create table if not exists first_deadlines (
    ticket_id text primary key,
    data      jsonb not null
);

-- Supervisors' own subject and body per mail template and language (notifier.template_texts).
-- Every save is a new version, kept; a reset to the packaged text is a version with no text.
-- The newest version of (template, language) is what mails are rendered with.
create table if not exists template_texts (
    template   text        not null,
    language   text        not null,
    version    int         not null check (version >= 1),
    subject    text,
    body       text,
    edited_by  text        not null,
    edited_at  timestamptz not null,
    primary key (template, language, version),
    check ((subject is null) = (body is null))
);
