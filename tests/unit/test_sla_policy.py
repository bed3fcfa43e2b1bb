"""SLA policies: the defaults of SPEC §3, documents in and out, deadlines on both clocks."""
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
