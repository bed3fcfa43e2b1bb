"""The suite's own guard: an unhandled error in a service is a JSON 500 that fails the test that caused it."""
from __future__ import annotations

import pytest

from helpdesk_shared import web

pytestmark = pytest.mark.integration


def test_an_unhandled_error_answers_a_bilingual_500_and_is_recorded_for_the_suite(intake_app):
    @intake_app.get("/boom")
    def boom():
        raise ZeroDivisionError("boom")

    response = intake_app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json()["code"] == "INTERNAL_ERROR"
    assert set(response.get_json()["message"]) == {"es", "en"}
    assert web.UNHANDLED == ["GET /boom: ZeroDivisionError('boom')"]
    web.UNHANDLED.clear()  # this test provoked it on purpose
