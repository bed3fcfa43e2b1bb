"""Intake's rules for a new ticket: each one accepted and refused, in both languages."""
from datetime import date, datetime, timedelta, timezone

import pytest

from helpdesk_shared.errors import RuleViolation
from intake.catalog import DESKS, URGENCIES
from intake.domain import (
    Announcement,
    check_contact,
    check_description,
    check_structured_fields,
    check_urgency,
    find_duplicate,
    is_similar_case,
    month_end_warning,
    parse_subject,
)
from intake.messages import TEXTS, violation

SOPORTE = DESKS["SOPORTE"].modules
EXAMPLE = "BANCOS, Factura mal cargada"
GOOD_DESCRIPTION = (
    "Al conciliar la cuenta del banco Mercantil de marzo, la factura 1234 del socio con "
    "número de acción 0456 aparece cargada dos veces. Ruta: Bancos > Conciliación > Movimientos."
)
NOW = datetime(2025, 3, 10, 14, 0, tzinfo=timezone.utc)


def refused(call, *args, **kwargs) -> RuleViolation:
    """Run `call` expecting a RuleViolation whose texts are there in both languages."""
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert error.message.es.strip() and error.message.en.strip()
    assert error.message.es != error.message.en
    return error


# --- catalog and messages -------------------------------------------------------------

def test_implantaciones_has_the_support_modules_plus_its_own():
    """IMPLANTACIONES extends the SOPORTE catalog with implementation modules."""
    implantaciones = DESKS["IMPLANTACIONES"]
    assert implantaciones.modules[: len(SOPORTE)] == SOPORTE
    assert {"MIGRACION", "PARAMETRIZACION", "CAPACITACION"} <= set(implantaciones.modules)
    assert (DESKS["SOPORTE"].code, implantaciones.code) == ("SOP", "IMP")
    assert URGENCIES[0] == "normal"


def test_every_code_the_api_uses_has_a_text():
    """The codes other modules raise all exist."""
    codes = """R4_SUBJECT_FORMAT R4_UNKNOWN_MODULE R4_VAGUE_SUBJECT R5_DESCRIPTION_REQUIRED
        R5_DESCRIPTION_THIN R5_FIELD_INVALID CONTACT_REQUIRED URGENT_NOT_ALLOWED URGENT_NO_ANNOUNCEMENT
        R6_DUPLICATE_OPEN_CASE TICKET_CLOSED PREVIOUS_TICKET_INVALID DESK_NOT_ALLOWED
        INTERNAL_NOTE_FORBIDDEN MESSAGE_BODY_REQUIRED ATTACHMENT_TOO_LARGE ATTACHMENTS_TOTAL_TOO_LARGE
        ATTACHMENT_TYPE_REFUSED ATTACHMENT_UNKNOWN TOO_MANY_ATTACHMENTS AUTH_REQUIRED AUTH_INVALID
        FORBIDDEN INVALID_REQUEST VERSION_CONFLICT""".split()
    assert set(codes) <= set(TEXTS)


def test_every_rule_code_has_distinct_spanish_and_english_texts():
    """Each code renders two non-empty texts, and Spanish is not English."""
    fmt = {"number": "SOP-000042", "limit_mb": 10, "modules": SOPORTE, "detail": "JSON inválido", "desk": "SOPORTE",
           "minutes": 15, "current": 3, "valid": "lang", "module": "CXP", "version": 3, "unknown": "{x}"}
    for code in set(TEXTS) - {"MONTH_END_WARNING"}:
        error = violation(code, **fmt)
        assert error.code == code
        assert error.message.es and error.message.en and error.message.es != error.message.en


@pytest.mark.parametrize(
    ("code", "status"),
    [("R6_DUPLICATE_OPEN_CASE", 409), ("TICKET_CLOSED", 409), ("DESK_NOT_ALLOWED", 403),
     ("INTERNAL_NOTE_FORBIDDEN", 403), ("ATTACHMENT_TOO_LARGE", 413), ("ATTACHMENT_TYPE_REFUSED", 415),
     ("AUTH_REQUIRED", 401), ("AUTH_INVALID", 401), ("FORBIDDEN", 403), ("INVALID_REQUEST", 400),
     ("VERSION_CONFLICT", 409), ("R5_DESCRIPTION_THIN", 422)],
)
def test_each_code_answers_with_its_own_http_status(code, status):
    """The status comes from the code unless the caller overrides it."""
    assert violation(code, number="SOP-1", limit_mb=10, detail="x").status == status


def test_duplicate_message_names_the_open_ticket_and_carries_it_in_extra():
    """Rule 6 answers with the existing number, in both texts and machine-readable."""
    error = violation("R6_DUPLICATE_OPEN_CASE", number="SOP-000042")
    assert "SOP-000042" in error.message.es and "SOP-000042" in error.message.en
    assert error.extra == {"number": "SOP-000042"}
    assert error.as_dict()["number"] == "SOP-000042"


def test_closed_ticket_message_offers_a_new_ticket_quoting_the_old_number():
    """A closed ticket is not reopened: quote its number as the previous ticket."""
    error = violation("TICKET_CLOSED", number="SOP-000042")
    assert error.status == 409
    assert "SOP-000042" in error.message.es and "anterior" in error.message.es
    assert "SOP-000042" in error.message.en and "previous ticket" in error.message.en


def test_urgent_message_lists_the_three_causes_and_what_is_not_urgent():
    """Both languages list the causes and warn about payroll, cheques, SENIAT and reports."""
    message = violation("URGENT_NOT_ALLOWED", "urgency").message
    for word in ("plataforma", "facturación a socios", "proceso especial", "nómina", "cheques", "SENIAT"):
        assert word in message.es
    for word in ("platform", "billing to members", "special process", "Payroll", "cheques", "SENIAT"):
        assert word in message.en


def test_invalid_request_shows_the_detail():
    """INVALID_REQUEST is a 400 that explains what was wrong."""
    error = violation("INVALID_REQUEST", detail="falta el campo subject")
    assert "falta el campo subject" in error.message.es and error.status == 400


# --- rule 4: subject -----------------------------------------------------------------

def test_subject_module_and_case_is_accepted():
    """The rules page's own example passes."""
    assert parse_subject("BANCOS, Factura mal cargada en el banco Mercantil", SOPORTE) == (
        "BANCOS", "Factura mal cargada en el banco Mercantil")


def test_subject_module_is_matched_ignoring_case_accents_and_spaces():
    """"nómina ,  ..." is the NOMINA module; the case keeps its own words."""
    assert parse_subject("  nómina ,  Retenciones de ISLR   mal calculadas ", SOPORTE) == (
        "NOMINA", "Retenciones de ISLR mal calculadas")
    assert parse_subject("bancos , factura duplicada en conciliación", SOPORTE)[0] == "BANCOS"


@pytest.mark.parametrize("subject", ["Factura mal cargada en el banco", ", Factura mal cargada", "BANCOS,", ""])
def test_subject_without_module_and_case_is_refused_with_the_example(subject):
    """No comma, no module or no case: rule 4 is explained with its example."""
    error = refused(parse_subject, subject, SOPORTE)
    assert (error.code, error.field, error.status) == ("R4_SUBJECT_FORMAT", "subject", 422)
    assert EXAMPLE in error.message.es and EXAMPLE in error.message.en
    assert "regla 4" in error.message.es and "rule 4" in error.message.en


def test_subject_with_a_module_outside_the_desk_catalog_is_refused_listing_the_modules():
    """MIGRACION belongs to IMPLANTACIONES, not SOPORTE."""
    error = refused(parse_subject, "MIGRACION, Saldos iniciales de socios no cuadran", SOPORTE)
    assert (error.code, error.field) == ("R4_UNKNOWN_MODULE", "subject")
    assert "FACTURACION" in error.message.es and "SISTEMA" in error.message.en
    assert error.extra["modules"] == list(SOPORTE)
    assert parse_subject("MIGRACION, Saldos iniciales de socios no cuadran", DESKS["IMPLANTACIONES"].modules)


def test_subject_all_caps_is_refused_as_vague():
    """Shouting is not a summary."""
    error = refused(parse_subject, "BANCOS, FACTURA MAL CARGADA EN MERCANTIL", SOPORTE)
    assert (error.code, error.field) == ("R4_VAGUE_SUBJECT", "subject")
    assert EXAMPLE in error.message.es and EXAMPLE in error.message.en


@pytest.mark.parametrize("case", ["Urgente", "¿¿Qué pasaría??", "que pasaria", "ayuda urgente!!!",
                                  "Error problema falla", "help, urgent issue"])
def test_subject_made_only_of_vague_words_is_refused(case):
    """"Urgente", "¿Qué pasaría?" and friends say nothing about the case."""
    error = refused(parse_subject, f"SISTEMA, {case}", SOPORTE)
    assert (error.code, error.field) == ("R4_VAGUE_SUBJECT", "subject")


def test_subject_with_fewer_than_three_meaningful_words_is_refused():
    """Stopwords do not count: "la factura del socio" is two words."""
    error = refused(parse_subject, "FACTURACION, la factura del socio", SOPORTE)
    assert (error.code, error.field) == ("R4_VAGUE_SUBJECT", "subject")


def test_subject_with_an_acronym_inside_a_normal_sentence_is_accepted():
    """Capitals are fine when the case is not all shouting."""
    assert parse_subject("SENIAT, Archivo XML de retenciones IVA rechazado", SOPORTE)[0] == "SENIAT"


# --- rule 5: description and structured fields ----------------------------------------

def test_documented_description_is_accepted_stripped():
    """A description with the facts passes, without surrounding blanks."""
    assert check_description(f"  {GOOD_DESCRIPTION}\n") == GOOD_DESCRIPTION


def test_empty_description_is_refused_as_required():
    """Blank is missing."""
    error = refused(check_description, "   \n ")
    assert (error.code, error.field) == ("R5_DESCRIPTION_REQUIRED", "description")
    assert "regla 5" in error.message.es and "rule 5" in error.message.en


@pytest.mark.parametrize("text", ["No funciona el reporte, ayuda por favor",
                                  "error error error error error error error error error error",
                                  "la factura del banco no cuadra, la factura del banco no cuadra, la factura no cuadra"])
def test_description_without_substance_is_refused_asking_for_the_facts(text):
    """Short or padded descriptions ask for acción, fechas, comprobantes, ruta and capturas."""
    error = refused(check_description, text)
    assert (error.code, error.field) == ("R5_DESCRIPTION_THIN", "description")
    for fact in ("número de acción", "fechas", "comprobantes", "ruta completa del menú", "capturas"):
        assert fact in error.message.es
    for fact in ("member share number", "dates", "vouchers", "menu path", "screenshots"):
        assert fact in error.message.en


def test_structured_fields_are_accepted_and_normalised():
    """Share number, ISO dates, vouchers and menu path pass the light checks."""
    fields = check_structured_fields(" 0456-A ", ["2025-03-01", "2025-03-31"], [" CD-0012 ", "CD-0013"],
                                     "Contabilidad > Reportes > Balance de comprobación")
    assert fields == {"member_number": "0456-A", "dates": ["2025-03-01", "2025-03-31"],
                      "vouchers": ["CD-0012", "CD-0013"],
                      "menu_path": "Contabilidad > Reportes > Balance de comprobación"}
    assert check_structured_fields(None, None, None, None)["dates"] is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"member_number": "0456 / socio"}, "member_number"), ({"member_number": "1" * 21}, "member_number"),
     ({"dates": ["31/03/2025"]}, "dates"), ({"dates": "2025-03-01"}, "dates"),
     ({"vouchers": ["  "]}, "vouchers"), ({"vouchers": ["x" * 51]}, "vouchers"),
     ({"vouchers": ["CD"] * 51}, "vouchers"), ({"menu_path": "x" * 301}, "menu_path")],
)
def test_malformed_structured_field_is_refused_naming_the_field(kwargs, field):
    """Each bad field is named, and read in the reader's language."""
    error = refused(check_structured_fields, **kwargs)
    assert (error.code, error.field) == ("R5_FIELD_INVALID", field)


def test_malformed_member_number_message_names_it_in_each_language():
    """The field label is translated, not the raw field name."""
    error = refused(check_structured_fields, member_number="??")
    assert (error.code, error.field) == ("R5_FIELD_INVALID", "member_number")
    assert "número de acción" in error.message.es and "member share number" in error.message.en


# --- rule 3: contact -----------------------------------------------------------------

def test_contact_is_accepted_and_normalised():
    """E-mail lower case, phone as digits with its leading +."""
    contact = check_contact({"name": "  María  Pérez ", "email": "MPerez@ClubLaGuaira.com.ve",
                             "phone": "+58 (412) 555-12.34"})
    assert contact == {"name": "María Pérez", "email": "mperez@clublaguaira.com.ve", "phone": "+584125551234"}
    assert check_contact({"name": "Ana", "email": "a@b.co", "phone": "0212-5551234"})["phone"] == "02125551234"


@pytest.mark.parametrize(
    ("contact", "field"),
    [(None, "contact"), ({"email": "a@b.co", "phone": "02125551234"}, "contact.name"),
     ({"name": "Ana", "email": "", "phone": "02125551234"}, "contact.email"),
     ({"name": "Ana", "email": "ana.club.com", "phone": "02125551234"}, "contact.email"),
     ({"name": "Ana", "email": "a@b.co"}, "contact.phone"),
     ({"name": "Ana", "email": "a@b.co", "phone": "555-12"}, "contact.phone"),
     ({"name": "Ana", "email": "a@b.co", "phone": "0212+5551234"}, "contact.phone")],
)
def test_missing_or_invalid_contact_detail_is_refused(contact, field):
    """Name, e-mail and phone are part of every ticket (rule 3)."""
    error = refused(check_contact, contact)
    assert (error.code, error.field) == ("CONTACT_REQUIRED", field)
    assert "regla 3" in error.message.es and "rule 3" in error.message.en


# --- urgency -------------------------------------------------------------------------

def announcement(announcement_id="SP-1", starts=-1, ends=5, announced=-3) -> Announcement:
    """An announcement whose window and filing are days relative to NOW."""
    return Announcement(announcement_id, NOW + timedelta(days=starts), NOW + timedelta(days=ends),
                        NOW + timedelta(days=announced))


@pytest.mark.parametrize("urgency", ["normal", "platform_down", "member_billing_stopped"])
def test_normal_and_the_two_unconditional_urgencies_are_accepted(urgency):
    """These need no announcement and name no special process."""
    assert check_urgency(urgency, [], NOW) is None


def test_announced_special_process_returns_the_covering_announcement():
    """The announcement filed before its window, which covers now, is the one."""
    past = announcement("SP-OLD", starts=-30, ends=-20, announced=-40)
    assert check_urgency("announced_special_process", [past, announcement("SP-1")], NOW) == "SP-1"


@pytest.mark.parametrize("urgency", ["payroll", "urgent", "cheques", ""])
def test_any_other_urgency_is_refused_with_the_list(urgency):
    """Payroll or "urgent" are not causes of urgency."""
    error = refused(check_urgency, urgency, [announcement()], NOW)
    assert (error.code, error.field) == ("URGENT_NOT_ALLOWED", "urgency")


@pytest.mark.parametrize(
    "announcements",
    [[], [announcement(starts=-10, ends=-1, announced=-12)], [announcement(starts=1, ends=3, announced=-1)],
     [announcement(starts=-1, ends=3, announced=-1)], [announcement(starts=-1, ends=3, announced=0)]],
)
def test_special_process_without_an_advance_announcement_covering_now_is_refused(announcements):
    """Expired, future, same-moment or after-the-fact announcements do not count."""
    error = refused(check_urgency, "announced_special_process", announcements, NOW)
    assert (error.code, error.field) == ("URGENT_NO_ANNOUNCEMENT", "urgency")
    assert "antelación" in error.message.es and "in advance" in error.message.en


def test_special_process_window_is_half_open():
    """starts_at is covered, ends_at is not."""
    at_start = announcement(starts=0, ends=1, announced=-1)
    assert check_urgency("announced_special_process", [at_start], NOW) == "SP-1"
    at_end = announcement(starts=-2, ends=0, announced=-3)
    error = refused(check_urgency, "announced_special_process", [at_end], NOW)
    assert (error.code, error.field) == ("URGENT_NO_ANNOUNCEMENT", "urgency")


# --- rule 6: duplicates --------------------------------------------------------------

@pytest.mark.parametrize(
    ("a", "b"),
    [("Factura mal cargada en el banco Mercantil", "facturas mal cargadas, banco Mercantil"),
     ("Retenciones de ISLR mal calculadas", "retención ISLR mal calculada"),
     ("Conciliación bancaria no cuadra en marzo", "La conciliacion bancaria no cuadra en marzo!")],
)
def test_similar_cases_are_recognised(a, b):
    """Accents, plurals, stopwords and punctuation do not hide a duplicate."""
    assert is_similar_case(a, b)


def test_different_cases_are_not_similar():
    """Same module, different problem."""
    assert not is_similar_case("Factura mal cargada en el banco Mercantil", "Cheques devueltos sin registrar")
    assert not is_similar_case("", "Cheques devueltos sin registrar")


def test_find_duplicate_returns_the_first_similar_open_ticket():
    """The number of the first open case that matches, or None."""
    open_cases = [("SOP-000010", "Cheques devueltos sin registrar"),
                  ("SOP-000011", "Factura cargada mal en banco Mercantil"),
                  ("SOP-000012", "Factura mal cargada banco Mercantil")]
    assert find_duplicate("Factura mal cargada en el banco Mercantil", open_cases) == "SOP-000011"
    assert find_duplicate("Saldo inicial de inventario errado", open_cases) is None


# --- month end ------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["NOMINA", "SENIAT", "CONTABILIDAD", "CXP"])
def test_month_end_payroll_seniat_and_accounting_cases_get_a_warning(module):
    """Filed with two business days left or fewer, they are warned not to leave it late."""
    warning = month_end_warning(module, date(2025, 3, 28), 2)
    assert warning is not None
    assert "marzo" in warning.es and "no son casos urgentes" in warning.es
    assert "March" in warning.en and "not urgent" in warning.en


def test_month_end_warning_spares_other_modules_and_earlier_days():
    """BANCOS at month end, or NOMINA mid-month, get no warning."""
    assert month_end_warning("BANCOS", date(2025, 3, 28), 1) is None
    assert month_end_warning("NOMINA", date(2025, 3, 14), 11) is None


def test_business_days_left_count_the_days_the_desk_opens_until_the_month_ends():
    from helpdesk_shared.business_calendar import venezuela_default
    from intake.domain import business_days_left_in_month
    calendar = venezuela_default(range(2026, 2028))
    assert business_days_left_in_month(calendar, date(2026, 11, 27)) == 2   # Friday 27 and Monday 30
    assert business_days_left_in_month(calendar, date(2026, 11, 28)) == 1   # a Saturday: only Monday 30
    assert business_days_left_in_month(calendar, date(2026, 12, 28)) == 3   # 31 December is a holiday


def test_the_default_calendar_s_business_days_left_are_those_of_the_calendar_for_every_day_of_three_years():
    from intake.domain import business_days_left_in_month, default_business_days_left, default_calendar
    day = date(2025, 1, 1)
    while day < date(2028, 1, 1):
        assert default_business_days_left(day) == business_days_left_in_month(default_calendar(day.year), day), day
        day += timedelta(days=1)


def _fold_by_definition(text: str) -> str:
    import unicodedata
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def test_folding_a_text_drops_exactly_the_marks_unicode_calls_combining_over_every_code_point():
    from intake.domain import _fold
    for start in range(0, 0x110000, 512):
        chunk = "".join(chr(c) for c in range(start, start + 512) if not 0xD800 <= c < 0xE000)
        assert _fold(chunk) == _fold_by_definition(chunk), hex(start)
    for text in ("Facturación", "NÓMINA", "ÀÉÎÕÜ ñ ç", "ﬁ ㎏ ℌ", "e\u0301\u0327", "abc", "", "İstanbul ß"):
        assert _fold(text) == _fold_by_definition(text), text


def _terms_by_definition(text, module):
    """Rule 6's terms of a text as they were defined before words were cached one by one."""
    from intake import domain
    from intake.vocabulary import MATCH_STOPWORDS
    concepts = domain._MODULE_CONCEPTS.get(module, domain._GENERAL_CONCEPTS)
    terms = set()
    for word in domain._WORD.findall(domain._fold(text)):
        if word.isdigit():
            terms.add(word.lstrip("0") or "0")
        elif len(word) >= 2 and word not in MATCH_STOPWORDS and not domain._is_help_word.__wrapped__(word):
            terms.add(domain._term(word, concepts))
    return frozenset(terms)


def test_rule_6_terms_with_each_word_cached_are_those_of_the_definition_for_thousands_of_texts():
    import random
    from intake import domain
    from intake.vocabulary import GENERAL_SYNONYMS, HELP_WORDS, MATCH_STOPWORDS, MODULE_SYNONYMS, MODULE_WORDS
    words = sorted({*HELP_WORDS, *MATCH_STOPWORDS, *" ".join(MODULE_WORDS.values()).split(),
                    *" ".join(GENERAL_SYNONYMS.values()).split(),
                    *(w for groups in MODULE_SYNONYMS.values() for w in " ".join(groups.values()).split()),
                    "ayudaaa", "urgenteee", "Conciliación", "NÓMINA", "0456", "00", "x", "é", "rapidito"})
    modules = [None, *MODULE_WORDS, "DESCONOCIDO"]
    rng = random.Random(6)
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 25))) + rng.choice(["", ".", "!!", " 12"])
        module = rng.choice(modules)
        domain._terms.cache_clear()
        assert domain._terms(text, module) == _terms_by_definition(text, module), (text, module)
