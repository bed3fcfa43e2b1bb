-- Canned answers (issue 12): each desk's ready answers, as the CannedAnswerSaved events on the stream
-- "canned-<desk>-<answer_id>" left them (version = that stream's version), and how many messages used
-- each one (MessagePosted.canned_answer_id), written in the transaction of the event that changes them.
create table if not exists canned_answers (
    desk       text        not null,
    answer_id  text        not null,
    title      text        not null,
    body       text        not null,
    version    int         not null check (version >= 1),
    retired    boolean     not null default false,
    uses       int         not null default 0,
    edited_by  text        not null,
    edited_at  timestamptz not null,
    primary key (desk, answer_id)
);
