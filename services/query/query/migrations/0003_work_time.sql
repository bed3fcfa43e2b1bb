-- Time accounting (issue 12): the minutes staff recorded with an answer or note, as the SLA service
-- measured them on the desk's calendar (WorkTimeRecorded on helpdesk.sla). One row per message: a
-- replayed fact changes nothing. The ticket's organisation, desk and whether its out-of-hours time is
-- billable are read from report_tickets when a report is asked for, so the rows do not depend on
-- which topic was read first.
create table if not exists report_work_time (
    message_id            text        primary key,
    ticket_id             text        not null,
    agent_id              text        not null,
    internal              boolean     not null,
    month                 text        not null,   -- Caracas month of ended_at
    ended_at              timestamptz not null,
    minutes               int         not null,
    outside_hours_seconds int         not null,
    calendar_version      int         not null
);
create index if not exists report_work_time_month on report_work_time (month)
    include (ticket_id, agent_id, minutes, outside_hours_seconds);
insert into projection_stats (name, applied, skipped) values ('work_time', 0, 0) on conflict do nothing;
