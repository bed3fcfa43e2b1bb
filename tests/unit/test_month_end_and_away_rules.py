"""Intake's pure rules for issue 7 items 17 and 18: the month-end warning also covers cheque runs
and accounting reports, whatever the module; "back at" must be in the future."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from helpdesk_shared.errors import RuleViolation
from intake.domain import check_back_at, month_end_warning

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("module", "text"), [
    ("BANCOS", "Emisión de cheques a proveedores no imprime el monto"),
    ("REPORTES", "El informe contable de cierre sale descuadrado"),
    ("REPORTES", "Balance general del mes no cuadra"),
    ("FACTURACION", "Retenciones de IVA del mes mal calculadas"),
    ("SISTEMA", "No genera el archivo de la prenómina"),
])
def test_cheque_runs_and_accounting_reports_in_any_module_get_the_month_end_warning(module, text):
    warning = month_end_warning(module, date(2026, 11, 27), 2, text)
    assert warning is not None and "cheques" in warning.es and "cheques" in warning.en
    assert "informes contables" in warning.es and "accounting reports" in warning.en


def test_a_case_of_another_kind_in_those_modules_gets_no_warning():
    assert month_end_warning("BANCOS", date(2026, 11, 27), 2, "Transferencia de socio no aparece") is None
    assert month_end_warning("SOCIOS", date(2026, 11, 27), 1, "La ficha no guarda el correo del socio") is None


def test_mid_month_nothing_is_warned_even_for_cheques():
    assert month_end_warning("BANCOS", date(2026, 11, 10), 14, "Emisión de cheques falla") is None


def test_a_word_that_merely_contains_iva_is_not_a_tax_case():
    assert month_end_warning("SOCIOS", date(2026, 11, 27), 1, "Socia Ivanna sin carnet activado") is None


def test_back_at_in_the_future_is_kept_in_utc():
    assert check_back_at("2026-11-30T09:00:00-04:00", NOW) == datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)
    assert check_back_at(None, NOW) is None


@pytest.mark.parametrize("back_at", [NOW.isoformat(), (NOW - timedelta(minutes=1)).isoformat(),
                                     "2026-11-27T09:59:00-04:00"])
def test_back_at_now_or_in_the_past_is_refused_on_its_field(back_at):
    with pytest.raises(RuleViolation) as caught:
        check_back_at(back_at, NOW)
    error = caught.value
    assert (error.code, error.field, error.status) == ("AWAY_BACK_AT_NOT_FUTURE", "back_at", 422)
    assert "futuro" in error.message.es and "future" in error.message.en


@pytest.mark.parametrize("back_at", ["el lunes", "2026-11-30T09:00:00", "30/11/2026", 12])
def test_back_at_that_is_not_an_instant_with_a_zone_is_refused(back_at):
    with pytest.raises(RuleViolation) as caught:
        check_back_at(back_at, NOW)
    assert (caught.value.code, caught.value.field, caught.value.status) == ("AWAY_BACK_AT_INVALID", "back_at", 422)


@pytest.mark.parametrize(("month", "month_es", "month_en"), [
    (1, "enero", "January"), (2, "febrero", "February"), (3, "marzo", "March"), (4, "abril", "April"),
    (5, "mayo", "May"), (6, "junio", "June"), (7, "julio", "July"), (8, "agosto", "August"),
    (9, "septiembre", "September"), (10, "octubre", "October"), (11, "noviembre", "November"),
    (12, "diciembre", "December"),
])
def test_the_month_end_warning_names_the_closing_month_in_each_language(month, month_es, month_en):
    warning = month_end_warning("BANCOS", date(2026, month, 28), 1, "Emisión de cheques falla")
    assert f"cierre de {month_es}." in warning.es
    assert f"end of {month_en}." in warning.en
