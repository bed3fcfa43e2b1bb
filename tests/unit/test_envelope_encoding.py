"""Issue 11, one write per event: intake serialises each event once, without marshmallow, into the
very bytes the schemas' dump writes (so consumers' trusted decode reads them as before)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared.envelope import Actor, encode_built, from_json_bytes, new_event, to_json_bytes
from test_schemas import EXAMPLES


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_an_event_built_by_new_event_encodes_to_the_bytes_the_schema_dump_writes(type_):
    caused = uuid.uuid4()
    for causation in (None, caused):
        event = new_event(type_, "stream-1", 3, EXAMPLES[type_], actor=Actor("u-1", "agent"),
                          occurred_at=datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-4))),
                          correlation_id=uuid.uuid4(), causation_id=causation)
        assert encode_built(event) == to_json_bytes(event)
        assert from_json_bytes(encode_built(event)) == event


def test_non_ascii_text_is_written_as_utf_8_not_escaped():
    event = new_event("MessagePosted", "ticket-1", 2, {**EXAMPLES["MessagePosted"], "body": "Señal ñandú €"},
                      actor=Actor("u-1", "customer"), occurred_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert "Señal ñandú €".encode() in encode_built(event)


def test_the_outbox_of_sla_and_the_notifier_encodes_each_built_event_once_without_the_schemas(monkeypatch):
    """Their events come from new_event, which validated the data: outbox.encode writes them with
    encode_built (the schema dump and its re-validation cost the sender a fifth of a mail's CPU)."""
    from helpdesk_shared import envelope, outbox
    events = [new_event(type_, f"stream-{i}", 1, EXAMPLES[type_], actor=Actor("sla", "system"),
                        occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc))
              for i, type_ in enumerate(sorted(EXAMPLES))]
    expected = [to_json_bytes(e) for e in events]

    def no_schema_dump(event):
        raise AssertionError("dumped through the schemas again")
    monkeypatch.setattr(envelope, "dump_envelope", no_schema_dump)
    assert outbox.encode(events) == expected


def _reversed(value):
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def _laid_out(value):
    """A JSON value with its objects' key order made visible (dict equality ignores it)."""
    if isinstance(value, dict):
        return [(k, _laid_out(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_laid_out(v) for v in value]
    return value


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_data_built_in_serialised_form_skips_the_schema_s_load_and_dump_and_comes_out_as_it_would_have(
        type_, monkeypatch):
    from helpdesk_shared import envelope as envelope_module
    from helpdesk_shared.schemas import validate_data
    serialised = validate_data(type_, EXAMPLES[type_])
    hooked = type_ in {"UserRegistered", "UserUpdated", "SpecialProcessAnnounced"}  # cross-field rules
    calls = []
    monkeypatch.setattr(envelope_module, "validate_data", lambda t, d: calls.append(t) or validate_data(t, d))
    given = _reversed(serialised)
    event = new_event(type_, "stream-1", 1, given, actor=Actor("u-1", "agent"),
                      occurred_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert calls == ([type_] if hooked else [])
    assert _laid_out(event.data) == _laid_out(serialised)
    assert encode_built(event) == to_json_bytes(event)
    if not hooked:
        assert event.data is not given  # a copy: the caller's later changes do not reach the event
        assert all(event.data[k] is not given[k] for k in given if isinstance(given[k], (dict, list)))


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_new_event_refuses_what_the_schema_refuses_and_keeps_what_it_would_keep_for_every_mutation(type_):
    import copy
    from marshmallow import ValidationError
    from helpdesk_shared.schemas import validate_data
    from test_trusted_decode import example, mutations
    for doc in mutations(example(type_)):
        data = doc.get("data")
        try:
            expected = validate_data(type_, copy.deepcopy(data))
        except (ValidationError, TypeError, AttributeError):
            expected = "refused"
        try:
            built = new_event(type_, "stream-1", 1, copy.deepcopy(data), actor=Actor("u-1", "agent"),
                              occurred_at=datetime(2026, 3, 2, tzinfo=timezone.utc)).data
        except (ValidationError, TypeError, AttributeError):
            built = "refused"
        assert _laid_out(built) == _laid_out(expected), data
