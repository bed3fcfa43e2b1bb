"""From the portal's HTML forms to intake's JSON bodies and back (pure: no Flask, no I/O).

Intake is the one judge of the rules; these functions only reshape what a browser sends
(text fields, comma-separated lists, checkboxes) and say beside which form field each of
intake's refusals belongs.
"""
from __future__ import annotations

import re
from typing import Mapping

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A "back on" day means back when the desk opens that day (Caracas, UTC-4 all year, 09:00).
BACK_AT_TIME = "T09:00:00-04:00"

SPECIAL_PROCESS_KINDS = ("carnetizacion", "other")  # intake.requests.SPECIAL_PROCESS_KINDS
URGENCY_CHOICES = ("normal", "platform_down", "member_billing_stopped", "announced_special_process")
LIST_STATUSES = ("open", "waiting_customer", "closed")

# Intake names the JSON field it refuses; the form shows the refusal beside the input the
# reader typed it in (the subject is built from two inputs: module and case summary).
_FIELD_OF = {"subject": "case", "contact": "contact_name", "contact.name": "contact_name",
             "contact.email": "contact_email", "contact.phone": "contact_phone", "attachments": "files",
             "file": "files", "dates": "dates", "vouchers": "vouchers", "member_number": "member_number",
             "menu_path": "menu_path", "description": "description", "urgency": "urgency", "desk": "desk",
             "previous_ticket": "previous_ticket", "out_of_hours_requested": "out_of_hours_requested",
             "body": "body", "solved": "body", "back_at": "back_on", "note": "away_note",
             "starts_at": "starts_on", "ends_at": "ends_on", "kind": "kind", "minutes_spent": "minutes_spent"}
_MODULE_CODES = ("R4_UNKNOWN_MODULE",)
SEARCH_MAX = 200  # query's limit on a list's text search (query.filters.MAX_TEXT)


def _items(text: str) -> list[str]:
    """`a, b; c` -> ["a", "b", "c"] (blank items dropped)."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


_ATTEMPT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def ticket_body(form: Mapping[str, str], desk: str, attachments: list[str]) -> dict:
    """Intake's POST /api/tickets body from the new-ticket form's fields."""
    module, case = (form.get("module") or "").strip(), (form.get("case") or "").strip()
    body = {"desk": desk, "subject": f"{module}, {case}" if module or case else "",
            "description": form.get("description") or "",
            "contact": {"name": form.get("contact_name") or "", "email": form.get("contact_email") or "",
                        "phone": form.get("contact_phone") or ""},
            "urgency": form.get("urgency") or "normal",
            "out_of_hours_requested": form.get("out_of_hours_requested") == "1",
            "confirmed_different_case": form.get("confirmed_different_case") == "1"}
    if (form.get("member_number") or "").strip():
        body["member_number"] = form["member_number"].strip()
    if _items(form.get("dates") or ""):
        body["dates"] = _items(form["dates"])
    if _items(form.get("vouchers") or ""):
        body["vouchers"] = _items(form["vouchers"])
    if (form.get("menu_path") or "").strip():
        body["menu_path"] = form["menu_path"].strip()
    if (form.get("previous_ticket") or "").strip():
        body["previous_ticket"] = form["previous_ticket"].strip().upper()
    if attachments:
        body["attachments"] = attachments
    if _ATTEMPT.match(form.get("attempt_id") or ""):  # issue 12: the form's load, for deflections
        body["attempt_id"] = form["attempt_id"]
    return body


def field_of(refusal: Mapping) -> str:
    """The form field beside which intake's refusal `{code, field, message}` is shown ("" = the form's top)."""
    if refusal.get("code") in _MODULE_CODES:
        return "module"
    name = refusal.get("field") or ""
    if name in _FIELD_OF:
        return _FIELD_OF[name]
    head = name.split(".")[0].split("[")[0]
    return _FIELD_OF.get(head, "")


def text_of(refusal: Mapping, language: str) -> str:
    """The refusal's message in the reader's language (Spanish when the other is missing)."""
    message = refusal.get("message") or {}
    if isinstance(message, str):
        return message
    return message.get(language) or message.get("es") or refusal.get("code") or ""


def is_duplicate(refusal: Mapping) -> bool:
    """Intake found an open ticket for the same case (rule 6): the page offers to continue it."""
    return refusal.get("code") == "R6_DUPLICATE_OPEN_CASE" and bool(refusal.get("ticket"))


def away_body(form: Mapping[str, str]) -> dict:
    """Intake's POST /api/tickets/{number}/away body from "Me tengo que ausentar" (date, note)."""
    day, note = (form.get("back_on") or "").strip(), (form.get("away_note") or "").strip()
    body: dict = {}
    if day:
        # Not a date: passed on as typed, so intake refuses it beside the field in its own words.
        body["back_at"] = day + BACK_AT_TIME if _DATE.match(day) else day
    if note:
        body["note"] = note
    return body


def special_process_body(form: Mapping[str, str]) -> dict:
    """Intake's POST /api/special-processes body: the window runs from the first day's start to
    the last day's end, Caracas time (people announce days, not instants)."""
    def day(name: str, clock: str) -> str:
        value = (form.get(name) or "").strip()
        return value + clock if _DATE.match(value) else value
    return {"kind": form.get("kind") or "", "description": (form.get("description") or "").strip(),
            "starts_at": day("starts_on", "T00:00:00-04:00"), "ends_at": day("ends_on", "T23:59:59-04:00")}
