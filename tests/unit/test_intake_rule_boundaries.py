"""Intake's rules at their exact limits: the last accepted value and the first refused one.

The rules (SPEC §2 rules 3-5) state their limits as numbers: eight words of substance,
five of them different; an e-mail of at most 254 characters; a phone of 7 to 15 digits;
at most 50 dates and vouchers of at most 50 characters; a menu path of at most 300.
Each test puts a value on each side of one limit.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timezone

import pytest

from helpdesk_shared.business_calendar import Calendar
from helpdesk_shared.errors import RuleViolation
from intake.catalog import DESKS
from intake.domain import (Announcement, business_days_left_in_month, case_similarity, check_contact,
                           check_description, check_structured_fields, default_calendar, find_duplicate,
                           is_similar_case, month_end_warning, parse_subject, subject_warnings)

SOPORTE = DESKS["SOPORTE"].modules


def refusal(call, *args, **kwargs) -> tuple[str, str]:
    """(code, field) of the RuleViolation `call` raises."""
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kwargs)
    return caught.value.code, caught.value.field


# -- rule 4: a subject in capitals is shouting, however short its words -----------------


def test_a_case_in_capitals_is_shouting_even_when_its_words_are_two_letters_long():
    assert parse_subject("SISTEMA, ip tv pc", SOPORTE) == ("SISTEMA", "ip tv pc")
    assert refusal(parse_subject, "SISTEMA, IP TV PC", SOPORTE) == ("R4_VAGUE_SUBJECT", "subject")


def test_a_module_name_of_several_words_is_matched_however_the_customer_spaces_it():
    modules = ("CUENTAS POR COBRAR", "BANCOS")
    assert parse_subject("cuentas   por  cobrar, Saldo del socio 0456 no cuadra", modules) == (
        "CUENTAS POR COBRAR", "Saldo del socio 0456 no cuadra")


def test_brackets_left_empty_in_a_case_that_asked_for_urgency_are_tidied_away_with_it():
    assert parse_subject("BANCOS, Factura () mal cargada [] en Mercantil URGENTE", SOPORTE) == (
        "BANCOS", "Factura mal cargada en Mercantil")
    assert subject_warnings("BANCOS, Factura () mal cargada [] en Mercantil URGENTE")


# -- rule 5: a description of substance ------------------------------------------------

EIGHT_WORDS = "factura duplicada conciliación banco mercantil marzo socio acción"


def test_eight_different_words_of_substance_are_enough_and_seven_are_not():
    assert check_description(EIGHT_WORDS) == EIGHT_WORDS
    seven = EIGHT_WORDS.rsplit(" ", 1)[0]
    assert refusal(check_description, seven) == ("R5_DESCRIPTION_THIN", "description")


def test_eight_words_of_which_five_differ_are_enough_and_four_are_not():
    five = "factura factura factura factura duplicada banco mercantil marzo"
    assert check_description(five) == five
    four = "factura factura factura factura factura banco mercantil marzo"
    assert refusal(check_description, four) == ("R5_DESCRIPTION_THIN", "description")


def test_a_missing_description_is_refused_as_required():
    assert refusal(check_description, None) == ("R5_DESCRIPTION_REQUIRED", "description")


# -- rule 3: contact -------------------------------------------------------------------


def contact(**changes) -> dict:
    return {"name": "Ana", "email": "a@b.co", "phone": "02125551234", **changes}


def test_an_e_mail_address_of_254_characters_is_accepted_and_one_of_255_is_not():
    domain = "@club.com.ve"
    longest = "a" * (254 - len(domain)) + domain
    assert check_contact(contact(email=longest))["email"] == longest
    assert refusal(check_contact, contact(email="a" + longest)) == ("CONTACT_REQUIRED", "contact.email")


@pytest.mark.parametrize(("phone", "digits"), [("555-1234", "5551234"), ("+58 412 555 0123 456", "+584125550123456")])
def test_a_phone_of_7_to_15_digits_is_accepted(phone, digits):
    assert check_contact(contact(phone=phone))["phone"] == digits


@pytest.mark.parametrize("phone", ["555-123", "+58 412 555 0123 4567"])
def test_a_phone_of_6_or_16_digits_is_refused(phone):
    assert refusal(check_contact, contact(phone=phone)) == ("CONTACT_REQUIRED", "contact.phone")


# -- rule 5: the optional structured fields --------------------------------------------


def test_an_empty_member_number_or_menu_path_counts_as_not_given():
    fields = check_structured_fields(member_number="", menu_path="")
    assert fields["member_number"] is None and fields["menu_path"] is None


def test_fifty_dates_are_accepted_and_fifty_one_are_not():
    dates = ["2025-03-01"] * 50
    assert check_structured_fields(dates=dates)["dates"] == dates
    assert refusal(check_structured_fields, dates=dates + ["2025-03-02"]) == ("R5_FIELD_INVALID", "dates")


def test_fifty_vouchers_of_fifty_characters_are_accepted():
    vouchers = ["V" * 50] * 50
    assert check_structured_fields(vouchers=vouchers)["vouchers"] == vouchers


def test_a_voucher_of_one_character_is_accepted():
    assert check_structured_fields(vouchers=[" 7 "])["vouchers"] == ["7"]


def test_dates_given_as_a_number_are_refused_naming_the_field():
    assert refusal(check_structured_fields, dates=20250301) == ("R5_FIELD_INVALID", "dates")


def test_a_contact_name_is_kept_to_its_first_200_characters():
    assert check_contact(contact(name="N" * 250))["name"] == "N" * 200


def test_a_menu_path_of_300_characters_is_accepted():
    path = "Contabilidad > " + "x" * 285
    assert len(path) == 300
    assert check_structured_fields(menu_path=path)["menu_path"] == path


def test_an_announcement_cannot_be_changed_once_filed():
    now = datetime(2026, 11, 27, 14, tzinfo=timezone.utc)
    announcement = Announcement("SP-1", now, now, now)
    with pytest.raises(dataclasses.FrozenInstanceError):
        announcement.ends_at = now                       # type: ignore[misc]


# -- rule 6: how much a shared word counts ---------------------------------------------
# Two summaries of three terms each sharing one: the score is the shared term's weight over
# the weights of the five distinct terms (1 each for the four others).


@pytest.mark.parametrize("generic", ["no", "muestra", "mal", "mes", "reporte", "archivo", "guarda", "falta"])
def test_a_shared_generic_fact_counts_half_a_word(generic):
    # NOT, SHOWN, WRONG, MONTH, REPORT, FILE, SAVE, MISSING: 0.5 / (0.5 + 4).
    score = case_similarity(f"proveedor inventario {generic}", "", f"cheque tarjeta {generic}", "")
    assert score == pytest.approx(0.5 / 4.5)


@pytest.mark.parametrize("light", ["banco", "problema"])
def test_a_shared_everyday_word_of_the_module_or_a_vague_word_counts_a_quarter(light):
    score = case_similarity(f"{light} proveedor inventario", "", f"{light} cheque tarjeta", "", "BANCOS")
    assert score == pytest.approx(0.25 / 4.25)



def test_numbers_are_compared_without_their_leading_zeros_and_different_numbers_differ():
    assert case_similarity("factura 0456 proveedor", "", "factura 456 proveedor", "") == 1.0
    assert case_similarity("saldo 000 proveedor", "", "saldo 0 proveedor", "") == 1.0
    assert case_similarity("factura 0456 proveedor", "", "factura 789 proveedor", "") < 1.0


def test_a_two_letter_word_counts_as_a_term_and_a_one_letter_word_does_not():
    assert case_similarity("ip proveedor inventario", "", "ip cheque tarjeta", "") == pytest.approx(1 / 5)
    assert case_similarity("x proveedor inventario", "", "x cheque tarjeta", "") == 0.0


@pytest.mark.parametrize("other", ["xxxx", "cheque tarjeta"])
def test_a_case_without_a_summary_matches_no_case(other):
    assert case_similarity(None, "", other, "") == 0.0
    assert case_similarity(other, "", None, "") == 0.0


# Summaries sharing one half-weight term (MONTH) out of five weights: exactly the gate, 0.1.
AT_GATE_A, AT_GATE_B = "proveedor inventario mes", "cheque tarjeta mes mal"
SHARED_DESCRIPTION = "el proveedor envia la factura con monto errado desde enero"


def test_summaries_scoring_exactly_the_gate_let_their_descriptions_confirm_them():
    assert case_similarity(AT_GATE_A, "", AT_GATE_B, "") == pytest.approx(0.1)
    assert case_similarity(AT_GATE_A, SHARED_DESCRIPTION, AT_GATE_B, SHARED_DESCRIPTION) > 0.3


def test_a_description_on_one_side_only_changes_nothing():
    # Summaries share "cheque" out of five terms: 0.2, whatever the one description says.
    assert case_similarity("proveedor inventario cheque", "tarjeta deposito", "cheque tarjeta deposito", "") == \
        pytest.approx(0.2)


# "cheque" shared, "proveedor", "tarjeta" and the half-weight MONTH not: 1 / 3.5, under the
# threshold; anything both sides had in common beyond the summaries would lift it over.
BELOW_A, BELOW_B = "proveedor cheque mes", "tarjeta cheque"


def test_cases_compared_without_descriptions_are_judged_on_their_summaries_alone():
    assert case_similarity(BELOW_A, "", BELOW_B, "") == pytest.approx(1 / 3.5)
    assert not is_similar_case(BELOW_A, BELOW_B)
    assert find_duplicate(BELOW_A, [("SOP-1", BELOW_B, "tarjeta cheque proveedor mes")]) is None


def test_a_description_on_one_side_only_leaves_the_judgement_to_the_summaries():
    description = "tarjeta cheque proveedor mes"
    assert not is_similar_case(BELOW_A, BELOW_B, description_b=description)
    assert not is_similar_case(BELOW_A, BELOW_B, description_a=description)


def test_an_open_case_with_a_description_is_matched_on_it_when_the_new_case_has_one():
    assert find_duplicate(BELOW_A, [("SOP-1", BELOW_B, SHARED_DESCRIPTION)], description=SHARED_DESCRIPTION) == "SOP-1"


def test_a_score_exactly_at_the_threshold_is_a_duplicate():
    # 8 shared numbers and a shared vague word (8.25) over 16 numbers and 4 vague words (25): 0.33.
    shared = " ".join(str(100 + i) for i in range(8)) + " problema"
    a = shared + " " + " ".join(str(200 + i) for i in range(8)) + " error falla"
    b = shared + " " + " ".join(str(300 + i) for i in range(8)) + " duda"
    assert case_similarity(a, "", b, "") == 0.33
    assert is_similar_case(a, b)



def test_an_open_case_without_a_description_is_judged_on_the_summaries_even_when_the_new_case_has_one():
    assert find_duplicate(BELOW_A, [("SOP-1", BELOW_B)], description="tarjeta") is None


# -- the month-end warning ---------------------------------------------------------------


def test_a_payroll_case_with_three_business_days_left_is_not_warned_yet():
    assert month_end_warning("NOMINA", date(2026, 11, 26), 3) is None
    assert month_end_warning("NOMINA", date(2026, 11, 27), 2) is not None


def test_intakes_default_calendar_knows_the_holidays_of_the_year_before_that_year_and_the_next():
    assert {day.year for day in default_calendar(2026).closed_days} == {2025, 2026, 2027}


def test_a_day_on_which_the_desk_opens_at_midnight_counts_as_a_business_day():
    # Open 00:00-01:00 Monday to Friday: Friday 27 and Monday 30 November 2026 are left.
    night_desk = Calendar(weekly=tuple((day, time(0), time(1)) for day in range(5)))
    assert business_days_left_in_month(night_desk, date(2026, 11, 27)) == 2
