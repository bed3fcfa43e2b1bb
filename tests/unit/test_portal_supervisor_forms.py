"""The supervisors' forms to sla's documents and back (portal.supervisor_forms), and where sla's refusals go."""
from __future__ import annotations

from portal import supervisor_forms as sf

DOC = {"tz": "America/Caracas", "public_holidays": "VE",
       "weekly": [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "13:00", "end": "17:00"},
                  {"weekday": 4, "start": "09:00", "end": "15:00"}],
       "closures": [{"date": "2026-12-07", "note": "Inventario anual"}]}


def test_a_calendar_document_fills_the_form_with_one_line_per_weekday_and_blank_closure_rows():
    form = sf.calendar_form(DOC)
    assert form["weekday_0"] == "08:00-12:00, 13:00-17:00" and form["weekday_4"] == "09:00-15:00"
    assert form["weekday_6"] == "" and form["public_holidays"] is True
    assert form["closures"][0] == {"date": "2026-12-07", "note": "Inventario anual"}
    assert form["closures"][1:] == [{"date": "", "note": ""}] * sf.BLANK_CLOSURE_ROWS


def test_the_form_read_back_gives_the_same_calendar():
    form = sf.calendar_form(DOC)
    dates, notes = [c["date"] for c in form["closures"]], [c["note"] for c in form["closures"]]
    body, _ = sf.calendar_body({**form, "public_holidays": "VE"}, dates, notes, [], "2026-11-29")
    assert body == {"calendar": DOC}


def test_a_removed_closure_and_blank_rows_are_left_out_and_fields_map_to_their_rows():
    body, sent = sf.calendar_body({"weekday_1": "09:00-17:00"}, ["2026-12-07", "", "2027-01-02", ""],
                                  ["Inventario", "", "", ""], ["0"], "2026-11-29")
    assert body["calendar"]["closures"] == [{"date": "2027-01-02", "note": ""}]
    assert sent == {"weekly[0]": "weekday_1", "closures[0]": "closure_2"}
    assert body["calendar"]["public_holidays"] is None


def test_hours_that_do_not_parse_go_to_sla_as_typed_so_it_refuses_them_in_its_words():
    body, _ = sf.calendar_body({"weekday_2": "9 a 5"}, [], [], [], "2026-11-29")
    assert body["calendar"]["weekly"] == [{"weekday": 2, "start": "9 a 5", "end": ""}]


def test_a_future_day_takes_effect_at_its_caracas_midnight_and_today_means_now():
    body, _ = sf.calendar_body({"effective_on": "2026-12-01"}, [], [], [], "2026-11-29")
    assert body["effective_from"] == "2026-12-01T00:00:00-04:00"
    body, _ = sf.calendar_body({"effective_on": "2026-11-29"}, [], [], [], "2026-11-29")
    assert "effective_from" not in body


def test_sla_refusals_go_beside_the_input_they_came_from():
    sent = {"weekly[0]": "weekday_0", "weekly[1]": "weekday_3", "closures[0]": "closure_2"}
    assert sf.form_field({"field": "weekly[1].start"}, sent) == "weekday_3"
    assert sf.form_field({"field": "calendar.weekly.1.end"}, sent) == "weekday_3"
    assert sf.form_field({"field": "calendar.closures.0.note"}, sent) == "closure_2"
    assert sf.form_field({"field": "closures[0]"}, sent) == "closure_2"
    assert sf.form_field({"field": "weekly"}, sent) == "weekly"
    assert sf.form_field({"field": "effective_from"}, sent) == "effective_on"
    assert sf.form_field({"field": "policy.first_response.clock"}, {}) == "first_response_clock"
    assert sf.form_field({"field": "auto_close_warning"}, {}) == "auto_close_warning_minutes"
    assert sf.form_field({"field": None}, {}) == ""


def test_policy_minutes_take_a_decimal_comma_and_anything_else_is_passed_on_for_sla_to_refuse():
    form = {"first_response_minutes": "480", "first_response_clock": "business",
            "next_response_minutes": "0,5", "next_response_clock": "24x7",
            "auto_close_warning_minutes": "ocho", "auto_close_warning_clock": "business",
            "auto_close_minutes": "960", "auto_close_clock": "business"}
    policy = sf.policy_body(form, "2026-11-29")["policy"]
    assert policy["first_response"] == {"minutes": 480, "clock": "business"}
    assert policy["next_response"]["minutes"] == 0.5 and policy["auto_close_warning"]["minutes"] == "ocho"
    assert sf.policy_form(policy)["first_response_minutes"] == "480"


def test_latest_picks_the_highest_version_of_each_group():
    items = [{"urgency_class": "normal", "version": 1}, {"urgency_class": "normal", "version": 3},
             {"urgency_class": "urgent", "version": 2}, {"urgency_class": "normal", "version": 2}]
    assert {k: v["version"] for k, v in sf.latest(items, "urgency_class").items()} == {("normal",): 3, ("urgent",): 2}
