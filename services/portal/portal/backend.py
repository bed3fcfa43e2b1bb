"""The portal's adapter to the other services: intake's commands, query's and sla's reads.

Every call carries the reader's bearer token and the request's correlation id; the portal
holds no data of its own. An answer is returned as it came (status and JSON body), so the
pages decide what a refusal means; a service that does not answer is `Unavailable`.
"""
from __future__ import annotations

import contextvars
import http.cookiejar
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import requests

from helpdesk_shared import forwarding

from .config import Config


_POOL: list[ThreadPoolExecutor] = []  # made on first use: after gunicorn's fork, never at import
_POOL_LOCK = threading.Lock()


def together(**calls: Callable[[], "Reply"]) -> dict:
    """Run a page's independent backend calls at once and return their replies by name: the page
    waits for the slowest call, not for their sum. Each runs in a copy of the caller's context (the
    request's: the browser's address for intake); an `Unavailable` is raised here, in the caller."""
    if len(calls) == 1:
        return {name: call() for name, call in calls.items()}
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="portal-backend"))
    futures = {name: _POOL[0].submit(contextvars.copy_context().run, call) for name, call in calls.items()}
    return {name: future.result() for name, future in futures.items()}


_SESSIONS = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session, made once (a request's thread and the `together` pool's).

    No cookies, and `trust_env` off: the services are the portal's neighbours, so no HTTP(S)_PROXY or ~/.netrc of the
    machine stands between them, and no call looks them up again (with a Session made per call, as
    `requests.request` does, those lookups were a third of the portal's time in its backend calls:
    py-spy on bench/portal_pages.py). Connections are not kept: the services' gunicorn workers are
    sync workers, which close each one after its answer."""
    found = getattr(_SESSIONS, "session", None)
    if found is None:
        found = _SESSIONS.session = requests.Session()
        found.trust_env = False
        # It calls on behalf of many readers: no cookie a service sets is kept for the next call.
        found.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return found


class Unavailable(Exception):
    """A service did not answer (down, restarting, timed out)."""


@dataclass(frozen=True)
class Reply:
    """A service's answer: its status and JSON body (an empty dict when it had none)."""

    status: int
    body: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    content: bytes = b""

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


class Backend:
    """HTTP calls to intake, query and sla on behalf of one reader (token given per call)."""

    def __init__(self, config: Config, client_address: Callable[[], str | None] = lambda: None):
        self.config = config
        # The browser's address, forwarded signed to intake, whose per-address limits would
        # otherwise count every customer as the portal's one address.
        self.client_address = client_address

    def _call(self, method: str, url: str, token: str | None, correlation_id: str | None = None,
              raw: bool = False, **kwargs) -> Reply:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        address = self.client_address()
        if address and url.startswith(self.config.intake_url):
            headers.update(forwarding.headers(self.config.forward_secret, address))
        try:
            r = _session().request(method, url, headers=headers, timeout=self.config.backend_timeout_seconds,
                                   **kwargs)
        except requests.RequestException as err:
            raise Unavailable(f"{method} {url}: {err}") from err
        if r.status_code >= 500 and r.status_code != 503:
            raise Unavailable(f"{method} {url}: {r.status_code}")
        if raw:
            return Reply(r.status_code, {}, dict(r.headers), r.content)
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {}
        if r.status_code == 503:
            raise Unavailable(f"{method} {url}: 503")
        return Reply(r.status_code, body if isinstance(body, dict) else {"items": body})

    # ------------------------------------------------------------------ intake (commands)

    def login(self, email: str, password: str, cid=None) -> Reply:
        """POST /api/auth/login."""
        return self._call("POST", f"{self.config.intake_url}/api/auth/login", None, cid,
                          json={"email": email, "password": password})

    def logout(self, token: str, cid=None) -> Reply:
        """POST /api/auth/logout (ends every token of the user)."""
        return self._call("POST", f"{self.config.intake_url}/api/auth/logout", token, cid)

    def request_access(self, body: dict, cid=None) -> Reply:
        """POST /api/access-requests (no token: "No tengo usuario")."""
        return self._call("POST", f"{self.config.intake_url}/api/access-requests", None, cid, json=body)

    def upload(self, token: str, name: str, content: bytes, content_type: str, cid=None) -> Reply:
        """POST /api/attachments (multipart `file`)."""
        return self._call("POST", f"{self.config.intake_url}/api/attachments", token, cid,
                          files={"file": (name, content, content_type or "application/octet-stream")})

    def open_ticket(self, token: str, body: dict, idempotency_key: str, cid=None) -> Reply:
        """POST /api/tickets."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets", token, cid, json=body,
                          headers={"Idempotency-Key": idempotency_key})

    def intake_ticket(self, token: str, number: str, cid=None) -> Reply:
        """GET /api/tickets/{number} on intake (the write side's summary, current at once)."""
        return self._call("GET", f"{self.config.intake_url}/api/tickets/{number}", token, cid)

    def post_message(self, token: str, number: str, body: dict, idempotency_key: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/messages."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/messages", token, cid, json=body,
                          headers={"Idempotency-Key": idempotency_key})

    def resolution(self, token: str, number: str, solved: bool, text: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/resolution (rule 8)."""
        body = {"solved": solved, **({"body": text} if text else {})}
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/resolution", token, cid, json=body)

    def attachment(self, token: str, number: str, sha256: str, cid=None) -> Reply:
        """GET /api/tickets/{number}/attachments/{sha256}: the file's bytes and headers."""
        return self._call("GET", f"{self.config.intake_url}/api/tickets/{number}/attachments/{sha256}", token, cid,
                          raw=True)

    def check_link(self, kind: str, token: str, cid=None) -> Reply:
        """GET intake's /resolve/<token> or /set-password/<token>: 200 while the mailed link is valid."""
        return self._call("GET", f"{self.config.intake_url}/{kind}/{token}", None, cid)

    def resolve_link(self, token: str, answer: str, text: str, cid=None) -> Reply:
        """POST intake's /resolve/<token>: the mail's "solved" / "not solved" answer, signed by its link."""
        return self._call("POST", f"{self.config.intake_url}/resolve/{token}", None, cid,
                          data={"answer": answer, **({"body": text} if text else {})})

    def rate_link(self, token: str, rating: str, comment: str, cid=None) -> Reply:
        """POST intake's /rate/<token>: the closing mail's "Buena atención" / "Mala atención", signed by its link."""
        return self._call("POST", f"{self.config.intake_url}/rate/{token}", None, cid,
                          data={"rating": rating, **({"comment": comment} if comment else {})})

    def rate(self, token: str, number: str, rating: str, comment: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/rating: the requester's verdict on a ticket closed as solved."""
        body = {"rating": rating, **({"comment": comment} if comment else {})}
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/rating", token, cid, json=body)

    def set_password(self, token: str, password: str, cid=None) -> Reply:
        """POST intake's /set-password/<token> (the access-granted mail's link)."""
        return self._call("POST", f"{self.config.intake_url}/set-password/{token}", None, cid,
                          data={"password": password})

    def request_training(self, token: str, body: dict, cid=None) -> Reply:
        """POST /api/training-requests (rule 10: an induction course)."""
        return self._call("POST", f"{self.config.intake_url}/api/training-requests", token, cid, json=body)

    def announce_special_process(self, token: str, body: dict, cid=None) -> Reply:
        """POST /api/special-processes (announced in advance, it makes that urgency possible)."""
        return self._call("POST", f"{self.config.intake_url}/api/special-processes", token, cid, json=body)

    def away(self, token: str, number: str, body: dict, cid=None) -> Reply:
        """POST /api/tickets/{number}/away ("Me tengo que ausentar")."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/away", token, cid, json=body)

    # ------------------------------------------------------------------ supervisors: catalogs, organisations, users

    def desk_modules(self, token: str, desk: str, cid=None) -> Reply:
        """GET /api/desks/{desk}/modules on intake: the desk's module catalog now."""
        return self._call("GET", f"{self.config.intake_url}/api/desks/{desk}/modules", token, cid)

    def change_desk_modules(self, token: str, desk: str, body: dict, cid=None) -> Reply:
        """PUT /api/desks/{desk}/modules (supervisors; 409 when edited meanwhile)."""
        return self._call("PUT", f"{self.config.intake_url}/api/desks/{desk}/modules", token, cid, json=body)

    def organisations_admin(self, token: str, cid=None) -> Reply:
        """GET /api/organisations on intake: the supervisor's organisations with their users, and staff."""
        return self._call("GET", f"{self.config.intake_url}/api/organisations", token, cid)

    def create_organisation(self, token: str, body: dict, cid=None) -> Reply:
        """POST /api/organisations (supervisors)."""
        return self._call("POST", f"{self.config.intake_url}/api/organisations", token, cid, json=body)

    def create_user(self, token: str, body: dict, cid=None) -> Reply:
        """POST /api/users (supervisors): the new user is mailed a set-password link."""
        return self._call("POST", f"{self.config.intake_url}/api/users", token, cid, json=body)

    def update_user(self, token: str, user_id: str, body: dict, cid=None) -> Reply:
        """PATCH /api/users/{user_id} (supervisors: disable, desks, role)."""
        return self._call("PATCH", f"{self.config.intake_url}/api/users/{user_id}", token, cid, json=body)

    # ------------------------------------------------------------------ content supervisors edit (portal.content)

    def canned_answers(self, token: str, desk: str, cid=None, include_retired: bool = False) -> Reply:
        """GET intake's /api/desks/{desk}/canned-answers (staff of the desk)."""
        return self._call("GET", f"{self.config.intake_url}/api/desks/{desk}/canned-answers", token, cid,
                          params={"include_retired": "true"} if include_retired else None)

    def save_canned_answer(self, token: str, desk: str, answer_id: str, body: dict, cid=None) -> Reply:
        """PUT intake's /api/desks/{desk}/canned-answers/{answer_id} (`{title, body, retired, version}`)."""
        return self._call("PUT", f"{self.config.intake_url}/api/desks/{desk}/canned-answers/{answer_id}", token, cid,
                          json=body)

    def rules_page(self, desk: str, language: str, cid=None) -> Reply:
        """GET intake's /api/desks/{desk}/rules-page?lang= (public: the entry page shows it)."""
        return self._call("GET", f"{self.config.intake_url}/api/desks/{desk}/rules-page", None, cid,
                          params={"lang": language})

    def edit_rules_page(self, token: str, desk: str, body: dict, cid=None) -> Reply:
        """PUT intake's /api/desks/{desk}/rules-page (`{language, text, version}`; supervisors)."""
        return self._call("PUT", f"{self.config.intake_url}/api/desks/{desk}/rules-page", token, cid, json=body)

    def mail_templates(self, token: str, cid=None) -> Reply:
        """GET the notifier's /api/templates (staff)."""
        return self._call("GET", f"{self.config.notifier_url}/api/templates", token, cid)

    def mail_template(self, token: str, name: str, language: str, cid=None) -> Reply:
        """GET the notifier's /api/templates/{name}/{lang}: its text, default and override (supervisors)."""
        return self._call("GET", f"{self.config.notifier_url}/api/templates/{name}/{language}", token, cid)

    def preview_mail_template(self, token: str, name: str, language: str, body: dict, cid=None) -> Reply:
        """POST the notifier's /api/templates/{name}/{lang}/preview: a text rendered with a sample, not saved."""
        return self._call("POST", f"{self.config.notifier_url}/api/templates/{name}/{language}/preview", token, cid,
                          json=body)

    def save_mail_template(self, token: str, name: str, language: str, body: dict, cid=None) -> Reply:
        """PUT the notifier's /api/templates/{name}/{lang} (`{subject, body, version}`; supervisors)."""
        return self._call("PUT", f"{self.config.notifier_url}/api/templates/{name}/{language}", token, cid, json=body)

    def reset_mail_template(self, token: str, name: str, language: str, version: int, cid=None) -> Reply:
        """DELETE the notifier's /api/templates/{name}/{lang}?version=: back to the packaged text."""
        return self._call("DELETE", f"{self.config.notifier_url}/api/templates/{name}/{language}", token, cid,
                          params={"version": version})

    # ------------------------------------------------------------------ knowledge base (issue 12)

    def articles(self, token: str, params: dict, cid=None) -> Reply:
        """GET /api/articles on query (desk, module, status, cursor, limit)."""
        return self._call("GET", f"{self.config.query_url}/api/articles", token, cid, params=params)

    def search_articles(self, token: str, params: dict, cid=None) -> Reply:
        """GET /api/articles/search on query (q and the list's filters): ranked."""
        return self._call("GET", f"{self.config.query_url}/api/articles/search", token, cid, params=params)

    def suggest_articles(self, token: str, desk: str, text: str, cid=None) -> Reply:
        """GET /api/articles/suggestions on query: the new-ticket form's top 5 for the text typed."""
        return self._call("GET", f"{self.config.query_url}/api/articles/suggestions", token, cid,
                          params={"desk": desk, "text": text})

    def article(self, token: str, article_id: str, cid=None) -> Reply:
        """GET /api/articles/{id} on query."""
        return self._call("GET", f"{self.config.query_url}/api/articles/{article_id}", token, cid)

    def draft_article(self, token: str, body: dict, cid=None) -> Reply:
        """POST /api/articles on intake: a new draft."""
        return self._call("POST", f"{self.config.intake_url}/api/articles", token, cid, json=body)

    def edit_article(self, token: str, article_id: str, body: dict, cid=None) -> Reply:
        """PUT /api/articles/{id} on intake (against the version read)."""
        return self._call("PUT", f"{self.config.intake_url}/api/articles/{article_id}", token, cid, json=body)

    def change_article_status(self, token: str, article_id: str, action: str, version: int, cid=None) -> Reply:
        """POST /api/articles/{id}/publish or /archive on intake (against the version read)."""
        return self._call("POST", f"{self.config.intake_url}/api/articles/{article_id}/{action}", token, cid,
                          json={"version": version})

    def deflections(self, token: str, params: dict, cid=None) -> Reply:
        """GET /api/reports/deflections on query (desk): per article and module, as of now."""
        return self._call("GET", f"{self.config.query_url}/api/reports/deflections", token, cid, params=params)

    def article_opened(self, token: str, article_id: str, attempt_id: str, cid=None) -> Reply:
        """POST /api/articles/{id}/opened on intake: a suggestion opened during a new-ticket form's load."""
        return self._call("POST", f"{self.config.intake_url}/api/articles/{article_id}/opened", token, cid,
                          json={"attempt_id": attempt_id})

    # ------------------------------------------------------------------ query and sla (reads)

    def tickets(self, token: str, params: dict, cid=None) -> Reply:
        """GET /api/tickets on query with filters."""
        return self._call("GET", f"{self.config.query_url}/api/tickets", token, cid, params=params)

    def ticket(self, token: str, number: str, cid=None) -> Reply:
        """GET /api/tickets/{number} on query: the ticket with its thread."""
        return self._call("GET", f"{self.config.query_url}/api/tickets/{number}", token, cid)

    # ------------------------------------------------------------------ staff desk (issue 9: queue, ticket controls)

    def desk_queue(self, token: str, desk: str, params: dict, cid=None) -> Reply:
        """GET /api/desks/{desk}/queue on query: flag, module, assigned_to, cursor, limit."""
        return self._call("GET", f"{self.config.query_url}/api/desks/{desk}/queue", token, cid, params=params)

    def desk_auto_close(self, token: str, desk: str, cid=None) -> Reply:
        """GET /api/desks/{desk}/auto-close on query: what auto-closes within the next business day."""
        return self._call("GET", f"{self.config.query_url}/api/desks/{desk}/auto-close", token, cid)

    def desk_agents(self, token: str, desk: str, cid=None) -> Reply:
        """GET /api/desks/{desk}/agents on query: whom a ticket of the desk can be given to."""
        return self._call("GET", f"{self.config.query_url}/api/desks/{desk}/agents", token, cid)

    def timeline(self, token: str, number: str, params: dict | None = None, cid=None) -> Reply:
        """GET /api/tickets/{number}/timeline on query (staff of its desk)."""
        return self._call("GET", f"{self.config.query_url}/api/tickets/{number}/timeline", token, cid,
                          params=params or {})

    def assign(self, token: str, number: str, agent_id: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/assignment on intake."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/assignment", token, cid,
                          json={"agent_id": agent_id} if agent_id else {})

    def close(self, token: str, number: str, reason: str, note: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/close on intake."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/close", token, cid,
                          json={"reason": reason, **({"note": note} if note else {})})

    def mark_billable(self, token: str, number: str, billable: bool, note: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/billable on intake."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/billable", token, cid,
                          json={"billable": billable, **({"note": note} if note else {})})

    def merge(self, token: str, number: str, target: str, note: str, idempotency_key: str, cid=None) -> Reply:
        """POST /api/tickets/{number}/merge on intake (issue 12): the duplicate into the open ticket `target`."""
        return self._call("POST", f"{self.config.intake_url}/api/tickets/{number}/merge", token, cid,
                          json={"target": target, **({"note": note} if note else {})},
                          headers={"Idempotency-Key": idempotency_key})
    # ------------------------------------------------------------------ supervisors' pages (portal.supervisor)

    def sla_read(self, token: str, path: str, cid=None) -> Reply:
        """GET an sla admin route (`/api/calendars`, `/api/policies`)."""
        return self._call("GET", f"{self.config.sla_url}{path}", token, cid)

    def sla_change(self, token: str, path: str, body: dict, cid=None) -> Reply:
        """PUT an sla admin route (`/api/calendars/<desk>`, `/api/policies/<desk>/<class>`)."""
        return self._call("PUT", f"{self.config.sla_url}{path}", token, cid, json=body)

    def report(self, token: str, path: str, params: dict, cid=None) -> Reply:
        """GET a query report (`/api/reports/...`, `/api/desks/<desk>/workload`) with its filters."""
        return self._call("GET", f"{self.config.query_url}{path}", token, cid, params=params)

    def report_download(self, token: str, path: str, params: dict, cid=None):
        """GET a query download as it comes: (status, headers, an iterator of its bytes). The caller
        streams the bytes on and the iterator closes the connection when done."""
        headers = {"Authorization": f"Bearer {token}", **({"X-Correlation-Id": cid} if cid else {})}
        try:
            r = requests.get(f"{self.config.query_url}{path}", params=params, headers=headers, stream=True,
                             timeout=self.config.backend_timeout_seconds)
        except requests.RequestException as err:
            raise Unavailable(f"GET {path}: {err}") from err
        if r.status_code >= 500:
            r.close()
            raise Unavailable(f"GET {path}: {r.status_code}")

        def chunks():
            try:
                yield from r.iter_content(chunk_size=64 * 1024)
            finally:
                r.close()
        return r.status_code, dict(r.headers), chunks()

    # ------------------------------------------------------------------ access requests (staff; portal/access.py)

    def access_requests(self, token: str, cid=None) -> Reply:
        """GET /api/access-requests on intake: pending requests of the caller's desks."""
        return self._call("GET", f"{self.config.intake_url}/api/access-requests", token, cid)

    def grant_access(self, token: str, request_id: str, organisation_id: str, cid=None) -> Reply:
        """POST /api/access-requests/{id}/grant: the user is created and mailed a set-password link."""
        return self._call("POST", f"{self.config.intake_url}/api/access-requests/{request_id}/grant", token, cid,
                          json={"organisation_id": organisation_id})

    def reject_access(self, token: str, request_id: str, reason: str, cid=None) -> Reply:
        """POST /api/access-requests/{id}/reject with the reason."""
        return self._call("POST", f"{self.config.intake_url}/api/access-requests/{request_id}/reject", token, cid,
                          json={"reason": reason})

    def organisations(self, token: str, cid=None) -> Reply:
        """GET /api/organisations on query (staff: their desks' organisations)."""
        return self._call("GET", f"{self.config.query_url}/api/organisations", token, cid)

    # ------------------------------------------------------------------ health (the portal's /healthz)

    def probe(self, service: str, timeout: float = 0.6) -> dict:
        """Whether `service` ("intake", "query", "sla") answers its /healthz: {"ok", "status"?, "error"?}.
        Short timeout: the portal's own probe must stay under 2 s with all three away."""
        url = {"intake": self.config.intake_url, "query": self.config.query_url, "sla": self.config.sla_url}[service]
        try:
            r = requests.get(f"{url}/healthz", timeout=timeout)
        except requests.RequestException as err:
            return {"ok": False, "error": type(err).__name__}
        try:
            status = r.json().get("status")
        except ValueError:
            status = None
        return {"ok": r.status_code == 200, "status": status or str(r.status_code)}
