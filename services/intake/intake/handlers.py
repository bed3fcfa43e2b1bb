"""Intake's command handlers: validate a command against the rules and the current state,
then append the resulting events. Each receives its unit of work (`intake.unit_of_work`:
repositories, never SQL), clock value and caller, so every rule is unit-tested in memory."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from helpdesk_shared import lifecycle, revocations
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, Envelope, new_event
from helpdesk_shared.errors import NotFound, RuleViolation
from helpdesk_shared.schemas import SOLVED_CLOSE_REASONS

from . import attachments, canned_answers, domain, throttle
from .catalog import DESKS
from .messages import violation
from .unit_of_work import UnitOfWork

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that an unknown e-mail costs the same argon2 work
# (and time) as a wrong password: the answer's timing must not reveal who has an account.
_DUMMY_HASH = _hasher.hash("not a password: the hash verified for unknown e-mails")

ACCESS_REQUEST_TTL = timedelta(days=14)  # a pending request older than this has expired
MAX_REJECTION_REASON = 500


def _actor(user: Claims) -> Actor:
    return Actor(id=user.user_id, role=user.role)


def _unit(uow) -> UnitOfWork:
    """The unit of work; a psycopg connection (the demo loader, admin commands, older tests) is
    wrapped in the PostgreSQL one, imported here only then so the handlers need no database."""
    if hasattr(uow, "streams"):
        return uow
    from .postgres_uow import of
    return of(uow)


# ---------------------------------------------------------------- accounts

def register_organisation(uow: UnitOfWork, *, name: str, desks: list[str], now: datetime,
                          tax_id: str | None = None, organisation_id: str | None = None,
                          actor: Actor) -> str:
    """Create a customer organisation (OrganisationRegistered)."""
    uow = _unit(uow)
    organisation_id = organisation_id or str(uuid.uuid4())
    event = new_event("OrganisationRegistered", f"org-{organisation_id}", 1,
                      {"organisation_id": organisation_id, "name": name, "tax_id": tax_id, "desks": desks},
                      actor=actor, occurred_at=now)
    uow.streams.append([event], expected_version=0)
    uow.organisations.add({"id": organisation_id, "name": name, "tax_id": tax_id, "desks": desks})
    return organisation_id


def register_user(uow: UnitOfWork, *, email: str, name: str, role: str, password: str,
                  desks: list[str], now: datetime, actor: Actor, organisation_id: str | None = None,
                  language: str = "es", phone: str | None = None) -> str:
    """Create a user with an argon2-hashed password (UserRegistered)."""
    uow = _unit(uow)
    user_id = str(uuid.uuid4())
    event = new_event("UserRegistered", f"user-{user_id}", 1,
                      {"user_id": user_id, "email": email.lower(), "name": name, "role": role,
                       "organisation_id": organisation_id, "desks": desks, "language": language, "phone": phone},
                      actor=actor, occurred_at=now)
    uow.streams.append([event], expected_version=0)
    uow.users.add({"id": user_id, "email": email.lower(), "name": name, "role": role,
                   "organisation_id": organisation_id, "desks": desks, "language": language, "phone": phone,
                   "password_hash": _hasher.hash(password)})
    return user_id


def authenticate(uow: UnitOfWork, email: str, password: str) -> Claims:
    """The user's claims when the password matches; AUTH_INVALID otherwise (same answer for unknown e-mail)."""
    row = _unit(uow).users.by_email((email or "").strip().lower())
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
        if row is None:
            raise VerificationError("unknown user")
    except VerificationError:
        raise violation("AUTH_INVALID", "password", status=401) from None
    if row["disabled"]:
        raise violation("ACCOUNT_DISABLED", None)
    return domain.claims_of_row(row)


def login(uow: UnitOfWork, email: str, password: str, address: str, now: datetime) -> Claims:
    """`authenticate` within the failed-login limits of the client address and the account.

    A failure counts although the login is refused: it is committed before the refusal."""
    uow = _unit(uow)
    uow.rate_limits.check(throttle.LOGIN_PER_ADDRESS, address, now)
    uow.rate_limits.check(throttle.LOGIN_PER_ACCOUNT, email, now)
    try:
        return authenticate(uow, email, password)
    except RuleViolation:
        uow.rate_limits.hit(throttle.LOGIN_PER_ADDRESS, address, now)
        uow.rate_limits.hit(throttle.LOGIN_PER_ACCOUNT, email, now)
        uow.commit()
        raise


def once(uow: UnitOfWork, user_id: str, key: str | None, endpoint: str, digest: str | None,
         command) -> tuple[dict, int]:
    """Run `command(uow) -> (body, status)` once per Idempotency-Key of the caller.

    The stored answer commits with the command's events, so a retried request (a client
    that timed out, a mail server that resends) gets the first answer and no second effect.
    The key is bound to the method and path (`endpoint`) it answered and to a digest of the
    body: the same key on another endpoint or with another body is a client bug (or a probe
    for someone else's answer) and gets 422, never the first answer. Without a key the
    command just runs.
    """
    uow = _unit(uow)
    if key:
        uow.idempotency_keys.lock(user_id, key)
        done = uow.idempotency_keys.get(user_id, key)
        if done:
            # Rows stored before the binding existed have no endpoint: they answer as before.
            if done["endpoint"] is not None and (done["endpoint"], done["body_sha256"]) != (endpoint, digest):
                raise violation("IDEMPOTENCY_KEY_REUSED", None)
            return done["body"], done["status"]
    body, status = command(uow)
    if key:
        uow.idempotency_keys.add(user_id, key, status, body, endpoint, digest)
    return body, status


def announce_special_process(uow: UnitOfWork, user: Claims, body: dict, now: datetime) -> str:
    """File a special process (carnetización or other) in advance; it makes urgency possible in its window.

    `body` is loaded by `requests.SpecialProcess`: `starts_at` and `ends_at` are aware datetimes."""
    uow = _unit(uow)
    organisation_id = _organisation_of(uow, user, body)
    starts_at, ends_at = body["starts_at"], body["ends_at"]
    announcement_id = str(uuid.uuid4())
    stream_id = f"org-{organisation_id}"
    version = uow.streams.version(stream_id)
    event = new_event("SpecialProcessAnnounced", stream_id, version + 1,
                      {"announcement_id": announcement_id, "organisation_id": organisation_id,
                       "kind": body["kind"], "description": body["description"].strip(),
                       "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                       "announced_by": user.user_id}, actor=_actor(user), occurred_at=now)
    if starts_at <= now:
        raise violation("R5_FIELD_INVALID", "starts_at")  # announced in advance, not after the fact
    uow.streams.append([event], expected_version=version)
    uow.special_processes.add(organisation_id, domain.Announcement(announcement_id, starts_at, ends_at, now))
    return announcement_id


def request_access(uow: UnitOfWork, body: dict, now: datetime) -> str | None:
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
    uow = _unit(uow)
    uow.users.lock_email(contact["email"])
    if uow.users.by_email(contact["email"]) or uow.access_requests.has_pending(contact["email"],
                                                                             now - ACCESS_REQUEST_TTL):
        return None
    request_id = str(uuid.uuid4())
    event = new_event("AccessRequested", f"access-{request_id}", 1, {
        "request_id": request_id, "name": contact["name"], "email": contact["email"], "phone": contact["phone"],
        "organisation_name": organisation_name, "desk": desk, "note": (body.get("note") or "").strip() or None},
        actor=Actor(id=contact["email"], role="customer"), occurred_at=now)
    uow.streams.append([event], expected_version=0)
    uow.access_requests.add({"request_id": request_id, "name": contact["name"], "email": contact["email"],
                             "phone": contact["phone"], "organisation_name": organisation_name, "desk": desk,
                             "note": event.data["note"], "requested_at": now})
    return request_id


def file_access_request(uow: UnitOfWork, load_body, address: str, now: datetime) -> str | None:
    """`request_access` within the limit of requests per client address. The attempt counts
    (committed) before `load_body()` is called, so a request refused as invalid counts too."""
    uow = _unit(uow)
    uow.rate_limits.check(throttle.ACCESS_REQUEST_PER_ADDRESS, address, now)
    uow.rate_limits.hit(throttle.ACCESS_REQUEST_PER_ADDRESS, address, now)
    uow.commit()
    return request_access(uow, load_body(), now)


def pending_access_requests(uow: UnitOfWork, staff: Claims, now: datetime) -> list[dict]:
    """Pending, unexpired access requests of the staff member's desks."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    return _unit(uow).access_requests.pending(list(staff.desks), now - ACCESS_REQUEST_TTL)


def _pending_request(uow: UnitOfWork, staff: Claims, request_id: str, now: datetime) -> dict:
    """The request row, locked, when it is pending, unexpired and of the staff member's desks."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    row = uow.access_requests.get(request_id, for_update=True)
    if row is None or row["desk"] not in staff.desks:
        raise NotFound("access_request")
    if row["status"] == "granted":
        raise violation("ACCESS_ALREADY_GRANTED", None, status=409)
    if row["status"] != "pending":
        raise violation("ACCESS_REQUEST_DECIDED", None)
    if row["requested_at"] <= now - ACCESS_REQUEST_TTL:
        raise violation("ACCESS_REQUEST_EXPIRED", None)
    return row


def grant_access(uow: UnitOfWork, staff: Claims, request_id: str, organisation_id: str,
                 now: datetime) -> str:
    """An agent approves a request: the user exists, without a password until he sets one (AccessGranted)."""
    uow = _unit(uow)
    row = _pending_request(uow, staff, request_id, now)
    if uow.users.by_email(row["email"]):
        raise violation("ACCESS_ALREADY_GRANTED", None, status=409)
    # Only into an organisation of the request's desk (which is one of the agent's desks).
    _organisation_of(uow, staff, {"organisation_id": organisation_id}, row["desk"])
    # A random password nobody knows: the user sets his own through the link the notifier mails.
    user_id = register_user(uow, email=row["email"], name=row["name"], role="customer",
                            password=str(uuid.uuid4()), desks=[row["desk"]], now=now, actor=_actor(staff),
                            organisation_id=organisation_id, phone=row["phone"])
    event = new_event("AccessGranted", f"access-{request_id}", 2, {
        "request_id": request_id, "user_id": user_id, "granted_by": staff.user_id},
        actor=_actor(staff), occurred_at=now)
    uow.streams.append([event], expected_version=1)
    uow.access_requests.decide(request_id, status="granted", user_id=user_id, decided_by=staff.user_id,
                               decided_at=now)
    return user_id


def reject_access(uow: UnitOfWork, staff: Claims, request_id: str, reason: object,
                  now: datetime) -> None:
    """An agent turns a request down, saying why (AccessRejected); the person may ask again later."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REJECTION_REASON:
        raise violation("REJECTION_REASON_REQUIRED", "reason")
    uow = _unit(uow)
    row = _pending_request(uow, staff, request_id, now)
    event = new_event("AccessRejected", f"access-{request_id}", 2, {
        "request_id": request_id, "rejected_by": staff.user_id, "reason": reason,
        "email": row["email"], "name": row["name"], "desk": row["desk"]},
        actor=_actor(staff), occurred_at=now)
    uow.streams.append([event], expected_version=1)
    uow.access_requests.decide(request_id, status="rejected", decided_by=staff.user_id, decided_at=now,
                               reason=reason)


def set_password(uow: UnitOfWork, user_id: str, issued_at: int, password: str, now: datetime) -> None:
    """Set a password through a mailed link; a link older than the last password change is void."""
    uow = _unit(uow)
    row = uow.users.get(user_id, for_update=True)
    if row is None:
        raise violation("RESOLUTION_LINK_INVALID", "token", status=400)
    if row["password_set_at"] and row["password_set_at"].timestamp() >= issued_at:
        raise violation("PASSWORD_LINK_USED", "token")
    if len(password or "") < 10:
        raise violation("PASSWORD_TOO_SHORT", "password")
    uow.users.set_password(user_id, _hasher.hash(password), now)
    revoke_tokens(uow, user_id, "password_changed", now, Actor(id=user_id, role=row["role"]))


# ---------------------------------------------------------------- bearer tokens and rights

def token_revoked(uow: UnitOfWork, claims: Claims) -> bool:
    """Whether a bearer token must be refused although its signature holds: its user is disabled,
    or it was issued at or before the user's last logout, password or rights change. (Users are
    never deleted; only intake's key mints tokens, so an unknown user is a test's own claims.)"""
    row = _unit(uow).users.get(claims.user_id)
    return row is not None and (row["disabled"] or revocations.issued_too_early(claims, row["tokens_valid_after"]))


def revoke_tokens(uow: UnitOfWork, user_id: str, reason: str, now: datetime, actor: Actor) -> Envelope:
    """End every bearer token of the user issued up to `now` (BearerTokensRevoked).

    Intake refuses them at once (its users table); query, SLA and the notifier when they read
    the event from helpdesk.accounts.
    """
    uow = _unit(uow)
    uow.users.revoke_tokens(user_id, now)
    stream_id = f"user-{user_id}"
    version = uow.streams.version(stream_id)
    event = new_event(revocations.EVENT, stream_id, version + 1,
                      {"user_id": user_id, "valid_after": now, "reason": reason}, actor=actor, occurred_at=now)
    uow.streams.append([event], expected_version=version)
    return event


def logout(uow: UnitOfWork, user: Claims, now: datetime) -> None:
    """The user logs out: every bearer token he holds ends (on every device)."""
    revoke_tokens(uow, user.user_id, "logout", now, _actor(user))


_USER_FIELDS = ("disabled", "role", "desks", "organisation_id")


def _user_view(row: dict) -> dict:
    return {"id": row["id"], "email": row["email"], "name": row["name"], "role": row["role"],
            "organisation_id": row["organisation_id"], "desks": list(row["desks"]), "disabled": row["disabled"]}


def update_user(uow: UnitOfWork, supervisor: Claims, user_id: str, body: dict, now: datetime) -> dict:
    """A supervisor disables or enables a user, or changes his role, desks or organisation
    (UserUpdated); any change ends the user's bearer tokens (BearerTokensRevoked)."""
    if supervisor.role != "supervisor":
        raise violation("FORBIDDEN", None, status=403)
    uow = _unit(uow)
    row = uow.users.get(user_id, for_update=True)
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
        if not isinstance(organisation_id, str) or uow.organisations.get(organisation_id) is None:
            raise violation("INVALID_REQUEST", "organisation_id", status=422, detail="organisation_id")
    elif organisation_id is not None:
        raise violation("INVALID_REQUEST", "organisation_id", status=422, detail="organisation_id")
    before = {f: (list(row[f]) if f == "desks" else row[f]) for f in _USER_FIELDS}
    if after == before:
        return _user_view(row)  # nothing changes: no event, the tokens live on
    uow.users.set_rights(user_id, after["disabled"], after["role"], desks, organisation_id)
    stream_id = f"user-{user_id}"
    version = uow.streams.version(stream_id)
    uow.streams.append([new_event("UserUpdated", stream_id, version + 1, {
        "user_id": user_id, **after, "changed_by": supervisor.user_id}, actor=_actor(supervisor), occurred_at=now)],
        expected_version=version)
    revoke_tokens(uow, user_id, "rights_changed", now, _actor(supervisor))
    return _user_view({**row, **after})


def request_training(uow: UnitOfWork, user: Claims, body: dict, now: datetime) -> str:
    """Rule 10: ask for an induction course for the organisation's users (TrainingRequested)."""
    uow = _unit(uow)
    organisation_id = _organisation_of(uow, user, body)
    modules = body.get("modules")
    participants = body.get("participants")
    known = {m for d in uow.catalogs.every_desk() for m in d.modules}
    if (not isinstance(modules, list) or not modules or not all(isinstance(m, str) and m.upper() in known
                                                                for m in modules)
            or not isinstance(participants, int) or isinstance(participants, bool) or not 1 <= participants <= 50):
        raise violation("TRAINING_REQUEST_INVALID", "modules")
    stream_id = f"org-{organisation_id}"
    version = uow.streams.version(stream_id)
    event = new_event("TrainingRequested", stream_id, version + 1, {
        "organisation_id": organisation_id, "requested_by": user.user_id, "modules": [m.upper() for m in modules],
        "participants": participants, "note": (body.get("note") or "").strip() or None},
        actor=_actor(user), occurred_at=now)
    uow.streams.append([event], expected_version=version)
    return str(event.event_id)


# ---------------------------------------------------------------- uploads

def hold_blob(uow: UnitOfWork, sha256: str) -> None:
    """Serialise storing a blob with its removal by `intake.cleanup` (until the transaction ends)."""
    _unit(uow).uploads.hold_blob(sha256)


def record_upload(uow: UnitOfWork, user: Claims, *, sha256: str, name: str, size: int,
                  content_type: str, now: datetime) -> dict:
    """Remember who uploaded which blob under which name, so only they can attach it to a ticket.

    Each upload is its own row: uploading the same bytes again under another name keeps both.
    """
    upload_id = str(uuid.uuid4())
    _unit(uow).uploads.add({"upload_id": upload_id, "sha256": sha256, "uploaded_by": user.user_id,
                            "organisation_id": user.organisation_id, "name": name, "size": size,
                            "content_type": content_type, "uploaded_at": now})
    return {"upload_id": upload_id, "sha256": sha256, "name": name, "size": size, "content_type": content_type}


def store_upload(uow: UnitOfWork, user: Claims, *, content: bytes, sha256: str, name: str, content_type: str,
                 now: datetime, put) -> dict:
    """Store checked upload bytes with `put` (the blob store's) and record them as the user's.

    The blob is held first: the cleanup must not delete it between the put and the row."""
    hold_blob(uow, sha256)
    put(content)
    return record_upload(uow, user, sha256=sha256, name=name, size=len(content), content_type=content_type, now=now)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _attachments_of(uow: UnitOfWork, user: Claims, references: list, now: datetime) -> list[dict]:
    """The caller's uploads named by `references`: upload ids, or (older clients) SHA-256 hashes,
    which stand for the caller's latest upload of those bytes. Marks them attached."""
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise violation("ATTACHMENT_UNKNOWN", "attachments")
    attachments.check_attachment_count(len(references))
    found = []
    for reference in dict.fromkeys(references):
        by = {"sha256": reference} if _SHA256.match(reference) else {"upload_id": reference}
        row = uow.uploads.latest(user.user_id, **by)
        if row is None:
            raise violation("ATTACHMENT_UNKNOWN", "attachments")
        uow.uploads.mark_attached(row["upload_id"], now)
        found.append({k: row[k] for k in ("sha256", "name", "size", "content_type")})
    return found


# ---------------------------------------------------------------- tickets

def _organisation_of(uow: UnitOfWork, user: Claims, body: dict, desk: str | None = None) -> str:
    """The organisation a command acts for: a customer's own; for staff the body's, which must be on
    one of their desks (any other is not theirs to know: 404) and, when `desk` is given, on that desk."""
    if user.role == "customer":
        return user.organisation_id
    organisation_id = body.get("organisation_id")
    if not organisation_id:
        raise violation("INVALID_REQUEST", "organisation_id", status=400,
                        detail="organisation_id")
    row = uow.organisations.get(organisation_id)
    if row is None or not set(row["desks"]) & set(user.desks):
        raise NotFound("organisation")
    if desk is not None and desk not in row["desks"]:
        raise violation("ORGANISATION_NOT_ON_DESK", "organisation_id", desk=desk)
    return organisation_id


def open_ticket(uow: UnitOfWork, user: Claims, body: dict, now: datetime,
                correlation_id: uuid.UUID | None = None) -> Envelope:
    """Open a ticket (TicketOpened) after every rule of SPEC §2 that concerns opening."""
    uow = _unit(uow)
    desk = DESKS.get(body.get("desk"))
    if desk is None or desk.name not in user.desks:
        raise violation("DESK_NOT_ALLOWED", "desk", status=403)
    organisation_id = _organisation_of(uow, user, body, desk.name)
    # The catalog as a supervisor last edited it (retired modules refused), and from here on no other
    # opening of this organisation's desk until commit: two copies of one case sent at once cannot both
    # pass rule 6's duplicate check below.
    organisation, desk = uow.tickets.prepare_opening(organisation_id, desk)
    if organisation is None:
        raise violation("INVALID_REQUEST", "organisation_id", status=400, detail="organisation_id")
    module, case = domain.parse_subject(body.get("subject") or "", desk.modules, desk.retired)
    description = domain.check_description(body.get("description") or "")
    contact = domain.check_contact(body.get("contact"))
    domain.check_structured_fields(body.get("member_number"), body.get("dates"), body.get("vouchers"),
                                   body.get("menu_path"))
    urgency = body.get("urgency") or "normal"
    announcements = (uow.special_processes.of_organisation(organisation_id)
                     if urgency == domain.ANNOUNCED_SPECIAL_PROCESS else [])  # no other urgency needs them
    special_process_id = domain.check_urgency(urgency, announcements, now)
    files = _attachments_of(uow, user, body.get("attachments") or [], now)
    attachments.check_ticket_total([f["size"] for f in files])

    previous = body.get("previous_ticket")
    if previous:
        row = uow.tickets.by_number(previous)
        if row is None or row["organisation_id"] != organisation_id or row["status"] != lifecycle.CLOSED:
            raise violation("PREVIOUS_TICKET_INVALID", "previous_ticket")

    if not body.get("confirmed_different_case"):  # read after prepare_opening's lock
        open_cases = uow.tickets.open_cases(organisation_id, desk.name, module)
        duplicate = domain.find_duplicate(case, [(r["number"], r["case_summary"], r["description"]) for r in open_cases],
                                          module=module, description=description)
        if duplicate:
            raise violation("R6_DUPLICATE_OPEN_CASE", "subject", status=409, number=duplicate).with_extra(
                ticket=duplicate, link=f"/api/tickets/{duplicate}")

    # Rule "urgent, exclusively" (d): warned on 201, and repeated in the received mail.
    calendar = domain.default_calendar(now.year)
    today = now.astimezone(ZoneInfo(calendar.tz)).date()
    month_end = domain.month_end_warning(module, today, domain.default_business_days_left(today),
                                         f"{case} {description}") is not None

    number = uow.tickets.next_number(desk)
    ticket_id = str(uuid.uuid4())
    event = new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": number, "desk": desk.name, "organisation_id": organisation_id,
        "opened_by": user.user_id, "module": module, "case": case, "subject": f"{module}, {case}",
        "description": description, "urgency": urgency, "special_process_id": special_process_id,
        "out_of_hours_requested": body.get("out_of_hours_requested") is True, "contact": contact,
        "member_number": body.get("member_number"), "dates": body.get("dates"), "vouchers": body.get("vouchers"),
        "menu_path": body.get("menu_path"), "attachments": files, "previous_ticket": previous,
        "confirmed_different_case": body.get("confirmed_different_case") is True,
        "language": user.language, "month_end_warning": month_end,
        **({"attempt_id": body["attempt_id"]} if body.get("attempt_id") else {})}, actor=_actor(user), occurred_at=now,
        correlation_id=correlation_id)
    uow.tickets.record([event], 0, lifecycle.apply(None, event), new_ticket={
        "ticket_id": ticket_id, "number": number, "desk": desk.name, "organisation_id": organisation_id,
        "module": module, "case_summary": case, "description": description, "status": lifecycle.OPEN, "version": 1})
    return event


def visible_ticket(uow: UnitOfWork, user: Claims, number: str) -> tuple[lifecycle.TicketState, list[Envelope]]:
    """The ticket's state and events, or NotFound when missing or not the caller's to see."""
    uow = _unit(uow)
    row = uow.tickets.by_number(number)
    if row is None or not _may_see(user, row["organisation_id"], row["desk"]):
        raise NotFound("ticket")
    events = uow.streams.load(row["ticket_id"])
    return lifecycle.fold(events), events


def ticket_summary(uow: UnitOfWork, user: Claims, number: str) -> dict:
    """The ticket as its own stream has it now, for the `link` a command answers with: read from the
    write side, it shows the command's effect at once (the query service's full view, with the
    thread, follows the event log a moment later)."""
    state, events = visible_ticket(uow, user, number)
    opened = events[0]
    return {"number": state.number, "ticket_id": state.ticket_id, "desk": state.desk,
            "organisation_id": state.organisation_id, "module": state.module, "case": state.case,
            "subject": opened.data["subject"], "urgency": state.urgency, "status": state.status,
            "assigned_to": state.assigned_to, "customer_away": state.customer_away,
            "close_reason": state.close_reason, "merged_into": state.merged_into, "billable": state.billable, "version": state.version, "opened_at": opened.occurred_at,
            "updated_at": events[-1].occurred_at,
            "rated": state.rated, "may_rate": _rating_refusal(user, state, opened.data["opened_by"]) is None}


def _ticket_state(uow: UnitOfWork, user: Claims, number: str) -> lifecycle.TicketState:
    """The ticket's state for a command (its snapshot: one row, not the stream), or NotFound when
    missing or not the caller's to see."""
    state = uow.tickets.state(number)
    if state is None or not _may_see(user, state.organisation_id, state.desk):
        raise NotFound("ticket")
    return state


def _may_see(user: Claims, organisation_id: str, desk: str) -> bool:
    # A customer sees his organisation's tickets of the desks he is allowed on (SPEC §1: one or both).
    if user.role == "customer":
        return user.organisation_id == organisation_id and desk in user.desks
    return desk in user.desks


def post_message(uow: UnitOfWork, user: Claims, number: str, body: dict, now: datetime,
                 correlation_id: uuid.UUID | None = None) -> Envelope:
    """Post a public message or (agents only) an internal note (MessagePosted)."""
    uow = _unit(uow)
    state = _open_ticket_state(uow, user, number)
    internal = body.get("internal") is True  # the edge lets through only true, false or null (requests.py)
    if internal and not user.is_staff:
        raise violation("INTERNAL_NOTE_FORBIDDEN", "internal", status=403)
    minutes = body.get("minutes_spent")  # loaded by requests.PostMessage: an int in range, or None
    if minutes is not None and not user.is_staff:
        raise violation("TIME_SPENT_STAFF_ONLY", "minutes_spent", status=403)
    answer_id = body.get("canned_answer_id")
    if answer_id is not None and (not user.is_staff or canned_answers.offered(uow, state.desk, answer_id) is None):
        raise violation("CANNED_ANSWER_UNKNOWN", "canned_answer_id")
    text = (body.get("body") or "").strip()
    if not text:
        raise violation("MESSAGE_BODY_REQUIRED", "body")
    files = _attachments_of(uow, user, body.get("attachments") or [], now)
    new_files = [f for f in files if f["sha256"] not in state.attachment_hashes]
    attachments.check_ticket_total([state.attachment_bytes] + [f["size"] for f in new_files])
    data = {"message_id": str(uuid.uuid4()), "author_id": user.user_id, "author_role": user.role, "body": text,
            "internal": internal, "attachments": files,
            "out_of_hours_requested": body.get("out_of_hours_requested") is True}
    if minutes is not None:
        data["minutes_spent"] = minutes
    if answer_id is not None:
        data["canned_answer_id"] = answer_id
        uow.canned_answers.count_use(state.desk, answer_id)
    return _append_to_ticket(uow, state, "MessagePosted", data, user, now, correlation_id)


def _append_to_ticket(uow: UnitOfWork, state: lifecycle.TicketState, type_: str, data: dict,
                      user: Claims, now: datetime, correlation_id: uuid.UUID | None = None) -> Envelope:
    """Append one event to a ticket's stream and keep its snapshot and the write side's index in step."""
    event = new_event(type_, state.ticket_id, state.version + 1, data, actor=_actor(user), occurred_at=now,
                      correlation_id=correlation_id)
    uow.tickets.record([event], state.version, lifecycle.apply(state, event))
    return event


def _open_ticket_state(uow: UnitOfWork, user: Claims, number: str) -> lifecycle.TicketState:
    state = _ticket_state(uow, user, number)
    if state.is_closed:
        raise violation("TICKET_CLOSED", None, status=409, number=number).with_extra(
            ticket=number, new_ticket_hint={"previous_ticket": number})
    return state


def assign_ticket(uow: UnitOfWork, staff: Claims, number: str, agent_id: str | None,
                  now: datetime) -> Envelope:
    """An agent takes a ticket, or gives it to a colleague of its desk (TicketAssigned)."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    uow = _unit(uow)
    state = _open_ticket_state(uow, staff, number)
    agent_id = agent_id or staff.user_id
    agent = uow.users.get(agent_id)
    if agent is None or agent["role"] == "customer" or state.desk not in agent["desks"]:
        raise violation("INVALID_REQUEST", "agent_id", status=400, detail="agent_id")
    return _append_to_ticket(uow, state, "TicketAssigned", {"agent_id": agent_id, "assigned_by": staff.user_id},
                             staff, now)


def mark_customer_away(uow: UnitOfWork, user: Claims, number: str, body: dict,
                       now: datetime) -> Envelope:
    """Rule "avise si se tiene que marchar": the customer says he is away, optionally until when."""
    if user.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    uow = _unit(uow)
    state = _open_ticket_state(uow, user, number)
    back_at = domain.check_back_at(body.get("back_at"), now)  # loaded by requests.Away: a datetime or None
    return _append_to_ticket(uow, state, "CustomerAway", {"back_at": back_at,
                                                           "note": (body.get("note") or "").strip() or None},
                             user, now)


def close_by_agent(uow: UnitOfWork, staff: Claims, number: str, reason: str, note: str,
                   now: datetime) -> Envelope:
    """An agent closes a ticket: finished, or "needs training" (rule 10: the course is offered)."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    if reason not in ("closed_by_agent", "needs_training"):
        raise violation("INVALID_REQUEST", "reason", status=400, detail="reason")
    uow = _unit(uow)
    state = _open_ticket_state(uow, staff, number)
    return _append_to_ticket(uow, state, "TicketClosed",
                             {"reason": reason, "note": (note or "").strip() or None}, staff, now)


def mark_billable(uow: UnitOfWork, staff: Claims, number: str, billable: bool, note: str | None,
                  now: datetime) -> Envelope | None:
    """Staff of the ticket's desk mark it billable or not (BillableMarked); None when it changes
    nothing. A closed ticket too: billing is settled after the work."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)  # before any lookup: says nothing about the ticket
    uow = _unit(uow)
    state = _ticket_state(uow, staff, number)
    data = domain.billable_mark(staff, state.billable, billable, note)
    if data is None:
        return None
    return _append_to_ticket(uow, state, "BillableMarked", data, staff, now)


def attachment_for_download(uow: UnitOfWork, user: Claims, number: str, sha256: str) -> dict:
    """The attachment's metadata when it belongs to a ticket part the caller may see."""
    _, events = visible_ticket(uow, user, number)
    parts = []
    for event in events:
        parts.append(event.data)
        if event.type == "TicketMergedInto":  # a merged duplicate's files are this ticket's now
            parts.extend(event.data.get("messages") or [])
    for part in parts:
        if part.get("internal") and not user.is_staff:
            continue
        for file in part.get("attachments") or []:
            if file["sha256"] == sha256:
                return file
    raise NotFound("attachment")


def confirm_resolution(uow: UnitOfWork, user: Claims, number: str, solved: bool, text: str,
                       now: datetime) -> list[Envelope]:
    """Rule 8: the customer says "solved" (the ticket closes) or "not solved" with what is still wrong
    (back to the agents). Only the customer side answers, and only after an agent did."""
    if user.is_staff:
        raise violation("FORBIDDEN", "solved", status=403)
    uow = _unit(uow)
    state = _open_ticket_state(uow, user, number)
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
    uow.tickets.record(events, state.version, lifecycle.fold_onto(state, events))
    return events


# ---------------------------------------------------------------- the customer's verdict (issue 12)

def _rating_refusal(user: Claims, state: lifecycle.TicketState, opened_by: str) -> RuleViolation | None:
    """Why `user` may not rate the ticket now (None: he may). Only its requester, once, after it
    closed as solved (`SOLVED_CLOSE_REASONS`)."""
    if user.is_staff:
        return violation("FORBIDDEN", "rating", status=403)
    if not state.is_closed:
        return violation("RATING_NOT_CLOSED", "rating")
    if state.close_reason not in SOLVED_CLOSE_REASONS:
        return violation("RATING_NOT_SOLVED", "rating")
    # The requester, not any user of his organisation: the verdict is on the answer he got (and
    # the closing mail with its one-click links went to him).
    if opened_by != user.user_id:
        return violation("RATING_NOT_REQUESTER", "rating")
    if state.rated:
        return violation("RATING_ALREADY_GIVEN", "rating")
    return None


def _ratable_state(uow: UnitOfWork, user: Claims, number: str) -> lifecycle.TicketState:
    if user.is_staff:  # before any lookup: says nothing about the ticket
        raise violation("FORBIDDEN", "rating", status=403)
    state = _ticket_state(uow, user, number)  # another organisation's ticket: 404, like a missing one
    # The requester is in the stream's first event (the snapshot does not carry it); rating is rare.
    opened_by = uow.streams.load(state.ticket_id)[0].data["opened_by"]
    refusal = _rating_refusal(user, state, opened_by)
    if refusal is not None:
        raise refusal
    return state


def check_ratable(uow: UnitOfWork, user: Claims, number: str) -> None:
    """Refuse (as `rate_ticket` would) unless `user` may rate the ticket now: the confirmation page of
    the mailed link says "already rated" before the customer writes a comment for nothing."""
    _ratable_state(_unit(uow), user, number)


def rate_ticket(uow: UnitOfWork, user: Claims, number: str, rating: str, comment: str | None,
                now: datetime) -> Envelope:
    """The customer's verdict on a ticket closed as solved: good or bad, with an optional comment
    (TicketRated), once. A second rating is refused and changes nothing; two at once conflict on the
    stream's version, and the retry of the loser finds the ticket rated."""
    uow = _unit(uow)
    state = _ratable_state(uow, user, number)
    if rating not in ("good", "bad"):
        raise violation("INVALID_REQUEST", "rating", status=422, detail="rating")
    return _append_to_ticket(uow, state, "TicketRated", {
        "rating": rating, "comment": (comment or "").strip() or None, "rated_by": user.user_id}, user, now)


def claims_of_user(uow: UnitOfWork, user_id: str) -> Claims | None:
    """A user's claims, for commands that arrive signed by a link or a reply address instead of a login."""
    row = _unit(uow).users.get(user_id)
    if row is None or row["disabled"]:
        return None
    return domain.claims_of_row(row)


# ---------------------------------------------------------------- decisions of the SLA service

def accept_auto_close(uow: UnitOfWork, decision: Envelope) -> Envelope | None:
    """Close the ticket as the SLA service decided, only if nothing happened since the version
    the decision was based on (a customer reply that raced the close wins). None when refused."""
    ticket_id, based_on = decision.data["ticket_id"], decision.data["based_on_version"]
    uow = _unit(uow)
    state = uow.tickets.state_of(ticket_id, for_update=True)
    if state is None or state.is_closed or state.version != based_on:
        return None
    event = new_event("TicketClosed", ticket_id, state.version + 1,
                      {"reason": "auto_closed", "based_on_version": based_on}, actor=decision.actor,
                      occurred_at=decision.occurred_at, correlation_id=decision.correlation_id,
                      causation_id=decision.event_id)
    uow.tickets.record([event], state.version, lifecycle.apply(state, event))
    return event


# ---------------------------------------------------------------- merging (issue 12: rule 6 after the fact)

def _merged_content(events: list[Envelope]) -> dict:
    """What a duplicate held, as the open ticket keeps it: its opening text and files and every
    message (internal notes marked, so query shows them to staff only)."""
    opened = events[0]
    # Copied field by field (who owes the next answer is lifecycle's to read from author_role, not ours).
    copied = ("message_id", "author_id", "author_role", "body", "internal")
    messages = [{**{k: e.data[k] for k in copied}, "attachments": e.data.get("attachments") or [],
                 "occurred_at": e.occurred_at}
                for e in events if e.type == "MessagePosted"]
    return {"subject": opened.data["subject"], "description": opened.data["description"],
            "opened_by": opened.data["opened_by"], "opened_at": opened.occurred_at,
            "attachments": opened.data.get("attachments") or [], "messages": messages}


def merge_ticket(uow: UnitOfWork, staff: Claims, number: str, target: str, note: str | None,
                 now: datetime) -> tuple[Envelope, Envelope]:
    """Staff of the duplicate's desk merge it into the open ticket of the same case (rule 6 after the
    fact): the duplicate closes with reason "merged" naming the target (TicketClosed, so every reader
    that stops on a close, the SLA clocks first, needs nothing new), and the target records what it
    received (TicketMergedInto). Both streams in one unit of work, each at the version it was read at.

    Refusals: a customer (403, before any lookup); a duplicate the caller may not see (404 like any
    ticket command); a target missing or not the caller's to see (404 MERGE_TARGET_NOT_FOUND, the same
    for both so another desk's numbers tell nothing); a target of another organisation or desk, the
    duplicate itself, a closed target, a duplicate already closed or merged."""
    if not staff.is_staff:
        raise violation("FORBIDDEN", None, status=403)
    uow = _unit(uow)
    target = (target or "").strip().upper()
    source_row = uow.tickets.by_number(number)
    if source_row is None or not _may_see(staff, source_row["organisation_id"], source_row["desk"]):
        raise NotFound("ticket")
    target_row = uow.tickets.by_number(target)
    if target_row is None or not _may_see(staff, target_row["organisation_id"], target_row["desk"]):
        raise violation("MERGE_TARGET_NOT_FOUND", "target", number=target)
    if target_row["ticket_id"] == source_row["ticket_id"]:
        raise violation("MERGE_INTO_ITSELF", "target")
    # Both rows locked in one order (by id), so two merges of the same pair in opposite directions
    # queue instead of deadlocking on each other's stream; the states are read after the locks.
    for ticket_id in sorted((source_row["ticket_id"], target_row["ticket_id"])):
        uow.tickets.lock(ticket_id)
    source, into = uow.tickets.state_of(source_row["ticket_id"]), uow.tickets.state_of(target_row["ticket_id"])
    if source.is_closed:
        raise violation("MERGE_SOURCE_CLOSED", None, number=source.number)
    if into.organisation_id != source.organisation_id:
        raise violation("MERGE_ACROSS_ORGANISATIONS", "target", number=into.number)
    if into.desk != source.desk:
        raise violation("MERGE_ACROSS_DESKS", "target", number=into.number)
    if into.is_closed:
        raise violation("MERGE_TARGET_CLOSED", "target", number=into.number)
    note = (note or "").strip() or None
    closed = new_event("TicketClosed", source.ticket_id, source.version + 1, {
        "reason": "merged", "merged_into": into.number, "merged_into_ticket_id": into.ticket_id, "note": note},
        actor=_actor(staff), occurred_at=now)
    received = new_event("TicketMergedInto", into.ticket_id, into.version + 1, {
        "source_ticket_id": source.ticket_id, "source_number": source.number, "merged_by": staff.user_id,
        "note": note, **_merged_content(uow.streams.load(source.ticket_id))}, actor=_actor(staff), occurred_at=now,
        correlation_id=closed.correlation_id, causation_id=closed.event_id)
    uow.tickets.record([closed], source.version, lifecycle.apply(source, closed))
    uow.tickets.record([received], into.version, lifecycle.apply(into, received))
    return closed, received
