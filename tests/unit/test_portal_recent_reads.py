"""portal.recent: a desk's agents and catalog kept briefly, per reader token, successes only."""
from portal.backend import Reply
from portal.recent import RecentReads


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def counting(reply):
    calls = []

    def read():
        calls.append(1)
        return reply
    return read, calls


def test_an_answer_is_reused_within_its_seconds_and_read_again_after_them():
    clock = Clock()
    recent = RecentReads(seconds=30, clock=clock)
    read, calls = counting(Reply(200, {"items": ["a"]}))
    assert recent.get(("agents", "SOPORTE", "t1"), read).body == {"items": ["a"]}
    clock.now += 29.9
    recent.get(("agents", "SOPORTE", "t1"), read)
    assert len(calls) == 1
    clock.now += 0.1
    recent.get(("agents", "SOPORTE", "t1"), read)
    assert len(calls) == 2


def test_another_token_never_gets_the_answer_read_for_the_first():
    recent = RecentReads(clock=Clock())
    recent.get(("agents", "SOPORTE", "token-of-carlos"), lambda: Reply(200, {"items": ["carlos"]}))
    read, calls = counting(Reply(403, {"code": "FORBIDDEN"}))
    assert recent.get(("agents", "SOPORTE", "token-of-maria"), read).status == 403
    assert len(calls) == 1


def test_a_refusal_is_not_kept_so_the_next_page_asks_again():
    recent = RecentReads(clock=Clock())
    read, calls = counting(Reply(401, {"code": "AUTH_REQUIRED"}))
    recent.get(("modules", "SOPORTE", "t"), read)
    recent.get(("modules", "SOPORTE", "t"), read)
    assert len(calls) == 2


def test_forget_drops_the_matching_answers_only():
    recent = RecentReads(clock=Clock())
    recent.get(("modules", "SOPORTE", "t"), lambda: Reply(200, {"v": 1}))
    recent.get(("agents", "SOPORTE", "t"), lambda: Reply(200, {"v": 1}))
    recent.forget(lambda key: key[:2] == ("modules", "SOPORTE"))
    assert recent.get(("modules", "SOPORTE", "t"), lambda: Reply(200, {"v": 2})).body == {"v": 2}
    assert recent.get(("agents", "SOPORTE", "t"), lambda: Reply(200, {"v": 2})).body == {"v": 1}


def test_it_never_holds_more_than_its_bound_dropping_the_oldest_first():
    clock = Clock()
    recent = RecentReads(seconds=30, max_entries=3, clock=clock)
    for n in range(5):
        clock.now += 1
        recent.get(("agents", "SOPORTE", f"t{n}"), lambda: Reply(200, {}))
    assert list(recent._kept) == [("agents", "SOPORTE", f"t{n}") for n in (2, 3, 4)]
