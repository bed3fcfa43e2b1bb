"""Intake's rules for opening a ticket, pure: text in, normalised values or a RuleViolation out."""
from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import snowballstemmer

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.business_calendar import Calendar, venezuela_default
from helpdesk_shared.errors import Message

from .catalog import URGENCIES
from .messages import message, violation
from .vocabulary import (GENERAL_SYNONYMS, HELP_PREFIXES, HELP_WORDS, MATCH_STOPWORDS, MODULE_SYNONYMS, MODULE_WORDS,
                         MONTH_END_MODULES, MONTH_END_PREFIXES, MONTH_END_WORDS, STOPWORDS, URGENCY_WORDS,
                         VAGUE_WORDS)

MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
              "septiembre", "octubre", "noviembre", "diciembre")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")

_LETTER_WORD = re.compile(r"[^\W\d_]+")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]+$")
_MEMBER_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,20}$")


def claims_of_row(row) -> Claims:
    """The claims of a user row of intake's `users` table (login, links, reply addresses all use this)."""
    return Claims(user_id=row["id"], role=row["role"], organisation_id=row["organisation_id"],
                  desks=tuple(row["desks"]), name=row["name"], email=row["email"], language=row["language"])


@dataclass(frozen=True)
class Announcement:
    """A special process an organisation announced: its window and when it was filed."""

    announcement_id: str
    starts_at: datetime
    ends_at: datetime
    announced_at: datetime


class _WithoutCombining(dict):
    """`str.translate`'s table that drops combining marks: each character is looked up in Unicode
    once, then in C (a generator over every character was ~4 % of an opening's CPU)."""

    def __missing__(self, ch: int) -> str | None:
        kept = None if unicodedata.combining(chr(ch)) else chr(ch)
        if len(self) < 65536:  # a text of rare characters cannot grow it without bound
            self[ch] = kept
        return kept


_WITHOUT_COMBINING = _WithoutCombining()


def _fold(text: str) -> str:
    """Lower case without accents: "Facturación" -> "facturacion"."""
    folded = text.casefold()
    if folded.isascii():  # NFKD leaves ASCII as it is, and it has no combining marks
        return folded
    return unicodedata.normalize("NFKD", folded).translate(_WITHOUT_COMBINING)


def _meaningful_words(text: str) -> list[str]:
    """Folded words of two letters or more that are not stopwords."""
    return [w for w in _LETTER_WORD.findall(_fold(text)) if len(w) >= 2 and w not in STOPWORDS]


_REPEATED = re.compile(r"(.)\1{2,}")
# An urgency word and the punctuation that only served it ("URGENTE!!!", "(urgente)", "- URGENTE").
_URGENCY = re.compile(r"[\s(\[]*[-–—:;,]?[\s(\[]*\b(?:" + "|".join(URGENCY_WORDS) + r")\b[\s!¡.:;,)\]]*[-–—]?",
                      re.IGNORECASE)
_LOOSE_ENDS = " \t-–—:;,.!¡?¿"


@lru_cache(maxsize=65536)  # customers' words repeat: each is looked at once per process
def _is_help_word(word: str) -> bool:
    """Whether a folded word only asks for help, speed or courtesy ("ayúdenme", "rapidito", "please")."""
    word = _REPEATED.sub(r"\1", word)  # "ayudaaa" -> "ayuda"
    return word in HELP_WORDS or word.startswith(HELP_PREFIXES)


def _without_urgency(case: str) -> str:
    """The case with its urgency words and their punctuation removed: "Urgente: factura ..." -> "factura ..."."""
    if not _URGENCY.search(case):
        return case  # a case without urgency words is stored as written, "¿…?" included
    cleaned = _URGENCY.sub(" ", case).replace("()", " ").replace("[]", " ")
    return " ".join(cleaned.split()).strip(_LOOSE_ENDS)


def parse_subject(subject: str, modules: tuple[str, ...], retired: tuple[str, ...] = ()) -> tuple[str, str]:
    """Split "MÓDULO, caso" into (catalog module, case), refusing vague subjects (rule 4) and
    modules the desk retired (valid on older tickets, not on new ones).

    Judged by content: once stop-words and the vocabulary of asking for help, speed or
    courtesy are set aside, at least three words must remain and not all of them may be
    words that only say "something is wrong". Urgency words are dropped from the case.
    """
    module_part, comma, case_part = (subject or "").partition(",")
    case = " ".join(case_part.split())
    if not comma or not module_part.strip() or not case:
        raise violation("R4_SUBJECT_FORMAT", "subject")
    by_folded = {_fold(m): m for m in modules}
    module = by_folded.get(_fold(" ".join(module_part.split())))
    if module is None:
        gone = {_fold(m): m for m in retired}.get(_fold(" ".join(module_part.split())))
        if gone:
            raise violation("R4_MODULE_RETIRED", "subject", module=gone, modules=modules)
        raise violation("R4_UNKNOWN_MODULE", "subject", modules=modules)
    case = _without_urgency(case)
    words = _LETTER_WORD.findall(case)
    meaningful = [w for w in _meaningful_words(case) if not _is_help_word(w)]
    shouting = sum(len(w) >= 2 for w in words) >= 2 and not any(ch.islower() for ch in case)
    only_vague = all(w in VAGUE_WORDS for w in meaningful)
    if shouting or only_vague or len(meaningful) < 3:
        raise violation("R4_VAGUE_SUBJECT", "subject")
    return module, case


def subject_warnings(subject: str) -> list[dict]:
    """Warnings for an accepted subject: urgency asked for in words was dropped (urgency has three causes)."""
    _, _, case_part = (subject or "").partition(",")
    if not _URGENCY.search(case_part):
        return []
    return [{"code": "SUBJECT_URGENCY_DROPPED", "message": message("SUBJECT_URGENCY_DROPPED").as_dict()}]


def check_description(text: str) -> str:
    """The stripped description, refused when empty or without substance (rule 5)."""
    description = (text or "").strip()
    if not description:
        raise violation("R5_DESCRIPTION_REQUIRED", "description")
    words = _meaningful_words(description)
    if len(words) < 8 or len(set(words)) < 5:
        raise violation("R5_DESCRIPTION_THIN", "description")
    return description


def check_contact(contact: dict | None) -> dict:
    """Normalised {name, email, phone}; all three are part of every ticket (rule 3)."""
    if not isinstance(contact, dict):
        raise violation("CONTACT_REQUIRED", "contact")
    values = {}
    for key in ("name", "email", "phone"):
        value = contact.get(key)
        value = " ".join(value.split()) if isinstance(value, str) else ""
        if not value:
            raise violation("CONTACT_REQUIRED", f"contact.{key}")
        values[key] = value
    email = values["email"].lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise violation("CONTACT_REQUIRED", "contact.email")
    phone = values["phone"]
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.match(phone) or not 7 <= len(digits) <= 15:
        raise violation("CONTACT_REQUIRED", "contact.phone")
    return {"name": values["name"][:200], "email": email, "phone": ("+" if phone.startswith("+") else "") + digits}


ANNOUNCED_SPECIAL_PROCESS = "announced_special_process"  # the one urgency that needs the announcements


def check_urgency(urgency: str, announcements: list[Announcement], now: datetime) -> str | None:
    """The covering announcement's id for an announced special process, else None; refuse other urgencies."""
    if urgency not in URGENCIES:
        raise violation("URGENT_NOT_ALLOWED", "urgency")
    if urgency != ANNOUNCED_SPECIAL_PROCESS:
        return None
    for announcement in announcements:
        if announcement.announced_at < announcement.starts_at <= now < announcement.ends_at:
            return announcement.announcement_id
    raise violation("URGENT_NO_ANNOUNCEMENT", "urgency")


def check_structured_fields(member_number=None, dates=None, vouchers=None, menu_path=None) -> dict:
    """Light checks of the optional rule-5 fields; returns them normalised (absent ones as None)."""
    if member_number not in (None, ""):
        if not isinstance(member_number, str) or not _MEMBER_NUMBER.match(member_number.strip()):
            raise violation("R5_FIELD_INVALID", "member_number")
        member_number = member_number.strip()
    if dates is not None:
        if not isinstance(dates, list) or len(dates) > 50:
            raise violation("R5_FIELD_INVALID", "dates")
        try:
            dates = [d.isoformat() if isinstance(d, date) else date.fromisoformat(d).isoformat() for d in dates]
        except (TypeError, ValueError):
            raise violation("R5_FIELD_INVALID", "dates") from None
    if vouchers is not None:
        if not isinstance(vouchers, list) or len(vouchers) > 50 or not all(
            isinstance(v, str) and 0 < len(v.strip()) <= 50 for v in vouchers
        ):
            raise violation("R5_FIELD_INVALID", "vouchers")
        vouchers = [v.strip() for v in vouchers]
    if menu_path not in (None, ""):
        if not isinstance(menu_path, str) or len(menu_path.strip()) > 300:
            raise violation("R5_FIELD_INVALID", "menu_path")
        menu_path = menu_path.strip()
    return {"member_number": member_number or None, "dates": dates, "vouchers": vouchers,
            "menu_path": menu_path or None}


_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("spanish")
# Rule 6's score from which two cases are offered as one ("continue ticket N"); chosen on
# tests/data/duplicate_pairs.json (precision and recall printed by its test).
SIMILAR_CASE_THRESHOLD = 0.33
# How much a shared term counts: the module's everyday words and "something is wrong"
# words count little, generic facts ("shown", "wrong", "month") half.
_LIGHT_WEIGHT, _HALF_WEIGHT = 0.25, 0.5
# Descriptions only confirm summaries that already share something: two different
# summaries above one pasted description are two cases.
_SUMMARY_GATE = 0.1
_HALF_CONCEPTS = frozenset({"NOT", "SHOWN", "WRONG", "MONTH", "REPORT", "FILE", "SAVE", "MISSING"})


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Snowball's Spanish stem of a folded word: "conciliación" and "conciliar" -> "concili"."""
    return _STEMMER.stemWord(word)


def _concepts(groups: dict[str, str]) -> dict[str, str]:
    """stem -> concept for synonym groups written as customers write them."""
    return {_stem(_fold(word)): concept for concept, words in groups.items() for word in words.split()}


_GENERAL_CONCEPTS = _concepts(GENERAL_SYNONYMS)
_MODULE_CONCEPTS = {module: {**_GENERAL_CONCEPTS, **_concepts(groups)} for module, groups in MODULE_SYNONYMS.items()}
_VAGUE_STEMS = frozenset(_stem(word) for word in VAGUE_WORDS)


def _term(word: str, concepts: dict[str, str]) -> str:
    stem = _stem(word)
    return concepts.get(stem, stem)


_LIGHT_TERMS = {module: frozenset(_term(_fold(w), _MODULE_CONCEPTS.get(module, _GENERAL_CONCEPTS))
                                  for w in words.split()) | _VAGUE_STEMS
                for module, words in MODULE_WORDS.items()}


@lru_cache(maxsize=16384)  # the open cases of a module are compared again at every opening
def _terms(text: str, module: str | None) -> frozenset[str]:
    """A text reduced to what it means for rule 6: folded, without stop-words or pleas for help,
    stemmed, each stem replaced by its synonym group's concept; numbers kept as they are."""
    terms = set()
    for word in _WORD.findall(_fold(text)):
        if word.isdigit():
            terms.add(word.lstrip("0") or "0")  # a share, invoice or voucher number: "0456" is "456"
        elif (term := _word_term(word, module)) is not None:
            terms.add(term)
    return frozenset(terms)


@lru_cache(maxsize=65536)  # a new case's words are mostly words seen before: one lookup each
def _word_term(word: str, module: str | None) -> str | None:
    """The concept a folded word stands for in `module`, or None for a stop-word, a plea for help
    or a single letter."""
    if len(word) < 2 or word in MATCH_STOPWORDS or _is_help_word(word):
        return None
    return _term(word, _MODULE_CONCEPTS.get(module, _GENERAL_CONCEPTS))


def _weight(term: str, light: frozenset[str]) -> float:
    if term in light:
        return _LIGHT_WEIGHT
    return _HALF_WEIGHT if term in _HALF_CONCEPTS else 1.0


@lru_cache(maxsize=16384)
def _mass(terms: frozenset[str], light: frozenset[str]) -> float:
    """The summed weight of a case's terms (kept: a case is compared again at every opening)."""
    return sum(_weight(t, light) for t in terms)


def _weighted_jaccard(a: frozenset[str], b: frozenset[str], light: frozenset[str]) -> float:
    # The union's weight is the two masses less the shared one: the weights (1, 0.5, 0.25) add up
    # exactly in binary, so this is the sum over a | b to the last bit, without building the union.
    shared = sum(_weight(t, light) for t in a & b)
    total = _mass(a, light) + _mass(b, light) - shared
    return shared / total if total else 0.0


@lru_cache(maxsize=16384)
def _whole_terms(case: str, description: str, module: str | None) -> frozenset[str]:
    """A case's summary and description terms together (one object per case, so _mass keeps it)."""
    return _terms(case, module) | _terms(description, module)


def case_similarity(case_a: str, description_a: str, case_b: str, description_b: str,
                    module: str | None = None) -> float:
    """How surely two cases of one module are the same problem, from 0 to 1 (rule 6).

    Weighted Jaccard overlap of their terms: the summaries alone, and summary plus
    description; the mean of both when both descriptions are known and the summaries share
    something (a re-worded summary is caught by what the descriptions share), the
    summaries' alone otherwise, never less.
    """
    summary_a, summary_b = _terms(case_a or "", module), _terms(case_b or "", module)
    if not summary_a or not summary_b:
        return 0.0
    light = _LIGHT_TERMS.get(module, _VAGUE_STEMS)
    by_summary = _weighted_jaccard(summary_a, summary_b, light)
    if not description_a or not description_b or by_summary < _SUMMARY_GATE:
        return by_summary
    whole = _weighted_jaccard(_whole_terms(case_a or "", description_a, module),
                              _whole_terms(case_b or "", description_b, module), light)
    return max(by_summary, (by_summary + whole) / 2)


def is_similar_case(a: str, b: str, module: str | None = None, description_a: str = "",
                    description_b: str = "") -> bool:
    """Whether two cases probably describe the same problem (rule 6)."""
    return case_similarity(a, description_a, b, description_b, module) >= SIMILAR_CASE_THRESHOLD


def find_duplicate(case: str, open_cases: list[tuple], module: str | None = None,
                   description: str = "") -> str | None:
    """The number of the first open case similar to `case`, if any.

    `open_cases` holds (number, case) or (number, case, description) of the organisation's
    open tickets of the module: one score each, linear in their number.
    """
    for number, other, *rest in open_cases:
        if is_similar_case(case, other, module, description, (rest[0] if rest else "") or ""):
            return number
    return None


def _month_end_kind(module: str, text: str) -> bool:
    """Whether a case is payroll, cheques, SENIAT or accounting: by module, or by what it says."""
    if module in MONTH_END_MODULES:
        return True
    words = _LETTER_WORD.findall(_fold(text))
    return any(w in MONTH_END_WORDS or w.startswith(MONTH_END_PREFIXES) for w in words)


def month_end_warning(module: str, today: date, business_days_left: int, text: str = "") -> Message | None:
    """A warning when a payroll, cheque, SENIAT or accounting case (by module, or by what the
    case and description in `text` say) is filed in the month's last two business days."""
    if business_days_left > 2 or not _month_end_kind(module, text):
        return None
    return message("MONTH_END_WARNING", month_es=MONTHS_ES[today.month - 1], month_en=MONTHS_EN[today.month - 1])


def check_back_at(value, now: datetime) -> datetime | None:
    """Rule "avise si se tiene que marchar": the optional return date, an ISO 8601 instant with
    its zone, strictly in the future (it moves the auto-close count to it); None when not given."""
    if value is None:
        return None
    try:
        # The HTTP edge loads it as an aware datetime already (intake.requests.Away); a text is parsed here.
        back_at = value if isinstance(value, datetime) else datetime.fromisoformat(value) if isinstance(value, str) \
            else None
    except ValueError:
        back_at = None
    if back_at is None or back_at.tzinfo is None:
        raise violation("AWAY_BACK_AT_INVALID", "back_at")
    if back_at <= now:
        raise violation("AWAY_BACK_AT_NOT_FUTURE", "back_at")
    return back_at.astimezone(timezone.utc)


@lru_cache(maxsize=4)
def default_calendar(year: int) -> Calendar:
    """The default desk calendar around `year` (for warnings at filing; the SLA service owns deadlines)."""
    return venezuela_default(range(year - 1, year + 2))


@lru_cache(maxsize=64)
def default_business_days_left(today: date) -> int:
    """`business_days_left_in_month` on the default calendar, worked out once a day (every opening
    asks; it walked the rest of the month through the calendar each time, ~7 % of an opening's CPU)."""
    return business_days_left_in_month(default_calendar(today.year), today)


def business_days_left_in_month(calendar: Calendar, today: date) -> int:
    """Business days from `today` to the month's end, both included: days on which the desk opens."""
    zone = ZoneInfo(calendar.tz)
    last = monthrange(today.year, today.month)[1]
    return sum(1 for day in range(today.day, last + 1)
               if calendar.next_opening(datetime.combine(today.replace(day=day), time(0), zone))
               .astimezone(zone).date() == today.replace(day=day))


def billable_mark(user: Claims, current: bool | None, billable: bool, note: str | None) -> dict | None:
    """BillableMarked's data when `user` (staff) marks the ticket billable or not; None when it
    changes nothing (the same mark again without a note: a retried click adds no timeline entry).
    A customer may not: billing out-of-hours work is the desk's decision on his request."""
    if not user.is_staff:
        raise violation("FORBIDDEN", "billable", status=403)
    note = (note or "").strip() or None
    if current is billable and note is None:
        return None
    return {"billable": billable, "note": note, "marked_by": user.user_id}
