"""SLA policies: the defaults of SPEC §3, documents in and out, deadlines on both clocks."""
import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest

from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.errors import RuleViolation
from sla.policy import (
    DEFAULT_POLICIES,
    Policy,
    Target,
    deadline,
    policy_from_doc,
    policy_to_doc,
    urgency_class,
)

CALENDAR = venezuela_default(range(2026, 2028))
CARACAS = timezone(timedelta(hours=-4))
NORMAL = DEFAULT_POLICIES[("SOPORTE", "normal")]


def refused(doc) -> RuleViolation:
    """Parse `doc` expecting SLA_POLICY_INVALID with texts in both languages."""
    with pytest.raises(RuleViolation) as caught:
        policy_from_doc(doc, "SOPORTE", "normal", 2)
    error = caught.value
    assert (error.code, error.status) == ("SLA_POLICY_INVALID", 422)
    assert error.message.es.strip() and error.message.en.strip() and error.message.es != error.message.en
    return error


def test_both_desks_have_a_normal_and_an_urgent_policy_at_version_1():
    assert set(DEFAULT_POLICIES) == {(desk, cls) for desk in ("SOPORTE", "IMPLANTACIONES")
                                     for cls in ("normal", "urgent")}
    assert {p.version for p in DEFAULT_POLICIES.values()} == {1}
    assert all((p.desk, p.urgency_class) == key for key, p in DEFAULT_POLICIES.items())


def test_normal_tickets_get_one_business_day_to_answer_and_two_to_auto_close():
    for desk in ("SOPORTE", "IMPLANTACIONES"):
        p = DEFAULT_POLICIES[(desk, "normal")]
        assert p.first_response == p.next_response == Target(480, "business")
        assert (p.auto_close_warning, p.auto_close) == (Target(480, "business"), Target(960, "business"))


def test_urgent_tickets_get_two_clock_hours_but_wait_for_the_customer_like_normal_ones():
    for desk in ("SOPORTE", "IMPLANTACIONES"):
        p = DEFAULT_POLICIES[(desk, "urgent")]
        assert p.first_response == p.next_response == Target(120, "24x7")
        assert (p.auto_close_warning, p.auto_close) == (Target(480, "business"), Target(960, "business"))


def test_the_three_urgent_kinds_are_urgent_and_normal_is_normal():
    assert [urgency_class(u) for u in ("platform_down", "member_billing_stopped",
                                       "announced_special_process", "normal")] == \
        ["urgent", "urgent", "urgent", "normal"]
    with pytest.raises(ValueError):
        urgency_class("whenever")


def test_a_policy_document_round_trips():
    for p in DEFAULT_POLICIES.values():
        assert policy_from_doc(policy_to_doc(p), p.desk, p.urgency_class, p.version) == p
    assert policy_to_doc(NORMAL)["auto_close"] == {"minutes": 960, "clock": "business"}


def test_a_supervisor_may_shorten_a_target_in_a_new_version():
    doc = {**policy_to_doc(NORMAL), "first_response": {"minutes": 240, "clock": "business"}}
    p = policy_from_doc(doc, "SOPORTE", "normal", 2)
    assert (p.version, p.first_response) == (2, Target(240, "business"))


@pytest.mark.parametrize("minutes", [0, -5, 60 * 24 * 60 + 1, 1.5, "480", True, None])
def test_business_minutes_must_be_a_positive_integer_of_at_most_60_days(minutes):
    doc = {**policy_to_doc(NORMAL), "next_response": {"minutes": minutes, "clock": "business"}}
    assert refused(doc).field == "next_response.minutes"


def test_sixty_days_is_still_accepted():
    doc = {**policy_to_doc(NORMAL), "auto_close": {"minutes": 60 * 24 * 60, "clock": "24x7"}}
    assert policy_from_doc(doc, "SOPORTE", "normal", 2).auto_close.minutes == 86_400


def test_the_clock_is_business_or_24x7():
    doc = {**policy_to_doc(NORMAL), "first_response": {"minutes": 60, "clock": "weekdays"}}
    assert refused(doc).field == "first_response.clock"


def test_every_target_must_be_there():
    doc = policy_to_doc(NORMAL)
    del doc["auto_close_warning"]
    assert refused(doc).field == "auto_close_warning"
    assert refused({**policy_to_doc(NORMAL), "auto_close": 960}).field == "auto_close"


def test_an_unknown_target_is_refused_rather_than_ignored():
    assert refused({**policy_to_doc(NORMAL), "first_responce": {"minutes": 1, "clock": "24x7"}}).field \
        == "first_responce"


def test_the_warning_comes_before_the_auto_close_on_the_same_clock():
    doc = {**policy_to_doc(NORMAL), "auto_close_warning": {"minutes": 960, "clock": "business"}}
    assert refused(doc).field == "auto_close_warning"
    # On different clocks minutes are not comparable without a calendar: accepted.
    doc["auto_close_warning"] = {"minutes": 960, "clock": "24x7"}
    assert policy_from_doc(doc, "SOPORTE", "normal", 2).auto_close_warning.clock == "24x7"


def test_an_invalid_policy_is_not_serialised_either():
    bad = Policy("SOPORTE", "normal", 1, Target(480, "business"), Target(480, "business"),
                 Target(960, "business"), Target(480, "business"))
    with pytest.raises(RuleViolation) as caught:
        policy_to_doc(bad)
    assert (caught.value.code, caught.value.field) == ("SLA_POLICY_INVALID", "auto_close_warning")


def test_an_unknown_desk_is_refused():
    with pytest.raises(RuleViolation) as caught:
        policy_from_doc(policy_to_doc(NORMAL), "VENTAS", "normal", 1)
    assert (caught.value.code, caught.value.field) == ("SLA_POLICY_INVALID", "desk")


def test_a_business_deadline_counts_opening_hours_and_a_24x7_one_counts_the_clock():
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=CARACAS)
    assert deadline(Target(480, "business"), friday_4pm, CALENDAR) == \
        datetime(2026, 11, 30, 16, 0, tzinfo=CARACAS)
    assert deadline(Target(120, "24x7"), friday_4pm, CALENDAR) == \
        datetime(2026, 11, 27, 18, 0, tzinfo=CARACAS)
    assert deadline(Target(60, "business"), friday_4pm, CALENDAR) == \
        datetime(2026, 11, 27, 17, 0, tzinfo=CARACAS)  # a closing time stays a closing time
    assert deadline(Target(480, "business"), friday_4pm, CALENDAR).tzinfo == timezone.utc


def test_a_business_deadline_skips_a_holiday():
    before_christmas = datetime(2026, 12, 23, 10, 0, tzinfo=CARACAS)  # Wednesday
    assert date(2026, 12, 24) in CALENDAR.closed_days and date(2026, 12, 25) in CALENDAR.closed_days
    assert deadline(Target(480, "business"), before_christmas, CALENDAR) == \
        datetime(2026, 12, 28, 10, 0, tzinfo=CARACAS)


def test_a_24x7_target_may_be_a_fraction_of_a_minute_down_to_one_second():
    doc = {**policy_to_doc(NORMAL), "first_response": {"minutes": 0.05, "clock": "24x7"}}
    assert policy_from_doc(doc, "SOPORTE", "normal", 2).first_response.minutes == 0.05
    too_short = {**policy_to_doc(NORMAL), "first_response": {"minutes": 0.001, "clock": "24x7"}}
    assert refused(too_short).field == "first_response.minutes"


def test_one_second_is_the_shortest_24x7_target_and_anything_shorter_is_refused():
    one_second = {**policy_to_doc(NORMAL), "first_response": {"minutes": 1 / 60, "clock": "24x7"}}
    assert policy_from_doc(one_second, "SOPORTE", "normal", 2).first_response.minutes == 1 / 60
    just_under = {**policy_to_doc(NORMAL), "first_response": {"minutes": 0.0165, "clock": "24x7"}}
    assert refused(just_under).field == "first_response.minutes"


MINUTES_ES = ("Los minutos de «first_response» deben ser un entero entre 1 y 86400 (60 días); "
              "en reloj 24x7 se admiten fracciones desde un segundo.")
MINUTES_EN = ("The minutes of 'first_response' must be an integer from 1 to 86400 (60 days); "
              "a 24x7 clock also takes fractions down to one second.")


def with_first_response(value) -> dict:
    return {**policy_to_doc(NORMAL), "first_response": value}


# What the supervisor reads for each mistake in a policy document, word for word.
@pytest.mark.parametrize("doc, field, es, en", [
    ([], "policy", "La política debe ser un objeto.", "The policy must be an object."),
    ({k: v for k, v in policy_to_doc(NORMAL).items() if k != "next_response"}, "next_response",
     "Falta el objetivo «next_response».", "Target 'next_response' is missing."),
    ({**policy_to_doc(NORMAL), "respuesta": {}}, "respuesta",
     "Objetivo desconocido «respuesta».", "Unknown target 'respuesta'."),
    (with_first_response(480), "first_response",
     "El objetivo «first_response» debe indicar minutos y reloj.", "Target 'first_response' must give minutes and a clock."),
    (with_first_response({"minutes": 0, "clock": "business"}), "first_response.minutes", MINUTES_ES, MINUTES_EN),
    (with_first_response({"minutes": 480, "clock": "lunar"}), "first_response.clock",
     "El reloj de «first_response» debe ser «business» o «24x7».",
     "The clock of 'first_response' must be 'business' or '24x7'."),
    (with_first_response({"minutes": 480, "clock": "business", "zona": "x", "alerta": 1}), "first_response.alerta",
     "Campo desconocido en «first_response».", "Unknown field in 'first_response'."),
])
def test_each_mistake_in_a_policy_document_is_named_and_explained(doc, field, es, en):
    error = refused(doc)
    assert (error.field, error.message.es, error.message.en) == (field, es, en)


@pytest.mark.parametrize("desk, cls, version, field, es, en", [
    ("VENTAS", "normal", 1, "desk", "Mesa desconocida.", "Unknown desk."),
    ("SOPORTE", "rapido", 1, "urgency_class", "La clase de urgencia debe ser «normal» o «urgent».",
     "The urgency class must be 'normal' or 'urgent'."),
    ("SOPORTE", "normal", 0, "version", "La versión debe ser un entero mayor o igual a 1.",
     "The version must be an integer of 1 or more."),
    ("SOPORTE", "normal", True, "version", "La versión debe ser un entero mayor o igual a 1.",
     "The version must be an integer of 1 or more."),
    ("SOPORTE", "normal", "2", "version", "La versión debe ser un entero mayor o igual a 1.",
     "The version must be an integer of 1 or more."),
])
def test_a_policy_for_an_unknown_desk_class_or_version_is_refused_naming_which(desk, cls, version, field, es, en):
    with pytest.raises(RuleViolation) as caught:
        policy_from_doc(policy_to_doc(NORMAL), desk, cls, version)
    error = caught.value
    assert (error.code, error.field, error.message.es, error.message.en) == ("SLA_POLICY_INVALID", field, es, en)


def test_a_policy_missing_a_target_or_with_the_warning_after_the_close_is_explained():
    with pytest.raises(RuleViolation) as missing:
        policy_to_doc(dataclasses.replace(NORMAL, auto_close=None))
    assert (missing.value.field, missing.value.message.es, missing.value.message.en) == (
        "auto_close", "Falta el objetivo «auto_close».", "Target 'auto_close' is missing.")
    late = {**policy_to_doc(NORMAL), "auto_close_warning": {"minutes": 960, "clock": "business"}}
    error = refused(late)
    assert (error.field, error.message.es, error.message.en) == (
        "auto_close_warning", "El aviso de cierre automático debe llegar antes del cierre.",
        "The auto-close warning must come before the auto-close.")


def test_an_unknown_urgency_is_a_programming_error_that_names_it():
    with pytest.raises(ValueError, match="^unknown urgency 'urgentisimo'$"):
        urgency_class("urgentisimo")


def test_policies_and_targets_are_values_that_cannot_be_changed_in_place():
    """A ticket pins the policy it opened under: nobody may alter that version afterwards."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        NORMAL.version = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        NORMAL.first_response.minutes = 1
