"""The portal's form reshaping (pure): browser fields to intake's body, intake's refusals to fields."""
from __future__ import annotations

from portal import forms, i18n


def test_the_subject_is_the_module_and_the_case_joined_by_a_comma():
    body = forms.ticket_body({"module": "BANCOS", "case": " Factura mal cargada ", "description": "d",
                              "contact_name": "M", "contact_email": "m@x.ve", "contact_phone": "0212"}, "SOPORTE", [])
    assert body["subject"] == "BANCOS, Factura mal cargada"
    assert body["contact"] == {"name": "M", "email": "m@x.ve", "phone": "0212"}
    assert body["urgency"] == "normal" and body["out_of_hours_requested"] is False
    assert "dates" not in body and "attachments" not in body


def test_comma_separated_dates_and_vouchers_become_lists_and_checkboxes_flags():
    body = forms.ticket_body({"module": "BANCOS", "case": "x", "dates": "2026-10-01, 2026-10-02;", "vouchers": "A1;B2",
                              "out_of_hours_requested": "1", "confirmed_different_case": "1",
                              "previous_ticket": "sop-12"}, "SOPORTE", ["u1"])
    assert body["dates"] == ["2026-10-01", "2026-10-02"] and body["vouchers"] == ["A1", "B2"]
    assert body["out_of_hours_requested"] is True and body["confirmed_different_case"] is True
    assert body["previous_ticket"] == "SOP-12" and body["attachments"] == ["u1"]


def test_each_refusal_goes_beside_the_input_the_reader_typed_it_in():
    assert forms.field_of({"code": "R4_VAGUE_SUBJECT", "field": "subject"}) == "case"
    assert forms.field_of({"code": "R4_UNKNOWN_MODULE", "field": "subject"}) == "module"
    assert forms.field_of({"code": "CONTACT_REQUIRED", "field": "contact.phone"}) == "contact_phone"
    assert forms.field_of({"code": "INVALID_REQUEST", "field": "dates.0"}) == "dates"
    assert forms.field_of({"code": "URGENT_NO_ANNOUNCEMENT", "field": "urgency"}) == "urgency"
    assert forms.field_of({"code": "SOMETHING", "field": None}) == ""


def test_a_refusal_is_shown_in_the_readers_language_spanish_when_english_is_missing():
    refusal = {"code": "X", "message": {"es": "hola", "en": "hello"}}
    assert forms.text_of(refusal, "en") == "hello" and forms.text_of(refusal, "es") == "hola"
    assert forms.text_of({"code": "X", "message": {"es": "solo"}}, "en") == "solo"


def test_a_duplicate_is_recognised_only_with_the_ticket_it_names():
    assert forms.is_duplicate({"code": "R6_DUPLICATE_OPEN_CASE", "ticket": "SOP-3"})
    assert not forms.is_duplicate({"code": "R6_DUPLICATE_OPEN_CASE"})


def test_the_switch_wins_over_the_users_language_and_spanish_is_the_default():
    assert i18n.choose("en", "es") == "en"
    assert i18n.choose(None, "en") == "en"
    assert i18n.choose(None, None) == "es"
    assert i18n.choose("fr", "de") == "es"
