"""The staff pages' pure parts: how a remaining business time reads."""
from __future__ import annotations

import pytest

from portal.staff import duration, is_staff


@pytest.mark.parametrize("seconds, shown", [(None, ""), (0, "0 min"), (59, "0 min"), (45 * 60, "45 min"),
                                            (3600, "1 h 00 min"), (7 * 3600 + 1800, "7 h 30 min"),
                                            (-30, "0 min")])
def test_a_remaining_time_reads_in_hours_and_minutes_and_never_negative(seconds, shown):
    assert duration(seconds) == shown


def test_only_agents_and_supervisors_are_staff():
    assert is_staff({"role": "agent"}) and is_staff({"role": "supervisor"})
    assert not is_staff({"role": "customer"}) and not is_staff(None)
