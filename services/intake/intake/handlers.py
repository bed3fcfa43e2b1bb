"""Intake's command handlers: validate a command against the rules and the current state,
then append the resulting events. Each receives its connection, clock value and caller."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from helpdesk_shared import lifecycle, revocations
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, Envelope, new_event
from helpdesk_shared.errors import NotFound, RuleViolation

from . import attachments, catalog_store, domain, eventstore
from .catalog import DESKS
from .messages import violation

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that an unknown e-mail costs the same argon2 work
# (and time) as a wrong password: the answer's timing must not reveal who has an account.
_DUMMY_HASH = _hasher.hash("not a password: the hash verified for unknown e-mails")

ACCESS_REQUEST_TTL = timedelta(days=14)  # a pending request older than this has expired
MAX_REJECTION_REASON = 500


def _actor(user: Claims) -> Actor:
    return Actor(id=user.user_id, role=user.role)


# ---------------------------------------------------------------- accounts

def register_organisation(conn: psycopg.Connection, *, name: str, desks: list[str], now: datetime,
                          tax_id: str | None = None, organisation_id: str | None = None,
                          actor: Actor) -> str:
    """Create a customer organisation (OrganisationRegistered)."""
    organisation_id = organisation_id or str(uuid.uuid4())
    event = new_event("OrganisationRegistered", f"org-{organisation_id}", 1,
                      {"organisation_id": organisation_id, "name": name, "tax_id": tax_id, "desks": desks},
                      actor=actor, occurred_at=now)
    eventstore.append(conn, [event], expected_version=0)
    conn.execute("insert into organisations (id, name, tax_id, desks) values (%s, %s, %s, %s)",
                 (organisation_id, name, tax_id, desks))
    return organisation_id


def register_user(conn: psycopg.Connection, *, email: str, name: str, role: str, password: str,
                  desks: list[str], now: datetime, actor: Actor, organisation_id: str | None = None,
                  language: str = "es", phone: str | None = None) -> str:
    """Create a user with an argon2-hashed password (UserRegistered)."""
    user_id = str(uuid.uuid4())
    event = new_event("UserRegistered", f"user-{user_id}", 1,
                      {"user_id": user_id, "email": email.lower(), "name": name, "role": role,
                       "organisation_id": organisation_id, "desks": desks, "language": language, "phone": phone},
                      actor=actor, occurred_at=now)
    eventstore.append(conn, [event], expected_version=0)
    conn.execute("""insert into users (id, email, name, role, organisation_id, desks, language, phone, password_hash)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                 (user_id, email.lower(), name, role, organisation_id, desks, language, phone,
                  _hasher.hash(password)))
    return user_id


def authenticate(conn: psycopg.Connection, email: str, password: str) -> Claims:
    """The user's claims when the password matches; AUTH_INVALID otherwise (same answer for unknown e-mail)."""
    row = conn.execute("select * from users where email = %s", ((email or "").strip().lower(),)).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
        if row is None:
            raise VerificationError("unknown user")
    except VerificationError:
        raise violation("AUTH_INVALID", "password", status=401) from None
    if row["disabled"]:
        raise violation("ACCOUNT_DISABLED", None)
    return domain.claims_of_row(row)


def announce_special_process(conn: psycopg.Connection, user: Claims, body: dict, now: datetime) -> str:
    """File a special process (carnetización or other) in advance; it makes urgency possible in its window.

    `body` is loaded by `requests.SpecialProcess`: `starts_at` and `ends_at` are aware datetimes."""
    organisation_id = _organisation_of(conn, user, body)
    starts_at, ends_at = body["starts_at"], body["ends_at"]
    announcement_id = str(uuid.uuid4())
    stream_id = f"org-{organisation_id}"
    version = eventstore.stream_version(conn, stream_id)
    event = new_event("SpecialProcessAnnounced", stream_id, version + 1,
                      {"announcement_id": announcement_id, "organisation_id": organisation_id,
                       "kind": body["kind"], "description": body["description"].strip(),
                       "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                       "announced_by": user.user_id}, actor=_actor(user), occurred_at=now)
    if starts_at <= now:
        raise violation("R5_FIELD_INVALID", "starts_at")  # announced in advance, not after the fact
    eventstore.append(conn, [event], expected_version=version)
    conn.execute("""insert into special_processes (announcement_id, organisation_id, starts_at, ends_at, announced_at)
                    values (%s, %s, %s, %s, %s)""",
                 (announcement_id, organisation_id, starts_at, ends_at, now))
    return announcement_id


def request_access(conn: psycopg.Connection, body: dict, now: datetime) -> str | None:
    """"No poseo login": file an access request for agents to approve (AccessRequested).

    None, filing nothing, when the e-mail already has a user or a pending request: the caller
    answers both cases exactly like a new request, so the endpoint never tells a stranger
    which e-mails have accounts (and one address cannot be mailed again and again).
    """
    desk = body.get("desk")
    organisation_name = (body.get("organisation_name") or "").strip()
    name = (body.get("name") or "").strip()
    if desk not in DESKS or not organisation_name or not name:
        raise violation("ACCESS_REQUEST_INVALID", "desk" if desk not in DESKS else "organisation_name")
    try:
        contact = domain.check_contact({"name": name, "email": body.get("email"), "phone": body.get("phone")})
    except RuleViolation as refused:  # rule 3 is about tickets: say what an access request needs instead
        raise violation("ACCESS_REQUEST_INVALID", (refused.field or "").removeprefix("contact.") or None) from None
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"access-request/{contact['email']}",))
    if conn.execute("select 1 from users where email = %s", (contact["email"],)).fetchone() or conn.execute(
            "select 1 from access_requests where email = %s and status = 'pending' and requested_at > %s",
            (contact["email"], now - ACCESS_REQUEST_TTL)).fetchone():
        return None
    request_id = str(uuid.uuid4())
    event = new_event("AccessRequested", f"access-{request_id}", 1, {
        "request_id": request_id, "name": contact["name"], "email": contact["email"], "phone": contact["phone"],
        "organisation_name": organisation_name, "desk": desk, "note": (body.get("note") or "").strip() or None},
        actor=Actor(id=contact["email"], role="customer"), occurred_at=now)
    eventstore.append(conn, [event], expected_version=0)
    conn.execute("""insert into access_requests (request_id, name, email, phone, organisation_name, desk, note,
                                                 requested_at) values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                 (request_id, contact["name"], contact["email"], contact["phone"], organisation_name, desk,
                  event.data["note"], now))
    return request_id


def pending_access_requests(conn: psycopg.Connection, staff: Claims, now: datetime) -> list[dict]:
    """Pending, unexpired access requests of the staff member's desks."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    return conn.execute("""select request_id, name, email, phone, organisation_name, desk, note, requested_at
                           from access_requests
                           where status = 'pending' and desk = any(%s) and requested_at > %s
                           order by requested_at""", (list(staff.desks), now - ACCESS_REQUEST_TTL)).fetchall()


def _pending_request(conn: psycopg.Connection, staff: Claims, request_id: str, now: datetime) -> dict:
    """The request row, locked, when it is pending, unexpired and of the staff member's desks."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    row = conn.execute("select * from access_requests where request_id = %s for update", (request_id,)).fetchone()
    if row is None or row["desk"] not in staff.desks:
        raise NotFound("access_request")
    if row["status"] == "granted":
        raise violation("ACCESS_ALREADY_GRANTED", None, status=409)
    if row["status"] != "pending":
        raise violation("ACCESS_REQUEST_DECIDED", None)
    if row["requested_at"] <= now - ACCESS_REQUEST_TTL:
        raise violation("ACCESS_REQUEST_EXPIRED", None)
    return row


def grant_access(conn: psycopg.Connection, staff: Claims, request_id: str, organisation_id: str,
                 now: datetime) -> str:
    """An agent approves a request: the user exists, without a password until he sets one (AccessGranted)."""
    row = _pending_request(conn, staff, request_id, now)
    if conn.execute("select 1 from users where email = %s", (row["email"],)).fetchone():
        raise violation("ACCESS_ALREADY_GRANTED", None, status=409)
    # Only into an organisation of the request's desk (which is one of the agent's desks).
    _organisation_of(conn, staff, {"organisation_id": organisation_id}, row["desk"])
    # A random password nobody knows: the user sets his own through the link the notifier mails.
    user_id = register_user(conn, email=row["email"], name=row["name"], role="customer",
                            password=str(uuid.uuid4()), desks=[row["desk"]], now=now, actor=_actor(staff),
                            organisation_id=organisation_id, phone=row["phone"])
    event = new_event("AccessGranted", f"access-{request_id}", 2, {
        "request_id": request_id, "user_id": user_id, "granted_by": staff.user_id},
        actor=_actor(staff), occurred_at=now)
    eventstore.append(conn, [event], expected_version=1)
    conn.execute("""update access_requests set status = 'granted', user_id = %s, decided_by = %s, decided_at = %s
                    where request_id = %s""", (user_id, staff.user_id, now, request_id))
    return user_id


def reject_access(conn: psycopg.Connection, staff: Claims, request_id: str, reason: object,
                  now: datetime) -> None:
    """An agent turns a request down, saying why (AccessRejected); the person may ask again later."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REJECTION_REASON:
        raise violation("REJECTION_REASON_REQUIRED", "reason")
    row = _pending_request(conn, staff, request_id, now)
    event = new_event("AccessRejected", f"access-{request_id}", 2, {
        "request_id": request_id, "rejected_by": staff.user_id, "reason": reason,
        "email": row["email"], "name": row["name"], "desk": row["desk"]},
        actor=_actor(staff), occurred_at=now)
    eventstore.append(conn, [event], expected_version=1)
    conn.execute("""update access_requests set status = 'rejected', decided_by = %s, decided_at = %s, reason = %s
                    where request_id = %s""", (staff.user_id, now, reason, request_id))


def set_password(conn: psycopg.Connection, user_id: str, issued_at: int, password: str, now: datetime) -> None:
    """Set a password through a mailed link; a link older than the last password change is void."""
    row = conn.execute("select password_set_at from users where id = %s for update", (user_id,)).fetchone()
    if row is None:
        raise violation("RESOLUTION_LINK_INVALID", "token", status=400)
    if row["password_set_at"] and row["password_set_at"].timestamp() >= issued_at:
        raise violation("PASSWORD_LINK_USED", "token")
    if len(password or "") < 10:
        raise violation("PASSWORD_TOO_SHORT", "password")
    conn.execute("update users set password_hash = %s, password_set_at = %s where id = %s",
                 (_hasher.hash(password), now, user_id))
    role = conn.execute("select role from users where id = %s", (user_id,)).fetchone()["role"]
    revoke_tokens(conn, user_id, "password_changed", now, Actor(id=user_id, role=role))


# ---------------------------------------------------------------- bearer tokens and rights

def token_revoked(conn: psycopg.Connection, claims: Claims) -> bool:
    """Whether a bearer token must be refused although its signature holds: its user is disabled,
    or it was issued at or before the user's last logout, password or rights change. (Users are
    never deleted; only intake's key mints tokens, so an unknown user is a test's own claims.)"""
    row = conn.execute("select disabled, tokens_valid_after from users where id = %s", (claims.user_id,)).fetchone()
    return row is not None and (row["disabled"] or revocations.issued_too_early(claims, row["tokens_valid_after"]))


def revoke_tokens(conn: psycopg.Connection, user_id: str, reason: str, now: datetime, actor: Actor) -> Envelope:
    """End every bearer token of the user issued up to `now` (BearerTokensRevoked).

    Intake refuses them at once (its users table); query, SLA and the notifier when they read
    the event from helpdesk.accounts.
    """
    conn.execute("select 1 from users where id = %s for update", (user_id,))
    conn.execute("update users set tokens_valid_after = greatest(tokens_valid_after, %s) where id = %s",
                 (now, user_id))
    stream_id = f"user-{user_id}"
    version = eventstore.stream_version(conn, stream_id)
    event = new_event(revocations.EVENT, stream_id, version + 1,
                      {"user_id": user_id, "valid_after": now, "reason": reason}, actor=actor, occurred_at=now)
    eventstore.append(conn, [event], expected_version=version)
    return event


def logout(conn: psycopg.Connection, user: Claims, now: datetime) -> None:
    """The user logs out: every bearer token he holds ends (on every device)."""
    revoke_tokens(conn, user.user_id, "logout", now, _actor(user))


_USER_FIELDS = ("disabled", "role", "desks", "organisation_id")


def _user_view(row: dict) -> dict:
    return {"id": row["id"], "email": row["email"], "name": row["name"], "role": row["role"],
            "organisation_id": row["organisation_id"], "desks": list(row["desks"]), "disabled": row["disabled"]}


def update_user(conn: psycopg.Connection, supervisor: Claims, user_id: str, body: dict, now: datetime) -> dict:
    """A supervisor disables or enables a user, or changes his role, desks or organisation
    (UserUpdated); any change ends the user's bearer tokens (BearerTokensRevoked)."""
    if supervisor.role != "supervisor":
        raise violation("FORBIDDEN", None, status=403)
    row = conn.execute("select * from users where id = %s for update", (user_id,)).fetchone()
    if row is None or not set(row["desks"]) & set(supervisor.desks):
        raise NotFound("user")
    if user_id == supervisor.user_id:
        raise violation("FORBIDDEN", None, status=403)  # nobody locks himself out or raises his own rights
    unknown = sorted(set(body) - set(_USER_FIELDS))
    if unknown or not body:
        field = unknown[0] if unknown else None
        raise violation("INVALID_REQUEST", field, status=422, detail=field or ", ".join(_USER_FIELDS))
    after = {f: body.get(f, row[f]) for f in _USER_FIELDS}
    if "role" in body and "organisation_id" not in body and after["role"] != "customer":
        after["organisation_id"] = None  # staff belong to no organisation
    if not isinstance(after["disabled"], bool):
        raise violation("INVALID_REQUEST", "disabled", status=422, detail="disabled")
    if after["role"] not in ("customer", "agent", "supervisor"):
        raise violation("INVALID_REQUEST", "role", status=422, detail="role")
    desks = after["desks"]
    if (not isinstance(desks, list) or not desks or not all(isinstance(d, str) and d in DESKS for d in desks)
            or len(set(desks)) != len(desks)):
        raise violation("INVALID_REQUEST", "desks", status=422, detail="desks")
    if not set(desks) <= set(supervisor.desks):
        raise violation("FORBIDDEN", "desks", status=403)
    organisation_id = after["organisation_id"]
    if after["role"] == "customer":
        if not isinstance(organisation_id, str) or conn.execute(
                "select 1 from organisations where id = %s", (organisation_id,)).fetchone() is None:
            raise violation("INVALID_REQUEST", "organisation_id", status=422, detail="organisation_id")
    elif organisation_id is not None:
        raise violation("INVALID_REQUEST", "organisation_id", status=422, detail="organisation_id")
    before = {f: (list(row[f]) if f == "desks" else row[f]) for f in _USER_FIELDS}
    if after == before:
        return _user_view(row)  # nothing changes: no event, the tokens live on
    conn.execute("update users set disabled = %s, role = %s, desks = %s, organisation_id = %s where id = %s",
                 (after["disabled"], after["role"], desks, organisation_id, user_id))
    stream_id = f"user-{user_id}"
    version = eventstore.stream_version(conn, stream_id)
    eventstore.append(conn, [new_event("UserUpdated", stream_id, version + 1, {
        "user_id": user_id, **after, "changed_by": supervisor.user_id}, actor=_actor(supervisor), occurred_at=now)],
        expected_version=version)
    revoke_tokens(conn, user_id, "rights_changed", now, _actor(supervisor))
    return _user_view({**row, **after})


def request_training(conn: psycopg.Connection, user: Claims, body: dict, now: datetime) -> str:
    """Rule 10: ask for an induction course for the organisation's users (TrainingRequested)."""
    organisation_id = _organisation_of(conn, user, body)
    modules = body.get("modules")
    participants = body.get("participants")
    known = {m for d in catalog_store.every_desk(conn) for m in d.modules}
    if (not isinstance(modules, list) or not modules or not all(isinstance(m, str) and m.upper() in known
                                                                for m in modules)
            or not isinstance(participants, int) or isinstance(participants, bool) or not 1 <= participants <= 50):
        raise violation("TRAINING_REQUEST_INVALID", "modules")
    stream_id = f"org-{organisation_id}"
    version = eventstore.stream_version(conn, stream_id)
    event = new_event("TrainingRequested", stream_id, version + 1, {
        "organisation_id": organisation_id, "requested_by": user.user_id, "modules": [m.upper() for m in modules],
        "participants": participants, "note": (body.get("note") or "").strip() or None},
        actor=_actor(user), occurred_at=now)
    eventstore.append(conn, [event], expected_version=version)
    return str(event.event_id)


# ---------------------------------------------------------------- uploads

def hold_blob(conn: psycopg.Connection, sha256: str) -> None:
    """Serialise storing a blob with its removal by `intake.cleanup` (until the transaction ends)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"blob/{sha256}",))


def record_upload(conn: psycopg.Connection, user: Claims, *, sha256: str, name: str, size: int,
                  content_type: str, now: datetime) -> dict:
    """Remember who uploaded which blob under which name, so only they can attach it to a ticket.

    Each upload is its own row: uploading the same bytes again under another name keeps both.
    """
    upload_id = str(uuid.uuid4())
    conn.execute("""insert into uploads (upload_id, sha256, uploaded_by, organisation_id, name, size, content_type,
                                         uploaded_at) values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                 (upload_id, sha256, user.user_id, user.organisation_id, name, size, content_type, now))
    return {"upload_id": upload_id, "sha256": sha256, "name": name, "size": size, "content_type": content_type}


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _attachments_of(conn: psycopg.Connection, user: Claims, references: list, now: datetime) -> list[dict]:
    """The caller's uploads named by `references`: upload ids, or (older clients) SHA-256 hashes,
    which stand for the caller's latest upload of those bytes. Marks them attached."""
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise violation("ATTACHMENT_UNKNOWN", "attachments")
    attachments.check_attachment_count(len(references))
    found = []
    for reference in dict.fromkeys(references):
        column = "sha256" if _SHA256.match(reference) else "upload_id"
        row = conn.execute(f"""select upload_id, sha256, name, size, content_type from uploads
                               where {column} = %s and uploaded_by = %s
                               order by uploaded_at desc limit 1""", (reference, user.user_id)).fetchone()
        if row is None:
            raise violation("ATTACHMENT_UNKNOWN", "attachments")
        conn.execute("update uploads set attached_at = coalesce(attached_at, %s) where upload_id = %s",
                     (now, row.pop("upload_id")))
        found.append(dict(row))
    return found


# ---------------------------------------------------------------- tickets

def _organisation_of(conn: psycopg.Connection, user: Claims, body: dict, desk: str | None = None) -> str:
    """The organisation a command acts for: a customer's own; for staff the body's, which must be on
    one of their desks (any other is not theirs to know: 404) and, when `desk` is given, on that desk."""
    if user.role == "customer":
        return user.organisation_id
    organisation_id = body.get("organisation_id")
    if not organisation_id:
        raise violation("INVALID_REQUEST", "organisation_id", status=400,
                        detail="organisation_id")
    row = conn.execute("select desks from organisations where id = %s", (organisation_id,)).fetchone()
    if row is None or not set(row["desks"]) & set(user.desks):
        raise NotFound("organisation")
    if desk is not None and desk not in row["desks"]:
        raise violation("ORGANISATION_NOT_ON_DESK", "organisation_id", desk=desk)
    return organisation_id


def _announcements(conn: psycopg.Connection, organisation_id: str) -> list[domain.Announcement]:
    rows = conn.execute("""select announcement_id, starts_at, ends_at, announced_at from special_processes
                           where organisation_id = %s""", (organisation_id,)).fetchall()
    return [domain.Announcement(**r) for r in rows]


def open_ticket(conn: psycopg.Connection, user: Claims, body: dict, now: datetime,
                correlation_id: uuid.UUID | None = None) -> Envelope:
    """Open a ticket (TicketOpened) after every rule of SPEC §2 that concerns opening."""
    desk = DESKS.get(body.get("desk"))
    if desk is None or desk.name not in user.desks:
        raise violation("DESK_NOT_ALLOWED", "desk", status=403)
    organisation_id = _organisation_of(conn, user, body, desk.name)
    if conn.execute("select 1 from organisations where id = %s", (organisation_id,)).fetchone() is None:
        raise violation("INVALID_REQUEST", "organisation_id", status=400, detail="organisation_id")
    desk = catalog_store.current(conn, desk)  # as a supervisor last edited it: retired modules refused
    module, case = domain.parse_subject(body.get("subject") or "", desk.modules, desk.retired)
    description = domain.check_description(body.get("description") or "")
    contact = domain.check_contact(body.get("contact"))
    domain.check_structured_fields(body.get("member_number"), body.get("dates"), body.get("vouchers"),
                                   body.get("menu_path"))
    urgency = body.get("urgency") or "normal"
    special_process_id = domain.check_urgency(urgency, _announcements(conn, organisation_id), now)
    files = _attachments_of(conn, user, body.get("attachments") or [], now)
    attachments.check_ticket_total([f["size"] for f in files])

    previous = body.get("previous_ticket")
    if previous:
        row = conn.execute("select organisation_id, status from tickets where number = %s", (previous,)).fetchone()
        if row is None or row["organisation_id"] != organisation_id or row["status"] != lifecycle.CLOSED:
            raise violation("PREVIOUS_TICKET_INVALID", "previous_ticket")

    # Serialise openings of one organisation's module, so two racing copies of the same
    # case cannot both pass the duplicate check (released at commit).
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"{organisation_id}/{desk.name}/{module}",))
    if not body.get("confirmed_different_case"):
        open_cases = conn.execute(
            """select number, case_summary, description from tickets
               where organisation_id = %s and desk = %s and module = %s and status <> 'closed'
               order by number""", (organisation_id, desk.name, module)).fetchall()
        duplicate = domain.find_duplicate(case, [(r["number"], r["case_summary"], r["description"]) for r in open_cases],
                                          module=module, description=description)
        if duplicate:
            raise violation("R6_DUPLICATE_OPEN_CASE", "subject", status=409, number=duplicate).with_extra(
                ticket=duplicate, link=f"/api/tickets/{duplicate}")

    # Rule "urgent, exclusively" (d): warned on 201, and repeated in the received mail.
    calendar = domain.default_calendar(now.year)
    today = now.astimezone(ZoneInfo(calendar.tz)).date()
    month_end = domain.month_end_warning(module, today, domain.business_days_left_in_month(calendar, today),
                                         f"{case} {description}") is not None

    seq = conn.execute(f"select nextval('ticket_number_{desk.code.lower()}') as n").fetchone()["n"]
    number = f"{desk.code}-{seq}"
    ticket_id = str(uuid.uuid4())
    event = new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": number, "desk": desk.name, "organisation_id": organisation_id,
        "opened_by": user.user_id, "module": module, "case": case, "subject": f"{module}, {case}",
        "description": description, "urgency": urgency, "special_process_id": special_process_id,
        "out_of_hours_requested": body.get("out_of_hours_requested") is True, "contact": contact,
        "member_number": body.get("member_number"), "dates": body.get("dates"), "vouchers": body.get("vouchers"),
        "menu_path": body.get("menu_path"), "attachments": files, "previous_ticket": previous,
        "confirmed_different_case": body.get("confirmed_different_case") is True,
        "language": user.language, "month_end_warning": month_end}, actor=_actor(user), occurred_at=now,
        correlation_id=correlation_id)
    eventstore.append(conn, [event], expected_version=0)
    conn.execute("""insert into tickets (ticket_id, number, desk, organisation_id, module, case_summary, description,
                                         status, version)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, 1)""",
                 (ticket_id, number, desk.name, organisation_id, module, case, description, lifecycle.OPEN))
    return event


def visible_ticket(conn: psycopg.Connection, user: Claims, number: str) -> tuple[lifecycle.TicketState, list[Envelope]]:
    """The ticket's state and events, or NotFound when missing or not the caller's to see."""
    row = conn.execute("select ticket_id, organisation_id, desk from tickets where number = %s", (number,)).fetchone()
    if row is None or not _may_see(user, row["organisation_id"], row["desk"]):
        raise NotFound("ticket")
    events = eventstore.load_stream(conn, row["ticket_id"])
    return lifecycle.fold(events), events


def ticket_summary(conn: psycopg.Connection, user: Claims, number: str) -> dict:
    """The ticket as its own stream has it now, for the `link` a command answers with: read from the
    write side, it shows the command's effect at once (the query service's full view, with the
    thread, follows the event log a moment later)."""
    state, events = visible_ticket(conn, user, number)
    opened = events[0]
    return {"number": state.number, "ticket_id": state.ticket_id, "desk": state.desk,
            "organisation_id": state.organisation_id, "module": state.module, "case": state.case,
            "subject": opened.data["subject"], "urgency": state.urgency, "status": state.status,
            "assigned_to": state.assigned_to, "customer_away": state.customer_away,
            "close_reason": state.close_reason, "billable": state.billable, "version": state.version, "opened_at": opened.occurred_at,
            "updated_at": events[-1].occurred_at}


def _may_see(user: Claims, organisation_id: str, desk: str) -> bool:
    # A customer sees his organisation's tickets of the desks he is allowed on (SPEC §1: one or both).
    if user.role == "customer":
        return user.organisation_id == organisation_id and desk in user.desks
    return desk in user.desks


def post_message(conn: psycopg.Connection, user: Claims, number: str, body: dict, now: datetime,
                 correlation_id: uuid.UUID | None = None) -> Envelope:
    """Post a public message or (agents only) an internal note (MessagePosted)."""
    state = _open_ticket_state(conn, user, number)
    internal = body.get("internal") is True  # the edge lets through only true, false or null (requests.py)
    if internal and not user.is_staff:
        raise violation("INTERNAL_NOTE_FORBIDDEN", "internal", status=403)
    text = (body.get("body") or "").strip()
    if not text:
        raise violation("MESSAGE_BODY_REQUIRED", "body")
    files = _attachments_of(conn, user, body.get("attachments") or [], now)
    new_files = [f for f in files if f["sha256"] not in state.attachment_hashes]
    attachments.check_ticket_total([state.attachment_bytes] + [f["size"] for f in new_files])
    return _append_to_ticket(conn, state, "MessagePosted", {
        "message_id": str(uuid.uuid4()), "author_id": user.user_id, "author_role": user.role, "body": text,
        "internal": internal, "attachments": files,
        "out_of_hours_requested": body.get("out_of_hours_requested") is True}, user, now, correlation_id)


def _append_to_ticket(conn: psycopg.Connection, state: lifecycle.TicketState, type_: str, data: dict,
                      user: Claims, now: datetime, correlation_id: uuid.UUID | None = None) -> Envelope:
    """Append one event to a ticket's stream and keep the write side's index in step."""
    event = new_event(type_, state.ticket_id, state.version + 1, data, actor=_actor(user), occurred_at=now,
                      correlation_id=correlation_id)
    eventstore.append(conn, [event], expected_version=state.version)
    after = lifecycle.apply(state, event)
    conn.execute("update tickets set status = %s, version = %s where ticket_id = %s",
                 (after.status, after.version, state.ticket_id))
    return event


def _open_ticket_state(conn: psycopg.Connection, user: Claims, number: str) -> lifecycle.TicketState:
    state, _ = visible_ticket(conn, user, number)
    if state.is_closed:
        raise violation("TICKET_CLOSED", None, status=409, number=number).with_extra(
            ticket=number, new_ticket_hint={"previous_ticket": number})
    return state


def assign_ticket(conn: psycopg.Connection, staff: Claims, number: str, agent_id: str | None,
                  now: datetime) -> Envelope:
    """An agent takes a ticket, or gives it to a colleague of its desk (TicketAssigned)."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    state = _open_ticket_state(conn, staff, number)
    agent_id = agent_id or staff.user_id
    agent = conn.execute("select role, desks from users where id = %s", (agent_id,)).fetchone()
    if agent is None or agent["role"] == "customer" or state.desk not in agent["desks"]:
        raise violation("INVALID_REQUEST", "agent_id", status=400, detail="agent_id")
    return _append_to_ticket(conn, state, "TicketAssigned", {"agent_id": agent_id, "assigned_by": staff.user_id},
                             staff, now)


def mark_customer_away(conn: psycopg.Connection, user: Claims, number: str, body: dict,
                       now: datetime) -> Envelope:
    """Rule "avise si se tiene que marchar": the customer says he is away, optionally until when."""
    if user.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    state = _open_ticket_state(conn, user, number)
    back_at = domain.check_back_at(body.get("back_at"), now)  # loaded by requests.Away: a datetime or None
    return _append_to_ticket(conn, state, "CustomerAway", {"back_at": back_at,
                                                           "note": (body.get("note") or "").strip() or None},
                             user, now)


def close_by_agent(conn: psycopg.Connection, staff: Claims, number: str, reason: str, note: str,
                   now: datetime) -> Envelope:
    """An agent closes a ticket: finished, or "needs training" (rule 10: the course is offered)."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    if reason not in ("closed_by_agent", "needs_training"):
        raise violation("INVALID_REQUEST", "reason", status=400, detail="reason")
    state = _open_ticket_state(conn, staff, number)
    return _append_to_ticket(conn, state, "TicketClosed",
                             {"reason": reason, "note": (note or "").strip() or None}, staff, now)


def mark_billable(conn: psycopg.Connection, staff: Claims, number: str, billable: bool, note: str | None,
                  now: datetime) -> Envelope | None:
    """Staff of the ticket's desk mark it billable or not (BillableMarked); None when it changes
    nothing. A closed ticket too: billing is settled after the work."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)  # before any lookup: says nothing about the ticket
    state, _ = visible_ticket(conn, staff, number)
    data = domain.billable_mark(staff, state.billable, billable, note)
    if data is None:
        return None
    return _append_to_ticket(conn, state, "BillableMarked", data, staff, now)


def attachment_for_download(conn: psycopg.Connection, user: Claims, number: str, sha256: str) -> dict:
    """The attachment's metadata when it belongs to a ticket part the caller may see."""
    _, events = visible_ticket(conn, user, number)
    for event in events:
        if event.data.get("internal") and not user.is_staff:
            continue
        for file in event.data.get("attachments") or []:
            if file["sha256"] == sha256:
                return file
    raise NotFound("attachment")


def confirm_resolution(conn: psycopg.Connection, user: Claims, number: str, solved: bool, text: str,
                       now: datetime) -> list[Envelope]:
    """Rule 8: the customer says "solved" (the ticket closes) or "not solved" with what is still wrong
    (back to the agents). Only the customer side answers, and only after an agent did."""
    if user.is_staff:
        raise violation("FORBIDDEN", "solved", status=403)
    state = _open_ticket_state(conn, user, number)
    if state.status != lifecycle.WAITING_CUSTOMER:
        raise violation("RESOLUTION_NOT_EXPECTED", "solved", status=409)
    text = (text or "").strip()
    if not solved and not text:
        raise violation("MESSAGE_BODY_REQUIRED", "body")
    confirmed = new_event("ResolutionConfirmed", state.ticket_id, state.version + 1,
                          {"solved": solved, "body": text or None}, actor=_actor(user), occurred_at=now)
    events = [confirmed]
    if solved:
        events.append(new_event("TicketClosed", state.ticket_id, state.version + 2,
                                {"reason": "solved_by_customer"}, actor=_actor(user), occurred_at=now,
                                correlation_id=confirmed.correlation_id, causation_id=confirmed.event_id))
    eventstore.append(conn, events, expected_version=state.version)
    after = lifecycle.fold_onto(state, events)
    conn.execute("update tickets set status = %s, version = %s where ticket_id = %s",
                 (after.status, after.version, state.ticket_id))
    return events


def claims_of_user(conn: psycopg.Connection, user_id: str) -> Claims | None:
    """A user's claims, for commands that arrive signed by a link or a reply address instead of a login."""
    row = conn.execute("select * from users where id = %s", (user_id,)).fetchone()
    if row is None or row["disabled"]:
        return None
    return domain.claims_of_row(row)


# ---------------------------------------------------------------- decisions of the SLA service

def accept_auto_close(conn: psycopg.Connection, decision: Envelope) -> Envelope | None:
    """Close the ticket as the SLA service decided, only if nothing happened since the version
    the decision was based on (a customer reply that raced the close wins). None when refused."""
    ticket_id, based_on = decision.data["ticket_id"], decision.data["based_on_version"]
    conn.execute("select 1 from tickets where ticket_id = %s for update", (ticket_id,))
    state = lifecycle.fold(eventstore.load_stream(conn, ticket_id))
    if state is None or state.is_closed or state.version != based_on:
        return None
    event = new_event("TicketClosed", ticket_id, state.version + 1,
                      {"reason": "auto_closed", "based_on_version": based_on}, actor=decision.actor,
                      occurred_at=decision.occurred_at, correlation_id=decision.correlation_id,
                      causation_id=decision.event_id)
    eventstore.append(conn, [event], expected_version=state.version)
    after = lifecycle.apply(state, event)
    conn.execute("update tickets set status = %s, version = %s where ticket_id = %s",
                 (after.status, after.version, ticket_id))
    return event
