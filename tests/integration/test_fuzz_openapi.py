"""Schemathesis against each service's own OpenAPI document, with valid tokens (issue 7, item 12).

Every operation gets a bounded, repeatable number of generated requests (valid and invalid ones) as a
customer, an agent and, where only he reaches a route, a supervisor; any 5xx or any status the
document does not list fails the test. The suite's `no_500_anywhere` guard also fails it on any 500.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

import samples
from harness import login

pytestmark = pytest.mark.integration

# Per operation, per token and per mode: enough to hit every field with a wrong type once or
# twice, few enough for CI on a loaded machine. derandomize makes a failure repeat in CI.
# FUZZ_EXAMPLES=100 runs a deeper search by hand (about five minutes for all four services).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance]
# Closing the ticket makes the other ticket commands 409, and logging out ends the caller's tokens:
# they run after everything else, in this order.
LAST = ("/api/tickets/{number}/close", "/api/auth/logout")


def _fuzz(schema, headers_by_role: dict[str, dict], path_parameters: dict | None = None
          ) -> tuple[list[str], dict[str, int]]:
    """Run every operation of `schema` with each role's headers (and these path parameters where the
    path has them, so bodies reach the handlers instead of a 404): the failures, one line each, and
    the number of requests sent per operation."""
    operations = sorted((r.ok() for r in schema.get_all_operations()),
                        key=lambda op: (LAST.index(op.path) if op.path in LAST else -1, op.path, op.method))
    failures, sent = [], {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        sent[label] = 0
        fixed = {k: v for k, v in (path_parameters or {}).items() if f"{{{k}}}" in operation.path}
        for role, headers in headers_by_role.items():
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate], print_blob=False,
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
                def run(case):
                    # The token is the caller's, not generated: the point is what a logged-in user can send.
                    case.headers = {**(case.headers or {}), **headers}
                    sent[label] += 1
                    case.call_and_validate(checks=CHECKS)

                try:
                    run()
                except Unsatisfiable:
                    pass  # nothing to send wrong (no parameters, no body): the positive run covered it
                except (Exception, BaseExceptionGroup) as failure:  # every operation's failure is reported together
                    failures.append(f"{label} as {role} ({mode.value}): "
                                    f"{str(failure).strip()[:1500]}")
    return failures, sent


def test_intake_answers_generated_requests_of_customers_agents_and_supervisors_without_5xx_or_undocumented_status(
        intake_app):
    client = intake_app.test_client()
    tokens = {"customer": login(client, "maria@clubcaracas.com.ve"), "agent": login(client, "carlos@mesa.example"),
              # the supervisor reaches the user changes (PATCH /api/users) that answer 403 to everyone else
              "supervisor": login(client, "supervisor@mesa.example")}
    # A real ticket both may act on (María's organisation, Carlos's desk): the ticket routes get past 404.
    opened = client.post("/api/tickets", json=samples.ticket_body(), headers=tokens["customer"])
    assert opened.status_code == 201, opened.get_json()
    schema = schemathesis.openapi.from_wsgi("/openapi.json", intake_app)

    failures, sent = _fuzz(schema, tokens, {"number": opened.get_json()["number"]})

    assert not failures, "\n\n".join(failures)
    assert len(sent) >= 20 and all(sent.values()), sent  # every operation of the document was exercised


def test_query_answers_generated_requests_of_customers_and_agents_without_5xx_or_undocumented_status(
        query_db, clock):
    from configs import bearer, query_config
    from permission_matrix import CLAIMS
    from query.app import create_app
    app = create_app(query_config(query_db), migrate_first=True, clock=clock)
    try:
        tokens = {role: bearer(CLAIMS[role], clock.now) for role in ("customer", "agent")}
        schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

        failures, sent = _fuzz(schema, tokens)
    finally:
        app.extensions["query"].pool.close()

    assert not failures, "\n\n".join(failures)
    assert len(sent) >= 4 and all(sent.values()), sent  # every operation of the document was exercised


def test_sla_answers_generated_requests_of_customers_agents_and_supervisors_without_5xx_or_undocumented_status(
        fresh_database, clock):
    from configs import bearer, sla_config
    from permission_matrix import CLAIMS
    from sla.app import create_app
    app = create_app(sla_config(fresh_database("sla")), migrate_first=True, clock=clock)
    try:
        # The supervisor too: only he gets past the role check into the calendar and policy bodies.
        tokens = {role: bearer(CLAIMS[role], clock.now) for role in ("customer", "agent", "supervisor")}
        schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

        failures, sent = _fuzz(schema, tokens)
    finally:
        app.extensions["sla"].pool.close()

    assert not failures, "\n\n".join(failures)
    assert len(sent) >= 5 and all(sent.values()), sent  # every operation of the document was exercised


def test_notifier_answers_generated_requests_of_customers_and_agents_without_5xx_or_undocumented_status(
        fresh_database, clock):
    from configs import bearer, notifier_config
    from notifier.app import create_app
    from permission_matrix import CLAIMS
    app = create_app(notifier_config(fresh_database("notifier")), migrate_first=True, clock=clock)
    # The supervisor too: only he gets past the role check into the mail texts' bodies.
    tokens = {role: bearer(CLAIMS[role], clock.now) for role in ("customer", "agent", "supervisor")}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

    failures, sent = _fuzz(schema, tokens)

    assert not failures, "\n\n".join(failures)
    assert len(sent) >= 3 and all(sent.values()), sent  # every operation of the document was exercised
