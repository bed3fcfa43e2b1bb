"""The supervisors' forms (calendars, SLA policies) to sla's JSON documents and back (pure).

The SLA service is the one judge of a calendar or a policy: what a reader typed that does not
parse is passed on as typed, so sla refuses it in its own words, and `form_field` says beside
which input of the form each refusal belongs.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

WEEKDAYS = range(7)  # 0 = Monday, as sla.calendars
TARGETS = ("first_response", "next_response", "auto_close_warning", "auto_close")
CLOCKS = ("business", "24x7")
URGENCY_CLASSES = ("normal", "urgent")
BLANK_CLOSURE_ROWS = 2  # new closure days a form offers at once (no JavaScript needed to add one)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")
# A change "from" a day starts at that day's midnight, Caracas time (UTC-4 all year).
DAY_START = "T00:00:00-04:00"


def latest(items: Sequence[Mapping], *keys: str) -> dict[tuple, Mapping]:
    """The highest version of each `keys` group (sla lists every version, oldest first)."""
    chosen: dict[tuple, Mapping] = {}
    for item in items:
        key = tuple(item[k] for k in keys)
        if key not in chosen or item["version"] > chosen[key]["version"]:
            chosen[key] = item
    return chosen


# ------------------------------------------------------------------ calendars

def _hours(intervals: Sequence[Mapping], weekday: int) -> str:
    return ", ".join(f"{i['start']}-{i['end']}" for i in intervals if i.get("weekday") == weekday)


def calendar_form(doc: Mapping) -> dict:
    """The calendar form's values from a calendar document."""
    return {"tz": doc.get("tz", "America/Caracas"),
            **{f"weekday_{d}": _hours(doc.get("weekly", []), d) for d in WEEKDAYS},
            "public_holidays": doc.get("public_holidays", "VE") == "VE",
            "closures": [{"date": c.get("date", ""), "note": c.get("note", "")} for c in doc.get("closures", [])]
            + [{"date": "", "note": ""} for _ in range(BLANK_CLOSURE_ROWS)]}


def _intervals(text: str, weekday: int) -> list[dict]:
    intervals = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in re.split(r"\s*[-–]\s*", part)]
        start, end = (pieces if len(pieces) == 2 else (part, ""))
        intervals.append({"weekday": weekday, "start": start[:8], "end": end[:8]})
    return intervals


def calendar_body(form: Mapping[str, str], dates: Sequence[str], notes: Sequence[str], removed: Sequence[str],
                  today: str) -> tuple[dict, dict[str, str]]:
    """sla's PUT /api/calendars/<desk> body from the form, and which form field each sent item came
    from (sla's field path -> form field). `today` (YYYY-MM-DD, Caracas) means "from now"."""
    fields: dict[str, str] = {}
    weekly = []
    for d in WEEKDAYS:
        for interval in _intervals(form.get(f"weekday_{d}") or "", d):
            fields[f"weekly[{len(weekly)}]"] = f"weekday_{d}"
            weekly.append(interval)
    closures = []
    for row, (day, note) in enumerate(zip(dates, notes)):
        day, note = (day or "").strip(), (note or "").strip()
        if str(row) in removed or (not day and not note):
            continue
        fields[f"closures[{len(closures)}]"] = f"closure_{row}"
        closures.append({"date": day[:10], "note": note[:200]})
    calendar = {"tz": form.get("tz") or "America/Caracas", "weekly": weekly,
                "public_holidays": "VE" if form.get("public_holidays") == "VE" else None, "closures": closures}
    body: dict = {"calendar": calendar}
    effective = (form.get("effective_on") or "").strip()
    if effective and effective != today:
        body["effective_from"] = effective + DAY_START if _DATE.match(effective) else effective
    return body, fields


def closure_rows(dates: Sequence[str], notes: Sequence[str], removed: Sequence[str]) -> list[dict]:
    """The closure rows as the reader left them (shown again beside a refusal)."""
    return [{"date": d, "note": n, "removed": str(i) in removed} for i, (d, n) in enumerate(zip(dates, notes))]


def weekly_summary(doc: Mapping, day_names: Sequence[str] = tuple(str(d) for d in WEEKDAYS)) -> str:
    """"Lunes 09:00-17:00; Martes ..." in weekday order: a version's hours in one line (history)."""
    weekly = doc.get("weekly", [])
    return "; ".join(f"{day_names[d]} {_hours(weekly, d)}" for d in WEEKDAYS if _hours(weekly, d))


# ------------------------------------------------------------------ policies

def policy_form(doc: Mapping) -> dict:
    """The policy form's values from a policy document."""
    form = {}
    for name in TARGETS:
        target = doc.get(name) or {}
        minutes = target.get("minutes", "")
        form[f"{name}_minutes"] = (str(int(minutes)) if isinstance(minutes, (int, float)) and
                                   float(minutes).is_integer() else str(minutes))
        form[f"{name}_clock"] = target.get("clock", "business")
    return form


def _minutes(text: str):
    text = (text or "").strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return text  # sla refuses it beside the field
    return int(value) if value.is_integer() else value


def policy_body(form: Mapping[str, str], today: str) -> dict:
    """sla's PUT /api/policies/<desk>/<class> body from the form."""
    body: dict = {"policy": {name: {"minutes": _minutes(form.get(f"{name}_minutes") or ""),
                                    "clock": (form.get(f"{name}_clock") or "")[:16]} for name in TARGETS}}
    effective = (form.get("effective_on") or "").strip()
    if effective and effective != today:
        body["effective_from"] = effective + DAY_START if _DATE.match(effective) else effective
    return body


# ------------------------------------------------------------------ refusals

def sla_path(field: str | None) -> str:
    """sla's field name in one spelling: `calendar.weekly.3.start` and `weekly[3].start` -> `weekly[3].start`."""
    name = field or ""
    for prefix in ("calendar.", "policy."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return _INDEX.sub(lambda m: f"[{m.group(1)}]", name)


def form_field(refusal: Mapping, sent: Mapping[str, str]) -> str:
    """Beside which form field sla's refusal `{code, field, message}` goes ("" = the form's top).
    `sent`: the field map calendar_body returned (empty for a policy)."""
    name = sla_path(refusal.get("field"))
    if name == "effective_from":
        return "effective_on"
    if name == "public_holidays":
        return "public_holidays"
    head = re.match(r"^[a-z_]+(\[\d+\])?", name)
    head = head.group(0) if head else ""
    if head in sent:
        return sent[head]
    if head == "weekly":
        return "weekly"
    target = name.split(".")[0]
    if target in TARGETS:
        return f"{target}_clock" if name.endswith(".clock") else f"{target}_minutes"
    return ""
