-- The customer's verdict (issue 12): one row per rated ticket, from its TicketRated on helpdesk.tickets
-- (query.satisfaction_store). The month is the rating's (Caracas); agent is who last answered the
-- customer publicly, else the assignee at the close (query.satisfaction.rated_agent). The comment is
-- for staff only: the satisfaction routes refuse customers.
create table if not exists report_ratings (
    ticket_id       text        primary key,
    number          text        not null,
    month           text        not null,
    desk            text        not null,
    module          text        not null,
    organisation_id text        not null,
    agent           text,
    rating          text        not null check (rating in ('good', 'bad')),
    comment         text,
    rated_by        text        not null,
    rated_at        timestamptz not null
);
create index if not exists report_ratings_month_desk on report_ratings (month, desk);
insert into projection_stats (name, applied, skipped) values ('satisfaction', 0, 0) on conflict do nothing;
