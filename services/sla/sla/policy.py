"""SLA policies as data: targets per desk and urgency class, and their deadlines (pure, SPEC §3).

A policy is configuration a supervisor may edit; each edit is a new `version`, and a ticket
keeps the version it was opened under (the caller pins it). Durations are business minutes
on the desk's calendar, or clock minutes when the target says "24x7".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from helpdesk_shared.errors import Message, RuleViolation
from helpdesk_shared.schemas import DESKS

BUSINESS = "business"
ALWAYS = "24x7"
CLOCKS = (BUSINESS, ALWAYS)
URGENCY_CLASSES = ("normal", "urgent")
TARGET_NAMES = ("first_response", "next_response", "auto_close_warning", "auto_close")
MAX_MINUTES = 60 * 24 * 60  # 60 days: anything longer is a typo, not a service level

_URGENT = ("platform_down", "member_billing_stopped", "announced_special_process")


class BusinessClock(Protocol):
    """What a deadline needs of a business calendar (`helpdesk_shared.business_calendar.Calendar`)."""

    def add(self, t: datetime, duration: timedelta) -> datetime: ...


@dataclass(frozen=True)
class Target:
    """A duration in minutes, counted on the business calendar or around the clock."""

    minutes: int | float  # whole minutes on the business clock; 24x7 allows fractions (tests run in seconds)
    clock: Literal["business", "24x7"]


@dataclass(frozen=True)
class Policy:
    """The four SLA targets of one desk and urgency class, at one version."""

    desk: str
    urgency_class: Literal["normal", "urgent"]
    version: int
    first_response: Target
    next_response: Target
    auto_close_warning: Target
    auto_close: Target


def urgency_class(urgency: str) -> str:
    """The policy class of a ticket's urgency: the three urgent kinds, or "normal"."""
    if urgency in _URGENT:
        return "urgent"
    if urgency == "normal":
        return "normal"
    raise ValueError(f"unknown urgency {urgency!r}")


def deadline(target: Target, start: datetime, calendar: BusinessClock) -> datetime:
    """When `target` is due for a clock started at `start` (UTC)."""
    duration = timedelta(minutes=target.minutes)
    due = calendar.add(start, duration) if target.clock == BUSINESS else start + duration
    return due.astimezone(timezone.utc)


def _business(minutes: int) -> Target:
    return Target(minutes, BUSINESS)


def _defaults(desk: str) -> dict[tuple[str, str], Policy]:
    # SPEC §3: one business day = 8 business hours on the 09:00–17:00 calendar;
    # waiting for the customer is measured the same way for both classes.
    waiting = dict(auto_close_warning=_business(480), auto_close=_business(960))
    return {
        (desk, "normal"): Policy(desk, "normal", 1, first_response=_business(480),
                                 next_response=_business(480), **waiting),
        (desk, "urgent"): Policy(desk, "urgent", 1, first_response=Target(120, ALWAYS),
                                 next_response=Target(120, ALWAYS), **waiting),
    }


DEFAULT_POLICIES: dict[tuple[str, str], Policy] = {
    key: policy for desk in DESKS for key, policy in _defaults(desk).items()
}


def _invalid(field: str, es: str, en: str) -> RuleViolation:
    return RuleViolation(code="SLA_POLICY_INVALID", field=field, message=Message(es=es, en=en), status=422)


def _target_from_doc(name: str, doc: object) -> Target:
    if not isinstance(doc, dict):
        raise _invalid(name, f"El objetivo «{name}» debe indicar minutos y reloj.",
                       f"Target '{name}' must give minutes and a clock.")
    minutes, clock = doc.get("minutes"), doc.get("clock")
    # bool is an int in Python; True minutes is a mistake, not one minute. Fractions of a
    # minute (down to one second) only on the 24x7 clock: business time is counted in minutes.
    number = isinstance(minutes, (int, float)) and not isinstance(minutes, bool)
    whole = number and (clock == "24x7" or float(minutes).is_integer())
    if not whole or not 1 / 60 <= minutes <= MAX_MINUTES:
        raise _invalid(f"{name}.minutes",
                       f"Los minutos de «{name}» deben ser un entero entre 1 y {MAX_MINUTES} (60 días); "
                       "en reloj 24x7 se admiten fracciones desde un segundo.",
                       f"The minutes of '{name}' must be an integer from 1 to {MAX_MINUTES} (60 days); "
                       "a 24x7 clock also takes fractions down to one second.")
    if clock not in CLOCKS:
        raise _invalid(f"{name}.clock", f"El reloj de «{name}» debe ser «business» o «24x7».",
                       f"The clock of '{name}' must be 'business' or '24x7'.")
    unknown = set(doc) - {"minutes", "clock"}
    if unknown:
        raise _invalid(f"{name}.{sorted(unknown)[0]}", f"Campo desconocido en «{name}».",
                       f"Unknown field in '{name}'.")
    return Target(minutes, clock)


def _validate(policy: Policy) -> Policy:
    if policy.desk not in DESKS:
        raise _invalid("desk", "Mesa desconocida.", "Unknown desk.")
    if policy.urgency_class not in URGENCY_CLASSES:
        raise _invalid("urgency_class", "La clase de urgencia debe ser «normal» o «urgent».",
                       "The urgency class must be 'normal' or 'urgent'.")
    if isinstance(policy.version, bool) or not isinstance(policy.version, int) or policy.version < 1:
        raise _invalid("version", "La versión debe ser un entero mayor o igual a 1.",
                       "The version must be an integer of 1 or more.")
    for name in TARGET_NAMES:
        target = getattr(policy, name)
        if not isinstance(target, Target):
            raise _invalid(name, f"Falta el objetivo «{name}».", f"Target '{name}' is missing.")
        _target_from_doc(name, {"minutes": target.minutes, "clock": target.clock})
    warning, close = policy.auto_close_warning, policy.auto_close
    # Minutes on different clocks cannot be compared without a calendar; same clock can.
    if warning.clock == close.clock and warning.minutes >= close.minutes:
        raise _invalid("auto_close_warning",
                       "El aviso de cierre automático debe llegar antes del cierre.",
                       "The auto-close warning must come before the auto-close.")
    return policy


def policy_from_doc(doc: dict, desk: str, urgency_class: str, version: int) -> Policy:
    """A validated `Policy` from its JSON document `{target: {minutes, clock}}`; raises `RuleViolation`."""
    if not isinstance(doc, dict):
        raise _invalid("policy", "La política debe ser un objeto.", "The policy must be an object.")
    missing = [name for name in TARGET_NAMES if name not in doc]
    if missing:
        raise _invalid(missing[0], f"Falta el objetivo «{missing[0]}».", f"Target '{missing[0]}' is missing.")
    unknown = sorted(set(doc) - set(TARGET_NAMES))
    if unknown:
        raise _invalid(unknown[0], f"Objetivo desconocido «{unknown[0]}».", f"Unknown target '{unknown[0]}'.")
    targets = {name: _target_from_doc(name, doc[name]) for name in TARGET_NAMES}
    return _validate(Policy(desk=desk, urgency_class=urgency_class, version=version, **targets))


def policy_to_doc(policy: Policy) -> dict:
    """The JSON document of a (validated) policy's targets; the inverse of `policy_from_doc`."""
    _validate(policy)
    return {name: {"minutes": getattr(policy, name).minutes, "clock": getattr(policy, name).clock}
            for name in TARGET_NAMES}
