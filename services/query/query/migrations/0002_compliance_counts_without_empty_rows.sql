-- The compliance counts (report_compliance_hours, _minutes, _dimension_hours, _dimension_minutes) hold
-- only rows that count something: a row whose count falls to 0 is deleted.
--
-- Why: the counts must be a function of the log, not of the order its topics were read in. A response
-- counts only once its ticket is known (desk copied in). When the ticket came first, an overdue
-- response is counted under hour -1 and, once met (or superseded by a moved deadline), moved to its
-- answered hour, leaving (hour -1, n = 0) behind; when its facts came before the ticket (another topic,
-- another partition: a consumer group and a rebuild interleave them differently) the overdue state was
-- never counted and no such row exists. Same figures, different rows: the rebuild then differed from the
-- live model table by table. Deleting at 0 leaves the same rows for every order.
--
-- The same statements as 0001's function (schema.sql), each decrement now `returning n` and followed by
-- a delete by primary key only when it reached 0: one statement more only for a count's last response.
create or replace function report_compliance_count() returns trigger language plpgsql as $$
declare
    left_n int;
begin
    if tg_op in ('UPDATE', 'DELETE') and not old.superseded and old.desk is not null then
        update report_compliance_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where month = old.month and desk = old.desk and clock = old.clock
          and hour = coalesce(old.business_seconds / 3600, -1)
        returning n into left_n;
        if left_n = 0 then
            delete from report_compliance_hours
            where month = old.month and desk = old.desk and clock = old.clock
              and hour = coalesce(old.business_seconds / 3600, -1);
        end if;
        update report_compliance_dimension_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where dimension = 'module' and month = old.month and desk = old.desk and clock = old.clock
          and value = old.module and hour = coalesce(old.business_seconds / 3600, -1)
        returning n into left_n;
        if left_n = 0 then
            delete from report_compliance_dimension_hours
            where dimension = 'module' and month = old.month and desk = old.desk and clock = old.clock
              and value = old.module and hour = coalesce(old.business_seconds / 3600, -1);
        end if;
        update report_compliance_dimension_hours set n = n - 1, met = met - (old.met_in_time is true)::int
        where dimension = 'agent' and month = old.month and desk = old.desk and clock = old.clock
          and value = coalesce(old.answered_by, '') and hour = coalesce(old.business_seconds / 3600, -1)
        returning n into left_n;
        if left_n = 0 then
            delete from report_compliance_dimension_hours
            where dimension = 'agent' and month = old.month and desk = old.desk and clock = old.clock
              and value = coalesce(old.answered_by, '') and hour = coalesce(old.business_seconds / 3600, -1);
        end if;
        if old.business_seconds is not null then
            update report_compliance_minutes set n = n - 1
            where desk = old.desk and clock = old.clock and minute = old.business_seconds / 60 and month = old.month
            returning n into left_n;
            if left_n = 0 then
                delete from report_compliance_minutes
                where desk = old.desk and clock = old.clock and minute = old.business_seconds / 60
                  and month = old.month;
            end if;
            update report_compliance_dimension_minutes set n = n - 1
            where dimension = 'module' and value = old.module and clock = old.clock
              and minute = old.business_seconds / 60 and month = old.month and desk = old.desk
            returning n into left_n;
            if left_n = 0 then
                delete from report_compliance_dimension_minutes
                where dimension = 'module' and value = old.module and clock = old.clock
                  and minute = old.business_seconds / 60 and month = old.month and desk = old.desk;
            end if;
            update report_compliance_dimension_minutes set n = n - 1
            where dimension = 'agent' and value = coalesce(old.answered_by, '') and clock = old.clock
              and minute = old.business_seconds / 60 and month = old.month and desk = old.desk
            returning n into left_n;
            if left_n = 0 then
                delete from report_compliance_dimension_minutes
                where dimension = 'agent' and value = coalesce(old.answered_by, '') and clock = old.clock
                  and minute = old.business_seconds / 60 and month = old.month and desk = old.desk;
            end if;
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
-- The rows a database already left at 0 (the readers skip them: sum(n) > 0, n > 0).
delete from report_compliance_hours where n = 0;
delete from report_compliance_minutes where n = 0;
delete from report_compliance_dimension_hours where n = 0;
delete from report_compliance_dimension_minutes where n = 0;
