"""The permission matrix each service's test walks (STYLE.md: "Permissions are a table, and so
are their tests"; SPEC §6: another organisation's resource is a 404, a known resource the role
may not touch is a 403).

A table is a list of `row(method, rule, request, *statuses)`: the route as Flask's url_map
spells it, the name of the request the test builds for it (several rows may share a route,
e.g. a public and an internal message), and the status each principal gets, in the order of
PRINCIPALS. A route a role can never use (an agent-only command for a customer) answers 403
before anything is looked up, the same for every ticket number, so it reveals nothing either.

Every route of an app must have a row: a new route fails `assert_table_covers` until it is
added to its service's table (one line).
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import pytest

from helpdesk_shared.auth_tokens import Claims

# Who calls. The ticket every row is about is a SOPORTE ticket of club-caracas opened by María.
PRINCIPALS = (
    "anonymous",              # no bearer token
    "customer",               # María: club-caracas, SOPORTE (the ticket's organisation)
    "customer_other_org",     # Luis: distribuidora-andina, IMPLANTACIONES
    "agent",                  # Carlos: SOPORTE (the ticket's desk)
    "agent_other_desk",       # Elena: IMPLANTACIONES
    "supervisor",             # Rosa: both desks
    "supervisor_other_desk",  # a supervisor of IMPLANTACIONES only
)

# Routes every service has that no permission applies to (public by design).
OUTSIDE_THE_TABLE = {"/healthz", "/metrics", "/openapi.json"}

# The same people as bearer claims, for services whose tokens tests mint (query, sla, notifier).
CLAIMS = {
    "customer": Claims(user_id="u-maria", role="customer", organisation_id="club-caracas", desks=("SOPORTE",),
                       name="María Pérez", email="maria@clubcaracas.com.ve"),
    "customer_other_org": Claims(user_id="u-luis", role="customer", organisation_id="distribuidora-andina",
                                 desks=("IMPLANTACIONES",), name="Luis Hernández", email="luis@andina.com.ve"),
    "agent": Claims(user_id="u-carlos", role="agent", organisation_id=None, desks=("SOPORTE",),
                    name="Carlos Soporte", email="carlos@mesa.example"),
    "agent_other_desk": Claims(user_id="u-elena", role="agent", organisation_id=None, desks=("IMPLANTACIONES",),
                               name="Elena Implantaciones", email="elena@mesa.example"),
    "supervisor": Claims(user_id="u-rosa", role="supervisor", organisation_id=None,
                         desks=("SOPORTE", "IMPLANTACIONES"), name="Rosa Supervisora", email="supervisor@mesa.example"),
    "supervisor_other_desk": Claims(user_id="u-ines", role="supervisor", organisation_id=None,
                                    desks=("IMPLANTACIONES",), name="Inés Implantaciones",
                                    email="ines@mesa.example"),
}


@dataclass(frozen=True)
class Row:
    """One request to one route and the status each principal must get."""

    method: str
    rule: str
    request: str
    expect: dict[str, int]


def row(method: str, rule: str, request: str, *statuses: int) -> Row:
    """A table row; `statuses` in the order of PRINCIPALS."""
    assert len(statuses) == len(PRINCIPALS), f"{request}: {len(statuses)} statuses for {len(PRINCIPALS)} principals"
    return Row(method, rule, request, dict(zip(PRINCIPALS, statuses)))


def cases(table: list[Row]) -> list:
    """pytest params: every row × every principal, named `request-principal`."""
    return [pytest.param(r, who, id=f"{r.request}-{who}") for r in table for who in PRINCIPALS]


def routes_of(app) -> set[tuple[str, str]]:
    """(method, rule) of every route of `app` that the table must cover."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule not in OUTSIDE_THE_TABLE and rule.endpoint != "static"
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def assert_table_covers(app, table: list[Row]) -> None:
    """Every route of the app has a row, and every row names a route the app has."""
    in_table = {(r.method, r.rule) for r in table}
    missing = routes_of(app) - in_table
    assert not missing, f"routes without a row in the permission table (add one each): {sorted(missing)}"
    stale = in_table - routes_of(app)
    assert not stale, f"rows for routes the app does not have: {sorted(stale)}"


def bearer_of(who: str, now: datetime) -> dict:
    """The Authorization header of a principal (none for the anonymous caller), minted by tests/configs."""
    from configs import bearer
    return {} if who == "anonymous" else bearer(CLAIMS[who], now)


def check(response, r: Row, who: str) -> None:
    """The response has the row's status for this principal (with the body shown when not)."""
    expected = r.expect[who]
    body = response.get_json(silent=True) if response.is_json else response.data[:200]
    assert response.status_code == expected, (
        f"{r.method} {r.rule} ({r.request}) as {who}: {response.status_code}, expected {expected}: {body}")


@contextmanager
def scratch_database(service: str):
    """An empty database kept for a whole test module (the matrix seeds fresh rows per case), then dropped."""
    from helpdesk_shared import localstack
    name = f"mesa_t{uuid.uuid4().hex[:8]}_{service}"
    url = localstack.create_database(name)
    try:
        yield url
    finally:
        localstack.drop_database(name)


def ticket_opened(number: str, now: datetime, desk: str = "SOPORTE", organisation_id: str = "club-caracas",
                  opened_by: str = "u-maria"):
    """A TicketOpened envelope (a fresh ticket id) to seed the read models of query, sla and notifier."""
    from helpdesk_shared.envelope import Actor, new_event
    ticket_id = str(uuid.uuid4())
    return new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": number, "desk": desk, "organisation_id": organisation_id,
        "opened_by": opened_by, "module": "BANCOS", "case": "Factura mal cargada en el banco Mercantil",
        "subject": "BANCOS, Factura mal cargada en el banco Mercantil", "description": "Factura 1234 duplicada.",
        "urgency": "normal", "contact": {"name": "María Pérez", "email": "maria@clubcaracas.com.ve",
                                         "phone": "+58 212 555 0100"}, "attachments": []},
        actor=Actor(opened_by, "customer"), occurred_at=now)


def record(event, offset: int = 0):
    """The event as a consumer would receive it."""
    from helpdesk_shared.kafka import Record
    return Record(topic="helpdesk.tickets", partition=0, offset=offset, event=event)


# ---------------------------------------------------------------- knowledge base (issue 12)

def article_events(now: datetime, desk: str = "SOPORTE", module: str = "BANCOS", *, title_es: str = "Conciliar",
                   body_es: str = "Abra el módulo.", publish: bool = False, archive: bool = False,
                   by: str = "u-carlos") -> list:
    """An article's events as intake writes them (a fresh id): drafted, then published and archived if asked."""
    from helpdesk_shared.envelope import Actor, new_event
    article_id = str(uuid.uuid4())
    stream, base = f"article-{article_id}", {"article_id": article_id, "desk": desk, "module": module, "by": by}
    events = [new_event("ArticleDrafted", stream, 1, {**base, "version": 1, "title_es": title_es, "body_es": body_es},
                        actor=Actor(by, "agent"), occurred_at=now)]
    for wanted, type_ in ((publish, "ArticlePublished"), (archive, "ArticleArchived")):
        if wanted:
            version = len(events) + 1
            events.append(new_event(type_, stream, version, {**base, "version": version},
                                    actor=Actor(by, "agent"), occurred_at=now))
    return events
