"""The kernel that generates each service's OpenAPI document from its routes' declarations, and
the edge's query strings (issue 10, item 1). Bare Flask apps: no database."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flask import Flask
from marshmallow import ValidationError

from helpdesk_shared import fields, openapi, web
from helpdesk_shared.errors import RuleViolation


class Note(fields.RequestSchema):
    """A body."""

    text = fields.Text(10, required=True)


class Other(fields.RequestSchema):
    """Another body."""

    flag = fields.Flag()


class Page(fields.QuerySchema):
    """A query string."""

    limit = fields.QueryCount(1, 50)
    order = fields.Choice(("asc", "desc"))


def _app() -> Flask:
    app = Flask("documented")
    auth = web.require_auth(lambda: "", lambda: datetime.now(timezone.utc))

    @app.post("/things/<int:thing_id>/notes")
    @openapi.documented("Add a note", body=Note, responses={201: "added"}, refusals=(404,))
    @auth
    def add_note(thing_id: int):
        return web.load_body(Note()), 201

    @app.get("/things")
    @openapi.documented("The things", query=Page, responses={200: "things"})
    def things():
        return web.load_query(Page())

    @app.post("/wrong")
    @openapi.documented("Loads another body than it says", body=Note)
    def wrong():
        return web.load_body(Other())

    return app


def test_each_rule_becomes_an_operation_with_its_path_parameters_typed_by_their_converter():
    document = openapi.document(_app(), "t", "d")
    assert set(document["paths"]) == {"/things/{thing_id}/notes", "/things", "/wrong"}
    operation = document["paths"]["/things/{thing_id}/notes"]["post"]
    assert operation["parameters"] == [{"name": "thing_id", "in": "path", "required": True,
                                        "schema": {"type": "integer"}}]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Note"}


def test_a_route_behind_the_bearer_check_gets_the_scheme_and_a_401_and_a_body_gets_the_edge_refusals():
    operation = openapi.document(_app(), "t", "d")["paths"]["/things/{thing_id}/notes"]["post"]
    assert operation["security"] == openapi.BEARER
    assert set(operation["responses"]) == {"201", "400", "401", "404", "413", "415", "422"}
    public = openapi.document(_app(), "t", "d")["paths"]["/things"]["get"]
    assert "security" not in public and "401" not in public["responses"]
    assert "400" in public["responses"], "a NUL in any query string is refused before the view runs"


def test_a_query_schema_is_documented_as_one_parameter_per_field():
    parameters = openapi.document(_app(), "t", "d")["paths"]["/things"]["get"]["parameters"]
    assert {(p["name"], p["in"]) for p in parameters} == {("limit", "query"), ("order", "query")}
    limit = next(p for p in parameters if p["name"] == "limit")["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 50)


def test_a_route_without_a_declaration_makes_the_document_fail_instead_of_leaving_it_out():
    app = _app()
    app.add_url_rule("/secret", "secret", lambda: "")
    with pytest.raises(openapi.Undocumented, match="/secret"):
        openapi.document(app, "t", "d")


def test_two_schemas_of_one_name_are_refused_rather_than_renamed():
    class Twin(fields.RequestSchema):
        a = fields.Flag()
    first = Twin

    class Twin(fields.RequestSchema):  # noqa: F811 (a second class of the same name)
        b = fields.Flag()
    app = Flask("twins")
    app.post("/a")(openapi.documented("a", body=first)(lambda: ""))
    app.add_url_rule("/b", "b", openapi.documented("b", body=Twin)(lambda: ""), methods=["POST"])
    with pytest.raises(UserWarning):
        openapi.document(app, "t", "d")


def test_a_view_loading_another_body_than_it_documents_is_a_bug_not_a_refusal():
    app = _app()
    with app.test_request_context("/wrong", method="POST", json={"flag": True}):
        app.preprocess_request()
        with pytest.raises(TypeError, match="documents Note"):
            web.load_body(Other())


def test_an_unknown_query_parameter_is_a_422_listing_the_valid_ones():
    with _app().test_request_context("/things?limit=3&sort=asc"):
        with pytest.raises(RuleViolation) as refused:
            web.load_query(Page())
    assert (refused.value.code, refused.value.field, refused.value.status) == ("UNKNOWN_PARAMETER", "sort", 422)
    assert refused.value.extra["valid"] == ["limit", "order"]
    assert "limit, order" in refused.value.message.es and "limit, order" in refused.value.message.en


def test_a_query_parameter_given_twice_is_a_422():
    with _app().test_request_context("/things?limit=3&limit=4"):
        with pytest.raises(RuleViolation) as refused:
            web.load_query(Page())
    assert (refused.value.code, refused.value.field) == ("PARAMETER_REPEATED", "limit")


def test_a_query_string_is_loaded_into_typed_values():
    with _app().test_request_context("/things?limit=30&order=desc"):
        assert web.load_query(Page()) == {"limit": 30, "order": "desc"}


@pytest.mark.parametrize("raw", ["+3", " 3", "3.0", "٣", "", "1" * 13])
def test_a_whole_number_in_a_query_string_is_ascii_digits_only(raw):
    with pytest.raises(ValidationError) as caught:
        Page().load({"limit": raw})
    assert fields.refusal(caught.value).code == "FIELD_NOT_INTEGER"


def test_a_whole_number_in_a_query_string_out_of_its_range_is_refused():
    with pytest.raises(ValidationError) as caught:
        Page().load({"limit": "51"})
    assert fields.refusal(caught.value).code == "FIELD_OUT_OF_RANGE"
