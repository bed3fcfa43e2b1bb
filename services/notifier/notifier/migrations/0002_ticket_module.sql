-- Issue 12: a ticket closed as "needs training" mails the knowledge base's articles of its module
-- with the course offer, so the notifier keeps the module its ticket was opened for. Tickets the
-- notifier knew before keep null: their closing mail offers the course alone.
alter table tickets add column if not exists module text;
