-- Intake's latest OutboxDrained watermark ("every event that occurred before `through` is
-- published"), shared by the SLA service's instances: the helpdesk.watermarks partition is read
-- by one instance of the consumer group, and every instance fires timers only up to it (issue 11).
create table if not exists intake_watermark (
    source  text        primary key,
    through timestamptz not null
);
