-- Issue 11: the sender lists due mails by (next_attempt_at, created_at), twenty at a time. An index
-- on next_attempt_at alone had every due mail read and sorted to return twenty (11 ms a list with
-- mails waiting); this one gives them in that order and the list stops at twenty.
create index if not exists mails_due_in_order on mails (next_attempt_at, created_at) where status = 'pending';
drop index if exists mails_due;
