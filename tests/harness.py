"""What tests import by name (a module, not conftest: the browser tests have a conftest of their
own, and a test importing `conftest` would get whichever one pytest loaded last)."""
from __future__ import annotations

from datetime import datetime


class Clock:
    """A settable clock for apps built in-process (`clock.now = ...`, `clock.advance(seconds=...)`)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        from datetime import timedelta
        self.now = self.now + timedelta(**delta)


def login(client, email: str, password: str = "mesa-demo") -> dict:
    """The Authorization header for a demo user, through intake's own login route."""
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}
