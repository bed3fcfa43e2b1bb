"""The pure parts of `mesa rebuild`/`check` and of the `mesa` command: progress and time left, the
table comparison, consumer lag, event filters, and the synthetic log the rebuild tests and bench use."""
from __future__ import annotations

from helpdesk_shared import synthetic_log
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.ops_report import EventFilter, event_lines, lag, text_table
from helpdesk_shared.progress import Progress, duration, line, thousands
from helpdesk_shared.table_diff import RowDifference, TableSum, describe, differing_tables, row_differences
from helpdesk_shared.topics import TICKETS


def test_the_rate_is_events_per_second_and_the_time_left_follows_from_it():
    p = Progress(done=3_000, total=12_000, elapsed=2.0)
    assert p.rate == 1_500
    assert p.eta == 6.0
    assert p.fraction == 0.25


def test_no_time_left_is_claimed_before_anything_is_applied_and_none_is_left_at_the_end():
    assert Progress(0, 100, 0.0).eta is None
    assert Progress(0, 100, 3.0).eta is None
    assert Progress(100, 100, 3.0).eta == 0.0
    assert Progress(0, 0, 0.0).fraction == 1.0  # an empty log is done


def test_durations_read_as_seconds_minutes_or_hours():
    assert duration(None) == "?"
    assert duration(42.4) == "42s"
    assert duration(187) == "3:07"
    assert duration(3723) == "1:02:03"


def test_the_progress_line_shows_bar_share_counts_rate_and_time_left():
    assert thousands(1234567) == "1.234.567"
    assert line(Progress(380_000, 1_000_000, 40.0), width=10) == (
        "[###.......]  38 %  380.000/1.000.000 eventos  9.500 ev/s  faltan 1:05")


def test_tables_differ_by_rows_by_checksum_or_by_being_on_one_side_only():
    same, other = TableSum(3, 99), TableSum(3, 98)
    assert differing_tables({"a": same, "b": same}, {"a": same, "b": same}) == []
    assert differing_tables({"a": same, "b": same, "z": same}, {"a": other, "b": same, "c": same}) == ["a", "c", "z"]
    assert differing_tables({"a": TableSum(2, 99)}, {"a": same}) == ["a"]


def test_rows_on_one_side_only_are_paired_by_key_into_the_columns_that_differ():
    live = [{"id": 2, "name": "Ana", "desk": "SOPORTE"}, {"id": 9, "name": "Zoe", "desk": "SOPORTE"}]
    rebuilt = [{"id": 2, "name": "Ana", "desk": "IMPLANTACIONES"}, {"id": 1, "name": "Luis", "desk": "SOPORTE"}]
    found = row_differences("users", ["id"], live, rebuilt)
    assert found == [
        RowDifference("users", {"id": 1}, "only_rebuilt", row={"id": 1, "name": "Luis", "desk": "SOPORTE"}),
        RowDifference("users", {"id": 2}, "changed", columns={"desk": ("SOPORTE", "IMPLANTACIONES")}),
        RowDifference("users", {"id": 9}, "only_live", row={"id": 9, "name": "Zoe", "desk": "SOPORTE"})]
    assert len(row_differences("users", ["id"], live, rebuilt, limit=2)) == 2


def test_a_table_without_a_primary_key_reports_whole_rows():
    found = row_differences("log", [], [{"a": 1, "b": None}], [{"a": 1, "b": 2}])
    assert [d.kind for d in found] == ["only_live", "only_rebuilt"]


def test_a_difference_is_described_in_spanish_first_with_its_key():
    changed = RowDifference("tickets", {"ticket_id": "t-2"}, "changed", columns={"urgency": ("urgent", "normal")})
    assert describe(changed) == ("tickets [ticket_id='t-2'] difiere / differs: "
                                 "urgency: vivo/live='urgent' reconstruido/rebuilt='normal'")
    assert describe(RowDifference("thread", {"v": 2}, "only_rebuilt", row={"v": 2})).startswith(
        "thread [v=2] solo en el reconstruido / only in the rebuilt model")


def test_lag_counts_from_the_stored_offset_or_from_the_first_offset_kept():
    ends = {("t", 0): 10, ("t", 1): 5, ("t", 2): 7}
    assert lag(ends, {("t", 0): 4, ("t", 1): 5}, {("t", 2): 3}) == {("t", 0): 6, ("t", 1): 0, ("t", 2): 4}
    assert lag({("t", 0): 3}, {("t", 0): 9}) == {("t", 0): 0}  # never negative


def _opened(ticket_id="t-1", number="SOP-12", org="org-a"):
    return {"type": "TicketOpened", "stream_id": ticket_id, "stream_version": 1,
            "data": {"ticket_id": ticket_id, "number": number, "organisation_id": org}}


def test_the_ticket_filter_takes_a_number_or_an_id_and_learns_the_number_from_the_opening():
    by_number = EventFilter(ticket="sop-12")
    posted = {"type": "MessagePosted", "stream_id": "t-1", "stream_version": 2, "data": {"body": "hola"}}
    assert by_number.matches(_opened(), "p.helpdesk.tickets")
    assert by_number.matches(posted, "p.helpdesk.tickets")
    assert not by_number.matches({**posted, "stream_id": "t-2"}, "p.helpdesk.tickets")
    assert not by_number.matches({"type": "UserRegistered", "stream_id": "t-1", "data": {}}, "p.helpdesk.accounts")
    assert EventFilter(ticket="t-1").matches(posted, TICKETS)
    assert EventFilter(ticket="t-1").matches({"type": "DeadlineSet", "stream_id": "sla-t-1",
                                              "data": {"ticket_id": "t-1"}}, "helpdesk.sla")


def test_the_organisation_and_type_filters_apply_to_every_event_of_the_organisations_tickets():
    f = EventFilter(organisation="org-a", types=frozenset({"MessagePosted"}))
    posted = {"type": "MessagePosted", "stream_id": "t-1", "data": {}}
    assert not f.matches(_opened(), TICKETS)  # learnt from, but not of a type asked for
    assert f.matches(posted, TICKETS)
    assert not f.matches({**posted, "stream_id": "t-9"}, TICKETS)


def test_an_event_reads_as_a_header_line_and_its_data_indented():
    text = event_lines("helpdesk.tickets", 3, 17, {**_opened(), "occurred_at": "2026-03-02T13:00:00+00:00",
                                                  "actor": {"id": "u-1", "role": "customer"}}, "SOP-12")
    head, *body = text.splitlines()
    assert head == ("2026-03-02T13:00:00+00:00  helpdesk.tickets/3@17  TicketOpened  t-1 v1 (SOP-12)  "
                    "por/by u-1 (customer)")
    assert body[0] == "    {" and '      "number": "SOP-12",' in body


def test_text_tables_pad_columns_and_right_align_numbers():
    assert text_table(["name", "lag"], [["query", 5], ["sla", 120]]).splitlines() == [
        "name   lag", "-----  ---", "query    5", "sla    120"]


def test_the_synthetic_log_decodes_whole_and_keeps_each_ticket_in_stream_order():
    messages = synthetic_log.accounts() + list(synthetic_log.tickets(3))
    events = [from_json_bytes(synthetic_log.encode(doc)) for _, _, doc in messages]
    assert len({e.event_id for e in events}) == len(events)
    ticket_events = [e for (topic, _, _), e in zip(messages, events) if topic == TICKETS and e.stream_id == "ticket-1"]
    assert [e.stream_version for e in ticket_events] == list(range(1, 10))
    assert ticket_events[-1].type == "TicketClosed"
    assert len(list(synthetic_log.tickets(2, events_per_ticket=4))) == 8


def test_the_consumers_the_mesa_command_knows_are_the_services_own():
    import intake.sla_consumer
    import notifier.consumer
    import query.consumer
    import sla.consumer
    from helpdesk_shared.cli import CONSUMERS
    assert {k: c.name for k, c in CONSUMERS.items()} == {
        "query": query.consumer.CONSUMER_NAME, "sla": sla.consumer.CONSUMER_NAME,
        "notifier": notifier.consumer.CONSUMER_NAME, "intake": intake.sla_consumer.CONSUMER_NAME}
    assert CONSUMERS["query"].topics == query.consumer.TOPICS
    assert [k for k, c in CONSUMERS.items() if c.idempotent] == ["query"]


def test_the_progress_bar_off_a_terminal_writes_a_line_per_interval_and_the_last_one_always():
    import io

    from helpdesk_shared.cli import ProgressBar
    out = io.StringIO()
    bar = ProgressBar("rebuilding query", stream=out, every=3600)
    bar(0, 1000)
    bar(500, 1000)  # within the interval: not written
    bar(1000, 1000)
    bar(0, 20)  # a catch-up phase: its events add to the earlier ones
    bar(20, 20)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert "1.000/1.000 eventos" in lines[1] and "1.020/1.020 eventos" in lines[2]


def test_the_progress_bar_writes_its_first_line_whatever_the_monotonic_clock_reads(monkeypatch):
    # The monotonic clock counts from an arbitrary point (the machine's boot here): on a machine up
    # for less than `every` seconds the first line was never written (CI run 7, uptime 59 min).
    import io

    from helpdesk_shared import cli
    monkeypatch.setattr(cli.time, "monotonic", lambda: 12.0)
    out = io.StringIO()
    bar = cli.ProgressBar("rebuilding query", stream=out, every=3600)
    bar(0, 1000)
    bar(500, 1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rebuilding query [") and " 0/1.000 eventos" in lines[0]
