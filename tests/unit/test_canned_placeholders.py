"""Canned answers' placeholders (helpdesk_shared.canned, pure)."""
from __future__ import annotations

from helpdesk_shared import canned


def test_the_known_placeholders_are_filled_and_a_missing_value_leaves_nothing():
    text = "Estimado {cliente}: su ticket {ticket} vence el {plazo}. Llame al {telefonos}."
    assert canned.fill(text, {"cliente": "María Pérez", "ticket": "SOP-000042", "plazo": None,
                              "telefonos": "+58 212 555 0100"}) == \
        "Estimado María Pérez: su ticket SOP-000042 vence el . Llame al +58 212 555 0100."


def test_a_brace_that_is_no_placeholder_stays_as_written_and_is_reported_unknown():
    text = "Hola {clente}, use {a-b} o {} y {cliente}{cliente}."
    assert canned.fill(text, {"cliente": "Ana"}) == "Hola {clente}, use {a-b} o {} y AnaAna."
    assert canned.unknown(text) == ["clente"]
    assert canned.used(text) == ["clente", "cliente"]


def test_a_value_with_braces_is_not_filled_again():
    assert canned.fill("{cliente} / {ticket}", {"cliente": "{ticket}", "ticket": "SOP-1"}) == "{ticket} / SOP-1"
