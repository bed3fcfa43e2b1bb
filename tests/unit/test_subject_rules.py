"""Rule 4 judged by content (issue 7 item 15): a case part that only asks for help or speed is
refused however it is worded; "Urgente" inside a real case is dropped and the customer told why."""
from __future__ import annotations

import pytest

from helpdesk_shared.errors import RuleViolation
from intake.catalog import DESKS
from intake.domain import parse_subject, subject_warnings
from intake.messages import TEXTS, message

SOPORTE = DESKS["SOPORTE"].modules


@pytest.mark.parametrize("case", [
    "necesito ayuda urgente por favor",
    "favor revisar lo antes posible",
    "please help asap",
    "ayúdenme rápido con esto",
    "Requiero apoyo inmediato, gracias",
    "URGENTE!!! ayuda",
    "Buenas tardes, solicito atención urgente",
    "Por favor revisen este caso rápidamente",
    "necesitamos una solución ya mismo por favor",
    "hola, me pueden ayudar con este tema?",
    "Ayudaaa urgente por fa",
    "need help quickly please",
    "Problema urgente con esto",
    "Holaaa buenasss saludosss",
])
def test_a_case_that_only_asks_for_help_or_speed_is_refused(case):
    """Whatever the wording, help, speed and politeness are not a case."""
    with pytest.raises(RuleViolation) as caught:
        parse_subject(f"SISTEMA, {case}", SOPORTE)
    assert (caught.value.code, caught.value.field) == ("R4_VAGUE_SUBJECT", "subject")


@pytest.mark.parametrize(("subject", "case"), [
    ("BANCOS, Urgente: factura mal cargada en el banco Mercantil", "factura mal cargada en el banco Mercantil"),
    ("BANCOS, Factura mal cargada en el banco Mercantil URGENTE!!", "Factura mal cargada en el banco Mercantil"),
    ("NOMINA, urgente - bono nocturno mal calculado en la quincena", "bono nocturno mal calculado en la quincena"),
    ("CXC, Estado de cuenta (urgente) omite los abonos de marzo", "Estado de cuenta omite los abonos de marzo"),
    ("SENIAT, Archivo de retenciones IVA rechazado - URGENTE", "Archivo de retenciones IVA rechazado"),
    ("FACTURACION, ¡URGENTE! La factura no calcula el IVA", "La factura no calcula el IVA"),
    ("FACTURACION, La factura no calcula el IVA... URGENTE", "La factura no calcula el IVA"),
    ("REPORTES, URGENTE: Xerox no imprime el reporte de cierre", "Xerox no imprime el reporte de cierre"),
])
def test_urgente_inside_a_real_case_is_dropped_from_the_stored_case(subject, case):
    """The case stays; the word asking for urgency does not."""
    assert parse_subject(subject, SOPORTE)[1] == case


def test_a_case_named_with_help_words_around_it_is_kept_whole():
    """Politeness around a real case is harmless: only urgency words are dropped."""
    assert parse_subject("REPORTES, por favor revisar el listado de morosidad de socios", SOPORTE) == (
        "REPORTES", "por favor revisar el listado de morosidad de socios")


def test_a_case_without_urgency_words_is_stored_exactly_as_written():
    """Only dropping an urgency word tidies the punctuation around it."""
    case = "¿Por qué el reporte de morosos sale vacío?"
    assert parse_subject(f"REPORTES, {case}", SOPORTE)[1] == case


@pytest.mark.parametrize("subject", ["NOMINA, Solicitud de vacaciones no se aprueba",
                                     "CXC, Saldo a favor no se aplica",
                                     "NOMINA, Control de asistencia no suma",
                                     "INVENTARIO, Requerimiento de compra no llega"])
def test_business_words_that_look_like_pleas_still_name_a_case(subject):
    """"Solicitud", "a favor", "asistencia" and "requerimiento" are the ERP's own vocabulary."""
    assert parse_subject(subject, SOPORTE)[1] == subject.split(", ", 1)[1]


def test_error_with_a_named_operation_is_still_a_case():
    """"Error" alone is vague; "Error al generar la nómina" names what failed."""
    assert parse_subject("NOMINA, Error al generar la nómina", SOPORTE)[1] == "Error al generar la nómina"


def test_the_customer_is_told_urgency_is_one_of_the_three_causes_when_urgente_was_dropped():
    """A warning in both languages, listing the three causes."""
    warnings = subject_warnings("BANCOS, URGENTE factura mal cargada en el banco Mercantil")
    assert [w["code"] for w in warnings] == ["SUBJECT_URGENCY_DROPPED"]
    text = warnings[0]["message"]
    for word in ("plataforma", "facturación a socios", "proceso especial", "asunto"):
        assert word in text["es"]
    for word in ("platform", "billing to members", "special process", "subject"):
        assert word in text["en"]


def test_no_warning_when_the_subject_asks_for_no_urgency():
    """A plain subject gets no warning; nor does a word that merely contains "urgen"."""
    assert subject_warnings("BANCOS, Factura mal cargada en el banco Mercantil") == []
    assert subject_warnings("SOCIOS, Ficha de la socia Urgensa no guarda el correo") == []


def test_the_urgency_warning_has_a_text_in_each_language():
    """It is a 200-level warning like the month-end one."""
    status, es, en = TEXTS["SUBJECT_URGENCY_DROPPED"]
    assert status == 200 and es != en
    assert message("SUBJECT_URGENCY_DROPPED").es == es


def test_a_two_letter_word_such_as_ip_counts_towards_the_three_words_of_a_case():
    """"IP", "TV", "OC" name real things: a short word is not a stop-word."""
    assert parse_subject("SISTEMA, IP del servidor caída", SOPORTE)[1] == "IP del servidor caída"
