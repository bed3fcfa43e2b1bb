"""The desks' module catalogs: one data file in the kernel, and the rules of a supervisor's edit
(rename, add, retire; never remove) and of a retired module on a new ticket."""
from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpdesk_shared import catalog as kernel
from helpdesk_shared.errors import RuleViolation
from helpdesk_shared.schemas import DESKS as EVENT_DESKS
from intake import domain
from intake.catalog import DESKS, Module, revise

ROOT = Path(__file__).resolve().parents[2]
SOPORTE = DESKS["SOPORTE"]


def entries(desk=SOPORTE) -> list[dict]:
    return [m.as_dict() for m in desk.entries]


def refused(current, proposed) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        revise(current, proposed)
    return caught.value


def test_every_service_reads_the_desks_from_the_kernels_catalog_file():
    doc = json.loads((ROOT / "shared/helpdesk_shared/catalog.json").read_text(encoding="utf-8"))
    assert tuple(d["name"] for d in doc["desks"]) == kernel.DESK_NAMES == EVENT_DESKS == tuple(DESKS)
    assert DESKS is kernel.DESKS
    assert SOPORTE.modules[:2] == ("BANCOS", "FACTURACION") and "MIGRACION" in DESKS["IMPLANTACIONES"].modules


def test_no_service_writes_the_desk_list_or_the_module_codes_again():
    """The catalog is data in one place: no service module spells the desks as a tuple or lists module codes."""
    offenders = []
    for path in (ROOT / "services").glob("*/*/*.py"):
        if path.name == "demo.py":
            continue  # demo organisations and users name the desks they are on: data about them, not the catalog
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List)) and {getattr(e, "value", None) for e in node.elts} >= {
                    "SOPORTE", "IMPLANTACIONES"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, (ast.Tuple, ast.List)) and {getattr(e, "value", None) for e in node.elts} >= {
                    "BANCOS", "FACTURACION", "SOCIOS"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_portal_does_not_import_intake():
    imported = set()
    for path in (ROOT / "services/portal/portal").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
    assert "intake" not in imported


def test_renaming_a_module_keeps_its_code_and_changes_the_name_people_read():
    proposed = entries()
    proposed[6] = {"code": "CXP", "name": "Proveedores y cuentas por pagar"}
    after = revise(SOPORTE.entries, proposed)
    assert after[6] == Module("CXP", "Proveedores y cuentas por pagar", False)
    assert SOPORTE.with_modules([m.as_dict() for m in after], 1).name_of("CXP") == "Proveedores y cuentas por pagar"
    assert [m.code for m in after] == list(SOPORTE.modules)


def test_a_new_module_is_added_with_its_code_in_capitals():
    after = revise(SOPORTE.entries, entries() + [{"code": "activos_fijos", "name": "  Activos   fijos "}])
    assert after[-1] == Module("ACTIVOS_FIJOS", "Activos fijos", False)


def test_a_retired_module_stays_in_the_catalog_but_leaves_the_codes_new_tickets_may_name():
    proposed = [{**m, "retired": m["code"] == "CXP"} for m in entries()]
    desk = SOPORTE.with_modules([m.as_dict() for m in revise(SOPORTE.entries, proposed)], 1)
    assert "CXP" not in desk.modules and desk.retired == ("CXP",) and desk.name_of("CXP") == "Cuentas por pagar"


def test_a_new_ticket_naming_a_retired_module_is_refused_in_spanish_and_english_with_the_open_modules():
    with pytest.raises(RuleViolation) as caught:
        domain.parse_subject("cxp, Factura del proveedor Polar cargada dos veces", ("BANCOS", "NOMINA"), ("CXP",))
    error = caught.value
    assert (error.code, error.field, error.status) == ("R4_MODULE_RETIRED", "subject", 422)
    assert "CXP" in error.message.es and "ya no se usa" in error.message.es
    assert "no longer used" in error.message.en and "BANCOS, NOMINA" in error.message.en
    assert error.extra["modules"] == ["BANCOS", "NOMINA"]


def test_a_module_never_in_the_catalog_is_still_unknown_not_retired():
    with pytest.raises(RuleViolation) as caught:
        domain.parse_subject("VENTAS, Factura del proveedor Polar cargada dos veces", ("BANCOS",), ("CXP",))
    assert caught.value.code == "R4_UNKNOWN_MODULE"


def test_removing_a_module_is_refused_because_tickets_name_it():
    error = refused(SOPORTE.entries, [m for m in entries() if m["code"] != "SENIAT"])
    assert (error.code, error.extra["module"]) == ("CATALOG_MODULE_REMOVED", "SENIAT")
    assert "retirado" in error.message.es and "retired" in error.message.en


@pytest.mark.parametrize("code", ["B", "1BANCOS", "CUENTAS, PAGAR", "CXP-2", "A" * 21, "ÑANDU"])
def test_a_module_code_a_subject_could_not_start_with_is_refused(code):
    assert refused(SOPORTE.entries, entries() + [{"code": code, "name": "Nuevo"}]).code == \
        "CATALOG_MODULE_CODE_INVALID"


def test_two_modules_with_one_name_are_refused_whatever_the_accents_and_case():
    assert refused(SOPORTE.entries, entries() + [{"code": "NOMINA2", "name": "NOMINA"}]).code == \
        "CATALOG_MODULE_DUPLICATE"
    assert refused(SOPORTE.entries, entries() + [{"code": "bancos", "name": "Otro"}]).code == \
        "CATALOG_MODULE_DUPLICATE"


def test_a_blank_name_is_refused():
    assert refused(SOPORTE.entries, entries() + [{"code": "NUEVO", "name": "   "}]).code == \
        "CATALOG_MODULE_NAME_REQUIRED"


def test_a_catalog_with_every_module_retired_is_refused():
    assert refused(SOPORTE.entries, [{**m, "retired": True} for m in entries()]).code == "CATALOG_EMPTY"
    assert refused((), []).code == "CATALOG_EMPTY"


def test_a_retired_module_may_come_back():
    retired = revise(SOPORTE.entries, [{**m, "retired": m["code"] == "CXP"} for m in entries()])
    assert revise(retired, entries()) == SOPORTE.entries


def test_query_names_a_module_by_the_edited_catalog_then_the_default_then_its_code():
    from query.catalogs import module_name
    assert module_name("SOPORTE", "CXP", "Proveedores") == "Proveedores"
    assert module_name("SOPORTE", "CXP", None) == "Cuentas por pagar"
    assert module_name("SOPORTE", "VIEJO", None) == "VIEJO"
    assert module_name("VENTAS", "CXP", None) == "CXP"


def test_a_user_a_supervisor_created_gets_the_set_password_mail_of_a_granted_access_request():
    """POST /api/users appends AccessGranted without a request: the event is valid and the notifier
    plans the same mail as for an approved request."""
    from helpdesk_shared.envelope import Actor, new_event
    from helpdesk_shared.schemas import validate_data
    from test_notifier_messages import USERS, mails_for
    event = new_event("AccessGranted", "user-u-john", 2, validate_data("AccessGranted", {
        "request_id": None, "user_id": "u-john", "granted_by": "u-rosa"}), actor=Actor("u-rosa", "supervisor"),
        occurred_at=datetime(2026, 11, 25, 14, tzinfo=timezone.utc))
    [mail] = mails_for(event)
    assert (mail.template, mail.recipient) == ("access_granted", USERS["u-john"])


def test_rule_6s_words_of_each_module_are_read_from_the_catalog_data_beside_the_module():
    from intake import vocabulary
    doc = json.loads((ROOT / "shared/helpdesk_shared/catalog.json").read_text(encoding="utf-8"))
    assert vocabulary.MODULE_WORDS == {code: m["words"] for code, m in doc["modules"].items() if "words" in m}
    assert vocabulary.MODULE_SYNONYMS["BANCOS"]["RECONCILE"].startswith("conciliar")
    on_a_desk = {code for d in doc["desks"] for code in d["modules"]}
    assert set(doc["modules"]) == on_a_desk  # no module data without a desk, no desk module without data
