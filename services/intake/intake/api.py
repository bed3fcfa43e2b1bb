"""Intake's HTTP API: JSON in, a command handled, a status code out."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request, send_file
from markupsafe import escape

from helpdesk_shared import auth_tokens, forwarding, link_tokens
from helpdesk_shared.errors import RuleViolation
from helpdesk_shared.web import (AUTH_REQUIRED, RequestConnection, ascii_token, load, load_body, load_query,
                                  require_auth)
from helpdesk_shared.openapi import documented, query_param

from helpdesk_shared.catalog import DESK_NAMES

from . import attachments, canned_answers, domain, handlers, postgres_uow, requests, responses, rules_page, throttle, unit_of_work
from . import knowledge
from .messages import message, violation

bp = Blueprint("intake", __name__, url_prefix="/api")

# Each route's body schema, built once (marshmallow schemas are reusable and thread-safe to load with).
_LOGIN, _OPEN_TICKET, _POST_MESSAGE = requests.Login(), requests.OpenTicket(), requests.PostMessage()
_ASSIGN, _AWAY, _CLOSE, _RESOLUTION = requests.Assign(), requests.Away(), requests.Close(), requests.Resolution()
_SPECIAL_PROCESS, _ACCESS_REQUEST, _GRANT = requests.SpecialProcess(), requests.AccessRequest(), requests.Grant()
_TRAINING_REQUEST, _SET_PASSWORD, _REJECT = requests.TrainingRequest(), requests.SetPassword(), requests.Reject()
_RULES_PAGE_EDIT = requests.RulesPageEdit()
_BILLABLE = requests.Billable()
_MERGE = requests.Merge()
_RATING = requests.Rating()
_USER_CHANGE, _RULES_PAGE_QUERY = requests.UserChange(), requests.RulesPageQuery()
_CANNED_SAVE, _CANNED_QUERY = requests.CannedAnswerSave(), requests.CannedAnswersQuery()

# Path parameters narrower than a string, for the OpenAPI document.
NUMBER = {"type": "string", "maxLength": requests.NUMBER_MAX}
DESK = {"enum": list(DESK_NAMES)}
REQUEST_ID = {"type": "string", "maxLength": requests.ID_MAX}
_ANSWER_ID = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}
RESOLVE_FORM = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {"answer": {"enum": ["solved", "not_solved"]}, "body": {"type": "string"}}}}}}
PASSWORD_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}}}}}


def _ctx():
    return current_app.extensions["intake"]


def _now():
    return _ctx().clock()


# The request's one pooled connection (web.RequestConnection): the token check and the command share it.
_REQUEST_CONNECTION = RequestConnection("intake", lambda: _ctx().pool)
_held_connection = _REQUEST_CONNECTION.get


@bp.teardown_app_request
def _give_back(exc: BaseException | None = None) -> None:
    """Give the request's connection back to the pool (every blueprint's requests: admin's too)."""
    _REQUEST_CONNECTION.give_back(exc)


def _run(command):
    """`command(uow)` in one transaction on the request's connection, run again on a version conflict
    (`unit_of_work.run`: the one place for the transaction and the retry)."""
    try:
        return unit_of_work.run(lambda: postgres_uow.on_connection(_held_connection()), command)
    except BaseException as err:
        _give_back(err)
        raise


def _revoked(claims) -> bool:
    # One read, nothing written: no transaction and no retry (postgres_uow.one_read).
    try:
        with postgres_uow.one_read(_held_connection()) as uow:
            return handlers.token_revoked(uow, claims)
    except BaseException as err:
        _give_back(err)
        raise


# Intake checks its own tokens with the public half of its signing key, like every service.
auth = require_auth(lambda: auth_tokens.verify_key_of(_ctx().config.token_signing_key), _now, _revoked)


def _correlation() -> uuid.UUID:
    try:
        return uuid.UUID(g.correlation_id)
    except (ValueError, AttributeError):
        return uuid.uuid4()


@bp.errorhandler(throttle.Throttled)
def _throttled(err: throttle.Throttled):
    """429 with the seconds to wait in `Retry-After` (RFC 6585 §4)."""
    response = jsonify(err.as_dict())
    response.headers["Retry-After"] = str(err.retry_after)
    return response, 429


def _client_address() -> str:
    # The peer address, or the browser's address the portal forwards signed with PORTAL_FORWARD_SECRET
    # (behind the portal every customer shares one peer address). X-Forwarded-For is not trusted:
    # anyone can write it.
    return forwarding.client_address(_ctx().config.portal_forward_secret, request.headers, request.remote_addr or "")


@bp.post("/auth/login")
@documented("Log in", body=requests.Login, responses={200: responses.Session}, refusals=(401, 403, 429))
def login():
    """Exchange e-mail and password for a signed, expiring bearer token; failures are rate-limited."""
    body = load_body(_LOGIN)
    email = body["email"]
    now, address = _now(), _client_address()
    claims = _run(lambda uow: handlers.login(uow, email, body["password"], address, now))
    cfg = _ctx().config
    token = auth_tokens.issue(cfg.token_signing_key, claims, _now(), cfg.token_ttl_seconds)
    return jsonify({"token": token, "expires_in": cfg.token_ttl_seconds, "user": {
        "id": claims.user_id, "name": claims.name, "role": claims.role,
        "organisation_id": claims.organisation_id, "desks": list(claims.desks), "language": claims.language}})


@bp.post("/auth/logout")
@documented("Log out: every bearer token of the caller ends", responses={204: "logged out"})
@auth
def logout():
    """End every bearer token of the caller (all his sessions); 204."""
    _run(lambda uow: handlers.logout(uow, g.user, _now()))
    return "", 204


@bp.patch("/users/<user_id>")
@documented("Disable/enable a user or change his role, desks or organisation (supervisors); his bearer "
           "tokens end", body=requests.UserChange, responses={200: responses.User}, refusals=(403, 404))
@auth
def update_user(user_id: str):
    """A supervisor disables/enables a user or changes his role, desks or organisation
    (`{"disabled"?: bool, "role"?, "desks"?: [...], "organisation_id"?}`); his tokens end."""
    body = load_body(_USER_CHANGE)
    user = _run(lambda uow: handlers.update_user(uow, g.user, user_id, body, _now()))
    return jsonify(user), 200


@bp.post("/internal/email-replies")
@documented("The notifier posts a customer's e-mail reply as a message (`Authorization: Inbound <secret>`)",
           security=[], request_body={"required": True, "content": {"multipart/form-data": {"schema": {
               "type": "object", "properties": {"ticket": {"type": "string"}, "user_id": {"type": "string"},
                                                "body": {"type": "string"},
                                                "file": {"type": "array", "items": {"type": "string",
                                                                                   "format": "binary"}}}}}}},
           responses={201: responses.Posted}, refusals=(401, 403, 404, 409, 413, 422))
def email_reply():
    """The notifier posts a customer's e-mail reply (multipart: `ticket`, `user_id`, `body`, files
    `file`), authenticated by `Authorization: Inbound <INBOUND_SECRET>`.

    This credential can do one thing only: add a public message, as the customer the reply
    address was made for, to the ticket it names, if that customer may still post there.
    Attachments the rules refuse are listed in the message instead. Idempotency-Key as usual.
    """
    header = request.headers.get("Authorization", "")
    expected = f"Inbound {_ctx().config.inbound_secret}"
    if not hmac.compare_digest(header.encode("utf-8", "replace"), expected.encode()):
        raise AUTH_REQUIRED
    request.max_content_length = attachments.MAX_TICKET_BYTES + 1024 * 1024
    number, user_id = request.form.get("ticket", ""), request.form.get("user_id", "")
    user = _run(lambda uow: handlers.claims_of_user(uow, user_id))
    if user is None or user.role != "customer":
        raise violation("FORBIDDEN", "user_id", status=403)
    g.user = user
    hashes, refused = [], []
    for file in request.files.getlist("file"):
        content = file.stream.read(attachments.MAX_FILE_BYTES + 1)
        try:
            content_type, name = attachments.check_upload(content, file.filename or "")
        except RuleViolation as err:
            refused.append(f"{file.filename} ({err.code})")
            continue
        sha256 = hashlib.sha256(content).hexdigest()
        _run(lambda uow: handlers.store_upload(uow, user, content=content, sha256=sha256, name=name,
                                               content_type=content_type, now=_now(), put=_ctx().blobs.put))
        hashes.append(sha256)
    text = request.form.get("body", "").strip() or "(mensaje sin texto / message without text)"
    if refused:
        text += "\n\n[Adjuntos rechazados / attachments refused: " + ", ".join(refused) + "]"

    posted = {"body": text, "attachments": hashes}

    def command(uow):
        event = handlers.post_message(uow, user, number, posted, _now(), _correlation())
        return {"number": number, "message_id": event.data["message_id"],
                "stream_version": event.stream_version}, 201

    # The key is bound to what the mail says, not to its multipart bytes (a new boundary each try).
    digest = hashlib.sha256(json.dumps({"ticket": number, **posted}, sort_keys=True).encode()).hexdigest()
    return _once(command, digest)


def _warnings(event) -> list[dict]:
    """Rule "urgent, exclusively" (d): payroll, cheques, SENIAT and accounting left for the month's
    last days (decided when the ticket opened, kept in its TicketOpened)."""
    if not event.data.get("month_end_warning"):
        return []
    today = event.occurred_at.astimezone(ZoneInfo(domain.default_calendar(event.occurred_at.year).tz)).date()
    warning = message("MONTH_END_WARNING", month_es=domain.MONTHS_ES[today.month - 1],
                      month_en=domain.MONTHS_EN[today.month - 1])
    return [{"code": "MONTH_END_WARNING", "message": warning.as_dict()}]


def _request_digest() -> str:
    """SHA-256 of the request body in canonical form (sorted keys, no spaces), so that a key
    replayed with the same JSON written differently still counts as the same request."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if body is not None \
        else request.get_data().decode("utf-8", "replace")
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _once(command, digest: str | None = None):
    """`command(uow) -> (body, status)` run once per Idempotency-Key of the caller (`handlers.once`),
    the key bound to this method and path and to the body's digest; retried on a version conflict."""
    key = request.headers.get("Idempotency-Key")
    endpoint = f"{request.method} {request.path}"
    digest = (digest or _request_digest()) if key else None
    body, status = _run(lambda uow: handlers.once(uow, g.user.user_id, key, endpoint, digest, command))
    return jsonify(body), status


@bp.post("/tickets")
@documented("Open a ticket (staff name the customer's `organisation_id`: 404 when it is not on their desks)",
           body=requests.OpenTicket, responses={201: responses.Opened}, refusals=(403, 404, 409))
@auth
def open_ticket():
    """Open a ticket; 201 with its number, or a rule violation (409 for a duplicate open case)."""
    body = load_body(_OPEN_TICKET)

    def command(uow):
        event = handlers.open_ticket(uow, g.user, body, _now(), _correlation())
        number = event.data["number"]
        return {"number": number, "ticket_id": event.stream_id, "urgency": event.data["urgency"],
                "link": f"/api/tickets/{number}",
                "warnings": domain.subject_warnings(body.get("subject")) + _warnings(event)}, 201

    response, status = _once(command)
    response.headers["Location"] = response.json["link"]
    return response, status


@bp.get("/tickets/<number>")
@documented("The ticket's current state (the `link` of a 201); its thread is on the query service",
           path={"number": NUMBER}, responses={200: responses.Ticket}, refusals=(404,))
@auth
def get_ticket(number: str):
    """The ticket's current state (what `link` on 201 points at); another organisation's answers 404."""
    return jsonify(_run(lambda uow: handlers.ticket_summary(uow, g.user, number)))


@bp.post("/tickets/<number>/messages")
@documented("Post a message or internal note", path={"number": NUMBER}, body=requests.PostMessage,
           responses={201: responses.Posted}, refusals=(401, 403, 404, 409))
@auth
def post_message(number: str):
    """Post a message to a ticket; a closed ticket answers 409 with how to open a new one."""
    body = load_body(_POST_MESSAGE)

    def command(uow):
        event = handlers.post_message(uow, g.user, number, body, _now(), _correlation())
        return {"number": number, "message_id": event.data["message_id"],
                "stream_version": event.stream_version}, 201

    return _once(command)


@bp.post("/tickets/<number>/assignment")
@documented("An agent takes the ticket or gives it to a colleague of its desk", path={"number": NUMBER},
           body=requests.Assign, responses={201: responses.Assigned}, refusals=(401, 403, 404, 409))
@auth
def assign(number: str):
    """An agent takes the ticket (`{}`) or gives it to a colleague (`{"agent_id": ...}`)."""
    body = load_body(_ASSIGN)
    event = _run(lambda uow: handlers.assign_ticket(uow, g.user, number, body.get("agent_id"), _now()))
    return jsonify({"number": number, "assigned_to": event.data["agent_id"]}), 201


@bp.post("/tickets/<number>/away")
@documented("The customer says he has to leave (rule: avise si se tiene que marchar)", path={"number": NUMBER},
           body=requests.Away, responses={201: responses.AwayRecorded}, refusals=(401, 403, 404, 409))
@auth
def customer_away(number: str):
    """The customer says he has to leave (`{"back_at"?: ISO date-time, "note"?: text}`)."""
    body = load_body(_AWAY)
    _run(lambda uow: handlers.mark_customer_away(uow, g.user, number, body, _now()))
    return jsonify({"number": number, "customer_away": True}), 201


@bp.post("/tickets/<number>/close")
@documented("An agent closes the ticket", path={"number": NUMBER}, body=requests.Close,
           responses={201: responses.Status}, refusals=(401, 403, 404, 409))
@auth
def close(number: str):
    """An agent closes the ticket: `{"reason": "closed_by_agent" | "needs_training", "note"?: text}`."""
    body = load_body(_CLOSE)
    _run(lambda uow: handlers.close_by_agent(uow, g.user, number, body.get("reason") or "closed_by_agent",
                                             body.get("note") or "", _now()))
    return jsonify({"number": number, "status": "closed"}), 201


@bp.post("/tickets/<number>/merge")
@documented("Staff of the ticket's desk merge this duplicate into the open ticket of the same case (rule 6 after "
           "the fact): it closes as merged and the target shows its messages", path={"number": NUMBER},
           body=requests.Merge, responses={201: responses.Merged}, refusals=(401, 403, 404, 409))
@auth
def merge(number: str):
    """Merge the duplicate `number` into `{"target": "SOP-12", "note"?: text}`; once per Idempotency-Key."""
    body = load_body(_MERGE)

    def command(uow):
        closed, _ = handlers.merge_ticket(uow, g.user, number, body["target"], body.get("note"), _now())
        target = closed.data["merged_into"]
        return {"number": number, "status": "closed", "merged_into": target, "link": f"/api/tickets/{target}"}, 201

    return _once(command)


@bp.post("/tickets/<number>/billable")
@documented("Staff of the ticket's desk mark it billable or not (out-of-hours work; overrides the customer's "
           "request in the queue and the out-of-hours report)", path={"number": NUMBER}, body=requests.Billable,
           responses={201: responses.BillableMark, 200: "already marked so: nothing recorded"},
           refusals=(403, 404))
@auth
def mark_billable(number: str):
    """Staff mark the ticket billable or not: `{"billable": true|false, "note"?: text}`; 201 when
    recorded, 200 when it was already so."""
    body = load_body(_BILLABLE)
    event = _run(lambda uow: handlers.mark_billable(uow, g.user, number, body["billable"], body.get("note"), _now()))
    return jsonify({"number": number, "billable": body["billable"], "changed": event is not None}), \
        201 if event is not None else 200


@bp.post("/tickets/<number>/rating")
@documented("The customer who opened the ticket rates it once, good or bad, after it closed as solved",
           path={"number": NUMBER}, body=requests.Rating, responses={201: responses.Rated},
           refusals=(401, 403, 404, 409))
@auth
def rate(number: str):
    """The requester's verdict: `{"rating": "good" | "bad", "comment"?: text}`; 201, once per ticket."""
    body = load_body(_RATING)
    _run(lambda uow: handlers.rate_ticket(uow, g.user, number, body["rating"], body.get("comment"), _now()))
    return jsonify({"number": number, "rating": body["rating"]}), 201


@bp.post("/attachments")
@documented("Upload a file to attach", request_body={"required": True, "content": {"multipart/form-data": {
               "schema": {"type": "object", "required": ["file"],
                          "properties": {"file": {"type": "string", "format": "binary"}}}}}},
           responses={201: responses.Upload}, refusals=(400, 413, 415, 422))
@auth
def upload_attachment():
    """Store an uploaded file (multipart field `file`) content-addressed; 201 with its `upload_id` to attach."""
    file = request.files.get("file")
    if file is None:
        raise violation("INVALID_REQUEST", "file", status=400, detail="file")
    content = file.stream.read(attachments.MAX_FILE_BYTES + 1)
    if not content:  # an empty file is not a refused type: say what is wrong with it
        raise violation("ATTACHMENT_EMPTY", "file")
    content_type, name = attachments.check_upload(content, file.filename or "")
    sha256 = hashlib.sha256(content).hexdigest()
    meta = _run(lambda uow: handlers.store_upload(uow, g.user, content=content, sha256=sha256, name=name,
                                                  content_type=content_type, now=_now(), put=_ctx().blobs.put))
    return jsonify(meta), 201


@bp.get("/tickets/<number>/attachments/<sha256>")
@documented("Download an attachment", path={"number": NUMBER, "sha256": {"type": "string", "maxLength": 64}},
           responses={200: "the file, as an attachment"}, refusals=(404,))
@auth
def download_attachment(number: str, sha256: str):
    """Download an attachment of a ticket the caller may see, never rendered inline."""
    meta = _run(lambda uow: handlers.attachment_for_download(uow, g.user, number, sha256))
    response = send_file(_ctx().blobs.path(sha256), mimetype=meta["content_type"], as_attachment=True,
                         download_name=meta["name"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/special-processes")
@documented("Announce a special process in advance (staff: for an `organisation_id` of their desks, else 404)",
           body=requests.SpecialProcess, responses={201: responses.Announced}, refusals=(404,))
@auth
def announce_special_process():
    """Announce a special process in advance (makes `announced_special_process` urgency possible)."""
    body = load_body(_SPECIAL_PROCESS)
    announcement_id = _run(lambda uow: handlers.announce_special_process(uow, g.user, body, _now()))
    return jsonify({"announcement_id": announcement_id}), 201


@bp.post("/tickets/<number>/resolution")
@documented("Rule 8: solved (closes) or not solved with what is still wrong", path={"number": NUMBER},
           body=requests.Resolution, responses={201: responses.Status}, refusals=(401, 403, 404, 409))
@auth
def confirm_resolution(number: str):
    """Rule 8: `{"solved": true}` closes the ticket; `{"solved": false, "body": "..."}` sends it back."""
    body = load_body(_RESOLUTION)
    events = _run(lambda uow: handlers.confirm_resolution(uow, g.user, number, body["solved"], body.get("body") or "",
                                                          _now()))
    return jsonify({"number": number, "status": "closed" if len(events) == 2 else "open"}), 201


@bp.post("/access-requests")
@documented("\"No poseo login\": request access (no login needed); the same answer when the e-mail already "
           "has a user or a pending request", body=requests.AccessRequest, responses={202: responses.Received},
           refusals=(429,))
def request_access():
    """"No poseo login": anyone may ask for access; agents approve. 202 with the same answer whether
    the request was filed or the e-mail already has a user or a pending request."""
    now, address = _now(), _client_address()
    _run(lambda uow: handlers.file_access_request(uow, lambda: load_body(_ACCESS_REQUEST), address, now))
    return jsonify({"status": "received", "message": message("ACCESS_REQUEST_RECEIVED").as_dict()}), 202


@bp.get("/access-requests")
@documented("Pending access requests (staff)", responses={200: responses.AccessRequests}, refusals=(403,))
@auth
def list_access_requests():
    """Pending, unexpired access requests of the caller's desks (staff)."""
    rows = _run(lambda uow: handlers.pending_access_requests(uow, g.user, _now()))
    return jsonify({"items": rows})


@bp.post("/access-requests/<request_id>/grant")
@documented("Approve a request into a customer user (staff); he gets a set-password link by mail",
           path={"request_id": REQUEST_ID}, body=requests.Grant, responses={201: responses.Granted},
           refusals=(403, 404, 409))
@auth
def grant_access(request_id: str):
    """Approve a request into a customer user of an organisation (staff)."""
    body = load_body(_GRANT)
    user_id = _run(lambda uow: handlers.grant_access(uow, g.user, request_id, body["organisation_id"], _now()))
    return jsonify({"user_id": user_id}), 201


@bp.post("/access-requests/<request_id>/reject")
@documented("Turn a request down with a reason (staff)", path={"request_id": REQUEST_ID}, body=requests.Reject,
           responses={201: responses.Rejected}, refusals=(403, 404, 409))
@auth
def reject_access(request_id: str):
    """Turn a request down with a reason (`{"reason": "..."}`, staff of its desk)."""
    body = load_body(_REJECT)
    _run(lambda uow: handlers.reject_access(uow, g.user, request_id, body.get("reason"), _now()))
    return jsonify({"request_id": request_id, "status": "rejected"}), 201


@bp.post("/training-requests")
@documented("Rule 10: request an induction course (staff: for an `organisation_id` of their desks, else 404)",
           body=requests.TrainingRequest, responses={201: responses.TrainingRequested}, refusals=(404,))
@auth
def request_training():
    """Rule 10: request an induction course (`{modules: [...], participants: n, note?}`)."""
    body = load_body(_TRAINING_REQUEST)
    request_id = _run(lambda uow: handlers.request_training(uow, g.user, body, _now()))
    return jsonify({"request_id": request_id}), 201


@bp.get("/desks/<desk>/canned-answers")
@documented("The desk's canned answers by title, with how many messages used each (staff of the desk); "
           "`include_retired=true` lists the retired ones too", path={"desk": DESK}, query=requests.CannedAnswersQuery,
           responses={200: responses.CannedAnswers}, refusals=(401, 403, 404, 422))
@auth
def list_canned_answers(desk: str):
    """The desk's canned answers (staff of the desk only)."""
    include_retired = load_query(_CANNED_QUERY).get("include_retired") == "true"
    return jsonify({"desk": desk, "items": _run(lambda uow: canned_answers.listed(uow, g.user, desk,
                                                                                  include_retired))})


@bp.put("/desks/<desk>/canned-answers/<answer_id>")
@documented("Create (version 0), edit or retire one of the desk's canned answers (staff of the desk), against "
           "the version read (409 when someone saved in between)", path={"desk": DESK, "answer_id": _ANSWER_ID},
           body=requests.CannedAnswerSave, responses={200: responses.CannedAnswer}, refusals=(401, 403, 404, 409, 422))
@auth
def save_canned_answer(desk: str, answer_id: str):
    """Staff of the desk save one of its canned answers (`{title, body, retired, version}`)."""
    body = load_body(_CANNED_SAVE)
    return jsonify(_run(lambda uow: canned_answers.save(uow, g.user, desk, answer_id, body, _now())))


@bp.get("/desks/<desk>/rules-page")
@documented("The desk's rules page, Markdown and sanitised HTML (public: the entry page shows it)",
           path={"desk": DESK}, query=requests.RulesPageQuery, responses={200: responses.RulesPage},
           refusals=(404, 422))
def read_rules_page(desk: str):
    """The desk's rules page (`?lang=es|en`, Spanish by default): public, the portal's entry page shows it."""
    language = load_query(_RULES_PAGE_QUERY).get("lang", "es")
    return jsonify(_run(lambda uow: rules_page.read(uow, desk, language)))


@bp.put("/desks/<desk>/rules-page")
@documented("Replace the desk's rules page in one language (supervisors of the desk), against the version "
           "read (409 when someone saved in between)", path={"desk": DESK}, body=requests.RulesPageEdit,
           responses={200: responses.RulesPage}, refusals=(403, 404, 409))
@auth
def edit_rules_page(desk: str):
    """A supervisor of the desk replaces its page in one language (`{language, text, version}`)."""
    body = load_body(_RULES_PAGE_EDIT)
    return jsonify(_run(lambda uow: rules_page.edit(uow, g.user, desk, body, _now())))


# ---------------------------------------------------------------- knowledge base (issue 12)

_ARTICLE_DRAFT, _ARTICLE_EDIT = requests.ArticleDraft(), requests.ArticleEdit()
_ARTICLE_STATUS = requests.ArticleStatusChange()
ARTICLE_ID = {"type": "string", "maxLength": requests.ID_MAX}


@bp.post("/articles")
@documented("A new knowledge-base article, as a draft (agents of its desk, supervisors)",
           body=requests.ArticleDraft, responses={201: responses.ArticleChanged}, refusals=(403, 422))
@auth
def draft_article():
    """A new article of a desk and module (`{desk, module, title_es, body_es, title_en?, body_en?}`), a draft."""
    body = load_body(_ARTICLE_DRAFT)
    return jsonify(_run(lambda uow: knowledge.draft(uow, g.user, body, _now()))), 201


@bp.put("/articles/<article_id>")
@documented("Replace an article's texts (and module) against the version read; an archived article "
           "comes back as a draft, a published one stays published", path={"article_id": ARTICLE_ID},
           body=requests.ArticleEdit, responses={200: responses.ArticleChanged}, refusals=(403, 404, 409, 422))
@auth
def edit_article(article_id: str):
    """New texts for the article (`{title_es, body_es, title_en?, body_en?, module?, version}`)."""
    body = load_body(_ARTICLE_EDIT)
    return jsonify(_run(lambda uow: knowledge.edit(uow, g.user, article_id, body, _now())))


@bp.post("/articles/<article_id>/publish")
@documented("Publish an article (a draft or an archived one): customers see it, the new-ticket form "
           "suggests it", path={"article_id": ARTICLE_ID}, body=requests.ArticleStatusChange,
           responses={200: responses.ArticleChanged}, refusals=(403, 404, 409))
@auth
def publish_article(article_id: str):
    """Publish the article (`{version}`)."""
    version = load_body(_ARTICLE_STATUS)["version"]
    return jsonify(_run(lambda uow: knowledge.change_status(uow, g.user, article_id, "publish", version, _now())))


@bp.post("/articles/<article_id>/archive")
@documented("Archive an article (customers no longer see it)", path={"article_id": ARTICLE_ID},
           body=requests.ArticleStatusChange, responses={200: responses.ArticleChanged},
           refusals=(403, 404, 409))
@auth
def archive_article(article_id: str):
    """Archive the article (`{version}`)."""
    version = load_body(_ARTICLE_STATUS)["version"]
    return jsonify(_run(lambda uow: knowledge.change_status(uow, g.user, article_id, "archive", version, _now())))


_ARTICLE_OPENED = requests.ArticleOpened()


@bp.post("/articles/<article_id>/opened")
@documented("A customer opened the article from the new-ticket form's suggestions (`attempt_id`: the form's "
           "load, carried on the ticket it opens): what query counts deflections from",
           path={"article_id": ARTICLE_ID}, body=requests.ArticleOpened, responses={204: "recorded"},
           refusals=(403, 404))
@auth
def article_opened(article_id: str):
    """Record that the caller opened the article during the new-ticket form's load `attempt_id`."""
    attempt_id = load_body(_ARTICLE_OPENED)["attempt_id"]
    _run(lambda uow: knowledge.record_opened(uow, g.user, article_id, attempt_id, _now()))
    return "", 204


# ---------------------------------------------------------------- one-click answers from e-mail

resolve_bp = Blueprint("resolve", __name__)

_RESOLVE_PAGE = """<!doctype html><html lang="es"><meta charset="utf-8"><title>Mesa</title>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h1>{title_es}</h1><p>{text_es}</p><p lang="en" style="color:#555">{text_en}</p>{form}</body></html>"""


def _resolve_claims(token: str):
    ascii_token(token, violation("RESOLUTION_LINK_INVALID", "token", status=400))
    try:
        claims = link_tokens.verify(_ctx().config.link_secret, link_tokens.RESOLUTION, token, _now())
    except link_tokens.InvalidLinkToken:
        raise violation("RESOLUTION_LINK_INVALID", "token", status=400) from None
    user = _run(lambda uow: handlers.claims_of_user(uow, claims.get("u", "")))
    if user is None:
        raise violation("RESOLUTION_LINK_INVALID", "token", status=400)
    return claims["t"], user


@resolve_bp.get("/resolve/<token>")
@documented("The page a mail's \"solved\" link opens: a button, so mail scanners change nothing",
           query=[query_param("answer", {"enum": ["solved", "not_solved"]})],
           responses={200: {"description": "the page", "content": responses.HTML}}, refusals=(400,))
def resolve_page(token: str):
    """The page a "solved" link opens: a button, so that mail scanners following links change nothing."""
    number, _ = _resolve_claims(token)
    if request.args.get("answer") == "not_solved":  # the portal serves these links; this page stays usable alone
        form = ('<form method="post"><input type="hidden" name="answer" value="not_solved">'
                '<label>¿Qué falta? / What is still wrong? <textarea name="body" required></textarea></label> '
                '<button type="submit">No solucionado / Not solved</button></form>')
        return _RESOLVE_PAGE.format(title_es=f"Ticket {escape(number)}", form=form,
                                    text_es="Díganos qué falta; el ticket vuelve a la mesa.",
                                    text_en="Tell us what is still wrong; the ticket goes back to the desk.")
    form = (f'<form method="post"><input type="hidden" name="answer" value="solved">'
            f'<button type="submit">Sí, el caso {escape(number)} está resuelto / Yes, it is solved</button></form>')
    return _RESOLVE_PAGE.format(title_es=f"Ticket {escape(number)}",
                                text_es="Confirme que el caso quedó resuelto; el ticket se cerrará.",
                                text_en="Confirm the case is solved; the ticket will be closed.", form=form)


@resolve_bp.post("/resolve/<token>")
@documented("Apply the answer of a mail's link (form: `answer` solved | not_solved, `body`)",
           request_body=RESOLVE_FORM, responses={200: {"description": "the page", "content": responses.HTML}},
           refusals=(400, 403, 404, 409, 422))
def resolve(token: str):
    """Apply the answer of a mail's link: "solved" (the default), or `answer=not_solved` with `body`,
    what is still wrong (the portal's confirmation page posts either)."""
    number, user = _resolve_claims(token)
    answer = request.form.get("answer") or "solved"
    if answer not in ("solved", "not_solved"):
        raise violation("INVALID_REQUEST", "answer", status=422, detail="answer")
    text = request.form.get("body") or ""
    _run(lambda uow: handlers.confirm_resolution(uow, user, number, answer == "solved", text, _now()))
    if answer == "not_solved":
        return _RESOLVE_PAGE.format(title_es=f"Ticket {escape(number)}", form="",
                                    text_es="Lo devolvimos a la mesa con su comentario.",
                                    text_en="We sent it back to the desk with your comment.")
    return _RESOLVE_PAGE.format(title_es=f"Ticket {escape(number)} cerrado", form="",
                                text_es="Gracias por confirmar. Si el problema vuelve, abra un ticket nuevo "
                                        "citando este número.",
                                text_en="Thank you. Should the problem come back, open a new ticket quoting "
                                        "this number.")


RATE_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["rating"], "properties": {"rating": {"enum": ["good", "bad"]},
                                                             "comment": {"type": "string"}}}}}}
_RATING_WORDS = {"good": ("Buena atención", "Good service"), "bad": ("Mala atención", "Bad service")}


def _rating_claims(token: str):
    """The ticket number and the user a rating link was signed for (its own purpose and key)."""
    ascii_token(token, violation("RATING_LINK_INVALID", "token", status=400))
    try:
        claims = link_tokens.verify(_ctx().config.link_secret, link_tokens.RATING, token, _now())
    except link_tokens.InvalidLinkToken:
        raise violation("RATING_LINK_INVALID", "token", status=400) from None
    user = _run(lambda uow: handlers.claims_of_user(uow, claims.get("u", "")))
    if user is None or not isinstance(claims.get("t"), str):
        raise violation("RATING_LINK_INVALID", "token", status=400)
    return claims["t"], user


def _rating_choice(value: str | None) -> str:
    return value if value in _RATING_WORDS else "good"


@resolve_bp.get("/rate/<token>")
@documented("The page a closing mail's \"Buena atención\" / \"Mala atención\" link opens: the choice and a "
           "button, so mail scanners change nothing; 409 when the ticket was already rated",
           query=[query_param("rating", {"enum": ["good", "bad"]})],
           responses={200: {"description": "the page", "content": responses.HTML}}, refusals=(400, 403, 404, 409))
def rate_page(token: str):
    """The page a rating link opens: the choice, an optional comment and a button (opening it rates nothing)."""
    number, user = _rating_claims(token)
    _run(lambda uow: handlers.check_ratable(uow, user, number))
    rating = _rating_choice(request.args.get("rating"))
    es, en = _RATING_WORDS[rating]
    form = (f'<form method="post"><input type="hidden" name="rating" value="{rating}">'
            '<label>Comentario (opcional) / Comment (optional) <textarea name="comment" maxlength="2000">'
            f'</textarea></label> <button type="submit">Confirmar: {es} / Confirm: {en}</button></form>')
    return _RESOLVE_PAGE.format(title_es=f"Ticket {escape(number)}", form=form,
                                text_es=f"¿Cómo fue la atención? Usted escogió: {es}.",
                                text_en=f"How was the service? You chose: {en}.")


@resolve_bp.post("/rate/<token>")
@documented("Record the verdict of a closing mail's rating link (form: `rating` good | bad, `comment`)",
           request_body=RATE_FORM, responses={200: {"description": "the page", "content": responses.HTML}},
           refusals=(400, 403, 404, 409, 422))
def rate_by_link(token: str):
    """Record the rating a mail's link carries (once per ticket: a second click is refused, 409)."""
    number, user = _rating_claims(token)
    form = load(_RATING, request.form.to_dict())
    _run(lambda uow: handlers.rate_ticket(uow, user, number, form["rating"], form.get("comment"), _now()))
    return _RESOLVE_PAGE.format(title_es="¡Gracias!", form="",
                                text_es=f"Registramos su opinión sobre el ticket {escape(number)}.",
                                text_en=f"We recorded your feedback on ticket {escape(number)}.")


_PASSWORD_FORM = ('<form method="post"><label>Nueva contraseña / New password (10+): '
                  '<input type="password" name="password" minlength="10" required></label> '
                  '<button type="submit">Guardar / Save</button></form>')


def _password_claims(token: str) -> dict:
    ascii_token(token, violation("RESOLUTION_LINK_INVALID", "token", status=400))
    try:
        return link_tokens.verify(_ctx().config.link_secret, link_tokens.PASSWORD, token, _now())
    except link_tokens.InvalidLinkToken:
        raise violation("RESOLUTION_LINK_INVALID", "token", status=400) from None


@resolve_bp.get("/set-password/<token>")
@documented("The page the access-granted mail links to",
           responses={200: {"description": "the page", "content": responses.HTML}}, refusals=(400,))
def set_password_page(token: str):
    """The page the access-granted mail links to."""
    _password_claims(token)
    return _RESOLVE_PAGE.format(title_es="Mesa de ayuda", text_es="Escoja su contraseña para entrar al portal.",
                                text_en="Choose your password to log in.", form=_PASSWORD_FORM)


@resolve_bp.post("/set-password/<token>")
@documented("Set the password once per link (form: `password`)", request_body=PASSWORD_FORM,
           responses={200: {"description": "the page", "content": responses.HTML}}, refusals=(400, 409, 422))
def set_password(token: str):
    """Set the password once per link."""
    claims = _password_claims(token)
    form = load(_SET_PASSWORD, request.form.to_dict())
    _run(lambda uow: handlers.set_password(uow, claims["u"], claims["i"], form["password"], _now()))
    return _RESOLVE_PAGE.format(title_es="Contraseña guardada", form="",
                                text_es="Ya puede entrar con su correo y su contraseña.",
                                text_en="You can now log in with your e-mail and password.")
