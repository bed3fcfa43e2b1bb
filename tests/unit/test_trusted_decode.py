"""The consumers' fast decode (issue 11, "cheaper decode"): an envelope in our producers' serialised
form is read without a marshmallow load+dump, and the fast path never accepts what the schemas
refuse nor returns anything but what they return (checked over every event type and mutations)."""
from __future__ import annotations

import copy
import json
import uuid

import pytest

from helpdesk_shared import synthetic_log, trusted_decode
from helpdesk_shared.envelope import UndecodableEvent, from_json_bytes
from helpdesk_shared.schemas import EVENT_DATA_SCHEMAS, dump_envelope, load_envelope
from test_schemas import EXAMPLES, envelope

# Types whose schema has a cross-field rule (validates_schema): always marshmallow's path.
HOOKED = {"UserRegistered", "UserUpdated", "SpecialProcessAnnounced"}


def example(type_: str) -> dict:
    """A valid document of `type_` as our producers write it."""
    return dump_envelope(envelope(type_, EXAMPLES[type_]))


def slow(doc: dict):
    """What the schemas make of the document: its envelope, or the refusal."""
    try:
        return load_envelope(copy.deepcopy(doc))
    except UndecodableEvent:
        return "refused"


def mutations(doc: dict):
    """The document with one thing changed: each data field dropped, nulled or of another JSON type
    or value, an unknown field, and the envelope's own fields likewise, plus non-canonical forms."""
    odd = [None, "", "x", 0, -1, 1.5, True, [], {}, ["x"], "2026-03-02T09:00:00-04:00", "SOPORTE",
           "2026-03-02T13:00:00+00:00", "not-an-email"]
    for key in list(doc["data"]):
        changed = copy.deepcopy(doc)
        del changed["data"][key]
        yield changed
        for value in odd:
            changed = copy.deepcopy(doc)
            changed["data"][key] = value
            yield changed
        if isinstance(doc["data"][key], dict):
            for inner in list(doc["data"][key]):
                changed = copy.deepcopy(doc)
                changed["data"][key][inner] = 7
                yield changed
        if isinstance(doc["data"][key], str):
            changed = copy.deepcopy(doc)
            changed["data"][key] = doc["data"][key].lower() + " "
            yield changed
    yield {**doc, "data": {**doc["data"], "unexpected": 1}}
    for key in list(doc):
        yield {k: v for k, v in doc.items() if k != key}
        for value in odd + [doc["event_id"].upper(), str(uuid.uuid4()), 2, "TicketOpened"]:
            yield {**doc, key: value}
    yield {**doc, "actor": {"id": "u-2", "role": "robot"}}
    yield {**doc, "actor": {"id": "u-2", "role": "agent", "extra": 1}}
    yield {**doc, "actor": {"id": "", "role": "agent"}}
    yield {**doc, "unexpected": 1}


@pytest.mark.parametrize("type_", sorted(EVENT_DATA_SCHEMAS))
def test_a_valid_event_of_every_type_decodes_to_what_the_schemas_give_and_by_the_fast_path_unless_it_has_a_rule(
        type_):
    doc = example(type_)
    fast = trusted_decode.decode(copy.deepcopy(doc))
    assert (fast is None) == (type_ in HOOKED)
    assert from_json_bytes(json.dumps(doc).encode()) == load_envelope(copy.deepcopy(doc))
    if fast is not None:
        assert fast == load_envelope(copy.deepcopy(doc))


@pytest.mark.parametrize("type_", sorted(EVENT_DATA_SCHEMAS))
def test_the_fast_path_never_accepts_a_mutated_event_the_schemas_refuse_nor_decodes_it_differently(type_):
    taken = 0
    for doc in mutations(example(type_)):
        fast = trusted_decode.decode(copy.deepcopy(doc))
        if fast is not None:
            taken += 1
            assert slow(doc) == fast, doc
        expected = slow(doc)
        if expected == "refused":
            with pytest.raises(UndecodableEvent):
                from_json_bytes(json.dumps(doc).encode())
        else:
            assert from_json_bytes(json.dumps(doc).encode()) == expected
    assert type_ in HOOKED or taken > 0  # some harmless changes (another valid value) stay on the fast path


def test_every_event_of_the_synthetic_log_but_the_users_takes_the_fast_path():
    docs = [doc for _, _, doc in [*synthetic_log.accounts(), *synthetic_log.tickets(30)]]
    for doc in docs:
        fast = trusted_decode.decode(json.loads(synthetic_log.encode(doc)))
        assert (fast is None) == (doc["type"] == "UserRegistered")
        if fast is not None:
            assert fast == load_envelope(copy.deepcopy(doc))


def test_a_ticket_opened_without_its_subject_is_refused_as_undecodable_so_the_consumer_parks_it():
    doc = example("TicketOpened")
    del doc["data"]["subject"]
    assert trusted_decode.decode(doc) is None
    with pytest.raises(UndecodableEvent, match="subject"):
        from_json_bytes(json.dumps(doc).encode())


def old_from_json_bytes(raw):
    """The decoding before orjson: `json` parses, then the fast path or the schemas (the reference)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise UndecodableEvent(str(exc)) from exc
    return trusted_decode.decode(doc) or load_envelope(doc)


def outcome(decode, raw):
    try:
        return decode(raw)
    except UndecodableEvent:
        return "refused"


def texts_orjson_reads_otherwise(doc: dict):
    """The document's text with each data field an integer past 64 bits (orjson reads it as a float),
    a byte order mark before it, an infinity, a lone surrogate; a tombstone and the text null."""
    for key in doc["data"]:
        for big in (2**64 + 1, -(2**63) - 1, 10**30):
            yield json.dumps({**doc, "data": {**doc["data"], key: big}}).encode()
    text = json.dumps(doc).encode()
    yield b"\xef\xbb\xbf" + text
    yield text.replace(b'"schema_version": 1', b'"schema_version": Infinity')
    yield text.replace(b'"type":', b'"\\ud800": 1, "type":')
    yield None
    yield b"null"


@pytest.mark.parametrize("type_", ["TicketOpened", "MessagePosted", "DeadlineMet", "NotificationSent"])
def test_a_text_orjson_refuses_or_reads_otherwise_decodes_exactly_as_the_json_module_read_it(type_):
    for raw in texts_orjson_reads_otherwise(example(type_)):
        assert outcome(from_json_bytes, raw) == outcome(old_from_json_bytes, raw), raw


def test_every_event_of_the_synthetic_log_decodes_as_the_json_module_read_it():
    for _, _, doc in [*synthetic_log.accounts(), *synthetic_log.tickets(30)]:
        raw = synthetic_log.encode(doc)
        assert from_json_bytes(raw) == old_from_json_bytes(raw)
