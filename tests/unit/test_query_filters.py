"""The ticket list's query string: every filter and value checked, none ignored (pure)."""
from __future__ import annotations

import pytest

from helpdesk_shared.errors import RuleViolation
from query.filters import UNASSIGNED, parse_list_query

CALLER = "u-carlos"


def parse(**args):
    """Parse a query string given as keyword arguments (a list value is a repeated parameter)."""
    return parse_list_query({k: v if isinstance(v, list) else [v] for k, v in args.items()}, CALLER)


def refused(**args) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        parse(**args)
    return caught.value


def test_no_parameters_is_the_first_page_of_everything_visible():
    query = parse()
    assert (query.filters, query.text, query.page, query.per_page) == ({}, None, 1, 25)


def test_a_status_in_spanish_is_a_422_on_that_field_listing_the_valid_statuses_in_both_languages():
    err = refused(status="abierto")
    assert (err.status, err.code, err.field) == (422, "INVALID_FILTER", "status")
    assert err.extra["valid"] == ["open", "waiting_customer", "closed"]
    assert "abierto" in err.message.es and "waiting_customer" in err.message.es
    assert "abierto" in err.message.en and "waiting_customer" in err.message.en


def test_an_unknown_filter_is_a_422_naming_it_and_listing_the_filters_there_are():
    err = refused(estado="open")
    assert (err.status, err.code, err.field) == (422, "UNKNOWN_FILTER", "estado")
    assert {"status", "urgency", "assigned_to", "out_of_hours", "q", "page", "per_page"} <= set(err.extra["valid"])
    assert "estado" in err.message.es and "urgency" in err.message.en


@pytest.mark.parametrize("name, value", [("desk", "soporte-tecnico"), ("urgency", "urgente"),
                                         ("urgency", "URGENT"), ("out_of_hours", "yes"), ("out_of_hours", "1"),
                                         ("out_of_hours", "True"), ("module", "BANCOS; drop table"),
                                         ("module", "x" * 41), ("q", "x" * 201), ("organisation_id", "o" * 101),
                                         ("assigned_to", "a\x00b"), ("q", "factura\x00")])
def test_an_invalid_value_is_a_422_on_its_filter(name, value):
    err = refused(**{name: value})
    assert (err.status, err.field) == (422, name)
    assert err.message.es and err.message.en


def test_out_of_hours_takes_exactly_true_or_false():
    assert parse(out_of_hours="true").filters == {"out_of_hours": True}
    assert parse(out_of_hours="false").filters == {"out_of_hours": False}


def test_valid_values_become_filters_and_the_module_is_upper_cased():
    query = parse(status="waiting_customer", desk="SOPORTE", urgency="platform_down", module="bancos",
                  organisation_id="club-caracas")
    assert query.filters == {"status": "waiting_customer", "desk": "SOPORTE", "urgency": "platform_down",
                             "module": "BANCOS", "organisation_id": "club-caracas"}


def test_organisation_is_accepted_as_another_name_for_organisation_id():
    assert parse(organisation="club-caracas").filters == {"organisation_id": "club-caracas"}


def test_assigned_to_me_is_the_caller_and_none_is_the_unassigned_queue():
    assert parse(assigned_to="me").filters == {"assigned_to": CALLER}
    assert parse(assigned_to="none").filters == {"assigned_to": UNASSIGNED}
    assert parse(assigned_to="u-elena").filters == {"assigned_to": "u-elena"}


def test_the_text_search_is_stripped_and_an_empty_one_searches_nothing():
    assert parse(q="  factura duplicada ").text == "factura duplicada"
    assert parse(q="   ").text is None


def test_an_empty_filter_value_means_any_as_a_form_with_an_empty_select_sends_it():
    assert parse(status="", urgency="").filters == {}


def test_a_filter_given_twice_is_a_422_rather_than_one_value_silently_winning():
    err = refused(status=["open", "closed"])
    assert (err.status, err.code, err.field) == (422, "FILTER_REPEATED", "status")
    assert refused(organisation_id="a", organisation="b").field == "organisation_id"


@pytest.mark.parametrize("name, value", [("page", "0"), ("page", "uno"), ("per_page", "201"), ("per_page", "-1")])
def test_page_and_per_page_stay_bounded_integers(name, value):
    err = refused(**{name: value})
    assert (err.status, err.field) == (400, name)


def test_page_and_per_page_are_read():
    query = parse(page="3", per_page="50")
    assert (query.page, query.per_page) == (3, 50)
