"""A user's claims are built from their row in one function (issue 10 item 2): login and the
link/reply-address commands get the same claims for the same row."""
from __future__ import annotations

import ast
from pathlib import Path

from helpdesk_shared.auth_tokens import Claims
from intake import domain

INTAKE = Path(domain.__file__).parent
ROW = {"id": "u1", "email": "maria@clubcaracas.com.ve", "name": "María Pérez", "role": "customer",
       "organisation_id": "club-caracas", "desks": ["SOPORTE", "IMPLANTACIONES"], "language": "en",
       "phone": None, "password_hash": "$argon2id$...", "disabled": False}


def test_a_user_row_becomes_claims_with_its_desks_as_a_tuple_and_nothing_secret():
    assert domain.claims_of_row(ROW) == Claims(
        user_id="u1", role="customer", organisation_id="club-caracas", desks=("SOPORTE", "IMPLANTACIONES"),
        name="María Pérez", email="maria@clubcaracas.com.ve", language="en")


def test_intake_builds_claims_in_that_one_function_only():
    builders = []
    for path in sorted(INTAKE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Claims":
                builders.append(f"{path.name}:{node.lineno}")
    assert len(builders) == 1 and builders[0].startswith("domain.py:")
