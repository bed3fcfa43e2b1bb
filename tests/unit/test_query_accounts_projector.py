"""How helpdesk.accounts events give query the names of people and organisations (pure)."""
from __future__ import annotations

from helpdesk_shared.envelope import SYSTEM, new_event
from query.projector import project_account
from test_lifecycle import T0


def test_a_registered_organisation_becomes_an_organisation_row_with_its_name_and_desks():
    event = new_event("OrganisationRegistered", "org-club-caracas", 1,
                      {"organisation_id": "club-caracas", "name": "Club Social Caracas", "tax_id": "J-00012345-6",
                       "desks": ["SOPORTE"]}, actor=SYSTEM, occurred_at=T0)
    change = project_account(event)
    assert change.organisation == {"id": "club-caracas", "name": "Club Social Caracas", "tax_id": "J-00012345-6",
                                   "desks": ["SOPORTE"]}
    assert change.user is None


def test_a_registered_user_becomes_a_user_row_with_name_role_organisation_and_desks():
    event = new_event("UserRegistered", "user-u1", 1,
                      {"user_id": "u1", "email": "carlos@mesa.example", "name": "Carlos Soporte", "role": "agent",
                       "organisation_id": None, "desks": ["SOPORTE"], "language": "es", "phone": None},
                      actor=SYSTEM, occurred_at=T0)
    assert project_account(event).user == {"id": "u1", "email": "carlos@mesa.example", "name": "Carlos Soporte",
                                           "role": "agent", "organisation_id": None, "desks": ["SOPORTE"],
                                           "phone": None}


def test_other_account_events_change_no_name():
    event = new_event("TrainingRequested", "org-club-caracas", 2,
                      {"organisation_id": "club-caracas", "requested_by": "u1", "modules": ["BANCOS"],
                       "participants": 3}, actor=SYSTEM, occurred_at=T0)
    change = project_account(event)
    assert (change.organisation, change.user) == (None, None)
