"""Query's HTTP API in-process on a real PostgreSQL read model fed as its consumer feeds it:
filters that fail loudly, text search, names beside ids, agents and organisations, attachments."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from configs import bearer, query_config
from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import SYSTEM, Actor, new_event
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import TOPIC_OF_EVENT
from query import store
from query.app import create_app

pytestmark = pytest.mark.integration

MARIA = Claims("u-maria", "customer", "club-caracas", ("SOPORTE",), "María Pérez", "maria@clubcaracas.com.ve")
ANA = Claims("u-ana", "customer", "country-valencia", ("SOPORTE", "IMPLANTACIONES"), "Ana Gómez",
             "ana@countryvalencia.com.ve")
CARLOS = Claims("u-carlos", "agent", None, ("SOPORTE",), "Carlos Soporte", "carlos@mesa.example")
ELENA = Claims("u-elena", "agent", None, ("IMPLANTACIONES",), "Elena Implantaciones", "elena@mesa.example")
ROSA = Claims("u-rosa", "supervisor", None, ("SOPORTE", "IMPLANTACIONES"), "Rosa Supervisora",
              "supervisor@mesa.example")
ORGANISATIONS = [("club-caracas", "Club Social Caracas", ["SOPORTE"]),
                 ("country-valencia", "Valencia Country Club", ["SOPORTE", "IMPLANTACIONES"]),
                 ("distribuidora-andina", "Distribuidora Andina, C.A.", ["IMPLANTACIONES"])]


def file(letter: str, name: str) -> dict:
    """An attachment's metadata."""
    return {"sha256": letter * 64, "name": name, "size": 100, "content_type": "image/png"}


class Feed:
    """Feeds events to query's store as its consumer would, one batch per call."""

    def __init__(self, url: str, now):
        self.url, self.now, self.offset, self.versions = url, now, 0, {}

    def __call__(self, *events) -> None:
        records = []
        for event in events:
            records.append(Record(TOPIC_OF_EVENT[event.type], 0, self.offset, event))
            self.offset += 1
        with pg.connect(self.url) as conn:
            store.apply_batch(conn, records)

    def ticket_event(self, type_: str, ticket_id: str, data: dict, actor: Actor):
        """The next event of a ticket's stream."""
        version = self.versions[ticket_id] = self.versions.get(ticket_id, 0) + 1
        return new_event(type_, ticket_id, version, data, actor=actor,
                         occurred_at=self.now + timedelta(minutes=self.offset))

    def open(self, number: str, organisation_id: str, desk: str, module: str, case: str, description: str,
             urgency: str = "normal", out_of_hours: bool = False, attachments=(), by: Claims = MARIA) -> str:
        ticket_id = f"t-{number}"
        self(self.ticket_event("TicketOpened", ticket_id, {
            "ticket_id": ticket_id, "number": number, "desk": desk, "organisation_id": organisation_id,
            "opened_by": by.user_id, "module": module, "case": case, "subject": f"{module}, {case}",
            "description": description, "urgency": urgency, "out_of_hours_requested": out_of_hours,
            "contact": {"name": by.name, "email": by.email, "phone": "+58 212 555 0100"},
            "attachments": list(attachments)}, Actor(by.user_id, by.role)))
        return ticket_id

    def message(self, ticket_id: str, by: Claims, body: str, internal: bool = False, attachments=()) -> None:
        self(self.ticket_event("MessagePosted", ticket_id, {
            "message_id": f"m{self.offset}", "author_id": by.user_id, "author_role": by.role, "body": body,
            "internal": internal, "attachments": list(attachments)}, Actor(by.user_id, by.role)))

    def assign(self, ticket_id: str, agent: Claims) -> None:
        self(self.ticket_event("TicketAssigned", ticket_id, {"agent_id": agent.user_id,
                                                              "assigned_by": agent.user_id},
                               Actor(agent.user_id, agent.role)))


def accounts(now) -> list:
    """The account events intake publishes for the organisations and people above."""
    events = [new_event("OrganisationRegistered", f"org-{o}", 1, {"organisation_id": o, "name": name, "tax_id": None,
                                                                  "desks": desks}, actor=SYSTEM, occurred_at=now)
              for o, name, desks in ORGANISATIONS]
    for person in (MARIA, ANA, CARLOS, ELENA, ROSA):
        events.append(new_event("UserRegistered", f"user-{person.user_id}", 1, {
            "user_id": person.user_id, "email": person.email, "name": person.name, "role": person.role,
            "organisation_id": person.organisation_id, "desks": list(person.desks), "language": "es",
            "phone": "+58 212 555 0100" if person.role == "customer" else None}, actor=SYSTEM, occurred_at=now))
    return events


@pytest.fixture
def feed(query_db, now) -> Feed:
    """The read model with the organisations, people and four tickets of two desks and three organisations."""
    f = Feed(query_db, now)
    f(*accounts(now))
    sop1 = f.open("SOP-1", "club-caracas", "SOPORTE", "BANCOS", "Factura mal cargada en el banco Mercantil",
                  "Al conciliar el banco la factura 1234 aparece dos veces.", attachments=[file("a", "estado.png")])
    f.message(sop1, CARLOS, "Revisamos la conciliación.", attachments=[file("b", "corregido.png")])
    f.message(sop1, CARLOS, "Nota interna: lote 77 del banco.", internal=True, attachments=[file("c", "lote.png")])
    f.assign(sop1, CARLOS)
    sop2 = f.open("SOP-2", "club-caracas", "SOPORTE", "NOMINA", "Nómina no calcula el bono nocturno",
                  "La quincena sale sin el bono de los vigilantes.", urgency="platform_down", out_of_hours=True)
    f.message(sop2, CARLOS, "Revisamos el banco de horas de los vigilantes.")
    f.open("SOP-3", "country-valencia", "SOPORTE", "FACTURACION", "Facturación de cuotas duplicada",
           "Cada socio recibió dos cuotas de mantenimiento.", by=ANA)
    f.open("IMP-1", "distribuidora-andina", "IMPLANTACIONES", "MIGRACION", "Migración de saldos iniciales",
           "Los saldos de apertura no cuadran con la factura del sistema viejo.",
           by=Claims("u-luis", "customer", "distribuidora-andina", ("IMPLANTACIONES",), "Luis", "luis@andina.com.ve"))
    return f


@pytest.fixture
def client(query_db, clock, feed):
    """Query's app in-process on the fed read model."""
    app = create_app(query_config(query_db), migrate_first=True, clock=clock)
    yield app.test_client()
    app.extensions["query"].pool.close()


def numbers(client, who: Claims, now, **params) -> list[str]:
    """The ticket numbers `who` gets listed with `params` (asserting a 200)."""
    response = client.get("/api/tickets", headers=bearer(who, now), query_string=params)
    assert response.status_code == 200, response.get_json()
    return sorted(t["number"] for t in response.get_json()["items"])


# ------------------------------------------------------------------ 19: filters fail loudly

def test_a_status_in_spanish_is_a_422_listing_the_valid_statuses_and_changes_nothing(client, now):
    response = client.get("/api/tickets?status=abierto", headers=bearer(CARLOS, now))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["field"]) == ("INVALID_FILTER", "status")
    assert body["valid"] == ["open", "waiting_customer", "closed"]
    assert "abierto" in body["message"]["es"] and "abierto" in body["message"]["en"]


def test_an_unknown_filter_is_a_422_naming_it_and_listing_the_valid_filters(client, now):
    response = client.get("/api/tickets?estado=open", headers=bearer(CARLOS, now))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["field"]) == ("UNKNOWN_FILTER", "estado")
    assert "urgency" in body["valid"] and "q" in body["valid"]


@pytest.mark.parametrize("query", ["out_of_hours=yes", "urgency=urgente", "desk=soporte", "status=open&status=closed",
                                   "q=" + "x" * 201, "assigned_to=%00", "page=0", "per_page=abc"])
def test_invalid_filter_values_are_4xx_naming_the_parameter(client, now, query):
    response = client.get(f"/api/tickets?{query}", headers=bearer(CARLOS, now))
    assert response.status_code in (400, 422)
    body = response.get_json()
    assert body["field"] == query.split("=")[0] and body["message"]["es"] and body["message"]["en"]


def test_urgency_out_of_hours_and_assigned_to_narrow_the_list(client, now):
    assert numbers(client, CARLOS, now, urgency="platform_down") == ["SOP-2"]
    assert numbers(client, CARLOS, now, out_of_hours="true") == ["SOP-2"]
    assert numbers(client, CARLOS, now, out_of_hours="false") == ["SOP-1", "SOP-3"]
    assert numbers(client, CARLOS, now, assigned_to="me") == ["SOP-1"]
    assert numbers(client, CARLOS, now, assigned_to="u-carlos") == ["SOP-1"]
    assert numbers(client, CARLOS, now, assigned_to="none") == ["SOP-2", "SOP-3"]
    assert numbers(client, CARLOS, now, status="waiting_customer", module="bancos") == ["SOP-1"]


def test_text_search_finds_words_in_subject_case_and_description_with_or_without_accents_and_plurals(client, now):
    assert numbers(client, CARLOS, now, q="facturacion") == ["SOP-3"]         # "Facturación" in the subject
    assert numbers(client, CARLOS, now, q="nomina") == ["SOP-2"]
    assert numbers(client, CARLOS, now, q="vigilante") == ["SOP-2"]           # "vigilantes" in the description
    assert numbers(client, CARLOS, now, q="facturas") == ["SOP-1", "SOP-3"]   # "factura", "facturación"
    assert numbers(client, CARLOS, now, q="factura banco") == ["SOP-1"]      # every word
    assert numbers(client, CARLOS, now, q="conciliación mercantil") == ["SOP-1"]  # "conciliar" in the description
    assert numbers(client, CARLOS, now, q="NÓMINA quincena") == ["SOP-2"]
    assert numbers(client, CARLOS, now, q="inexistente") == []


@pytest.mark.parametrize("text", ["100%", "_", "a\\b", "'; drop table tickets; --", "!&|:*()<->", '"', "de la el"])
def test_text_search_takes_any_printable_text_without_a_500(client, now, text):
    assert client.get("/api/tickets", headers=bearer(CARLOS, now), query_string={"q": text}).status_code == 200


def in_order(client, who: Claims, now, **params) -> list[str]:
    response = client.get("/api/tickets", headers=bearer(who, now), query_string=params)
    assert response.status_code == 200, response.get_json()
    return [t["number"] for t in response.get_json()["items"]]


def test_text_search_finds_a_ticket_by_its_messages_and_a_customer_never_by_an_internal_note(client, now):
    assert numbers(client, CARLOS, now, q="revisamos") == ["SOP-1", "SOP-2"]   # public answers of both
    assert numbers(client, MARIA, now, q="revisamos") == ["SOP-1", "SOP-2"]
    assert numbers(client, CARLOS, now, q="lote") == ["SOP-1"]                 # an internal note: staff only
    assert numbers(client, MARIA, now, q="lote") == []
    assert numbers(client, CARLOS, now, q="horas vigilantes") == ["SOP-2"]     # description and message together


def test_text_search_ranks_a_ticket_about_the_words_above_one_that_only_mentions_them_in_a_message(client, now):
    # SOP-2 is newer (listed first without a search), but "banco" is in SOP-1's subject and description
    # and only in one message of SOP-2.
    newest_first = in_order(client, ROSA, now)
    assert newest_first.index("SOP-2") < newest_first.index("SOP-1")
    assert in_order(client, ROSA, now, q="banco") == ["SOP-1", "SOP-2"]
    for page, expected in ((1, ["SOP-1"]), (2, ["SOP-2"]), (5, [])):   # paged in rank order, counted on any page
        body = client.get("/api/tickets", headers=bearer(ROSA, now),
                          query_string={"q": "banco", "per_page": 1, "page": page}).get_json()
        assert ([t["number"] for t in body["items"]], body["total"]) == (expected, 2)


def test_a_search_matching_more_tickets_than_it_ranks_ranks_the_newest_and_says_so(client, now, monkeypatch):
    # "banco" matches SOP-1 (subject) and the newer SOP-2 (a message); with room to rank one, the newest
    # match is the one ranked, the total is what can be paged through, and `capped` tells to narrow.
    from query import views
    monkeypatch.setattr(views, "SEARCH_RANKED_MAX", 1)
    for page, expected in ((1, ["SOP-2"]), (2, [])):
        body = client.get("/api/tickets", headers=bearer(ROSA, now),
                          query_string={"q": "banco", "page": page}).get_json()
        assert ([t["number"] for t in body["items"]], body["total"], body["capped"]) == (expected, 1, True)
    body = client.get("/api/tickets", headers=bearer(ROSA, now), query_string={"q": "nomina"}).get_json()
    assert (body["total"], body["capped"]) == (1, False)
    monkeypatch.setattr(views, "SEARCH_RANKED_MAX", 2)
    body = client.get("/api/tickets", headers=bearer(ROSA, now), query_string={"q": "banco"}).get_json()
    assert ([t["number"] for t in body["items"]], body["total"], body["capped"]) == (["SOP-1", "SOP-2"], 2, False)
    plain = client.get("/api/tickets", headers=bearer(ROSA, now)).get_json()
    assert (plain["total"], plain["capped"]) == (4, False)


def test_a_search_is_planned_for_its_own_words_each_time_never_from_a_cached_plan(query_db, feed):
    # A word on most tickets wants the newest-first index, a rare one the GIN index: a plan PostgreSQL
    # cached for the statement (psycopg prepares a query run 5 times on a connection; PostgreSQL then
    # may keep one generic plan for every word) read 10x the pages for a common word (bench/search_bench.py).
    from query import articles_store, views
    from query.articles import ArticleQuery
    from query.filters import ListQuery
    with pg.connect(query_db) as conn:
        for _ in range(12):
            assert views.list_tickets(conn, ROSA, ListQuery(text="banco"))["total"] == 2
            views.list_tickets(conn, MARIA, ListQuery(text="banco", page=3))
            articles_store.search(conn, CARLOS, ArticleQuery(words=("banco",)))
        prepared = [r["statement"] for r in conn.execute("select statement from pg_prepared_statements")]
    assert [s for s in prepared if "@@" in s] == []


def test_a_tickets_search_vectors_never_reach_an_answer(client, now):
    # thread_staff holds the words of internal notes ("lote"): neither it nor any vector is in the ticket.
    tickets = {who: client.get("/api/tickets/SOP-1", headers=bearer(who, now)).get_json() for who in (MARIA, CARLOS)}
    for ticket in tickets.values():
        assert ticket["number"] == "SOP-1"
        assert not {"search", "search_staff", "search_public", "thread_staff", "thread_public"} & set(ticket)
    assert "lote" in json.dumps(tickets[CARLOS]) and "lote" not in json.dumps(tickets[MARIA])


def test_a_long_thread_is_searched_whole_and_a_thread_past_the_vector_limit_still_applies(client, now, feed):
    # 40 messages in one batch (more than one statement folds): each is found, as when applied one by one.
    ticket = feed.open("SOP-20", "club-caracas", "SOPORTE", "BANCOS", "Conciliación de marzo", "Banco sin cuadrar.")
    first = feed.versions[ticket]
    feed(*[feed.ticket_event("MessagePosted", ticket, {
        "message_id": f"long-{i}", "author_id": CARLOS.user_id, "author_role": CARLOS.role,
        "body": f"Revisión número palabra{chr(97 + i % 26)}{chr(97 + i // 26)}", "internal": i % 2 == 1,
        "attachments": []}, Actor(CARLOS.user_id, CARLOS.role)) for i in range(40)])
    assert feed.versions[ticket] == first + 40
    assert numbers(client, CARLOS, now, q="palabraaa") == ["SOP-20"]     # the first message
    assert numbers(client, CARLOS, now, q="palabranb") == ["SOP-20"]     # the 40th (an internal note)
    assert numbers(client, MARIA, now, q="palabranb") == []
    assert numbers(client, MARIA, now, q="palabramb") == ["SOP-20"]      # the 39th, public
    # Messages of thousands of distinct words: past about 800 kB of lexemes a message is left out of
    # the vector (PostgreSQL refuses a tsvector over 1 MB); the batch applies and the ticket is found.
    rng = random.Random(7)
    for i in range(30):
        words = " ".join("".join(rng.choice("bcdfghjklmnpqrstvz") for _ in range(9)) for _ in range(2000))
        feed.message(ticket, CARLOS, f"registro{i} {words}"[:20_000])
    with pg.connect(feed.url) as conn:
        row = conn.execute("select last_version from tickets where ticket_id = %s", (ticket,)).fetchone()
    assert row["last_version"] == first + 70
    assert numbers(client, CARLOS, now, q="registro0") == ["SOP-20"]
    assert numbers(client, CARLOS, now, q="registro29") == []
    assert numbers(client, CARLOS, now, q="conciliación marzo") == ["SOP-20"]


def test_a_modules_synonyms_widen_the_search_in_that_modules_tickets_only(client, now, feed):
    # BANCOS groups "transferencia" with "deposito" (a payment); SOCIOS groups it with "traspaso" (a share
    # changing hands): the kernel catalog's groups, the ones rule 6 compares cases with.
    feed.open("SOP-9", "club-caracas", "SOPORTE", "BANCOS", "Transferencia no reflejada",
              "La transferencia del socio no aparece en el estado de cuenta.")
    feed.open("SOP-10", "club-caracas", "SOPORTE", "SOCIOS", "Transferencia de la acción",
              "La transferencia de la acción 77 no figura a nombre del nuevo socio.")
    assert numbers(client, CARLOS, now, q="deposito") == ["SOP-9"]
    assert numbers(client, CARLOS, now, q="traspaso") == ["SOP-10"]
    assert numbers(client, CARLOS, now, q="transferencia") == ["SOP-10", "SOP-9"]
    assert numbers(client, CARLOS, now, q="deposito socio") == ["SOP-9"]     # every word still counts
    assert numbers(client, ANA, now, q="deposito") == []                      # not her organisation's
    # The module's own lexeme in the vectors (migration 0007) is out of reach of typed words.
    assert numbers(client, CARLOS, now, q="mod:BANCOS") == numbers(client, CARLOS, now, q="'mod:BANCOS'") == []


def test_every_filter_and_the_search_stay_within_what_the_caller_may_see(client, now):
    assert numbers(client, MARIA, now, q="factura") == ["SOP-1"]               # not Valencia's SOP-3 nor IMP-1
    assert numbers(client, MARIA, now, organisation_id="country-valencia") == []
    assert numbers(client, ELENA, now, q="factura") == ["IMP-1"]
    assert numbers(client, CARLOS, now, desk="IMPLANTACIONES") == []
    assert numbers(client, ROSA, now, q="factura") == ["IMP-1", "SOP-1", "SOP-3"]


# ------------------------------------------------------------------ 20: names beside ids

def test_the_list_shows_the_assignee_and_organisation_names_beside_their_ids(client, now):
    items = client.get("/api/tickets?module=BANCOS", headers=bearer(CARLOS, now)).get_json()["items"]
    assert (items[0]["assigned_to"], items[0]["assigned_to_name"]) == ("u-carlos", "Carlos Soporte")
    assert items[0]["organisation_name"] == "Club Social Caracas"


def test_the_ticket_shows_who_wrote_each_entry_and_who_has_it(client, now):
    ticket = client.get("/api/tickets/SOP-1", headers=bearer(MARIA, now)).get_json()
    assert ticket["assigned_to_name"] == "Carlos Soporte" and ticket["organisation_name"] == "Club Social Caracas"
    assert ticket["opened_by_name"] == "María Pérez"
    assert [e["author_name"] for e in ticket["thread"]] == ["María Pérez", "Carlos Soporte"]
    assert "search" not in ticket


def test_an_unknown_author_has_no_name_rather_than_no_entry(client, now, feed):
    feed.message("t-SOP-2", Claims("u-nuevo", "agent", None, ("SOPORTE",), "", ""), "Hola")
    thread = client.get("/api/tickets/SOP-2", headers=bearer(CARLOS, now)).get_json()["thread"]
    assert [(e["author_id"], e["author_name"]) for e in thread] == [("u-maria", "María Pérez"),
                                                                    ("u-carlos", "Carlos Soporte"), ("u-nuevo", None)]


# ------------------------------------------------------------------ 20: attachments of the whole thread

def test_a_tickets_attachments_include_those_added_in_messages_and_internal_ones_only_for_staff(client, now):
    as_agent = client.get("/api/tickets/SOP-1", headers=bearer(CARLOS, now)).get_json()["attachments"]
    assert [(a["name"], a["added_by_name"], a["internal"]) for a in as_agent] == [
        ("estado.png", "María Pérez", False), ("corregido.png", "Carlos Soporte", False),
        ("lote.png", "Carlos Soporte", True)]
    assert as_agent[1]["sha256"] == "b" * 64 and as_agent[1]["stream_version"] == 2
    as_customer = client.get("/api/tickets/SOP-1", headers=bearer(MARIA, now)).get_json()["attachments"]
    assert [a["name"] for a in as_customer] == ["estado.png", "corregido.png"]


# ------------------------------------------------------------------ 20: agents and organisations

def test_an_agent_lists_the_agents_of_his_desk_to_assign_a_ticket(client, now):
    response = client.get("/api/desks/SOPORTE/agents", headers=bearer(CARLOS, now))
    assert response.status_code == 200
    assert [(a["id"], a["name"], a["role"]) for a in response.get_json()["items"]] == [
        ("u-carlos", "Carlos Soporte", "agent"), ("u-rosa", "Rosa Supervisora", "supervisor")]


@pytest.mark.parametrize("who, desk, status", [(CARLOS, "IMPLANTACIONES", 403), (MARIA, "SOPORTE", 403),
                                               (ELENA, "SOPORTE", 403), (ROSA, "IMPLANTACIONES", 200),
                                               (CARLOS, "VENTAS", 404)])
def test_only_staff_of_the_desk_list_its_agents(client, now, who, desk, status):
    response = client.get(f"/api/desks/{desk}/agents", headers=bearer(who, now))
    assert response.status_code == status
    if status != 200:
        assert response.get_json()["message"]["es"] and response.get_json()["message"]["en"]


def test_listing_agents_or_organisations_needs_a_login(client):
    assert client.get("/api/desks/SOPORTE/agents").status_code == 401
    assert client.get("/api/organisations").status_code == 401


def organisations(client, who, now) -> list[str]:
    response = client.get("/api/organisations", headers=bearer(who, now))
    assert response.status_code == 200
    return [o["id"] for o in response.get_json()["items"]]


def test_staff_list_the_organisations_of_their_desks_and_a_customer_only_his_own(client, now):
    assert organisations(client, CARLOS, now) == ["club-caracas", "country-valencia"]
    assert organisations(client, ELENA, now) == ["distribuidora-andina", "country-valencia"]
    assert organisations(client, ROSA, now) == ["club-caracas", "distribuidora-andina", "country-valencia"]
    assert organisations(client, MARIA, now) == ["club-caracas"]


def test_staff_see_an_organisations_customers_to_file_a_ticket_for_one_and_a_customer_sees_no_list(client, now):
    club = client.get("/api/organisations", headers=bearer(CARLOS, now)).get_json()["items"][0]
    assert club["name"] == "Club Social Caracas" and club["desks"] == ["SOPORTE"]
    assert club["customers"] == [{"id": "u-maria", "name": "María Pérez", "email": "maria@clubcaracas.com.ve",
                                  "phone": "+58 212 555 0100"}]
    own = client.get("/api/organisations", headers=bearer(MARIA, now)).get_json()["items"][0]
    assert own == {"id": "club-caracas", "name": "Club Social Caracas", "desks": ["SOPORTE"]}


def test_a_replayed_account_event_changes_no_row_and_counts_as_skipped(query_db, now, feed):
    feed(*accounts(now))
    with pg.connect(query_db) as conn:
        stats = {r["name"]: (r["applied"], r["skipped"])
                 for r in conn.execute("select name, applied, skipped from projection_stats")}
        people = conn.execute("select count(*) as n from users").fetchone()["n"]
    assert stats["accounts"] == (8, 8) and people == 5
    assert stats["tickets"][1] == 0  # account events are not counted as skipped ticket events
