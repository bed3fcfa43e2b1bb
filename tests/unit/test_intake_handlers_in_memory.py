"""Every rule and permission check of intake's command handlers, through the in-memory unit of
work (`intake.memory`): no database, so each is a fast unit test. The SQL behind the same
repositories is proven once on PostgreSQL in tests/integration/test_intake_repositories.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher

from helpdesk_shared import lifecycle
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import SYSTEM, Actor, new_event
from helpdesk_shared.errors import NotFound, RuleViolation
from intake import admin, attachments, domain, handlers, rules_page, throttle, unit_of_work
from intake.catalog import DESKS
from intake.memory import InMemoryUnitOfWork
from intake.unit_of_work import VersionConflict
from samples import ticket_body

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in Caracas
PASSWORD = "mesa-demo"
# argon2 is slow on purpose; these tests check the rules around it, so they hash cheaply.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_HASH = _CHEAP.hash(PASSWORD)

ORGANISATIONS = {"club-caracas": ["SOPORTE"], "country-valencia": ["SOPORTE", "IMPLANTACIONES"],
                 "distribuidora-andina": ["IMPLANTACIONES"], "solo-soporte": ["SOPORTE"]}
USERS = {  # name: (role, organisation, desks)
    "maria": ("customer", "club-caracas", ["SOPORTE"]),
    "jose": ("customer", "club-caracas", ["SOPORTE"]),
    "ana": ("customer", "country-valencia", ["SOPORTE", "IMPLANTACIONES"]),
    "peter": ("customer", "country-valencia", ["SOPORTE"]),
    "luis": ("customer", "distribuidora-andina", ["IMPLANTACIONES"]),
    "carlos": ("agent", None, ["SOPORTE"]),
    "elena": ("agent", None, ["IMPLANTACIONES"]),
    "rosa": ("supervisor", None, ["SOPORTE", "IMPLANTACIONES"]),
    "sofia": ("supervisor", None, ["IMPLANTACIONES"]),
}


class World:
    """An in-memory intake with the demo's organisations and users, and their claims by first name."""

    def __init__(self):
        self.uow = InMemoryUnitOfWork()
        for organisation_id, desks in ORGANISATIONS.items():
            self.uow.organisations.add({"id": organisation_id, "name": organisation_id.title(), "tax_id": None,
                                        "desks": desks})
        for name, (role, organisation_id, desks) in USERS.items():
            self.uow.users.add({"id": f"u-{name}", "email": f"{name}@example.com", "name": name.title(),
                                "role": role, "organisation_id": organisation_id, "desks": desks,
                                "language": "es", "phone": None, "password_hash": _HASH})

    def __getattr__(self, name: str) -> Claims:
        if name not in USERS:
            raise AttributeError(name)
        return domain.claims_of_row(self.uow.users.get(f"u-{name}"))

    def open(self, user: Claims, body: dict | None = None, now: datetime = NOW) -> str:
        """Open a ticket (a valid one by default) and return its number."""
        return handlers.open_ticket(self.uow, user, body or ticket_body(), now).data["number"]

    def events(self, type_: str | None = None) -> list:
        return [e for e in self.uow.streams.all() if type_ in (None, e.type)]

    def upload(self, user: Claims, size: int = 1000, sha256: str | None = None) -> str:
        meta = handlers.record_upload(self.uow, user, sha256=sha256 or uuid.uuid4().hex * 2, name="captura.png",
                                      size=size, content_type="image/png", now=NOW)
        return meta["upload_id"]


@pytest.fixture
def w(monkeypatch) -> World:
    """The world, with intake's password hasher (and its hash for unknown e-mails) made cheap."""
    monkeypatch.setattr(handlers, "_hasher", _CHEAP)
    monkeypatch.setattr(handlers, "_DUMMY_HASH", _CHEAP.hash("not a password"))
    return World()


def refused(call, code: str, field: str | None = "__any__", status: int | None = None) -> RuleViolation:
    """Run `call`, which must raise the rule violation `code` (and the field and status, when given)."""
    with pytest.raises(RuleViolation) as err:
        call()
    assert err.value.code == code, err.value.as_dict()
    if field != "__any__":
        assert err.value.field == field
    if status is not None:
        assert err.value.status == status
    return err.value


def unchanged(w: World, call, code: str, **kw) -> RuleViolation:
    """A refused command appends no event and writes no ticket (in a unit of work, as a request runs)."""
    events, tickets = len(w.events()), dict(w.uow.tickets.rows)

    def in_transaction():
        with w.uow:
            call()
    violation = refused(in_transaction, code, **kw)
    assert len(w.events()) == events and w.uow.tickets.rows == tickets
    return violation


# ---------------------------------------------------------------- opening: rules 3, 4, 5

def test_a_valid_ticket_opens_with_one_event_and_its_index_row(w):
    opened = handlers.open_ticket(w.uow, w.maria, ticket_body(), NOW)
    assert opened.type == "TicketOpened" and opened.data["number"] == "SOP-1"
    assert (opened.data["module"], opened.data["urgency"], opened.data["organisation_id"]) == \
        ("BANCOS", "normal", "club-caracas")
    assert w.uow.tickets.by_number("SOP-1")["status"] == lifecycle.OPEN
    assert [e.type for e in w.events()] == ["TicketOpened"]


@pytest.mark.parametrize("subject", ["BANCOS, Urgente", "BANCOS, ayuda por favor", "BANCOS, error",
                                     "BANCOS, FACTURA MAL CARGADA EN EL BANCO", "BANCOS, problema grave"])
def test_rule_4_a_vague_subject_is_refused_and_nothing_is_stored(w, subject):
    unchanged(w, lambda: w.open(w.maria, ticket_body() | {"subject": subject}), "R4_VAGUE_SUBJECT", field="subject")


def test_rule_4_a_subject_without_module_and_comma_is_refused(w):
    unchanged(w, lambda: w.open(w.maria, ticket_body() | {"subject": "Factura mal cargada en el banco"}),
              "R4_SUBJECT_FORMAT", field="subject")


def test_rule_4_a_module_outside_the_desks_catalog_is_refused(w):
    unchanged(w, lambda: w.open(w.maria, ticket_body(module="COCINA")), "R4_UNKNOWN_MODULE", field="subject")


def test_rule_4_a_module_the_supervisor_retired_is_refused_on_new_tickets(w):
    desk = DESKS["SOPORTE"]
    entries = [m.as_dict() | {"retired": m.code == "BANCOS" or m.retired} for m in desk.entries]
    w.uow.catalogs.save(desk.with_modules(entries, desk.version + 1))
    unchanged(w, lambda: w.open(w.maria), "R4_MODULE_RETIRED", field="subject")


def test_rule_4_urgency_words_are_dropped_from_the_stored_case(w):
    opened = handlers.open_ticket(w.uow, w.maria, ticket_body("URGENTE!!! Factura mal cargada en el banco Mercantil"),
                                  NOW)
    assert opened.data["case"] == "Factura mal cargada en el banco Mercantil"
    assert opened.data["urgency"] == "normal"


@pytest.mark.parametrize("description, code", [("", "R5_DESCRIPTION_REQUIRED"),
                                               ("No funciona el banco", "R5_DESCRIPTION_THIN")])
def test_rule_5_a_missing_or_thin_description_is_refused(w, description, code):
    unchanged(w, lambda: w.open(w.maria, ticket_body(description=description)), code, field="description")


@pytest.mark.parametrize("field, value", [("member_number", "no es un número!"), ("dates", ["ayer"]),
                                          ("vouchers", [""]), ("menu_path", "x" * 301)])
def test_rule_5_an_invalid_structured_field_is_refused(w, field, value):
    unchanged(w, lambda: w.open(w.maria, ticket_body(**{field: value})), "R5_FIELD_INVALID", field=field)


@pytest.mark.parametrize("contact, field", [(None, "contact"), ({"name": "María", "email": "maria@x.com"},
                                                                "contact.phone"),
                                            ({"name": "María", "email": "no-es-correo", "phone": "+58 212 555 0100"},
                                             "contact.email")])
def test_rule_3_contact_name_email_and_phone_are_required(w, contact, field):
    unchanged(w, lambda: w.open(w.maria, ticket_body(contact=contact)), "CONTACT_REQUIRED", field=field)


# ---------------------------------------------------------------- urgent, exclusively

@pytest.mark.parametrize("urgency", ["platform_down", "member_billing_stopped"])
def test_urgency_for_one_of_its_causes_is_accepted(w, urgency):
    opened = handlers.open_ticket(w.uow, w.maria, ticket_body(urgency=urgency), NOW)
    assert opened.data["urgency"] == urgency and opened.data["special_process_id"] is None


def test_urgency_for_any_other_reason_is_refused_with_the_list(w):
    unchanged(w, lambda: w.open(w.maria, ticket_body(urgency="muy_urgente")), "URGENT_NOT_ALLOWED", field="urgency")


def test_urgency_of_a_special_process_needs_an_announcement_covering_now(w):
    unchanged(w, lambda: w.open(w.maria, ticket_body(urgency="announced_special_process")),
              "URGENT_NO_ANNOUNCEMENT", field="urgency")


def test_only_an_opening_that_names_a_special_process_reads_the_organisations_announcements(w, monkeypatch):
    read = []
    of_organisation = w.uow.special_processes.of_organisation
    monkeypatch.setattr(w.uow.special_processes, "of_organisation", lambda org: read.append(org) or of_organisation(org))
    w.open(w.maria)
    refused(lambda: w.open(w.jose, ticket_body(urgency="muy_urgente")), "URGENT_NOT_ALLOWED")
    assert read == []
    refused(lambda: w.open(w.jose, ticket_body(urgency="announced_special_process")), "URGENT_NO_ANNOUNCEMENT")
    assert read == ["club-caracas"]


def test_an_announced_special_process_makes_urgency_possible_inside_its_window_only(w):
    announced = handlers.announce_special_process(w.uow, w.maria, {
        "kind": "carnetizacion", "description": "Carnetización anual de socios",
        "starts_at": NOW + timedelta(days=1), "ends_at": NOW + timedelta(days=3)}, NOW)
    body = ticket_body(urgency="announced_special_process")
    refused(lambda: w.open(w.maria, body, now=NOW), "URGENT_NO_ANNOUNCEMENT")  # before the window
    opened = handlers.open_ticket(w.uow, w.maria, body, NOW + timedelta(days=2))
    assert opened.data["special_process_id"] == announced
    refused(lambda: w.open(w.jose, ticket_body("Socio sin carnet después de renovar la cuota", "CARNETIZACION",
                                                urgency="announced_special_process"), now=NOW + timedelta(days=4)),
            "URGENT_NO_ANNOUNCEMENT")  # after it


def test_a_special_process_is_announced_in_advance_not_after_the_fact(w):
    unchanged(w, lambda: handlers.announce_special_process(w.uow, w.maria, {
        "kind": "carnetizacion", "description": "Carnetización", "starts_at": NOW - timedelta(hours=1),
        "ends_at": NOW + timedelta(days=1)}, NOW), "R5_FIELD_INVALID", field="starts_at")
    assert w.uow.special_processes.of_organisation("club-caracas") == []


def test_a_payroll_case_on_the_months_last_business_days_is_warned(w):
    last_monday = datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)
    opened = handlers.open_ticket(w.uow, w.maria, ticket_body("Nómina quincenal calcula mal el bono nocturno",
                                                              "NOMINA"), last_monday)
    assert opened.data["month_end_warning"] is True
    early = handlers.open_ticket(w.uow, w.jose, ticket_body("Nómina mensual omite el bono de transporte", "NOMINA",
                                                            confirmed_different_case=True), NOW)
    assert early.data["month_end_warning"] is False


def test_openings_of_one_day_walk_the_calendar_for_the_months_business_days_once(w, monkeypatch):
    from helpdesk_shared.business_calendar import Calendar
    walked = []
    next_opening = Calendar.next_opening
    monkeypatch.setattr(Calendar, "next_opening", lambda self, *a, **k: walked.append(1) or next_opening(self, *a, **k))
    domain.default_business_days_left.cache_clear()
    day = datetime(2026, 11, 18, 14, 0, tzinfo=timezone.utc)
    w.open(w.maria, ticket_body("Nómina quincenal calcula mal el bono nocturno", "NOMINA"), day)
    first = len(walked)
    w.open(w.jose, ticket_body("Banco rechaza el archivo de pago de proveedores", "BANCOS"), day + timedelta(hours=1))
    assert first > 0 and len(walked) == first


# ---------------------------------------------------------------- rule 6: one case, one ticket

def test_rule_6_the_same_case_open_again_answers_409_with_the_open_tickets_number(w):
    first = w.open(w.maria)
    violation = unchanged(w, lambda: w.open(w.jose, ticket_body("Factura cargada mal en banco Mercantil")),
                          "R6_DUPLICATE_OPEN_CASE", field="subject", status=409)
    assert violation.as_dict()["ticket"] == first


def test_rule_6_a_confirmed_different_case_opens_a_second_ticket(w):
    w.open(w.maria)
    assert w.open(w.maria, ticket_body(confirmed_different_case=True)) == "SOP-2"


def test_rule_6_the_same_case_of_another_organisation_or_module_is_not_a_duplicate(w):
    w.open(w.maria)
    assert w.open(w.peter) == "SOP-2"
    assert w.open(w.maria, ticket_body(module="CXP")) == "SOP-3"


def test_rule_6_a_closed_ticket_no_longer_counts_as_the_open_case(w):
    number = w.open(w.maria)
    handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW)
    assert w.open(w.maria) == "SOP-2"


# ---------------------------------------------------------------- closed is closed

def test_a_closed_ticket_takes_no_message_and_offers_a_new_ticket_quoting_it(w):
    number = w.open(w.maria)
    handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW)
    violation = unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "Sigue igual"}, NOW),
                          "TICKET_CLOSED", status=409)
    assert violation.as_dict()["new_ticket_hint"] == {"previous_ticket": number}
    for command in (lambda: handlers.assign_ticket(w.uow, w.carlos, number, None, NOW),
                    lambda: handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW),
                    lambda: handlers.mark_customer_away(w.uow, w.maria, number, {}, NOW)):
        refused(command, "TICKET_CLOSED")


def test_a_new_ticket_may_quote_a_closed_ticket_of_its_organisation(w):
    number = w.open(w.maria)
    handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW)
    opened = handlers.open_ticket(w.uow, w.jose, ticket_body(previous_ticket=number), NOW)
    assert opened.data["previous_ticket"] == number


@pytest.mark.parametrize("case", ["open", "other organisation", "unknown"])
def test_previous_ticket_must_be_a_closed_ticket_of_the_same_organisation(w, case):
    number = w.open(w.peter if case == "other organisation" else w.maria)
    if case == "other organisation":
        handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW)
    previous = "SOP-999" if case == "unknown" else number
    unchanged(w, lambda: w.open(w.maria, ticket_body("Socio sin carnet después de renovar la cuota", "CARNETIZACION",
                                                     previous_ticket=previous)),
              "PREVIOUS_TICKET_INVALID", field="previous_ticket")


# ---------------------------------------------------------------- attachments

def test_an_attached_upload_is_recorded_on_the_ticket_and_marked_attached(w):
    upload_id = w.upload(w.maria, size=2048)
    opened = handlers.open_ticket(w.uow, w.maria, ticket_body(attachments=[upload_id]), NOW)
    assert [f["size"] for f in opened.data["attachments"]] == [2048]
    assert w.uow.uploads.rows[upload_id]["attached_at"] == NOW


def test_someone_elses_upload_or_an_unknown_one_cannot_be_attached(w):
    theirs = w.upload(w.jose)
    for reference in (theirs, "no-such-upload", "ab" * 32):
        unchanged(w, lambda: w.open(w.maria, ticket_body(attachments=[reference])), "ATTACHMENT_UNKNOWN",
                  field="attachments")
    assert w.uow.uploads.rows[theirs]["attached_at"] is None


def test_more_than_ten_files_on_one_message_are_refused(w):
    uploads = [w.upload(w.maria) for _ in range(attachments.MAX_FILES_PER_MESSAGE + 1)]
    unchanged(w, lambda: w.open(w.maria, ticket_body(attachments=uploads)), "TOO_MANY_ATTACHMENTS")


def test_a_tickets_attachments_together_may_not_exceed_25_mib_and_a_refusal_attaches_nothing(w):
    big = [w.upload(w.maria, size=attachments.MAX_FILE_BYTES) for _ in range(3)]
    unchanged(w, lambda: w.open(w.maria, ticket_body(attachments=big)), "ATTACHMENTS_TOTAL_TOO_LARGE",
              field="attachments")
    assert all(w.uow.uploads.rows[u]["attached_at"] is None for u in big)  # rolled back with the refusal
    number = w.open(w.maria, ticket_body(attachments=big[:2]))
    unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "otra", "attachments": big[2:]}, NOW),
              "ATTACHMENTS_TOTAL_TOO_LARGE")


def test_the_same_file_attached_again_does_not_count_twice_towards_the_ticket_total(w):
    sha = "cd" * 32
    first = w.upload(w.maria, size=attachments.MAX_FILE_BYTES, sha256=sha)
    other = w.upload(w.maria, size=attachments.MAX_FILE_BYTES)
    number = w.open(w.maria, ticket_body(attachments=[first, other]))
    again = w.upload(w.maria, size=attachments.MAX_FILE_BYTES, sha256=sha)
    posted = handlers.post_message(w.uow, w.maria, number, {"body": "La misma captura", "attachments": [again]}, NOW)
    assert posted.data["attachments"][0]["sha256"] == sha


def test_a_customer_cannot_download_an_attachment_of_an_internal_note(w):
    number = w.open(w.maria)
    note = w.upload(w.carlos, sha256="ef" * 32)
    handlers.post_message(w.uow, w.carlos, number, {"body": "Nota interna", "internal": True, "attachments": [note]},
                          NOW)
    assert handlers.attachment_for_download(w.uow, w.carlos, number, "ef" * 32)["name"] == "captura.png"
    with pytest.raises(NotFound):
        handlers.attachment_for_download(w.uow, w.maria, number, "ef" * 32)


# ---------------------------------------------------------------- messages, away, resolution (rules 2, 7, 8)

def test_a_message_needs_a_body_and_only_staff_write_internal_notes(w):
    number = w.open(w.maria)
    unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "  "}, NOW), "MESSAGE_BODY_REQUIRED")
    unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "nota", "internal": True}, NOW),
              "INTERNAL_NOTE_FORBIDDEN", field="internal", status=403)
    assert handlers.post_message(w.uow, w.carlos, number, {"body": "nota", "internal": True}, NOW).data["internal"]


def test_staff_record_the_minutes_spent_on_an_answer_or_note_and_a_customer_cannot(w):
    number = w.open(w.maria)
    unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "Listo", "minutes_spent": 30}, NOW),
              "TIME_SPENT_STAFF_ONLY", field="minutes_spent", status=403)
    answer = handlers.post_message(w.uow, w.carlos, number, {"body": "Corregido", "minutes_spent": 45}, NOW)
    note = handlers.post_message(w.uow, w.rosa, number, {"body": "Revisé", "internal": True, "minutes_spent": 5}, NOW)
    plain = handlers.post_message(w.uow, w.carlos, number, {"body": "Sin tiempo"}, NOW)
    assert (answer.data["minutes_spent"], note.data["minutes_spent"]) == (45, 5)
    assert "minutes_spent" not in plain.data  # nothing recorded: no field, not a zero


def test_rule_2_only_the_customer_marks_himself_away_and_only_until_a_future_date(w):
    number = w.open(w.maria)
    refused(lambda: handlers.mark_customer_away(w.uow, w.carlos, number, {}, NOW), "FORBIDDEN", status=403)
    unchanged(w, lambda: handlers.mark_customer_away(w.uow, w.maria, number, {"back_at": NOW - timedelta(hours=1)},
                                                     NOW), "AWAY_BACK_AT_NOT_FUTURE", field="back_at")
    handlers.mark_customer_away(w.uow, w.maria, number, {"back_at": NOW + timedelta(days=1)}, NOW)
    assert handlers.visible_ticket(w.uow, w.maria, number)[0].customer_away


def test_rule_8_the_customer_answers_only_after_an_agent_did(w):
    number = w.open(w.maria)
    unchanged(w, lambda: handlers.confirm_resolution(w.uow, w.maria, number, True, "", NOW),
              "RESOLUTION_NOT_EXPECTED", status=409)
    handlers.post_message(w.uow, w.carlos, number, {"body": "Corregido el cargo doble."}, NOW)
    refused(lambda: handlers.confirm_resolution(w.uow, w.carlos, number, True, "", NOW), "FORBIDDEN", status=403)
    unchanged(w, lambda: handlers.confirm_resolution(w.uow, w.maria, number, False, "", NOW), "MESSAGE_BODY_REQUIRED")


def test_rule_8_not_solved_goes_back_to_the_agents_and_solved_closes(w):
    number = w.open(w.maria)
    handlers.post_message(w.uow, w.carlos, number, {"body": "Corregido el cargo doble."}, NOW)
    back = handlers.confirm_resolution(w.uow, w.maria, number, False, "Sigue duplicado", NOW)
    assert [e.type for e in back] == ["ResolutionConfirmed"]
    assert w.uow.tickets.by_number(number)["status"] != lifecycle.CLOSED
    handlers.post_message(w.uow, w.carlos, number, {"body": "Ahora sí."}, NOW)
    closed = handlers.confirm_resolution(w.uow, w.maria, number, True, "", NOW)
    assert [e.type for e in closed] == ["ResolutionConfirmed", "TicketClosed"]
    assert w.uow.tickets.by_number(number)["status"] == lifecycle.CLOSED


# ---------------------------------------------------------------- rule 10: training

def test_rule_10_a_training_request_names_known_modules_and_1_to_50_participants(w):
    for body in ({"modules": ["COCINA"], "participants": 3}, {"modules": ["NOMINA"], "participants": 0},
                 {"modules": [], "participants": 3}):
        unchanged(w, lambda: handlers.request_training(w.uow, w.maria, body, NOW), "TRAINING_REQUEST_INVALID")
    handlers.request_training(w.uow, w.maria, {"modules": ["nomina"], "participants": 3}, NOW)
    assert w.events("TrainingRequested")[0].data["modules"] == ["NOMINA"]


def test_rule_10_an_agent_closes_as_needs_training_and_only_with_a_known_reason(w):
    number = w.open(w.maria)
    refused(lambda: handlers.close_by_agent(w.uow, w.carlos, number, "because", "", NOW), "INVALID_REQUEST",
            field="reason")
    closed = handlers.close_by_agent(w.uow, w.carlos, number, "needs_training", "Sin inducción", NOW)
    assert closed.data == {"reason": "needs_training", "note": "Sin inducción"}


# ---------------------------------------------------------------- permissions on tickets

def test_a_customer_of_another_organisation_cannot_see_or_touch_the_ticket(w):
    number = w.open(w.maria)
    for command in (lambda: handlers.ticket_summary(w.uow, w.peter, number),
                    lambda: handlers.post_message(w.uow, w.peter, number, {"body": "hola"}, NOW),
                    lambda: handlers.mark_customer_away(w.uow, w.peter, number, {}, NOW),
                    lambda: handlers.confirm_resolution(w.uow, w.peter, number, True, "", NOW)):
        with pytest.raises(NotFound):
            command()
    assert handlers.ticket_summary(w.uow, w.jose, number)["number"] == number  # a colleague of hers may


def test_a_customer_allowed_on_one_desk_cannot_see_his_organisations_ticket_of_the_other(w):
    number = w.open(w.ana, ticket_body(desk="IMPLANTACIONES", subject="NOMINA, Cálculo de vacaciones omite el bono"))
    with pytest.raises(NotFound):
        handlers.visible_ticket(w.uow, w.peter, number)


def test_a_customer_opens_only_on_his_desks(w):
    unchanged(w, lambda: w.open(w.maria, ticket_body(desk="IMPLANTACIONES")), "DESK_NOT_ALLOWED", field="desk",
              status=403)


def test_an_agent_of_another_desk_cannot_see_or_take_the_ticket(w):
    number = w.open(w.maria)
    for command in (lambda: handlers.ticket_summary(w.uow, w.elena, number),
                    lambda: handlers.assign_ticket(w.uow, w.elena, number, None, NOW),
                    lambda: handlers.close_by_agent(w.uow, w.elena, number, "closed_by_agent", "", NOW),
                    lambda: handlers.mark_billable(w.uow, w.elena, number, True, None, NOW)):
        with pytest.raises(NotFound):
            command()


def test_a_ticket_is_given_only_to_staff_of_its_desk_and_customers_take_none(w):
    number = w.open(w.maria)
    assert handlers.assign_ticket(w.uow, w.carlos, number, None, NOW).data["agent_id"] == "u-carlos"
    for agent in ("u-elena", "u-maria", "u-nobody"):
        refused(lambda: handlers.assign_ticket(w.uow, w.carlos, number, agent, NOW), "INVALID_REQUEST",
                field="agent_id")
    refused(lambda: handlers.assign_ticket(w.uow, w.maria, number, None, NOW), "FORBIDDEN", status=403)
    assert handlers.assign_ticket(w.uow, w.rosa, number, "u-carlos", NOW).data["assigned_by"] == "u-rosa"


def test_a_supervisor_of_both_desks_sees_and_acts_on_both(w):
    soporte = w.open(w.maria)
    implantaciones = w.open(w.luis, ticket_body(desk="IMPLANTACIONES",
                                                subject="NOMINA, Cálculo de vacaciones omite el bono"))
    for number in (soporte, implantaciones):
        assert handlers.ticket_summary(w.uow, w.rosa, number)["number"] == number
        handlers.close_by_agent(w.uow, w.rosa, number, "closed_by_agent", "", NOW)
    with pytest.raises(NotFound):
        handlers.ticket_summary(w.uow, w.sofia, soporte)  # a supervisor of one desk sees that desk only


def test_only_staff_close_and_mark_billable_and_the_same_mark_again_records_nothing(w):
    number = w.open(w.maria)
    refused(lambda: handlers.close_by_agent(w.uow, w.maria, number, "closed_by_agent", "", NOW), "FORBIDDEN",
            status=403)
    refused(lambda: handlers.mark_billable(w.uow, w.maria, number, True, None, NOW), "FORBIDDEN", status=403)
    assert handlers.mark_billable(w.uow, w.carlos, number, True, None, NOW).data["billable"] is True
    assert handlers.mark_billable(w.uow, w.carlos, number, True, None, NOW) is None


def test_staff_open_for_an_organisation_of_their_desk_only(w):
    refused(lambda: w.open(w.carlos), "INVALID_REQUEST", field="organisation_id", status=400)
    with pytest.raises(NotFound):  # not theirs to know of
        w.open(w.carlos, ticket_body(organisation_id="distribuidora-andina"))
    unchanged(w, lambda: w.open(w.rosa, ticket_body(organisation_id="distribuidora-andina")),
              "ORGANISATION_NOT_ON_DESK", field="organisation_id")
    opened = handlers.open_ticket(w.uow, w.carlos, ticket_body(organisation_id="club-caracas"), NOW)
    assert opened.data["organisation_id"] == "club-caracas" and opened.data["opened_by"] == "u-carlos"


def test_staff_announce_special_processes_only_for_organisations_of_their_desks(w):
    body = {"kind": "carnetizacion", "description": "Carnetización", "starts_at": NOW + timedelta(days=1),
            "ends_at": NOW + timedelta(days=2)}
    with pytest.raises(NotFound):
        handlers.announce_special_process(w.uow, w.elena, body | {"organisation_id": "club-caracas"}, NOW)
    handlers.announce_special_process(w.uow, w.carlos, body | {"organisation_id": "club-caracas"}, NOW)
    assert len(w.uow.special_processes.of_organisation("club-caracas")) == 1


# ---------------------------------------------------------------- decisions of the SLA service

def test_an_auto_close_is_accepted_only_when_the_ticket_has_not_moved_since_its_version(w):
    number = w.open(w.maria)
    ticket_id = w.uow.tickets.by_number(number)["ticket_id"]

    def decision(version: int):
        return new_event("AutoClosed", f"sla-{ticket_id}", 1, {"ticket_id": ticket_id, "number": number,
                                                             "based_on_version": version, "due_at": NOW.isoformat()},
                         actor=SYSTEM, occurred_at=NOW + timedelta(days=2))
    handlers.post_message(w.uow, w.carlos, number, {"body": "¿Sigue ocurriendo?"}, NOW)
    assert handlers.accept_auto_close(w.uow, decision(1)) is None  # the agent's message came after
    assert handlers.accept_auto_close(w.uow, decision(2)).data["reason"] == "auto_closed"
    assert handlers.accept_auto_close(w.uow, decision(3)) is None  # closed already


# ---------------------------------------------------------------- accounts: login, tokens, rights

def test_login_answers_the_same_for_an_unknown_email_and_a_wrong_password(w):
    assert handlers.authenticate(w.uow, " MARIA@example.com ", PASSWORD).user_id == "u-maria"
    for email, password in (("maria@example.com", "wrong"), ("nadie@example.com", PASSWORD)):
        refused(lambda: handlers.authenticate(w.uow, email, password), "AUTH_INVALID", field="password", status=401)


def test_a_disabled_user_cannot_log_in_and_his_tokens_are_refused(w):
    token = w.maria
    handlers.update_user(w.uow, w.rosa, "u-maria", {"disabled": True}, NOW)
    refused(lambda: handlers.authenticate(w.uow, "maria@example.com", PASSWORD), "ACCOUNT_DISABLED")
    assert handlers.token_revoked(w.uow, token)


def test_failed_logins_of_an_account_are_limited_and_each_failure_counts_although_refused(w):
    for _ in range(throttle.LOGIN_PER_ACCOUNT.max_hits):
        with pytest.raises(RuleViolation):
            unit_of_work.run(w.uow.start, lambda uow: handlers.login(uow, "maria@example.com", "wrong", "10.0.0.1",
                                                                     NOW))
    with pytest.raises(throttle.Throttled) as limited:  # even with the right password, from another address
        unit_of_work.run(w.uow.start, lambda uow: handlers.login(uow, "maria@example.com", PASSWORD, "10.0.0.2", NOW))
    assert limited.value.status == 429 and limited.value.retry_after > 0
    later = NOW + throttle.LOGIN_PER_ACCOUNT.window
    assert handlers.login(w.uow, "maria@example.com", PASSWORD, "10.0.0.2", later).user_id == "u-maria"


def test_logout_ends_the_tokens_issued_before_it_only(w):
    before = w.maria.__class__(**{**vars(w.maria), "iat": (NOW - timedelta(minutes=1)).timestamp()})
    handlers.logout(w.uow, w.maria, NOW)
    after = w.maria.__class__(**{**vars(w.maria), "iat": (NOW + timedelta(minutes=1)).timestamp()})
    assert handlers.token_revoked(w.uow, before) and not handlers.token_revoked(w.uow, after)
    assert w.events("BearerTokensRevoked")[0].data["reason"] == "logout"


def test_a_password_link_works_once_and_needs_ten_characters(w):
    issued = int(NOW.timestamp()) - 60
    refused(lambda: handlers.set_password(w.uow, "u-nobody", issued, "x" * 12, NOW), "RESOLUTION_LINK_INVALID")
    refused(lambda: handlers.set_password(w.uow, "u-maria", issued, "corta", NOW), "PASSWORD_TOO_SHORT")
    handlers.set_password(w.uow, "u-maria", issued, "una clave larga", NOW)
    assert handlers.authenticate(w.uow, "maria@example.com", "una clave larga").user_id == "u-maria"
    refused(lambda: handlers.set_password(w.uow, "u-maria", issued, "otra clave larga", NOW), "PASSWORD_LINK_USED")
    assert w.events("BearerTokensRevoked")[0].data["reason"] == "password_changed"


@pytest.mark.parametrize("who, user_id, body, code, status", [
    ("carlos", "u-maria", {"disabled": True}, "FORBIDDEN", 403),               # agents do not manage users
    ("rosa", "u-rosa", {"disabled": True}, "FORBIDDEN", 403),                  # nor anyone himself
    ("sofia", "u-carlos", {"disabled": True}, "NotFound", 404),                # a user of another desk
    ("sofia", "u-luis", {"desks": ["IMPLANTACIONES", "SOPORTE"]}, "FORBIDDEN", 403),  # desks beyond his own
    ("rosa", "u-maria", {"role": "customer", "organisation_id": "no-such-org"}, "INVALID_REQUEST", 422),
    ("rosa", "u-maria", {"password_hash": "x"}, "INVALID_REQUEST", 422),
])
def test_only_a_supervisor_changes_users_of_his_desks_within_his_desks(w, who, user_id, body, code, status):
    def command():
        with w.uow:
            handlers.update_user(w.uow, getattr(w, who), user_id, body, NOW)
    if code == "NotFound":
        with pytest.raises(NotFound):
            command()
    else:
        refused(command, code, status=status)
    assert w.events() == []


def test_a_change_of_rights_ends_the_users_tokens_and_no_change_records_nothing(w):
    assert handlers.update_user(w.uow, w.rosa, "u-carlos", {"disabled": False}, NOW)["disabled"] is False
    assert w.events() == []
    view = handlers.update_user(w.uow, w.rosa, "u-carlos", {"role": "supervisor"}, NOW)
    assert view["role"] == "supervisor" and view["organisation_id"] is None
    assert [e.type for e in w.events()] == ["UserUpdated", "BearerTokensRevoked"]


# ---------------------------------------------------------------- access requests ("no poseo login")

def _access_body(email="nuevo@club.com", desk="SOPORTE"):
    return {"name": "Nuevo Usuario", "email": email, "phone": "+58 212 555 0199", "organisation_name": "Club",
            "desk": desk}


def test_an_access_request_needs_a_desk_organisation_name_and_contact(w):
    for body in (_access_body(desk="COCINA"), _access_body() | {"organisation_name": " "},
                 _access_body(email="no-es-correo")):
        unchanged(w, lambda: handlers.request_access(w.uow, body, NOW), "ACCESS_REQUEST_INVALID")


def test_an_access_request_for_a_known_or_pending_email_files_nothing_until_the_pending_one_expires(w):
    assert handlers.request_access(w.uow, _access_body(email="maria@example.com"), NOW) is None
    assert handlers.request_access(w.uow, _access_body(), NOW) is not None
    assert handlers.request_access(w.uow, _access_body(), NOW + timedelta(days=1)) is None
    assert handlers.request_access(w.uow, _access_body(), NOW + handlers.ACCESS_REQUEST_TTL) is not None
    assert len(w.events("AccessRequested")) == 2


def test_access_requests_per_address_are_limited_and_an_invalid_one_counts_too(w):
    limit = throttle.ACCESS_REQUEST_PER_ADDRESS
    for _ in range(limit.max_hits):
        with pytest.raises(RuleViolation):
            unit_of_work.run(w.uow.start, lambda uow: handlers.file_access_request(
                uow, lambda: _access_body(desk="COCINA"), "10.0.0.9", NOW))
    with pytest.raises(throttle.Throttled):
        unit_of_work.run(w.uow.start, lambda uow: handlers.file_access_request(uow, _access_body, "10.0.0.9", NOW))
    assert w.events("AccessRequested") == []


def test_staff_list_and_decide_the_access_requests_of_their_desks_only(w):
    request_id = handlers.request_access(w.uow, _access_body(), NOW)
    refused(lambda: handlers.pending_access_requests(w.uow, w.maria, NOW), "FORBIDDEN", status=403)
    assert [r["request_id"] for r in handlers.pending_access_requests(w.uow, w.carlos, NOW)] == [request_id]
    assert handlers.pending_access_requests(w.uow, w.elena, NOW) == []
    for command in (lambda: handlers.grant_access(w.uow, w.elena, request_id, "club-caracas", NOW),
                    lambda: handlers.reject_access(w.uow, w.elena, request_id, "No es cliente", NOW)):
        with pytest.raises(NotFound):
            command()
    refused(lambda: handlers.reject_access(w.uow, w.maria, request_id, "x", NOW), "FORBIDDEN", status=403)
    refused(lambda: handlers.reject_access(w.uow, w.carlos, request_id, " ", NOW), "REJECTION_REASON_REQUIRED")


def test_a_grant_goes_into_an_organisation_of_the_requests_desk_and_happens_once(w):
    request_id = handlers.request_access(w.uow, _access_body(), NOW)
    with pytest.raises(NotFound):
        handlers.grant_access(w.uow, w.carlos, request_id, "distribuidora-andina", NOW)
    unchanged(w, lambda: handlers.grant_access(w.uow, w.rosa, request_id, "distribuidora-andina", NOW),
              "ORGANISATION_NOT_ON_DESK")
    user_id = handlers.grant_access(w.uow, w.carlos, request_id, "club-caracas", NOW)
    assert w.uow.users.get(user_id)["organisation_id"] == "club-caracas"
    refused(lambda: handlers.grant_access(w.uow, w.carlos, request_id, "club-caracas", NOW), "ACCESS_ALREADY_GRANTED",
            status=409)
    refused(lambda: handlers.reject_access(w.uow, w.carlos, request_id, "Tarde", NOW), "ACCESS_ALREADY_GRANTED")


def test_a_rejected_or_expired_request_cannot_be_granted(w):
    rejected = handlers.request_access(w.uow, _access_body(), NOW)
    handlers.reject_access(w.uow, w.carlos, rejected, "No es cliente", NOW)
    refused(lambda: handlers.grant_access(w.uow, w.carlos, rejected, "club-caracas", NOW), "ACCESS_REQUEST_DECIDED")
    stale = handlers.request_access(w.uow, _access_body(email="otro@club.com"), NOW)
    refused(lambda: handlers.grant_access(w.uow, w.carlos, stale, "club-caracas", NOW + handlers.ACCESS_REQUEST_TTL),
            "ACCESS_REQUEST_EXPIRED")


# ---------------------------------------------------------------- idempotency and the retry

def test_an_idempotency_key_answers_its_first_answer_with_one_effect(w):
    def command(uow):
        return {"number": handlers.open_ticket(uow, w.maria, ticket_body(), NOW).data["number"]}, 201
    first = handlers.once(w.uow, "u-maria", "k1", "POST /api/tickets", "d1", command)
    assert handlers.once(w.uow, "u-maria", "k1", "POST /api/tickets", "d1", command) == first == ({"number": "SOP-1"},
                                                                                                  201)
    assert len(w.events("TicketOpened")) == 1
    refused(lambda: handlers.once(w.uow, "u-maria", "k1", "POST /api/tickets", "d2", command),
            "IDEMPOTENCY_KEY_REUSED")
    refused(lambda: handlers.once(w.uow, "u-maria", "k1", "POST /api/tickets/SOP-1/messages", "d1", command),
            "IDEMPOTENCY_KEY_REUSED")
    # Another user's key of the same name is his own.
    assert handlers.once(w.uow, "u-jose", "k1", "POST /api/tickets", "d1",
                         lambda uow: ({"ok": True}, 201)) == ({"ok": True}, 201)


def test_a_version_conflict_is_retried_in_a_new_unit_of_work_and_its_writes_are_undone(w):
    calls = []

    def command(uow):
        calls.append(1)
        uow.organisations.add({"id": f"org-{len(calls)}", "name": "x", "tax_id": None, "desks": ["SOPORTE"]})
        if len(calls) < 3:
            raise VersionConflict("VERSION_CONFLICT", None, None, 409)
        return "done"
    assert unit_of_work.run(w.uow.start, command) == "done"
    assert len(calls) == 3 and [o for o in ("org-1", "org-2", "org-3") if w.uow.organisations.get(o)] == ["org-3"]


def test_a_conflict_on_every_attempt_reaches_the_client_as_409(w):
    def command(uow):
        raise VersionConflict("VERSION_CONFLICT", None, None, 409)
    refused(lambda: unit_of_work.run(w.uow.start, command), "VERSION_CONFLICT", status=409)


def test_two_writers_of_one_stream_the_second_is_refused_with_a_version_conflict(w):
    number = w.open(w.maria)
    state, _ = handlers.visible_ticket(w.uow, w.maria, number)
    handlers.post_message(w.uow, w.carlos, number, {"body": "primero"}, NOW)
    stale = new_event("TicketAssigned", state.ticket_id, state.version + 1,
                      {"agent_id": "u-carlos", "assigned_by": "u-carlos"}, actor=Actor(id="u-carlos", role="agent"),
                      occurred_at=NOW)
    refused(lambda: w.uow.streams.append([stale], expected_version=state.version), "VERSION_CONFLICT", status=409)


# ---------------------------------------------------------------- supervisors: catalogs, organisations, users

def _modules(desk_name: str = "SOPORTE") -> list[dict]:
    return [m.as_dict() for m in DESKS[desk_name].entries]


def test_only_a_supervisor_of_the_desk_edits_its_catalog_and_readers_must_be_on_the_desk(w):
    body = {"expected_version": 0, "modules": _modules() + [{"code": "NUEVO", "name": "Módulo nuevo"}]}
    for who in ("maria", "carlos", "sofia"):
        unchanged(w, lambda: admin.change_catalog(w.uow, getattr(w, who), "SOPORTE", body, NOW), "FORBIDDEN",
                  status=403)
    refused(lambda: admin.read_catalog(w.uow, w.luis, "SOPORTE"), "DESK_NOT_ALLOWED", status=403)
    with pytest.raises(NotFound):
        admin.read_catalog(w.uow, w.rosa, "COCINA")
    changed = admin.change_catalog(w.uow, w.rosa, "SOPORTE", body, NOW)
    assert changed.version == 1 and "NUEVO" in admin.read_catalog(w.uow, w.maria, "SOPORTE").modules
    assert w.open(w.maria, ticket_body("Alta de módulo nuevo falla al guardar la ficha", "NUEVO")) == "SOP-1"


def test_a_catalog_edit_from_a_stale_version_is_refused_and_the_same_list_records_nothing(w):
    same = admin.change_catalog(w.uow, w.rosa, "SOPORTE", {"expected_version": 0, "modules": _modules()}, NOW)
    assert same.version == 0 and w.events() == []
    retired = _modules()[:-1] + [_modules()[-1] | {"retired": True}]
    admin.change_catalog(w.uow, w.rosa, "SOPORTE", {"expected_version": 0, "modules": retired}, NOW)
    unchanged(w, lambda: admin.change_catalog(w.uow, w.rosa, "SOPORTE", {"expected_version": 0,
                                                                        "modules": _modules()}, NOW),
              "CATALOG_VERSION_CONFLICT", field="expected_version")


def test_a_supervisor_registers_organisations_on_his_desks_once_per_name(w):
    body = {"name": "Club  Náutico", "desks": ["IMPLANTACIONES"]}
    refused(lambda: admin.create_organisation(w.uow, w.carlos, body, NOW), "FORBIDDEN", status=403)
    refused(lambda: admin.create_organisation(w.uow, w.sofia, body | {"desks": ["SOPORTE"]}, NOW), "FORBIDDEN",
            field="desks")
    created = admin.create_organisation(w.uow, w.sofia, body, NOW)
    assert (created["id"], created["name"]) == ("club-nautico", "Club Náutico")
    unchanged(w, lambda: admin.create_organisation(w.uow, w.rosa, {"name": "CLUB NÁUTICO", "desks": ["SOPORTE"]},
                                                   NOW), "ORGANISATION_EXISTS", field="name")
    listed = admin.list_organisations(w.uow, w.sofia)
    assert [o["id"] for o in listed["items"]] == ["club-nautico", "country-valencia", "distribuidora-andina"]
    assert {u["id"] for u in listed["staff"]} == {"u-elena", "u-rosa", "u-sofia"}
    assert [u["id"] for u in listed["items"][2]["users"]] == ["u-luis"]


@pytest.mark.parametrize("who, body, code, status", [
    ("carlos", {"role": "agent", "desks": ["SOPORTE"]}, "FORBIDDEN", 403),
    ("sofia", {"role": "agent", "desks": ["SOPORTE"]}, "FORBIDDEN", 403),
    ("rosa", {"role": "customer", "desks": ["SOPORTE"]}, "USER_INVALID", 422),
    ("rosa", {"role": "customer", "desks": ["IMPLANTACIONES"], "organisation_id": "club-caracas"}, "USER_INVALID",
     422),
    ("sofia", {"role": "customer", "desks": ["IMPLANTACIONES"], "organisation_id": "club-caracas"}, "NotFound", 404),
    ("rosa", {"role": "agent", "desks": ["SOPORTE"], "organisation_id": "club-caracas"}, "USER_INVALID", 422),
    ("rosa", {"role": "agent", "desks": ["SOPORTE"], "email": "maria@example.com"}, "USER_EXISTS", 409),
])
def test_a_user_the_rules_or_the_callers_role_refuse_is_not_created(w, who, body, code, status):
    full = {"name": "Nueva Persona", "email": "nueva@example.com"} | body

    def command():
        with w.uow:
            admin.create_user(w.uow, getattr(w, who), full, NOW)
    if code == "NotFound":
        with pytest.raises(NotFound):
            command()
    else:
        refused(command, code, status=status)
    assert w.events() == [] and w.uow.users.by_email("nueva@example.com") is None


def test_a_created_user_is_granted_access_and_sets_his_own_password(w):
    view = admin.create_user(w.uow, w.rosa, {"name": "Nueva  Persona", "email": "Nueva@Example.com",
                                             "role": "customer", "desks": ["SOPORTE"],
                                             "organisation_id": "club-caracas"}, NOW)
    assert (view["email"], view["name"], view["organisation_id"]) == ("nueva@example.com", "Nueva Persona",
                                                                      "club-caracas")
    assert [e.type for e in w.events()] == ["UserRegistered", "AccessGranted"]


# ---------------------------------------------------------------- the rules page

def test_only_a_supervisor_of_the_desk_edits_its_rules_page_against_the_version_he_read(w):
    body = {"language": "es", "text": "## Horario\n\nDe **lunes a viernes**.", "version": 0}
    for who in ("maria", "carlos", "sofia"):
        unchanged(w, lambda: rules_page.edit(w.uow, getattr(w, who), "SOPORTE", body, NOW), "FORBIDDEN", status=403)
    unchanged(w, lambda: rules_page.edit(w.uow, w.rosa, "SOPORTE", body | {"text": "  "}, NOW),
              "RULES_PAGE_TEXT_REQUIRED", field="text")
    page = rules_page.edit(w.uow, w.rosa, "SOPORTE", body, NOW)
    assert page["version"] == 1 and "<strong>lunes a viernes</strong>" in page["html"]
    unchanged(w, lambda: rules_page.edit(w.uow, w.rosa, "SOPORTE", body, NOW), "RULES_PAGE_CHANGED", field="version")
    english = rules_page.read(w.uow, "SOPORTE", "en")  # the English default no longer says the same
    assert english["shown_language"] == "es" and english["html"] == page["html"]


def test_a_fresh_rules_page_is_the_packaged_text_at_version_0(w):
    page = rules_page.read(w.uow, "IMPLANTACIONES", "en")
    assert page["version"] == 0 and page["shown_language"] == "en" and page["html"]
    with pytest.raises(NotFound):
        rules_page.read(w.uow, "COCINA", "es")


def test_ticket_commands_read_the_ticket_snapshot_and_never_load_its_stream(w):
    number = w.open(w.maria)
    handlers.post_message(w.uow, w.carlos, number, {"body": "¿Cuál factura?"}, NOW)

    def no_reload(stream_id):
        raise AssertionError(f"a command loaded the stream {stream_id}")
    w.uow.streams.load = no_reload
    handlers.post_message(w.uow, w.maria, number, {"body": "La 1234"}, NOW)
    handlers.assign_ticket(w.uow, w.carlos, number, None, NOW)
    handlers.mark_billable(w.uow, w.rosa, number, True, "Fuera del contrato", NOW)
    assert handlers.close_by_agent(w.uow, w.carlos, number, "closed_by_agent", "", NOW).stream_version == 6
    del w.uow.streams.load
    ticket_id = w.uow.tickets.by_number(number)["ticket_id"]
    assert w.uow.tickets.state(number) == lifecycle.fold(w.uow.streams.load(ticket_id))
