"""Every event type's envelope round-trips through JSON; invalid events are refused."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from helpdesk_shared.envelope import (Actor, Envelope, UndecodableEvent, from_json_bytes,
                                      to_json_bytes)
from helpdesk_shared.schemas import EVENT_DATA_SCHEMAS, dump_envelope, validate_data

SHA = "ab" * 32
ATTACHMENT = {"sha256": SHA, "name": "recibo.pdf", "size": 2048,
              "content_type": "application/pdf"}

# Each example is already in serialised form (defaults filled in, datetimes as UTC ISO).
EXAMPLES = {
    "TicketOpened": {
        "ticket_id": "t-1", "number": "SOP-42", "desk": "SOPORTE", "organisation_id": "org-1",
        "opened_by": "u-1", "module": "FACTURACION", "case": "recibo duplicado",
        "subject": "Recibo duplicado", "description": "El socio recibió dos recibos.",
        "urgency": "member_billing_stopped", "special_process_id": None,
        "out_of_hours_requested": False,
        "contact": {"name": "Ana", "email": "ana@club.example", "phone": "+58 212 555 0101"},
        "member_number": "1234", "dates": ["2025-03-01", "2025-03-02"],
        "vouchers": ["V-1"], "menu_path": "Socios > Facturación",
        "attachments": [ATTACHMENT], "previous_ticket": "SOP-41",
        "confirmed_different_case": True, "language": "es", "month_end_warning": False,
    },
    "MessagePosted": {"message_id": "m-1", "author_id": "u-2", "author_role": "agent",
                      "body": "Revisando.", "internal": True, "attachments": [],
                      "out_of_hours_requested": False},
    "TicketAssigned": {"agent_id": "u-2", "assigned_by": "u-3"},
    "BillableMarked": {"billable": True, "note": "Cierre de nómina el sábado", "marked_by": "u-2"},
    "CustomerAway": {"back_at": "2025-03-12T13:00:00+00:00", "note": "de viaje"},
    "ResolutionConfirmed": {"solved": True, "body": None},
    "TicketClosed": {"reason": "closed_by_agent", "note": "duplicado", "based_on_version": 7},
    "DeadlineSet": {"ticket_id": "t-1", "number": "SOP-42", "clock": "first_response", "clock_type": "business",
                    "started_at": "2025-03-08T14:00:00+00:00", "counts_from": "2025-03-10T13:00:00+00:00",
                    "due_at": "2025-03-10T21:00:00+00:00", "policy_version": 1, "calendar_version": 2,
                    "office_hours": [[0, "09:00", "17:00"], [4, "09:00", "17:00"]]},
    "DeadlineMoved": {"ticket_id": "t-1", "number": "SOP-42", "desk": "SOPORTE", "clock": "auto_close",
                      "clock_type": "business", "started_at": "2025-03-10T15:00:00+00:00",
                      "counts_from": "2025-03-10T15:00:00+00:00", "due_at": "2025-03-13T15:00:00+00:00",
                      "warning_at": "2025-03-12T15:00:00+00:00", "policy_version": 1, "calendar_version": 3,
                      "office_hours": [[0, "09:00", "17:00"]],
                      "open_intervals": [["2025-03-10T15:00:00+00:00", "2025-03-10T21:00:00+00:00"]],
                      "previous_due_at": "2025-03-12T15:00:00+00:00", "reason": "calendar_changed"},
    "DeadlineMet": {"ticket_id": "t-1", "number": "SOP-42", "clock": "first_response",
                    "started_at": "2025-03-10T13:00:00+00:00", "due_at": "2025-03-10T21:00:00+00:00",
                    "met_at": "2025-03-10T15:00:00+00:00", "met_in_time": True, "business_seconds": 7200,
                    "outside_hours_seconds": 0, "answered_outside_hours": False, "answered_by": "u-carlos",
                    "policy_version": 1, "calendar_version": 2},
    "DeadlineCleared": {"ticket_id": "t-1", "number": "SOP-42", "clock": "auto_close",
                        "due_at": "2025-03-14T14:00:00+00:00", "at": "2025-03-11T14:00:00+00:00",
                        "reason": "customer_replied"},
    "ClockPaused": {"ticket_id": "t-1", "number": "SOP-42", "at": "2025-03-10T15:00:00+00:00",
                    "reason": "waiting_customer"},
    "ResponseOverdue": {"ticket_id": "t-1", "number": "SOP-42", "clock": "first_response",
                        "due_at": "2025-03-10T14:00:00+00:00", "policy_version": 1},
    "AutoCloseWarning": {"ticket_id": "t-1", "number": "SOP-42", "closes_at": "2025-03-14T14:00:00+00:00",
                         "based_on_version": 5},
    "AutoClosed": {"ticket_id": "t-1", "number": "SOP-42", "based_on_version": 5,
                   "due_at": "2025-03-14T14:00:00+00:00"},
    "CannedAnswerSaved": {"desk": "SOPORTE", "answer_id": "cierre-de-lote", "title": "Cierre de lote",
                          "body": "Estimado {cliente}: revisamos el ticket {ticket}.", "retired": False,
                          "version": 1, "saved_by": "u-carlos"},
    "WorkTimeRecorded": {"ticket_id": "t-1", "number": "SOP-42", "desk": "SOPORTE", "message_id": "m-1",
                         "agent_id": "u-carlos", "internal": False, "minutes": 90,
                         "started_at": "2025-03-10T20:00:00+00:00", "ended_at": "2025-03-10T21:30:00+00:00",
                         "outside_hours_seconds": 1800, "calendar_version": 2},
    "OutboxDrained": {"source": "intake", "through": "2025-03-01T13:00:00+00:00"},
    "DeliveryParked": {"source": "mesa_intake", "outbox_id": 17, "event_id": "e-1", "topic": "helpdesk.tickets",
                       "key": "ticket-1", "size": 1300000, "error": "MessageSizeTooLargeError: too large"},
    "CalendarChanged": {"desk": "SOPORTE", "version": 2, "effective_from": "2025-03-01T13:00:00+00:00",
                        "calendar": {"tz": "America/Caracas"}, "changed_by": "u-9"},
    "PolicyChanged": {"desk": "SOPORTE", "urgency_class": "normal", "version": 2,
                      "effective_from": "2025-03-01T13:00:00+00:00", "policy": {"first_response": {}},
                      "changed_by": "u-9"},
    "OrganisationRegistered": {"organisation_id": "org-1", "name": "Club Altamira",
                               "tax_id": "J-12345678-9", "desks": ["SOPORTE"]},
    "UserRegistered": {"user_id": "u-1", "email": "ana@club.example", "name": "Ana",
                       "role": "customer", "organisation_id": "org-1", "desks": ["SOPORTE"],
                       "language": "es", "phone": None},
    "UserUpdated": {"user_id": "u-1", "role": "customer", "organisation_id": "org-1", "desks": ["SOPORTE"],
                    "disabled": True, "changed_by": "u-3"},
    "BearerTokensRevoked": {"user_id": "u-1", "valid_after": "2025-03-03T14:00:00.123456+00:00",
                            "reason": "rights_changed"},
    "AccessRequested": {"request_id": "r-1", "name": "Luis", "email": "luis@club.example",
                        "phone": "+58 212 555 0102", "organisation_name": "Club Altamira",
                        "desk": "IMPLANTACIONES", "note": "nuevo administrador"},
    "AccessGranted": {"request_id": "r-1", "user_id": "u-4", "granted_by": "u-3"},
    "ModuleCatalogChanged": {"desk": "SOPORTE", "version": 2, "changed_by": "u-3", "modules": [
        {"code": "BANCOS", "name": "Bancos", "retired": False}, {"code": "CXP", "name": "Cuentas por pagar",
                                                                  "retired": True}]},
    "AccessRejected": {"request_id": "r-2", "rejected_by": "u-3", "reason": "sin contrato vigente"},
    "TrainingRequested": {"organisation_id": "org-1", "requested_by": "u-1",
                          "modules": ["FACTURACION", "SOCIOS"], "participants": 4,
                          "note": None},
    "SpecialProcessAnnounced": {"announcement_id": "a-1", "organisation_id": "org-1",
                                "kind": "carnetizacion", "description": "Carnetización 2025",
                                "starts_at": "2025-04-01T12:00:00+00:00",
                                "ends_at": "2025-04-05T22:00:00+00:00",
                                "announced_by": "u-1"},
    "RulesPageEdited": {"desk": "SOPORTE", "language": "es", "text": "## Cómo trabajamos\n\n1. Un caso, un ticket.",
                        "version": 2, "edited_by": "u-9"},
    "NotificationSent": {"cause_event_id": str(uuid.uuid4()), "recipient": "ana@club.example",
                         "template": "ticket_opened", "message_id": "<x@mesa>",
                         "ticket_id": "t-1"},
    "NotificationFailed": {"cause_event_id": str(uuid.uuid4()), "recipient": "ana@",
                           "template": "ticket_opened", "error": "550 no such user",
                           "permanent": True},
    "TicketMergedInto": {"source_ticket_id": "t-7", "source_number": "SOP-43", "merged_by": "u-2",
                         "note": "mismo caso que SOP-42", "subject": "FACTURACION, recibo duplicado otra vez",
                         "description": "El recibo 1234 sale dos veces.", "opened_by": "u-1",
                         "opened_at": "2025-03-10T13:00:00+00:00", "attachments": [],
                         "messages": [{"message_id": "m-1", "author_id": "u-1", "author_role": "customer",
                                       "body": "Adjunto la captura.", "internal": False, "attachments": [],
                                       "occurred_at": "2025-03-10T13:05:00+00:00"}]},
    # knowledge base (issue 12)
    "ArticleDrafted": {"article_id": "a-1", "desk": "SOPORTE", "module": "BANCOS", "version": 1, "by": "u-2",
                       "title_es": "Cómo conciliar una cuenta", "body_es": "1. Abra **Bancos**.",
                       "title_en": "", "body_en": ""},
    "ArticleEdited": {"article_id": "a-1", "desk": "SOPORTE", "module": "BANCOS", "version": 2, "by": "u-2",
                      "title_es": "Cómo conciliar una cuenta bancaria", "body_es": "1. Abra **Bancos**.",
                      "title_en": "How to reconcile a bank account", "body_en": "1. Open **Bancos**.",
                      "status": "draft"},
    "ArticlePublished": {"article_id": "a-1", "desk": "SOPORTE", "module": "BANCOS", "version": 3, "by": "u-9"},
    "ArticleArchived": {"article_id": "a-1", "desk": "SOPORTE", "module": "BANCOS", "version": 4, "by": "u-9"},
    "ArticleSuggestionOpened": {"article_id": "a-1", "desk": "SOPORTE", "module": "BANCOS", "attempt_id": "f-1",
                                "opened_by": "u-1", "organisation_id": "org-1"},
    "TicketRated": {"rating": "bad", "comment": "Tardaron dos días en contestar.", "rated_by": "u-1"},
}

OCCURRED_AT = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def envelope(type_: str, data: dict, **overrides) -> Envelope:
    """An envelope of `type_` carrying `data`, with plausible identity fields."""
    fields = dict(type=type_, stream_id="t-1", stream_version=3, occurred_at=OCCURRED_AT,
                  actor=Actor(id="u-2", role="agent"), data=data,
                  causation_id=uuid.uuid4())
    return Envelope(**{**fields, **overrides})


def raw(type_: str, **data_changes) -> bytes:
    """The JSON bytes of a valid example of `type_` with `data_changes` applied to its data."""
    doc = dump_envelope(envelope(type_, EXAMPLES[type_]))
    doc["data"] = {**doc["data"], **data_changes}
    return json.dumps(doc).encode()


def test_the_examples_cover_every_event_type():
    assert EXAMPLES.keys() == EVENT_DATA_SCHEMAS.keys()


@pytest.mark.parametrize("type_", sorted(EVENT_DATA_SCHEMAS))
def test_a_valid_event_round_trips_through_json_unchanged(type_):
    event = envelope(type_, EXAMPLES[type_])
    assert from_json_bytes(to_json_bytes(event)) == event


def test_occurred_at_is_written_as_utc_iso_8601():
    caracas = timezone(timedelta(hours=-4))
    doc = dump_envelope(envelope("TicketAssigned", EXAMPLES["TicketAssigned"],
                                 occurred_at=datetime(2025, 3, 10, 8, 0, tzinfo=caracas)))
    assert doc["occurred_at"] == "2025-03-10T12:00:00+00:00"


def test_validate_data_fills_defaults_and_writes_datetimes_in_utc():
    data = validate_data("MessagePosted", {"message_id": "m-1", "author_id": "u-1",
                                           "author_role": "customer", "body": "Hola",
                                           "internal": False})
    assert data["attachments"] == [] and data["out_of_hours_requested"] is False
    away = validate_data("CustomerAway", {"back_at": "2025-03-12T09:00:00-04:00"})
    assert away == {"back_at": "2025-03-12T13:00:00+00:00"}


def test_an_event_missing_a_required_field_is_undecodable():
    doc = json.loads(raw("TicketAssigned"))
    del doc["data"]["agent_id"]
    with pytest.raises(UndecodableEvent):
        from_json_bytes(json.dumps(doc).encode())


def test_an_envelope_missing_its_actor_is_undecodable():
    doc = json.loads(raw("TicketAssigned"))
    del doc["actor"]
    with pytest.raises(UndecodableEvent):
        from_json_bytes(json.dumps(doc).encode())


def test_a_value_outside_its_enum_is_undecodable():
    with pytest.raises(UndecodableEvent):
        from_json_bytes(raw("TicketClosed", reason="gave_up"))


def test_a_naive_datetime_in_data_is_undecodable():
    with pytest.raises(UndecodableEvent):
        from_json_bytes(raw("AutoClosed", due_at="2025-03-14T14:00:00"))


def test_an_unknown_field_in_data_is_undecodable():
    with pytest.raises(UndecodableEvent):
        from_json_bytes(raw("TicketAssigned", colour="red"))


def test_an_unknown_event_type_is_undecodable():
    doc = json.loads(raw("TicketAssigned"))
    doc["type"] = "TicketTeleported"
    with pytest.raises(UndecodableEvent):
        from_json_bytes(json.dumps(doc).encode())


def test_an_unknown_schema_version_is_undecodable():
    doc = json.loads(raw("TicketAssigned"))
    doc["schema_version"] = 2
    with pytest.raises(UndecodableEvent):
        from_json_bytes(json.dumps(doc).encode())


@pytest.mark.parametrize("garbage", [b"\xff\xfe not json", b"[1, 2]", b"null", b"{}"])
def test_garbage_bytes_are_undecodable(garbage):
    with pytest.raises(UndecodableEvent):
        from_json_bytes(garbage)


def test_a_customer_registered_without_an_organisation_is_refused():
    data = {**EXAMPLES["UserRegistered"], "organisation_id": None}
    with pytest.raises(ValidationError) as exc:
        validate_data("UserRegistered", data)
    assert "organisation_id" in exc.value.messages


def test_an_agent_may_be_registered_without_an_organisation():
    data = {**EXAMPLES["UserRegistered"], "role": "agent", "organisation_id": None}
    assert validate_data("UserRegistered", data)["organisation_id"] is None


def test_a_special_process_ending_before_it_starts_is_refused():
    data = {**EXAMPLES["SpecialProcessAnnounced"], "ends_at": "2025-03-31T12:00:00+00:00"}
    with pytest.raises(ValidationError) as exc:
        validate_data("SpecialProcessAnnounced", data)
    assert "ends_at" in exc.value.messages


def test_dumping_an_event_with_invalid_data_raises_value_error():
    with pytest.raises(ValueError):
        to_json_bytes(envelope("TicketAssigned", {"agent_id": "u-2"}))


def test_validate_data_refuses_an_unknown_event_type():
    with pytest.raises(ValidationError):
        validate_data("TicketTeleported", {})


def test_a_merged_close_names_the_ticket_it_continues_in():
    data = validate_data("TicketClosed", {"reason": "merged", "merged_into": "SOP-42", "note": None})
    assert data["merged_into"] == "SOP-42"
    with pytest.raises(ValidationError):
        validate_data("TicketClosed", {"reason": "fusionado", "merged_into": "SOP-42"})


def test_a_close_written_before_merging_existed_loads_unchanged():
    assert validate_data("TicketClosed", {"reason": "auto_closed", "based_on_version": 4}) == \
        {"reason": "auto_closed", "based_on_version": 4}
