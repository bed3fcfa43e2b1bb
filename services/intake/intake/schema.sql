-- Intake's database: the event store, its outbox, and the write side's own lookups.

-- One row per event. unique (stream_id, stream_version) is the optimistic concurrency
-- check: two writers that read the same version cannot both append the next one.
create table if not exists events (
    global_position bigserial primary key,
    event_id        uuid        not null unique,
    stream_id       text        not null,
    stream_version  int         not null check (stream_version >= 1),
    type            text        not null,
    schema_version  int         not null,
    occurred_at     timestamptz not null,
    correlation_id  uuid        not null,
    causation_id    uuid,
    actor           jsonb       not null,
    data            jsonb       not null,
    unique (stream_id, stream_version)
);

create table if not exists organisations (
    id      text primary key,
    name    text   not null,
    tax_id  text,
    desks   text[] not null
);

create table if not exists users (
    id              text primary key,
    email           text   not null unique,
    name            text   not null,
    role            text   not null check (role in ('customer', 'agent', 'supervisor')),
    organisation_id text references organisations (id),
    desks           text[] not null,
    language        text   not null default 'es',
    phone           text,
    password_hash   text   not null,
    check (role <> 'customer' or organisation_id is not null)
);

-- The write side's index of ticket streams, updated in the transaction of each append:
-- number lookups, organisation checks and the "one case, one ticket" search (rule 6).
create table if not exists tickets (
    ticket_id       text primary key,
    number          text not null unique,
    desk            text not null,
    organisation_id text not null,
    module          text not null,
    case_summary    text not null,
    status          text not null,
    version         int  not null
);
create index if not exists tickets_open_by_case on tickets (organisation_id, desk, module) where status <> 'closed';

-- Uploaded files, content-addressed: the bytes live in ATTACHMENTS_DIR under their SHA-256.
-- One row per upload (its own id and name): the same bytes uploaded under two names are two
-- uploads sharing one blob. attached_at is set when a ticket or message first uses it;
-- uploads never attached are removed after a day (intake.cleanup).
create table if not exists uploads (
    upload_id       text        primary key,
    sha256          text        not null,
    uploaded_by     text        not null,
    organisation_id text,
    name            text        not null,
    size            bigint      not null,
    content_type    text        not null,
    uploaded_at     timestamptz not null,
    attached_at     timestamptz
);
-- Databases made before uploads had their own id were keyed by (sha256, uploaded_by).
alter table uploads add column if not exists upload_id text;
alter table uploads add column if not exists attached_at timestamptz;
update uploads set upload_id = gen_random_uuid()::text where upload_id is null;
do $$
begin
    if exists (select 1 from information_schema.key_column_usage
               where table_name = 'uploads' and constraint_name = 'uploads_pkey' and column_name = 'sha256') then
        alter table uploads drop constraint uploads_pkey;
        alter table uploads add primary key (upload_id);
    end if;
end $$;
create index if not exists uploads_by_uploader on uploads (uploaded_by, sha256);
create index if not exists uploads_unattached on uploads (uploaded_at) where attached_at is null;

create table if not exists special_processes (
    announcement_id text primary key,
    organisation_id text        not null,
    starts_at       timestamptz not null,
    ends_at         timestamptz not null,
    announced_at    timestamptz not null
);

-- Human ticket numbers: one sequence per desk (sequential, never reused).
create sequence if not exists ticket_number_sop;
create sequence if not exists ticket_number_imp;

-- Responses of commands sent with an Idempotency-Key (e.g. the notifier posting an e-mail
-- reply): a retry of the same key gets the first answer instead of a second effect.
create table if not exists idempotency_keys (
    user_id    text        not null,
    key        text        not null,
    status     int         not null,
    body       jsonb       not null,
    created_at timestamptz not null default now(),
    primary key (user_id, key)
);

-- "No poseo login": requests that agents approve (AccessRequested → AccessGranted).
create table if not exists access_requests (
    request_id        text primary key,
    name              text        not null,
    email             text        not null,
    phone             text        not null,
    organisation_name text        not null,
    desk              text        not null,
    note              text,
    status            text        not null default 'pending',  -- pending | granted
    requested_at      timestamptz not null,
    user_id           text
);

-- When each user last set a password: a set-password link issued before it no longer works.
alter table users add column if not exists password_set_at timestamptz;

-- A disabled user cannot log in; a bearer token issued at or before tokens_valid_after
-- (logout, password or rights changed) is refused although its signature holds.
alter table users add column if not exists disabled boolean not null default false;
alter table users add column if not exists tokens_valid_after timestamptz;

-- An Idempotency-Key is bound to what it answered: the method and path, and the SHA-256 of
-- the canonical JSON body. Reusing it elsewhere or with another body is refused (422).
alter table idempotency_keys add column if not exists endpoint text;
alter table idempotency_keys add column if not exists body_sha256 text;

-- Rate limits (intake.throttle): hits per bucket (limit + hashed key) and fixed window, shared
-- by every gunicorn worker. Older windows of a bucket are deleted on its next hit.
create table if not exists rate_limit_hits (
    bucket       text        not null,
    window_start timestamptz not null,
    hits         int         not null,
    primary key (bucket, window_start)
);

-- Access requests are refused with a reason (status 'rejected') or expire while pending.
alter table access_requests add column if not exists decided_by text;
alter table access_requests add column if not exists decided_at timestamptz;
alter table access_requests add column if not exists reason text;
create index if not exists access_requests_pending on access_requests (email) where status = 'pending';

-- The description of each ticket, so rule 6 compares a new case with the open ones by what
-- both say, not by their summaries alone (null for tickets indexed before it was kept).
alter table tickets add column if not exists description text;

-- Each desk's rules page (the portal's entry page) per language, as its supervisors last edited
-- it: the RulesPageEdited stream "rules-page-<desk>-<language>" folded, updated in the transaction
-- of each edit. No row: the packaged default text (intake/rules_pages/), version 0.
create table if not exists rules_pages (
    desk       text        not null,
    language   text        not null,
    text       text        not null,
    html       text        not null,
    version    int         not null,
    edited_by  text        not null,
    edited_at  timestamptz not null,
    primary key (desk, language)
);

-- Each desk's module catalog as supervisors last edited it (ModuleCatalogChanged on the stream
-- catalog-<desk>, whose version is `version`). A desk without a row has the default catalog of
-- helpdesk_shared/catalog.json, version 0.
create table if not exists desk_catalogs (
    desk    text primary key,
    modules jsonb not null,
    version int   not null
);
