"""query.report_cache.ReportCache: remembered answers by key, the least recently used dropped first."""
from __future__ import annotations

from query.report_cache import ReportCache


def test_an_answer_is_computed_once_per_key_and_the_least_recently_used_is_dropped_beyond_the_size():
    cache, computed = ReportCache("query-tickets", entries=2), []

    def answer(key):
        return cache.get_or_compute(key, lambda: computed.append(key) or f"answer {key}")

    assert [answer("a"), answer("b"), answer("a")] == ["answer a", "answer b", "answer a"]
    assert computed == ["a", "b"] and (cache.hits, cache.misses) == (1, 2)
    answer("c")              # b is the least recently used now: dropped
    answer("a")
    answer("b")
    assert computed == ["a", "b", "c", "b"]
