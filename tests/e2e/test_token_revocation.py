"""Tokens die when rights change, on the real pipeline: intake publishes BearerTokensRevoked on
helpdesk.accounts, and query and the SLA service refuse the old token within seconds."""
from __future__ import annotations

import pytest
import requests

from helpdesk_shared import pg
from helpdesk_shared.localstack import wait_until

pytestmark = pytest.mark.e2e


def _status(url: str, headers: dict) -> int:
    return requests.get(url, headers=headers, timeout=30).status_code


def test_a_disabled_agents_and_a_logged_out_customers_tokens_get_401_from_query_and_sla(stack):
    intake, query, sla = stack.urls["intake"], stack.urls["query"], stack.urls["sla"]
    carlos = stack.login("carlos@mesa.example")
    maria = stack.login("maria@clubcaracas.com.ve")
    supervisor = stack.login("supervisor@mesa.example")
    assert _status(f"{query}/api/tickets", carlos) == 200
    assert _status(f"{sla}/api/policies", carlos) == 200
    assert _status(f"{query}/api/tickets", maria) == 200

    with pg.connect(stack.env_for("intake")["DATABASE_URL"]) as conn:
        carlos_id = conn.execute("select id from users where email = 'carlos@mesa.example'").fetchone()["id"]
    r = requests.patch(f"{intake}/api/users/{carlos_id}", json={"disabled": True}, headers=supervisor, timeout=30)
    assert r.status_code == 200, r.text
    assert requests.post(f"{intake}/api/auth/logout", headers=maria, timeout=30).status_code == 204

    wait_until(lambda: _status(f"{query}/api/tickets", carlos) == 401, 120, "query refusing the disabled agent")
    wait_until(lambda: _status(f"{sla}/api/policies", carlos) == 401, 120, "sla refusing the disabled agent")
    wait_until(lambda: _status(f"{query}/api/tickets", maria) == 401, 120, "query refusing the logged-out customer")
    # Everyone else's tokens live on.
    assert _status(f"{query}/api/tickets", supervisor) == 200
    assert _status(f"{sla}/api/policies", supervisor) == 200
