"""Canned answers (issue 12) through intake's in-memory unit of work: who keeps them, what a save
refuses, and a message started from one counting as a use."""
from __future__ import annotations

import pytest

from helpdesk_shared.errors import NotFound
from intake import canned_answers, handlers

from test_intake_handlers_in_memory import NOW, refused, unchanged, w  # noqa: F401  (w is a fixture)

BODY = "Estimado {cliente}: revisamos el ticket {ticket}. Si lo necesita, llame al {telefonos}."


def save(w, user, answer_id="cierre-de-lote", version=0, **body):
    return canned_answers.save(w.uow, user, "SOPORTE", answer_id,
                               {"title": "Cierre de lote", "body": BODY, "version": version, **body}, NOW)


def test_staff_of_the_desk_save_an_answer_as_an_event_and_list_it_and_nobody_else_does(w):
    saved = save(w, w.carlos)
    assert (saved["version"], saved["uses"], saved["retired"], saved["edited_by"]) == (1, 0, False, "u-carlos")
    (event,) = w.events("CannedAnswerSaved")
    assert (event.stream_id, event.stream_version, event.data["body"]) == ("canned-SOPORTE-cierre-de-lote", 1, BODY)
    assert [a["answer_id"] for a in canned_answers.listed(w.uow, w.rosa, "SOPORTE")] == ["cierre-de-lote"]
    for outsider in (w.maria, w.elena):   # a customer; an agent of the other desk
        unchanged(w, lambda: save(w, outsider, "otra"), "FORBIDDEN", status=403)
        refused(lambda: canned_answers.listed(w.uow, outsider, "SOPORTE"), "FORBIDDEN", status=403)
    with pytest.raises(NotFound):
        canned_answers.listed(w.uow, w.rosa, "NO_SUCH_DESK")


def test_an_edit_against_an_old_version_is_refused_and_changes_nothing(w):
    save(w, w.carlos)
    save(w, w.rosa, version=1, title="Cierre de lote (nuevo)")
    error = unchanged(w, lambda: save(w, w.carlos, version=1, title="Otro"), "CANNED_ANSWER_CHANGED", status=409)
    assert error.extra["current"] == 2
    assert canned_answers.listed(w.uow, w.carlos, "SOPORTE")[0]["title"] == "Cierre de lote (nuevo)"


@pytest.mark.parametrize("answer_id, body, code, field", [
    ("cierre-de-lote", {"body": "Hola {clente}"}, "CANNED_PLACEHOLDER_UNKNOWN", "body"),
    ("cierre-de-lote", {"title": "   "}, "CANNED_TEXT_REQUIRED", "title"),
    ("cierre-de-lote", {"body": " "}, "CANNED_TEXT_REQUIRED", "body"),
    ("Cierre de Lote", {}, "CANNED_ANSWER_ID_INVALID", "answer_id"),
])
def test_a_wrong_answer_is_refused_naming_its_field(w, answer_id, body, code, field):
    error = unchanged(w, lambda: save(w, w.carlos, answer_id, **body), code, field=field, status=422)
    assert error.message.es and error.message.en
    if code == "CANNED_PLACEHOLDER_UNKNOWN":
        assert "{clente}" in error.message.es and "{cliente}" in error.message.es


def test_a_message_started_from_an_answer_names_it_and_counts_a_use_and_a_retired_one_is_not_offered(w):
    save(w, w.carlos)
    number = w.open(w.maria)
    posted = handlers.post_message(w.uow, w.carlos, number, {"body": "Estimado María…",
                                                             "canned_answer_id": "cierre-de-lote"}, NOW)
    assert posted.data["canned_answer_id"] == "cierre-de-lote"
    assert canned_answers.listed(w.uow, w.carlos, "SOPORTE")[0]["uses"] == 1
    unchanged(w, lambda: handlers.post_message(w.uow, w.maria, number, {"body": "Hola",
                                                                        "canned_answer_id": "cierre-de-lote"}, NOW),
              "CANNED_ANSWER_UNKNOWN", field="canned_answer_id")   # a customer starts from none
    unchanged(w, lambda: handlers.post_message(w.uow, w.carlos, number, {"body": "Hola", "canned_answer_id": "otra"},
                                               NOW), "CANNED_ANSWER_UNKNOWN")
    save(w, w.carlos, version=1, retired=True)
    unchanged(w, lambda: handlers.post_message(w.uow, w.carlos, number, {"body": "Hola",
                                                                         "canned_answer_id": "cierre-de-lote"}, NOW),
              "CANNED_ANSWER_UNKNOWN")
    assert canned_answers.listed(w.uow, w.carlos, "SOPORTE") == []
    (kept,) = canned_answers.listed(w.uow, w.carlos, "SOPORTE", include_retired=True)
    assert (kept["retired"], kept["uses"]) == (True, 1)
