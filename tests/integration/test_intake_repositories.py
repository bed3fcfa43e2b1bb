"""Each repository of intake's unit of work keeps one contract, proven here on PostgreSQL (the SQL
of `intake.postgres_uow`) and on the in-memory fakes the handlers' unit tests run on
(`intake.memory`): the same test, both implementations, so a fake cannot drift from the SQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import pg
from helpdesk_shared.envelope import Actor, new_event
from intake import postgres_uow, throttle, unit_of_work
from intake.catalog import DESKS
from intake.domain import Announcement
from intake.memory import InMemoryUnitOfWork
from intake.unit_of_work import VersionConflict

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
AGENT = Actor(id="u-test", role="agent")


@pytest.fixture(params=["memory", "postgres"])
def start(request):
    """`start()` of a unit of work: in memory, or on a fresh intake database (one transaction each)."""
    if request.param == "memory":
        yield InMemoryUnitOfWork().start
        return
    pool = pg.make_pool(request.getfixturevalue("intake_db"), min_size=1, max_size=2)
    yield lambda: postgres_uow.transaction(pool)
    pool.close()


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _organisation(uow, desks=("SOPORTE",)) -> str:
    organisation_id = _id("org")
    uow.organisations.add({"id": organisation_id, "name": organisation_id, "tax_id": None, "desks": list(desks)})
    return organisation_id


def test_streams_append_in_order_and_refuse_a_writer_who_read_an_old_version(start):
    stream = _id("stream")
    first = [new_event("TicketAssigned", stream, v, {"agent_id": "a", "assigned_by": "b"}, actor=AGENT,
                       occurred_at=NOW) for v in (1, 2)]
    with start() as uow:
        assert uow.streams.version(stream) == 0 and uow.streams.load(stream) == []
        uow.streams.append(first, expected_version=0)
    with start() as uow:
        loaded = uow.streams.load(stream)
        assert [(e.event_id, e.stream_version, e.data) for e in loaded] == \
            [(e.event_id, e.stream_version, e.data) for e in first]
        assert uow.streams.version(stream) == 2
        stale = new_event("TicketAssigned", stream, 2, {"agent_id": "c", "assigned_by": "c"}, actor=AGENT,
                          occurred_at=NOW)
        with pytest.raises(VersionConflict) as conflict:
            uow.streams.append([stale], expected_version=1)
        assert conflict.value.status == 409
        assert uow.streams.version(stream) == 2  # the transaction is still usable after the refusal


def test_tickets_index_finds_open_cases_by_organisation_desk_and_module(start):
    with start() as uow:
        organisation_id = _organisation(uow)
        numbers = [uow.tickets.next_number(DESKS["SOPORTE"]) for _ in range(3)]
        assert len(set(numbers)) == 3 and all(n.startswith("SOP-") for n in numbers)
        for number, module in zip(numbers, ("BANCOS", "BANCOS", "NOMINA")):
            uow.tickets.add({"ticket_id": _id("t"), "number": number, "desk": "SOPORTE",
                             "organisation_id": organisation_id, "module": module, "case_summary": f"caso {number}",
                             "description": "descripción", "status": "open", "version": 1})
    with start() as uow:
        row = uow.tickets.by_number(numbers[0])
        assert (row["organisation_id"], row["desk"], row["module"], row["status"], row["version"]) == \
            (organisation_id, "SOPORTE", "BANCOS", "open", 1)
        uow.tickets.lock(row["ticket_id"])
        uow.tickets.set_status(row["ticket_id"], "closed", 4)
        assert uow.tickets.by_number("SOP-0") is None
    with start() as uow:
        assert (uow.tickets.by_number(numbers[0])["status"], uow.tickets.by_number(numbers[0])["version"]) == \
            ("closed", 4)
        assert uow.tickets.open_cases(organisation_id, "SOPORTE", "BANCOS") == [
            {"number": numbers[1], "case_summary": f"caso {numbers[1]}", "description": "descripción"}]
        assert uow.tickets.open_cases(organisation_id, "IMPLANTACIONES", "BANCOS") == []


def test_users_are_found_by_id_and_email_and_keep_the_latest_token_cut_off(start):
    with start() as uow:
        user_id, email = _id("u"), f"{_id('x')}@example.com"
        uow.users.add({"id": user_id, "email": email, "name": "Ana", "role": "agent", "organisation_id": None,
                       "desks": ["SOPORTE"], "language": "es", "phone": None, "password_hash": "h1"})
    with start() as uow:
        row = uow.users.get(user_id, for_update=True)
        assert (row["email"], row["desks"], row["disabled"], row["tokens_valid_after"], row["password_set_at"]) == \
            (email, ["SOPORTE"], False, None, None)
        assert uow.users.by_email(email)["id"] == user_id and uow.users.by_email("nadie@example.com") is None
        uow.users.lock_email(email)
        uow.users.set_password(user_id, "h2", NOW)
        uow.users.revoke_tokens(user_id, NOW + timedelta(hours=1))
        uow.users.revoke_tokens(user_id, NOW)  # an earlier cut-off never reopens tokens
        uow.users.set_rights(user_id, True, "supervisor", ["SOPORTE", "IMPLANTACIONES"], None)
    with start() as uow:
        row = uow.users.get(user_id)
        assert (row["password_hash"], row["password_set_at"], row["tokens_valid_after"]) == \
            ("h2", NOW, NOW + timedelta(hours=1))
        assert (row["disabled"], row["role"], row["desks"]) == (True, "supervisor", ["SOPORTE", "IMPLANTACIONES"])
        assert uow.users.get("u-nobody") is None


def test_organisations_and_their_special_processes(start):
    with start() as uow:
        organisation_id = _organisation(uow, ("SOPORTE", "IMPLANTACIONES"))
        announcement = Announcement(_id("a"), NOW + timedelta(days=1), NOW + timedelta(days=2), NOW)
        uow.special_processes.add(organisation_id, announcement)
    with start() as uow:
        assert uow.organisations.get(organisation_id)["desks"] == ["SOPORTE", "IMPLANTACIONES"]
        assert uow.organisations.get("no-such-org") is None
        assert uow.special_processes.of_organisation(organisation_id) == [announcement]
        assert uow.special_processes.of_organisation("no-such-org") == []


def test_access_requests_pending_by_desk_and_age_then_decided(start):
    email = f"{_id('p')}@example.com"
    old, new = _id("r"), _id("r")
    with start() as uow:
        for request_id, desk, at in ((old, "SOPORTE", NOW - timedelta(days=20)), (new, "SOPORTE", NOW)):
            uow.access_requests.add({"request_id": request_id, "name": "Pedro", "email": email,
                                     "phone": "+582125550100", "organisation_name": "Club", "desk": desk,
                                     "note": None, "requested_at": at})
    with start() as uow:
        since = NOW - timedelta(days=14)
        assert uow.access_requests.has_pending(email, since)
        assert not uow.access_requests.has_pending(email, NOW)
        assert [r["request_id"] for r in uow.access_requests.pending(["SOPORTE"], since) if r["email"] == email] \
            == [new]
        assert not [r for r in uow.access_requests.pending(["IMPLANTACIONES"], since) if r["email"] == email]
        row = uow.access_requests.get(new, for_update=True)
        assert (row["status"], row["desk"], row["user_id"]) == ("pending", "SOPORTE", None)
        uow.access_requests.decide(new, status="rejected", decided_by="u-x", decided_at=NOW, reason="No es cliente")
    with start() as uow:
        row = uow.access_requests.get(new)
        assert (row["status"], row["decided_by"], row["decided_at"], row["reason"]) == \
            ("rejected", "u-x", NOW, "No es cliente")
        assert not uow.access_requests.has_pending(email, NOW - timedelta(days=14))


def test_uploads_latest_of_the_uploader_by_id_or_bytes_and_attached_once(start):
    sha = uuid.uuid4().hex * 2
    older, newer = _id("up"), _id("up")
    with start() as uow:
        uow.uploads.hold_blob(sha)
        for upload_id, at in ((older, NOW - timedelta(hours=1)), (newer, NOW)):
            uow.uploads.add({"upload_id": upload_id, "sha256": sha, "uploaded_by": "u-a", "organisation_id": None,
                             "name": f"{upload_id}.png", "size": 10, "content_type": "image/png", "uploaded_at": at})
    with start() as uow:
        assert uow.uploads.latest("u-a", sha256=sha)["upload_id"] == newer
        assert uow.uploads.latest("u-a", upload_id=older) == {"upload_id": older, "sha256": sha,
                                                              "name": f"{older}.png", "size": 10,
                                                              "content_type": "image/png"}
        assert uow.uploads.latest("u-b", sha256=sha) is None  # someone else's bytes are not his
        uow.uploads.mark_attached(older, NOW)
        uow.uploads.mark_attached(older, NOW + timedelta(days=1))  # the first attachment counts


def test_organisations_by_desk_and_name_with_their_users_and_the_desks_staff(start):
    suffix = uuid.uuid4().hex[:8]
    with start() as uow:
        uow.organisations.lock_all()
        for organisation_id, name, desks in ((f"b-{suffix}", f"Beta {suffix}", ["IMPLANTACIONES"]),
                                             (f"a-{suffix}", f"alfa {suffix}", ["SOPORTE", "IMPLANTACIONES"])):
            uow.organisations.add({"id": organisation_id, "name": name, "tax_id": None, "desks": desks})
        for user_id, role, organisation_id, desks in ((f"c-{suffix}", "customer", f"b-{suffix}", ["IMPLANTACIONES"]),
                                                      (f"s-{suffix}", "agent", None, ["IMPLANTACIONES"])):
            uow.users.add({"id": user_id, "email": f"{user_id}@example.com", "name": f"Zed {user_id}", "role": role,
                           "organisation_id": organisation_id, "desks": desks, "language": "es", "phone": None,
                           "password_hash": "h"})
    with start() as uow:
        assert uow.organisations.taken(f"b-{suffix}", "otro nombre")
        assert uow.organisations.taken("otro-id", f"BETA {suffix}")
        assert not uow.organisations.taken("otro-id", "otro nombre")
        mine = [o["id"] for o in uow.organisations.on_desks(["IMPLANTACIONES"]) if o["id"].endswith(suffix)]
        assert mine == [f"a-{suffix}", f"b-{suffix}"]  # by lower(name)
        assert not [o for o in uow.organisations.on_desks(["COCINA"]) if o["id"].endswith(suffix)]
        users = [u["id"] for u in uow.users.of_organisations_and_staff([f"b-{suffix}"], ["IMPLANTACIONES"])
                 if u["id"].endswith(suffix)]
        assert users == [f"c-{suffix}", f"s-{suffix}"]
        assert not [u for u in uow.users.of_organisations_and_staff([], ["SOPORTE"]) if u["id"].endswith(suffix)]


def test_catalogs_answer_the_kernels_default_until_an_edit_is_saved(start):
    soporte = DESKS["SOPORTE"]
    with start() as uow:
        assert uow.catalogs.current(soporte).modules == soporte.modules
        assert {d.name for d in uow.catalogs.every_desk()} == set(DESKS)
        uow.catalogs.lock("SOPORTE")
        uow.catalogs.save(soporte.with_modules([m.as_dict() | {"retired": m.code == "BANCOS"}
                                                for m in soporte.entries], 1))
    with start() as uow:
        current = uow.catalogs.current(soporte)
        assert current.version == 1 and current.retired == ("BANCOS",) and "BANCOS" not in current.modules


def test_an_opening_reads_the_organisation_and_the_desks_current_catalog_together(start):
    soporte = DESKS["SOPORTE"]
    with start() as uow:
        organisation_id = _organisation(uow, desks=("SOPORTE", "IMPLANTACIONES"))
        organisation, desk = uow.tickets.prepare_opening(organisation_id, soporte)
        assert organisation == {"id": organisation_id, "name": organisation_id, "tax_id": None,
                                "desks": ["SOPORTE", "IMPLANTACIONES"]}
        assert desk.modules == soporte.modules and desk.version == soporte.version
        assert uow.tickets.prepare_opening(_id("nobody"), soporte)[0] is None
        uow.catalogs.lock("SOPORTE")
        uow.catalogs.save(soporte.with_modules([m.as_dict() | {"retired": m.code == "BANCOS"}
                                                for m in soporte.entries], soporte.version + 1))
    with start() as uow:
        organisation, desk = uow.tickets.prepare_opening(organisation_id, soporte)
        assert organisation["id"] == organisation_id
        assert desk.version == soporte.version + 1 and desk.retired == ("BANCOS",)


def test_rules_pages_are_stored_per_desk_and_language_and_replaced(start):
    page = {"desk": "SOPORTE", "language": "en", "text": "One", "html": "<p>One</p>", "version": 1,
            "edited_by": "u-a", "edited_at": NOW}
    with start() as uow:
        assert uow.rules_pages.get("SOPORTE", "en") is None
        uow.rules_pages.save(page)
        uow.rules_pages.save(page | {"text": "Two", "html": "<p>Two</p>", "version": 2})
    with start() as uow:
        stored = uow.rules_pages.get("SOPORTE", "en")
        assert {k: stored[k] for k in page} == page | {"text": "Two", "html": "<p>Two</p>", "version": 2}
        assert uow.rules_pages.get("SOPORTE", "es") is None


def test_canned_answers_are_kept_per_desk_by_title_replaced_and_their_uses_counted(start):
    answer = {"desk": "SOPORTE", "answer_id": "b-saludo", "title": "Saludo", "body": "Hola {cliente}", "version": 1,
              "retired": False, "edited_by": "u-a", "edited_at": NOW}
    with start() as uow:
        assert uow.canned_answers.get("SOPORTE", "b-saludo") is None
        uow.canned_answers.save(answer)
        uow.canned_answers.save(answer | {"answer_id": "a-cierre", "title": "Cierre"})
        uow.canned_answers.save(answer | {"desk": "IMPLANTACIONES", "answer_id": "c", "title": "Alta"})
        uow.canned_answers.count_use("SOPORTE", "b-saludo")
    with start() as uow:
        uow.canned_answers.save(answer | {"body": "Buenas, {cliente}", "version": 2, "retired": True})
        uow.canned_answers.count_use("SOPORTE", "b-saludo")
    with start() as uow:
        assert [(a["answer_id"], a["uses"]) for a in uow.canned_answers.of_desk("SOPORTE")] == [
            ("a-cierre", 0), ("b-saludo", 2)]   # by title: Cierre, Saludo; an edit keeps the uses
        stored = uow.canned_answers.get("SOPORTE", "b-saludo")
        assert {k: stored[k] for k in answer} == answer | {"body": "Buenas, {cliente}", "version": 2, "retired": True}


def test_idempotency_keys_store_the_answer_per_user(start):
    with start() as uow:
        uow.idempotency_keys.lock("u-a", "k")
        assert uow.idempotency_keys.get("u-a", "k") is None
        uow.idempotency_keys.add("u-a", "k", 201, {"number": "SOP-1"}, "POST /api/tickets", "d")
    with start() as uow:
        assert uow.idempotency_keys.get("u-a", "k") == {"status": 201, "body": {"number": "SOP-1"},
                                                        "endpoint": "POST /api/tickets", "body_sha256": "d"}
        assert uow.idempotency_keys.get("u-b", "k") is None


def test_rate_limits_refuse_a_key_that_used_up_its_window(start):
    limit = throttle.Limit("test-limit", 2, timedelta(minutes=15))
    key = _id("addr")
    with start() as uow:
        for _ in range(2):
            uow.rate_limits.check(limit, key, NOW)
            uow.rate_limits.hit(limit, key, NOW)
    with start() as uow:
        with pytest.raises(throttle.Throttled):
            uow.rate_limits.check(limit, key, NOW)
        uow.rate_limits.check(limit, key, NOW + limit.window)  # a new window
        uow.rate_limits.check(limit, "other", NOW)


def test_a_unit_of_work_that_raises_leaves_nothing_but_what_it_committed(start):
    kept, dropped = _id("org"), _id("org")
    with pytest.raises(RuntimeError):
        with start() as uow:
            uow.organisations.add({"id": kept, "name": kept, "tax_id": None, "desks": ["SOPORTE"]})
            uow.commit()
            uow.organisations.add({"id": dropped, "name": dropped, "tax_id": None, "desks": ["SOPORTE"]})
            raise RuntimeError("refused")
    with start() as uow:
        assert uow.organisations.get(kept) is not None and uow.organisations.get(dropped) is None


def test_the_runner_retries_a_version_conflict_in_a_fresh_unit_of_work(start):
    if isinstance(getattr(start, "__self__", None), InMemoryUnitOfWork):
        pytest.skip("one in-memory store holds one transaction at a time: the retry is unit-tested there")
    stream, attempts = _id("stream"), []

    def command(uow):
        attempts.append(uow.streams.version(stream))
        if len(attempts) == 1:  # another writer appends between our read and our write
            with start() as other:
                other.streams.append([new_event("TicketAssigned", stream, 1, {"agent_id": "x", "assigned_by": "x"},
                                                actor=AGENT, occurred_at=NOW)], expected_version=0)
        version = attempts[-1]
        uow.streams.append([new_event("TicketAssigned", stream, version + 1, {"agent_id": "y", "assigned_by": "y"},
                                      actor=AGENT, occurred_at=NOW)], expected_version=version)
        return version + 1
    assert unit_of_work.run(start, command) == 2
    assert attempts == [0, 1]
    with start() as uow:
        assert [e.data["agent_id"] for e in uow.streams.load(stream)] == ["x", "y"]
