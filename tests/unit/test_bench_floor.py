"""bench/floor.py's arithmetic: each primitive's count along a ticket's chain times its measured cost."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from floor import CHAIN, MIX, chain  # noqa: E402


def test_the_floor_is_each_primitive_counted_along_the_chain_times_its_cost():
    costs = {name: 0.0 for name in CHAIN}
    costs["http_request"], costs["pg_durable_write"], costs["smtp_send"] = 0.5, 0.25, 0.125
    result = chain(costs)
    # one request, two durable writes (the append, the mail's mark), one mail
    assert result["floor_ms"] == pytest.approx(0.5 + 2 * 0.25 + 0.125, abs=1e-3)
    assert result["floor_with_the_mix_ms"] == pytest.approx(1.125 + 0.25 * 0.5 + 0.4 * 0.25 + 0.15 * 0.125, abs=1e-3)
    assert result["tickets_per_s_on_two_cores_at_the_floor"] == round(2000 / 1.125)


def test_the_mix_only_adds_to_the_chain_and_names_no_other_primitive():
    assert set(MIX) == set(CHAIN)
    assert all(count > 0 for count in MIX.values())
    ones = chain({name: 1.0 for name in CHAIN})
    assert ones["floor_ms"] == pytest.approx(sum(count for count, _ in CHAIN.values()), abs=1e-3)
    assert ones["floor_with_the_mix_ms"] == pytest.approx(ones["floor_ms"] + sum(MIX.values()), abs=1e-3)
