"""The billable mark (issue 9): an agent's decision on billing out-of-hours work, event-sourced as
BillableMarked in the ticket's stream. Its rule (intake), its fold (lifecycle, the SLA's clocks),
and what the read side makes of it (queue flag, timeline line)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared import lifecycle
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.errors import RuleViolation
from helpdesk_shared.schemas import validate_data
from intake import domain
from query import projector, queue, timeline
from sla.policy import DEFAULT_POLICIES
from sla.timers import AUTO_CLOSED, fold as fold_clocks, pending_timers
from helpdesk_shared.business_calendar import venezuela_default

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Caracas
CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
CARLOS = Claims(user_id="u-carlos", role="agent", organisation_id=None, desks=("SOPORTE",), name="Carlos",
                email="carlos@mesa.example")
MARIA = Claims(user_id="u-maria", role="customer", organisation_id="club-caracas", desks=("SOPORTE",), name="María",
               email="maria@clubcaracas.com.ve")


def opened(out_of_hours: bool = False):
    return new_event("TicketOpened", "t1", 1, {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "organisation_id": "club-caracas",
        "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada",
        "subject": "BANCOS, Factura mal cargada", "description": "...", "urgency": "normal",
        "out_of_hours_requested": out_of_hours,
        "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}}, actor=CUSTOMER, occurred_at=T0)


def answered(version: int = 2):
    return new_event("MessagePosted", "t1", version, {
        "message_id": f"m{version}", "author_id": AGENT.id, "author_role": "agent", "body": "Listo.",
        "internal": False}, actor=AGENT, occurred_at=T0 + timedelta(hours=1))


def marked(version: int, billable: bool, note: str | None = None):
    return new_event("BillableMarked", "t1", version, validate_data("BillableMarked", {
        "billable": billable, "note": note, "marked_by": AGENT.id}), actor=AGENT,
        occurred_at=T0 + timedelta(hours=2))


# --- the rule (intake, pure) ----------------------------------------------------------

def test_a_customer_may_not_mark_his_ticket_billable():
    with pytest.raises(RuleViolation) as refused:
        domain.billable_mark(MARIA, current=None, billable=False, note=None)
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    assert refused.value.message.es and refused.value.message.en


def test_an_agents_mark_names_him_and_keeps_a_trimmed_note():
    assert domain.billable_mark(CARLOS, current=None, billable=True, note="  Sábado de cierre  ") == {
        "billable": True, "note": "Sábado de cierre", "marked_by": "u-carlos"}
    assert domain.billable_mark(CARLOS, current=None, billable=False, note="   ")["note"] is None


def test_marking_what_is_already_marked_records_nothing_new_but_a_change_or_a_new_note_does():
    assert domain.billable_mark(CARLOS, current=True, billable=True, note=None) is None
    assert domain.billable_mark(CARLOS, current=True, billable=False, note=None)["billable"] is False
    assert domain.billable_mark(CARLOS, current=True, billable=True, note="Confirmado con el club") is not None
    # No mark yet: "not billable" is a decision too (it overrides the customer's request).
    assert domain.billable_mark(CARLOS, current=None, billable=False, note=None)["billable"] is False


# --- the folds --------------------------------------------------------------------------

def test_the_ticket_state_keeps_the_last_mark_and_its_status_does_not_move():
    state = lifecycle.fold([opened(), answered(), marked(3, True), marked(4, False)])
    assert (state.billable, state.status, state.version) == (False, lifecycle.WAITING_CUSTOMER, 4)
    assert lifecycle.fold([opened()]).billable is None


def test_a_mark_moves_the_sla_clocks_version_so_a_later_auto_close_is_not_refused_as_stale():
    # Intake accepts an auto-close only if it was decided on the stream's current version: a
    # mark the SLA did not count would leave every later decision one version behind, forever.
    clocks = fold_clocks([opened(), answered(), marked(3, True)], DEFAULT_POLICIES[("SOPORTE", "normal")],
                         venezuela_default(range(2026, 2028)))
    assert clocks.version == 3
    close = next(t for t in pending_timers(clocks) if t.kind == AUTO_CLOSED)
    assert close.data["based_on_version"] == 3


# --- the read side ----------------------------------------------------------------------

def test_query_keeps_the_agents_mark_beside_the_customers_request():
    change = projector.project(marked(3, True, "Sábado"), lifecycle.WAITING_CUSTOMER)
    assert change.ticket_updates == {"billable": True}
    assert change.thread_entry["internal"] is True  # staff bookkeeping: never in the customer's thread


def _row(out_of_hours: bool, billable: bool | None) -> dict:
    return {"ticket_id": "t1", "number": "SOP-1", "subject": "BANCOS, x", "module": "BANCOS", "status": "open",
            "urgency": "normal", "organisation_id": "club-caracas", "organisation_name": "Club Social Caracas",
            "assigned_to": None, "assigned_to_name": None, "customer_away": False, "back_at": None,
            "out_of_hours": out_of_hours, "billable": billable, "deadline": None}


@pytest.mark.parametrize("requested, mark, flag", [(True, None, True), (False, None, False), (True, False, False),
                                                   (False, True, True)])
def test_the_queues_billable_flag_is_the_agents_mark_when_set_else_the_customers_request(requested, mark, flag):
    item = queue.queue_item(_row(requested, mark), T0)
    assert item["flags"]["out_of_hours"] is flag
    assert item["billable"] == {"requested": requested, "marked": mark}


def test_the_timeline_says_who_marked_it_and_why_in_both_languages():
    yes = timeline.summary("BillableMarked", {"billable": True, "note": "Sábado", "marked_by": "u-carlos"},
                           "Carlos", {})
    no = timeline.summary("BillableMarked", {"billable": False, "note": None, "marked_by": "u-carlos"}, "Carlos", {})
    assert yes == {"es": "Carlos marcó el ticket como facturable: Sábado",
                   "en": "Carlos marked the ticket billable: Sábado"}
    assert no == {"es": "Carlos marcó el ticket como no facturable", "en": "Carlos marked the ticket not billable"}
