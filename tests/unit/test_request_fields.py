"""The edge's strict fields and request schemas (pure): one JSON type per field, every text bounded."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from marshmallow import Schema, ValidationError, fields as ma_fields

from helpdesk_shared import fields
from intake import requests
from sla import requests as sla_requests


def refused(schema: Schema, data: dict):
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return fields.refusal(caught.value)


@pytest.mark.parametrize("value", ["false", "true", "no", 0, 1, [], {}])
def test_only_json_true_or_false_is_a_boolean(value):
    refusal = refused(requests.Resolution(), {"solved": value})
    assert (refusal.code, refusal.field, refusal.status) == ("FIELD_NOT_BOOLEAN", "solved", 422)
    assert "true" in refusal.message.es and "true" in refusal.message.en


@pytest.mark.parametrize("value", ["el lunes en la mañana", "2026-11-30T13:00:00", "2026-11-30", "30/11/2026",
                                   "30/11/2026 13:00", 1764507600, "2026-11-30T13:00:00+00:00" + "0" * 50])
def test_a_date_time_must_be_iso_8601_with_a_zone(value):
    assert refused(requests.Away(), {"back_at": value}).code == "FIELD_NOT_DATETIME"


def test_a_date_time_with_a_zone_loads_as_an_aware_datetime():
    back_at = requests.Away().load({"back_at": "2026-11-30T09:00:00-04:00"})["back_at"]
    assert back_at == datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)


def test_a_count_is_an_integer_and_not_a_boolean_or_a_text():
    for value in (True, "3", 3.0):
        assert refused(requests.TrainingRequest(), {"modules": ["NOMINA"], "participants": value}).code \
            == "FIELD_NOT_INTEGER"
    assert refused(requests.TrainingRequest(), {"modules": ["NOMINA"], "participants": 51}).code \
        == "FIELD_OUT_OF_RANGE"


@pytest.mark.parametrize(("value", "code"), [(0, "FIELD_OUT_OF_RANGE"), (24 * 60 + 1, "FIELD_OUT_OF_RANGE"),
                                             (-5, "FIELD_OUT_OF_RANGE"), ("30", "FIELD_NOT_INTEGER"),
                                             (30.5, "FIELD_NOT_INTEGER"), (True, "FIELD_NOT_INTEGER")])
def test_the_minutes_spent_on_an_answer_are_a_whole_number_from_one_minute_to_a_day(value, code):
    refusal = refused(requests.PostMessage(), {"body": "Listo", "minutes_spent": value})
    assert (refusal.code, refusal.field) == (code, "minutes_spent")
    assert requests.PostMessage().load({"body": "Listo", "minutes_spent": 24 * 60})["minutes_spent"] == 24 * 60


def test_a_special_process_ends_after_it_starts_and_has_a_known_kind():
    body = {"kind": "carnetizacion", "description": "Carnetización anual",
            "starts_at": "2026-12-05T09:00:00-04:00", "ends_at": "2026-12-05T09:00:00-04:00"}
    assert refused(requests.SpecialProcess(), body).field == "ends_at"
    assert refused(requests.SpecialProcess(), {**body, "kind": "fiesta"}).code == "FIELD_NOT_CHOICE"


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "ok \udfff"])
def test_nul_and_lone_surrogates_are_refused_in_any_text(text):
    assert refused(requests.PostMessage(), {"body": text}).code == "TEXT_INVALID_CHARACTERS"


def test_a_nested_field_is_named_by_its_path():
    refusal = refused(requests.OpenTicket(), {"desk": "SOPORTE", "subject": "BANCOS, x", "description": "d",
                                              "contact": {"email": 42}})
    assert refusal.field == "contact.email"


SCHEMAS = [cls for module in (requests, sla_requests) for cls in vars(module).values()
           if isinstance(cls, type) and issubclass(cls, Schema) and cls.__module__ == module.__name__]


def _leaves(field):
    if isinstance(field, ma_fields.List):
        yield field
        yield from _leaves(field.inner)
    elif not isinstance(field, ma_fields.Nested):
        yield field


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_every_field_of_every_request_is_one_of_the_strict_bounded_kinds(schema):
    strict = (fields.Text, fields.Flag, fields.Count, fields.Number, fields.Instant, fields.Day, fields.Items)
    for name, field in schema().fields.items():
        for leaf in _leaves(field):
            assert isinstance(leaf, strict), f"{schema.__name__}.{name} is {type(leaf).__name__}"


def _intake_document() -> dict:
    """Intake's document built from its blueprints alone (no database: the routes are what matters)."""
    from flask import Flask
    from prometheus_client import CollectorRegistry
    from helpdesk_shared import openapi, web
    from intake import admin_api, api
    app = Flask("intake_routes")
    web.install(app, "intake", CollectorRegistry())
    for blueprint in (api.bp, api.resolve_bp, admin_api.bp):
        app.register_blueprint(blueprint)
    return openapi.document(app, "Mesa intake", "routes")


# Query strings are documented as parameters, not bodies; SetPassword is a form.
BODIES = [cls for cls in SCHEMAS if cls.__module__ == requests.__name__ and cls.__name__ != "SetPassword"
          and not issubclass(cls, fields.QuerySchema)]


@pytest.mark.parametrize("schema", BODIES, ids=lambda s: s.__name__)
def test_the_openapi_request_bodies_are_the_schemas_the_routes_load(schema):
    documented = _intake_document()["components"]["schemas"][schema.__name__]
    loaded = schema()
    assert set(documented["properties"]) == set(loaded.fields)
    assert set(documented.get("required", [])) == {n for n, f in loaded.fields.items() if f.required}
    assert documented["additionalProperties"] is False


@pytest.mark.parametrize("body, code, field", [
    ({"disabled": "true"}, "FIELD_NOT_BOOLEAN", "disabled"), ({"role": "admin"}, "FIELD_NOT_CHOICE", "role"),
    ({"desks": []}, "FIELD_NOT_CHOICE", "desks"), ({"desks": ["SOPORTE", "SOPORTE"]}, "FIELD_NOT_CHOICE", "desks"),
    ({"desks": ["VENTAS"]}, "FIELD_NOT_CHOICE", "desks"), ({"password": "x"}, "FIELD_UNKNOWN", "password"),
    ({}, "NOTHING_TO_CHANGE", None)])
def test_a_user_change_of_the_wrong_type_is_refused_at_the_edge_naming_the_field(body, code, field):
    refusal = refused(requests.UserChange(), body)
    assert (refusal.code, refusal.field, refusal.status) == (code, field, 422)


def test_a_user_change_may_move_a_user_to_staff_with_a_null_organisation():
    assert requests.UserChange().load({"role": "agent", "organisation_id": None}) == {"role": "agent",
                                                                                       "organisation_id": None}
