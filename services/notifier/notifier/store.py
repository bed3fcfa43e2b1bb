"""The notifier's PostgreSQL adapter: its read model of users and tickets, the mails it owes,
reply addresses, and the outcome of each send — each in the caller's transaction."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import migrations, outbox, pg, revocations
from helpdesk_shared.envelope import Actor, Envelope, new_event
from helpdesk_shared.kafka import Record

from .inbound import reply_address
from .messages import Mail, Recipient, TicketView

log = logging.getLogger(__name__)
SCHEMA = Path(__file__).with_name("schema.sql")
NOTIFIER = Actor(id="notifier", role="system")

TICKET_EVENTS = {"TicketOpened", "MessagePosted", "TicketAssigned", "CustomerAway", "ResolutionConfirmed",
                 "TicketClosed", "BillableMarked", "TicketMergedInto", "TicketRated"}

Planner = Callable[[Envelope, TicketView | None, dict[str, Recipient]], list[Mail]]
Renderer = Callable[[Mail], tuple[str, str, str]]


def migrate(database_url: str) -> None:
    """Apply the notifier's numbered migrations (its tables and its outbox)."""
    from . import migrations as folder
    migrations.migrate(database_url, folder.DIRECTORY)


def require_migrated(database_url: str) -> None:
    """Refuse to start (migrations.NotMigrated) on a database `mesa migrate notifier` has not brought up to date."""
    from . import migrations as folder
    migrations.require_current(database_url, folder.DIRECTORY, "notifier")


# ---------------------------------------------------------------- read model

def _ticket_view(row: dict | None) -> TicketView | None:
    if row is None or row["ticket_id"] is None:  # no ticket; or a first deadline known before its ticket
        return None
    return TicketView(ticket_id=row["ticket_id"], number=row["number"], desk=row["desk"], subject=row["subject"],
                      organisation_id=row["organisation_id"], opened_by=row["opened_by"], contact=row["contact"],
                      language=row["language"], assigned_to=row["assigned_to"], status=row["status"],
                      opened_at=row["opened_at"], urgency=row["urgency"],
                      out_of_hours_requested=bool(row["out_of_hours_requested"]),
                      previous_ticket=row["previous_ticket"], month_end_warning=bool(row["month_end_warning"]),
                      first_deadline=row["first_deadline"], module=row.get("module"))


_TICKET_VIEW = """select t.*, d.data as first_deadline from tickets t
                  left join first_deadlines d using (ticket_id) where t.ticket_id = %s"""
# A projection's statement that also gives the ticket's view as it left it: the written row
# (RETURNING, CTE `t`) and its first deadline; no row when it wrote nothing (a republish).
_RETURNING_VIEW = """ returning *) select t.*, d.data as first_deadline from t
                     left join first_deadlines d using (ticket_id)"""
# Returned by `_project` for an event whose projection did not give the ticket's view (read it).
READ_VIEW = object()


# The events that change what `_users` reads (a registration adds a user; an update is taken as one too).
_USER_EVENTS = frozenset({"UserRegistered", "UserUpdated"})


def _users(conn: psycopg.Connection, ids: set[str]) -> dict[str, Recipient]:
    # IN lists where arrays were: psycopg dumps an array element by element in Python (issue 11).
    wanted = sorted(ids)
    rows = pg.execute(conn, f"select user_id, email, name, language from users where user_id in ({pg.in_list(wanted)})",
                      wanted).fetchall()
    return {r["user_id"]: Recipient(email=r["email"], name=r["name"], language=r["language"], user_id=r["user_id"])
            for r in rows}


def _project(conn: psycopg.Connection, event: Envelope) -> dict | object | None:
    """Update the read model. None when a ticket event was already applied (a republish); else the
    ticket's view row as the projection's own statement left it (RETURNING: issue 11, one statement
    where a write and a read of the same row were two), or READ_VIEW when it wrote no ticket row."""
    d = event.data
    if event.type == "UserRegistered":
        conn.execute("""insert into users (user_id, email, name, role, language, organisation_id, desks)
                        values (%s, %s, %s, %s, %s, %s, %s) on conflict (user_id) do nothing""",
                     (d["user_id"], d["email"], d["name"], d["role"], d["language"], d.get("organisation_id"),
                      d["desks"]))
        return READ_VIEW
    if event.type == "UserUpdated":  # mails follow the user's current role, desks and organisation
        conn.execute("update users set role = %s, organisation_id = %s, desks = %s where user_id = %s",
                     (d["role"], d.get("organisation_id"), d["desks"], d["user_id"]))
        return READ_VIEW
    if event.type == revocations.EVENT:  # the notifier's API refuses the user's older tokens
        revocations.apply(conn, d["user_id"], d["valid_after"])
        return READ_VIEW
    if event.type == "TicketOpened":
        return conn.execute(
            """with t as (insert into tickets (ticket_id, number, desk, subject, organisation_id, opened_by, contact,
                                              language, urgency, status, opened_at, version, out_of_hours_requested,
                                              previous_ticket, month_end_warning, module)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', %s, 1, %s, %s, %s, %s)
               on conflict (ticket_id) do nothing""" + _RETURNING_VIEW,
            (d["ticket_id"], d["number"], d["desk"], d["subject"], d["organisation_id"], d["opened_by"],
             Jsonb(d["contact"]), d.get("language", "es"), d["urgency"], event.occurred_at,
             bool(d.get("out_of_hours_requested")), d.get("previous_ticket"), bool(d.get("month_end_warning")),
             d.get("module"))
        ).fetchone()
    if event.type == "DeadlineSet":
        if d["clock"] != "first_response":
            return None  # only the first deadline is quoted (in the received mail)
        # Kept apart from `tickets`: it may arrive before the TicketOpened it follows (another topic);
        # then the row's ticket columns are null, and there is no view yet.
        return conn.execute("""with f as (insert into first_deadlines (ticket_id, data) values (%s, %s)
                                          on conflict (ticket_id) do nothing returning ticket_id, data)
                               select t.*, f.data as first_deadline from f
                               left join tickets t on t.ticket_id = f.ticket_id""",
                            (d["ticket_id"], Jsonb(d))).fetchone()
    if event.type in TICKET_EVENTS:
        updates = {"version": event.stream_version}
        if event.type == "TicketAssigned":
            updates["assigned_to"] = d["agent_id"]
        if event.type == "TicketClosed":
            updates["status"] = "closed"
        return conn.execute(
            f"with t as (update tickets set {', '.join(f'{c} = %s' for c in updates)} "
            f"where ticket_id = %s and version < %s" + _RETURNING_VIEW,
            [*updates.values(), event.stream_id, event.stream_version]).fetchone()
    return READ_VIEW


# ---------------------------------------------------------------- recording the mails owed

def mail_key(event: Envelope, mail: Mail) -> str:
    """The once-only key of a mail: (event, recipient, template)."""
    return f"{event.event_id}:{mail.recipient.email.lower()}:{mail.template}"


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the key, so a resend after a crash is recognisably the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


_REPLY_TOKEN_INSERT = """insert into reply_tokens (token, ticket_number, user_id, email, expires_at)
                          values (%s, %s, %s, %s, %s)"""


def _signed_token(secret: str) -> str:
    """A short, case-proof, signed token for a reply address (`reply+<token>@…`)."""
    token_id = _b32(secrets.token_bytes(10))
    return f"{token_id}-{_b32(hmac.new(secret.encode(), token_id.encode(), hashlib.sha256).digest()[:8])}"


def new_reply_token(conn: psycopg.Connection, secret: str, ticket_number: str, recipient: Recipient,
                    expires_at: datetime) -> str:
    """A signed reply token for the recipient's replies on the ticket, remembered here."""
    token = _signed_token(secret)
    conn.execute(_REPLY_TOKEN_INSERT, (token, ticket_number, recipient.user_id, recipient.email, expires_at))
    return token


def reply_token_claims(conn: psycopg.Connection, secret: str, token: str, now: datetime) -> dict | None:
    """The ticket and recipient of a reply token, or None when forged, unknown or expired."""
    token = (token or "").lower()
    token_id, _, mac = token.partition("-")
    expected = _b32(hmac.new(secret.encode(), token_id.encode(), hashlib.sha256).digest()[:8])
    if not mac or not hmac.compare_digest(mac, expected):
        return None
    row = conn.execute("select ticket_number, user_id, email, expires_at from reply_tokens where token = %s",
                       (token,)).fetchone()
    if row is None or row["expires_at"] <= now:
        return None
    return dict(row)


# The two facts whose second plans the received mail (see `_project`); they travel on different
# topics (keys ticket and sla-ticket), so two instances of the consumer may apply them at once.
RECEIVED_MAIL_FACTS = {"TicketOpened", "DeadlineSet"}


def _lock_received_mail_pairs(conn: psycopg.Connection, records: list[Record]) -> None:
    """Lock, until the batch commits, each ticket whose TicketOpened or DeadlineSet the batch holds.

    Without it, two instances (issue 11) applying a ticket's TicketOpened and its DeadlineSet at
    the same moment each missed the other's uncommitted row, and neither planned the received mail.
    With it, the second waits for the first to commit and then sees its row. Taken all at once, in
    one order, so two batches that each hold one fact of two tickets cannot deadlock.
    """
    tickets = sorted({r.event.stream_id if r.event.type == "TicketOpened" else r.event.data["ticket_id"]
                      for r in records if r.event.type in RECEIVED_MAIL_FACTS})
    if tickets:
        pg.lock_keys(conn, "notifier:received-mail", tickets)


def record_batch(conn: psycopg.Connection, records: list[Record], plan: Planner, render: Renderer, *,
                 secret: str, reply_domain: str, token_days: int, now: datetime) -> int:
    """Apply a batch to the read model and record every mail it calls for (not sent yet); return how many.

    Each event is projected and planned in order (a plan reads the ticket as the events before it
    left it, and the people the batch read before, read again after a user event). The mails owed
    are then recorded together: one query for those recorded before (a
    replay), and their reply tokens and rows in one pipelined executemany each (issue 11: three
    round trips a mail before)."""
    _lock_received_mail_pairs(conn, records)
    owed = []
    people: dict[str, Recipient | None] = {}  # whom the batch read (None: not a user), until a user event
    for record in records:
        event = record.event
        row = _project(conn, event)
        if row is None:
            continue
        if event.type in _USER_EVENTS:
            people.clear()
        if row is READ_VIEW:
            ticket_id = event.stream_id if event.type in TICKET_EVENTS else event.data.get("ticket_id")
            row = conn.execute(_TICKET_VIEW, (ticket_id,)).fetchone() if ticket_id else None
        ticket = _ticket_view(row)
        ids = {event.actor.id, event.data.get("author_id"), event.data.get("user_id"), event.data.get("requested_by"),
               event.data.get("announced_by"), ticket and ticket.assigned_to, ticket and ticket.opened_by} - {None}
        if unknown := ids - people.keys():
            found = _users(conn, unknown)
            people.update((i, found.get(i)) for i in unknown)
        known = {i: people[i] for i in ids if people[i] is not None}
        owed += [(event, mail, mail_key(event, mail)) for mail in plan(event, ticket, known)]
    if not owed:
        return 0
    keys = [key for _, _, key in owed]
    done = {r["key"] for r in pg.execute(conn, f"select key from mails where key in ({pg.in_list(keys)})", keys)}
    tokens, rows = [], []
    for event, mail, key in owed:
        if key in done:
            continue  # recorded by an earlier batch, or twice in this one
        done.add(key)
        reply_to = None
        if mail.reply_ticket:
            token = _signed_token(secret)
            tokens.append((token, mail.reply_ticket, mail.recipient.user_id, mail.recipient.email,
                           now + timedelta(days=token_days)))
            reply_to = reply_address(token, reply_domain)
        subject, text, html = render(mail)
        rows.append((key, event.event_id, mail.template, mail.recipient.email, mail.recipient.language, mail.ticket_id,
                     subject, text, html, reply_to, message_id(key, reply_domain), now, now))
    if rows:
        _write_mails(conn, tokens, rows)
    return len(rows)


def _write_mails(conn: psycopg.Connection, tokens: list[tuple], rows: list[tuple]) -> None:
    """The reply tokens, the mails and the sender's wake-up (at commit) in one statement (issue 11:
    executemany sent a statement a row, in pipeline mode, whose bookkeeping cost more)."""
    for start in range(0, len(rows), _WRITE_CHUNK):
        chunk, some_tokens = rows[start:start + _WRITE_CHUNK], tokens[start:start + _WRITE_CHUNK]
        parts, params = [], []
        if some_tokens:
            parts.append(f"""tokens as (insert into reply_tokens (token, ticket_number, user_id, email, expires_at)
                                        values {pg.values_list(some_tokens)})""")
            params += [v for token in some_tokens for v in token]
        parts.append(f"""added as (insert into mails (key, cause_event_id, template, recipient, language, ticket_id,
                                                      subject, body_text, body_html, reply_to, message_id,
                                                      next_attempt_at, created_at)
                                   values {pg.values_list(chunk)})""")
        params += [v for row in chunk for v in row]
        pg.execute(conn, f"with {', '.join(parts)} select pg_notify('mails', '')", params)


# Mails a statement, and as many reply tokens (at most one a mail): 18 parameters each, where
# PostgreSQL takes at most 65,535 a statement.
_WRITE_CHUNK = 1_000


# ---------------------------------------------------------------- sending

# A sender holds the mails it sends with session advisory locks, not row locks: a row lock lasts
# one transaction, so each mail cost BEGIN, its lock, its mark and COMMIT (four round trips); a
# session lock outlives the commits, so a round costs its claim, its read and its release, and a
# mail one autocommitted statement (its mark, its event, the relay's wake-up). A lock is let go of
# only after the marks committed (release_mails at the end of the round), and `claim_mails` reads
# the held rows in a statement that starts after the locks are taken: a mail another sender sent
# and let go of meanwhile reads as sent, and is dropped. The locks go with the session, so a
# sender whose connection dies holds nothing (its mail in flight is sent again, as before).
#
# The sender's connection lives long and keeps its statements' plans, made when the table may have
# been nearly empty. So each statement has one way to run that reads a handful of rows whatever the
# backlog (tests/integration/test_sender.py, issue 11): the claim walks the pending mails' index in
# its order (migration 0003) and stops at `limit`; the read names keys only, so no plan can find
# them through the pending mails' index, whose predicate a status condition would match.
#
# The claim tries each lock as the index walk reaches its row, so a mail another sender holds is
# skipped and the walk goes on to `limit` mails of its own; should a plan ever take locks on rows
# past the limit, release_mails lets go of them with the rest at the end of the round.
CLAIM_MAILS = """select key from mails
                 where status = 'pending' and next_attempt_at <= %s
                   and pg_try_advisory_lock(hashtext('notifier-mail'), hashtext(key))
                 order by next_attempt_at, created_at limit %s"""
HELD_MAILS = "select * from mails where key in ({keys})"


def claim_mails(conn: psycopg.Connection, now: datetime, limit: int = 20) -> tuple[int, list[dict]]:
    """Hold the due mails no other sender holds (up to `limit`) until release_mails: how many were
    taken, and the ones still pending and due once held, in sending order. `conn` is in autocommit."""
    keys = [row["key"] for row in conn.execute(CLAIM_MAILS, (now, limit))]
    if not keys:
        return 0, []
    rows = pg.execute(conn, HELD_MAILS.format(keys=pg.in_list(keys)), keys).fetchall()
    due = [r for r in rows if r["status"] == "pending" and r["next_attempt_at"] <= now]
    return len(keys), sorted(due, key=lambda r: (r["next_attempt_at"], r["created_at"]))


def release_mails(conn: psycopg.Connection) -> None:
    """Let go of every mail this session holds (after their marks committed)."""
    conn.execute("select pg_advisory_unlock_all()")


def _notification(mail: dict, type_: str, data: dict, now: datetime) -> Envelope:
    stream = "mail-" + hashlib.sha256(mail["key"].encode()).hexdigest()[:32]
    return new_event(type_, stream, 1, {"cause_event_id": str(mail["cause_event_id"]), "recipient": mail["recipient"],
                                        "template": mail["template"], "ticket_id": mail["ticket_id"], **data},
                     actor=NOTIFIER, occurred_at=now)


def mark_sent(conn: psycopg.Connection, mail: dict, now: datetime) -> None:
    """The server took the mail: record it and tell the timeline (NotificationSent)."""
    outbox.enqueue_with(conn, [_notification(mail, "NotificationSent", {"message_id": mail["message_id"]}, now)], (
        "update mails set status = 'sent', sent_at = %s, attempts = attempts + 1 where key = %s", (now, mail["key"])))


def mark_failed(conn: psycopg.Connection, mail: dict, error: str, now: datetime) -> None:
    """The address will never take it: record it as failed and show agents (NotificationFailed)."""
    outbox.enqueue_with(conn, [_notification(mail, "NotificationFailed", {"error": error[:500], "permanent": True},
                                             now)],
                        ("update mails set status = 'failed', last_error = %s, attempts = attempts + 1 where key = %s",
                         (error, mail["key"])))


def postpone(conn: psycopg.Connection, mail: dict, error: str, now: datetime, max_backoff: float) -> None:
    """A transient failure: retry later, backing off exponentially up to `max_backoff` seconds."""
    delay = min(2 ** mail["attempts"], max_backoff)
    conn.execute("""update mails set attempts = attempts + 1, last_error = %s, next_attempt_at = %s
                    where key = %s""", (error[:500], now + timedelta(seconds=delay), mail["key"]))


def stats(conn: psycopg.Connection) -> dict:
    """Mail counts by status and the age of the oldest pending one (for /healthz)."""
    rows = conn.execute("select status, count(*) as n, min(created_at) as oldest from mails group by status").fetchall()
    by = {r["status"]: r for r in rows}
    return {"pending": by.get("pending", {}).get("n", 0), "sent": by.get("sent", {}).get("n", 0),
            "failed": by.get("failed", {}).get("n", 0),
            "oldest_pending": by["pending"]["oldest"].isoformat() if "pending" in by else None}
