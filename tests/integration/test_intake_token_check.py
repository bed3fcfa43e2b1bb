"""Intake's check that a bearer token was not revoked is one statement on the wire (issue 11).

Every authenticated request makes it before its command. It ran in a transaction of its own:
BEGIN, the read, COMMIT, three round trips for one row. It is now a single autocommit read, and
the connection goes back to the pool as the commands expect it (not in autocommit). The rule it
checks is tested with the permission matrix and the revocation tests; this holds its cost."""
from __future__ import annotations

from unittest import mock

import pytest
from psycopg import _connection_base

from helpdesk_shared.auth_tokens import Claims
from intake import api

pytestmark = pytest.mark.integration


def test_a_token_check_sends_its_one_read_without_a_transaction_and_returns_the_connection_as_it_was(intake_app):
    ctx = intake_app.extensions["intake"]
    with ctx.pool.connection() as conn:
        maria = conn.execute("select id from users where email = 'maria@clubcaracas.com.ve'").fetchone()["id"]
        conn.execute("update users set disabled = true where email = 'jose@clubcaracas.com.ve'")
        jose = conn.execute("select id from users where email = 'jose@clubcaracas.com.ve'").fetchone()["id"]
    iat = ctx.clock().timestamp()
    claims = {who: Claims(user_id, "customer", "club-caracas", ("SOPORTE",), who, f"{who}@clubcaracas.com.ve",
                          iat=iat) for who, user_id in (("maria", maria), ("jose", jose))}
    commands = []
    real = _connection_base.BaseConnection._exec_command

    def recording(self, command, *args, **kwargs):
        commands.append(bytes(command) if isinstance(command, (bytes, bytearray)) else str(command).encode())
        return real(self, command, *args, **kwargs)

    with intake_app.app_context(), mock.patch.object(_connection_base.BaseConnection, "_exec_command", recording):
        assert api._revoked(claims["maria"]) is False
        assert api._revoked(claims["jose"]) is True  # disabled: refused
    assert not [c for c in commands if c.strip().upper() in (b"BEGIN", b"COMMIT")], commands
    with ctx.pool.connection() as conn:
        assert conn.autocommit is False
