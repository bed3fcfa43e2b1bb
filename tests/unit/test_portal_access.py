"""The access-requests page's suggestion of the organisation a person named (pure)."""
from __future__ import annotations

from portal.access import suggested_organisation

ORGS = [{"id": "club-caracas", "name": "Club Social Caracas"}, {"id": "country-valencia", "name": "Valencia Country Club"},
        {"id": "distribuidora-andina", "name": "Distribuidora Andina, C.A."}]


def test_the_organisation_sharing_a_distinctive_word_is_suggested_whatever_the_accents_and_case():
    assert suggested_organisation("club social de CARACAS", ORGS) == "club-caracas"
    assert suggested_organisation("Distribuidóra Andina", ORGS) == "distribuidora-andina"


def test_words_every_club_has_suggest_nothing():
    assert suggested_organisation("Club Social", ORGS) is None


def test_a_tie_or_no_organisation_suggests_nothing_so_the_agent_chooses():
    assert suggested_organisation("Caracas Valencia", ORGS) is None
    assert suggested_organisation("Club Social Caracas", []) is None
    assert suggested_organisation("", ORGS) is None
