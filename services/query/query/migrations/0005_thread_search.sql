-- Staff search over the whole ticket (issue 12): its messages too, not only subject, case and description.
-- The same two vectors as tickets.search (0001: Spanish stems, and the accent-folded ones where
-- unaccent exists, in mesa_search), one per message; a search finds a ticket by either table, each
-- through its own GIN index, and a customer's search skips internal notes.
alter table thread add column if not exists search tsvector generated always as (
    case when type = 'MessagePosted' then
        to_tsvector('pg_catalog.spanish', coalesce(body, '')) || to_tsvector('mesa_search', coalesce(body, ''))
    end) stored;
create index if not exists thread_search on thread using gin (search) where type = 'MessagePosted';
