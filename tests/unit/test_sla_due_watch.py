"""sla.due_watch: the timer process looks for due timers only once the next due instant may have been read past."""
from datetime import datetime, timedelta, timezone

from sla.due_watch import DueWatch, reach

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
GRACE = timedelta(seconds=1)
HOLDING = ((0, 1, 2), 1)  # partitions held, and how many times the loop sought them


def test_a_process_that_knows_nothing_yet_checks():
    assert DueWatch().must_check(HOLDING, T0)


def test_no_check_while_the_next_due_instant_lies_beyond_what_can_have_been_read_past():
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(minutes=30))
    for seconds in (0, 60, 29 * 60):
        assert not watch.must_check(HOLDING, reach(T0 + timedelta(seconds=seconds), [], GRACE))


def test_the_check_runs_once_now_less_the_grace_reaches_the_due_instant():
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(minutes=30))
    due = T0 + timedelta(minutes=30)
    assert not watch.must_check(HOLDING, reach(due + GRACE - timedelta(microseconds=1), [], GRACE))
    assert watch.must_check(HOLDING, reach(due + GRACE, [], GRACE))


def test_a_jump_of_the_driven_clock_past_the_due_instant_makes_the_next_poll_check():
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(hours=1))
    assert not watch.must_check(HOLDING, reach(T0, [], GRACE))
    assert watch.must_check(HOLDING, reach(T0 + timedelta(hours=2), [], GRACE))


def test_an_event_time_read_ahead_of_the_clock_counts_as_read_past():
    """read_past takes the later of now and the latest event time on a caught-up partition."""
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(minutes=5))
    assert watch.must_check(HOLDING, reach(T0, [T0 + timedelta(minutes=10)], GRACE))


def test_nothing_pending_means_no_check_until_a_batch_writes_a_clock():
    watch = DueWatch(HOLDING, earliest=None)
    assert not watch.must_check(HOLDING, reach(T0 + timedelta(days=365), [], GRACE))
    opened = watch.lowered(T0 + timedelta(minutes=2))
    assert not opened.must_check(HOLDING, reach(T0, [], GRACE))
    assert opened.must_check(HOLDING, reach(T0 + timedelta(minutes=3), [], GRACE))


def test_a_batch_only_brings_the_due_instant_earlier_never_later():
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(minutes=10))
    assert watch.lowered(T0 + timedelta(minutes=20)).earliest == T0 + timedelta(minutes=10)
    assert watch.lowered(T0 + timedelta(minutes=5)).earliest == T0 + timedelta(minutes=5)
    assert watch.lowered(None) == watch


def test_a_batch_does_not_make_an_unknown_due_instant_known():
    assert DueWatch().lowered(T0).must_check(HOLDING, T0 - timedelta(days=1))


def test_other_partitions_or_a_new_seek_make_the_known_instant_worthless():
    watch = DueWatch(HOLDING, earliest=T0 + timedelta(hours=1))
    assert watch.must_check(((0, 1, 2, 3), 1), T0)  # a partition gained: its clocks were not read
    assert watch.must_check(((0, 1, 2), 2), T0)     # sought again (a rebalance, `mesa rebuild`)
