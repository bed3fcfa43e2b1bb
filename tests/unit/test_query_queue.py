"""The desk pages' pure parts: business time left read off the SLA's intervals (never a calendar),
the queue's flags and order, the auto-close window, "today" in Caracas, the pages' parameters and
cursors, and the timeline's lines."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import SYSTEM, Actor, new_event
from helpdesk_shared.errors import RuleViolation
from query import queue, queue_params, timeline

UTC = timezone.utc


def caracas(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """An instant of 2026 given in Caracas wall time (UTC-4)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) + timedelta(hours=4)


# A 20-business-hour deadline filed Friday 19 June 2026 at 15:00 in Caracas, on the default
# calendar (Mon-Fri 09:00-17:00): Friday 2 h, the weekend nothing, Monday 8 h, Tuesday 8 h,
# Wednesday 24 June (Batalla de Carabobo, a holiday) nothing, Thursday 09:00-11:00 2 h.
INTERVALS = [(caracas(19, 15), caracas(19, 17)), (caracas(22, 9), caracas(22, 17)),
             (caracas(23, 9), caracas(23, 17)), (caracas(25, 9), caracas(25, 11))]
DUE = caracas(25, 11)
HOUR = 3600


@pytest.mark.parametrize("now, hours_left", [
    (caracas(19, 8), 20),          # before the count starts: all of it
    (caracas(19, 16), 19),         # Friday afternoon: 1 h of Friday + 8 + 8 + 2
    (caracas(20, 10), 18),         # Saturday: the weekend counts nothing
    (caracas(21, 23, 59), 18),     # Sunday night: still 18
    (caracas(23, 13), 6),          # Tuesday 13:00: 4 h of Tuesday + 2 h of Thursday (Wednesday: holiday)
    (caracas(24, 10), 2),          # on the holiday: only Thursday's 2 h are left
    (caracas(25, 10, 30), 0.5),    # Thursday 10:30
    (caracas(25, 11), 0),          # exactly due
])
def test_business_time_left_is_the_overlap_of_now_to_due_with_the_facts_intervals(now, hours_left):
    assert queue.business_seconds_left(INTERVALS, now, DUE) == int(hours_left * HOUR)


def test_after_the_deadline_no_business_time_is_left_and_it_shows_how_long_overdue_in_clock_time():
    shown = queue.time_left({"clock": "first_response", "clock_type": "business", "due_at": DUE,
                             "open_intervals": [[a.isoformat(), b.isoformat()] for a, b in INTERVALS]},
                            caracas(25, 12, 15))
    assert (shown["business_seconds_left"], shown["overdue"], shown["overdue_seconds"]) == (0, True, 75 * 60)


def test_a_deadline_marked_overdue_by_the_sla_service_is_overdue_even_if_the_local_clock_lags():
    shown = queue.time_left({"clock": "first_response", "clock_type": "business", "due_at": DUE, "overdue": True,
                             "open_intervals": [[a.isoformat(), b.isoformat()] for a, b in INTERVALS]},
                            caracas(25, 10, 59))
    assert shown["overdue"] is True and shown["business_seconds_left"] == 60 and shown["overdue_seconds"] == 0


def test_a_24x7_clock_without_intervals_counts_every_second_and_a_business_one_is_not_guessed():
    now = caracas(20, 10)
    assert queue.time_left({"clock": "first_response", "clock_type": "24x7", "due_at": now + timedelta(hours=3)},
                           now)["business_seconds_left"] == 3 * HOUR
    assert queue.time_left({"clock": "first_response", "clock_type": "business", "due_at": DUE},
                           now)["business_seconds_left"] is None


def _ticket(**overrides) -> dict:
    row = {"ticket_id": "t-1", "number": "SOP-1", "subject": "BANCOS, x", "module": "BANCOS", "status": "open",
           "urgency": "normal", "organisation_id": "club-caracas", "organisation_name": "Club Social Caracas",
           "assigned_to": "u-carlos", "assigned_to_name": "Carlos", "customer_away": False, "back_at": None,
           "out_of_hours": False, "deadline": None}
    return {**row, **overrides}


def test_a_plain_assigned_ticket_without_deadline_raises_no_flag():
    item = queue.queue_item(_ticket(), caracas(22, 10))
    assert item["deadline"] is None
    assert not any(v for k, v in item["flags"].items())
    assert item["organisation"] == {"id": "club-caracas", "name": "Club Social Caracas"}
    assert item["assigned_to"] == {"id": "u-carlos", "name": "Carlos"}


def test_each_flag_comes_from_its_own_column():
    back = caracas(30, 9)
    item = queue.queue_item(_ticket(urgency="platform_down", status="waiting_customer", customer_away=True,
                                    back_at=back, out_of_hours=True, assigned_to=None,
                                    deadline={"clock": "auto_close", "clock_type": "business", "due_at": DUE,
                                              "open_intervals": []}), caracas(25, 12))
    assert item["flags"] == {"urgent": True, "waiting_customer": True, "customer_away": True, "back_at": back,
                             "out_of_hours": True, "unassigned": True, "overdue": True}
    assert item["assigned_to"] is None


def _auto_close_row(ticket_id: str, due: datetime, hours_counted: float, warned: bool = False) -> dict:
    start = due - timedelta(hours=hours_counted)
    return {**_ticket(ticket_id=ticket_id, number=f"SOP-{ticket_id}"), "clock": "auto_close",
            "clock_type": "business", "due_at": due, "warning_at": due - timedelta(days=1), "warning_sent": warned,
            "open_intervals": [[start.isoformat(), due.isoformat()]], "overdue": False,
            "policy_version": 1, "calendar_version": 1}


def test_the_auto_close_list_takes_at_most_one_business_day_left_ordered_by_due_at():
    now = caracas(22, 9)
    rows = [_auto_close_row("c", now + timedelta(hours=8), 8),                    # exactly one business day: in
            _auto_close_row("a", now + timedelta(hours=3), 3, warned=True),
            _auto_close_row("d", now + timedelta(hours=8, seconds=1), 8 + 1 / 3600),  # one second more: out
            _auto_close_row("b", now - timedelta(hours=1), 1)]                    # overdue: about to close, in
    found = queue.auto_close_soon(rows, now)
    assert [i["number"] for i in found] == ["SOP-b", "SOP-a", "SOP-c"]
    assert [(i["business_seconds_left"], i["overdue"], i["warning_sent"]) for i in found] == [
        (0, True, False), (3 * HOUR, False, True), (8 * HOUR, False, False)]
    assert queue.BUSINESS_DAY_SECONDS == 8 * HOUR


def test_a_weekend_does_not_count_toward_the_auto_close_window():
    # Friday 16:00: due Monday 15:00 is 1 h (Friday) + 6 h (Monday) = 7 h of business time away, 71 h of clock time.
    now, due = caracas(19, 16), caracas(22, 15)
    friday = [caracas(19, 15).isoformat(), caracas(19, 17).isoformat()]
    row = {**_auto_close_row("w", due, 0), "open_intervals": [friday, [caracas(22, 9).isoformat(), due.isoformat()]]}
    assert [i["business_seconds_left"] for i in queue.auto_close_soon([row], now)] == [7 * HOUR]


def test_today_is_the_day_in_caracas_not_in_utc():
    late_evening = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Wednesday 25th, 22:00 in Caracas
    assert queue.day_bounds(late_evening) == (datetime(2026, 11, 25, 4, 0, tzinfo=UTC),
                                              datetime(2026, 11, 26, 4, 0, tzinfo=UTC))


STAFF = Claims("u-carlos", "agent", None, ("SOPORTE",), "Carlos", "carlos@mesa.example")
CUSTOMER = Claims("u-maria", "customer", "club-caracas", ("SOPORTE",), "María", "maria@clubcaracas.com.ve")


@pytest.mark.parametrize("user, desk, status", [(CUSTOMER, "SOPORTE", 403), (CUSTOMER, "NOPE", 403),
                                                (STAFF, "IMPLANTACIONES", 403), (STAFF, "NOPE", 404)])
def test_desk_pages_are_for_the_desks_staff_only(user, desk, status):
    with pytest.raises(RuleViolation) as caught:
        queue.check_desk_staff(user, desk)
    assert caught.value.status == status


def test_the_desks_staff_passes():
    queue.check_desk_staff(STAFF, "SOPORTE")


def _parse(**args):
    return queue_params.parse_page_query({k: [v] for k, v in args.items()}, "u-carlos", queue_params.QUEUE_FILTERS,
                                         queue_params.QUEUE, queue_params.QUEUE_CURSOR)


def test_an_unknown_queue_filter_is_a_422_listing_the_valid_ones_in_both_languages():
    with pytest.raises(RuleViolation) as caught:
        _parse(estado="open")
    err = caught.value
    assert (err.status, err.code, err.field) == (422, "UNKNOWN_FILTER", "estado")
    assert err.extra["valid"] == ["flag", "module", "assigned_to", "organisation_id", "cursor", "limit"]
    assert "cola" in err.message.es and "queue" in err.message.en


def test_a_flag_the_queue_does_not_have_is_a_422_listing_the_flags():
    with pytest.raises(RuleViolation) as caught:
        _parse(flag="urgente")
    assert caught.value.field == "flag" and caught.value.extra["valid"] == list(queue.QUEUE_FLAGS)


def test_queue_filters_read_me_none_and_module_codes():
    query = _parse(assigned_to="me", module="bancos", flag="overdue", limit="10")
    assert query.filters == {"assigned_to": "u-carlos", "module": "BANCOS", "flag": "overdue"} and query.limit == 10


def test_a_cursor_round_trips_and_a_forged_one_is_a_422_before_any_sql():
    key = ["2026-06-25T15:00:00+00:00", "t-1"]
    assert _parse(cursor=queue_params.encode_cursor(key)).cursor == key
    assert _parse(cursor=queue_params.encode_cursor(["infinity", "t-2"])).cursor == ["infinity", "t-2"]
    for forged in ("abc", queue_params.encode_cursor(["yesterday", "t-1"]), queue_params.encode_cursor([1, 2]),
                   queue_params.encode_cursor(["2026-06-25T15:00:00", "t-1"]), "%%%%", "x" * 600):
        with pytest.raises(RuleViolation) as caught:
            _parse(cursor=forged)
        assert (caught.value.status, caught.value.field) == (422, "cursor")


def test_a_timeline_cursor_needs_an_instant_two_small_ints_and_a_uuid():
    good = ["2026-06-25T15:00:00+00:00", 1, 3, str(uuid.uuid4())]
    shape = queue_params.TIMELINE_CURSOR
    assert queue_params.decode_cursor(queue_params.encode_cursor(good), shape) == good
    with pytest.raises(RuleViolation):
        queue_params.decode_cursor(queue_params.encode_cursor([good[0], 1, 2 ** 40, good[3]]), shape)
    with pytest.raises(RuleViolation):
        queue_params.decode_cursor(queue_params.encode_cursor([good[0], 1, 3, "not-a-uuid"]), shape)


def test_the_timeline_files_ticket_sla_and_mail_events_under_their_ticket_and_nothing_else():
    at = caracas(22, 10)
    opened = new_event("TicketAssigned", "t-9", 2, {"agent_id": "u-carlos", "assigned_by": "u-rosa"},
                       actor=Actor("u-rosa", "supervisor"), occurred_at=at)
    closed = new_event("AutoClosed", "sla-t-9", 4, {"ticket_id": "t-9", "based_on_version": 7,
                                                    "due_at": at.isoformat()}, actor=SYSTEM, occurred_at=at)
    calendar = new_event("CalendarChanged", "calendar-SOPORTE", 2, {
        "desk": "SOPORTE", "version": 2, "effective_from": at.isoformat(), "calendar": {}, "changed_by": "u-rosa"},
        actor=SYSTEM, occurred_at=at)
    assert [timeline.ticket_of(e) for e in (opened, closed, calendar)] == ["t-9", "t-9", None]


def test_the_auto_closed_line_says_when_the_deadline_passed_in_caracas_time_in_both_languages():
    line = timeline.summary("AutoClosed", {"based_on_version": 7, "due_at": caracas(25, 11).isoformat()}, "sla", {})
    assert "25/06/2026 11:00" in line["es"] and "versión 7" in line["es"]
    assert "25/06/2026 11:00" in line["en"] and "version 7" in line["en"]


def test_a_deadline_line_names_its_clock_and_the_policy_and_calendar_versions():
    line = timeline.summary("DeadlineMoved", {"clock": "auto_close", "due_at": caracas(25, 11).isoformat(),
                                              "previous_due_at": caracas(24, 11).isoformat(),
                                              "reason": "calendar_changed", "policy_version": 2,
                                              "calendar_version": 3}, "sla", {})
    assert line["es"] == ("Plazo de cierre automático movido del 24/06/2026 11:00 al 25/06/2026 11:00 porque "
                          "cambió el calendario (política v2, calendario v3)")
    assert line["en"].startswith("Auto-close deadline moved from 24/06/2026 11:00")


def test_an_assignment_line_names_the_assignee_by_name_when_known():
    line = timeline.summary("TicketAssigned", {"agent_id": "u-carlos", "assigned_by": "u-rosa"}, "Rosa",
                            {"u-carlos": "Carlos Soporte"})
    assert line == {"es": "Rosa asignó el ticket a Carlos Soporte", "en": "Rosa assigned the ticket to Carlos Soporte"}


def test_a_work_time_line_names_the_agent_and_the_minutes_outside_business_hours():
    line = timeline.summary("WorkTimeRecorded", {"agent_id": "u-carlos", "minutes": 90, "outside_hours_seconds": 2700,
                                                 "calendar_version": 2}, "sla", {"u-carlos": "Carlos Soporte"})
    assert line == {"es": "Carlos Soporte registró 90 min de trabajo, 45 fuera del horario (calendario v2)",
                    "en": "Carlos Soporte recorded 90 min of work, 45 outside business hours (calendar v2)"}
    assert timeline.people_named([{"type": "WorkTimeRecorded", "data": {"agent_id": "u-carlos"}}]) == {"u-carlos"}


SOP_TICKET = {"desk": "SOPORTE", "organisation_id": "club-caracas"}
LUIS = Claims("u-luis", "customer", "distribuidora-andina", ("IMPLANTACIONES",), "Luis", "luis@andina.com.ve")
ELENA = Claims("u-elena", "agent", None, ("IMPLANTACIONES",), "Elena", "elena@mesa.example")


@pytest.mark.parametrize("user, ticket, status", [
    (CUSTOMER, SOP_TICKET, 403),   # his organisation's ticket: staff only
    (LUIS, SOP_TICKET, 404),       # another organisation's: as if missing
    (ELENA, SOP_TICKET, 404),      # another desk's agent
    (STAFF, None, 404),            # no such ticket
])
def test_the_timeline_is_for_the_tickets_desk_staff_and_reveals_nothing_to_others(user, ticket, status):
    with pytest.raises(RuleViolation) as caught:
        timeline.check_access(user, ticket)
    assert caught.value.status == status


def test_the_desks_agent_reads_the_timeline():
    timeline.check_access(STAFF, SOP_TICKET)


def test_at_one_instant_the_timeline_puts_the_auto_close_decision_before_the_close_and_the_close_before_its_mail():
    at = caracas(19, 10)
    people_close = new_event("TicketClosed", "t-9", 5, {"reason": "closed_by_agent"}, actor=Actor("u-carlos", "agent"),
                             occurred_at=at)
    decided = new_event("AutoClosed", "sla-t-9", 6, {"ticket_id": "t-9", "based_on_version": 7,
                                                     "due_at": at.isoformat()}, actor=SYSTEM, occurred_at=at)
    carried_out = new_event("TicketClosed", "t-9", 8, {"reason": "auto_closed", "based_on_version": 7},
                            actor=SYSTEM, occurred_at=at, causation_id=decided.event_id)
    stopped = new_event("DeadlineCleared", "sla-t-9", 7, {"ticket_id": "t-9", "clock": "auto_close",
                                                          "due_at": at.isoformat(), "at": at.isoformat(),
                                                          "reason": "closed"}, actor=SYSTEM, occurred_at=at)
    mail = new_event("NotificationFailed", "mail-1", 1, {"cause_event_id": "x", "recipient": "a@b.ve",
                                                         "template": "ticket_closed", "error": "550",
                                                         "permanent": True, "ticket_id": "t-9"},
                     actor=SYSTEM, occurred_at=at)
    ranks = [timeline.causal_rank(e) for e in (people_close, decided, carried_out, stopped, mail)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5
