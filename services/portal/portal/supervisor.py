"""Staff pages: the supervisors' calendar and SLA-policy editors (sla), and the desk's reports
with charts (query): compliance and breaches, backlog, workload, out-of-hours billing and its CSV.

Thin views (STYLE.md): each reads from or writes to a service with the reader's token and
renders the answer; the SLA service judges calendars and policies, query computes the figures,
`supervisor_forms` reshapes forms, `charts` draws. A customer gets the not-found page here, and
so does anyone a service refuses (403): no page tells a reader what exists beyond his reach.
"""
from __future__ import annotations

import functools
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from helpdesk_shared.catalog import DESK_NAMES as DESKS  # the desks: the kernel's catalog data

from . import charts, forms, supervisor_forms
from .backend import Reply
from .charts import Series
from .pages import TIMEZONE, _checked, _cid, _ctx, language, login_required
from .staff import staff_required

bp = Blueprint("supervisor", __name__)

TARGET_LABELS = {"first_response": _l("Primera respuesta"), "next_response": _l("Respuesta siguiente"),
                 "auto_close_warning": _l("Aviso de cierre automático"), "auto_close": _l("Cierre automático")}
CLOCK_LABELS = {"business": _l("Horario hábil del calendario"), "24x7": _l("Reloj corrido (24x7)")}
CLASS_LABELS = {"normal": _l("Normal"), "urgent": _l("Urgente")}
WEEKDAY_LABELS = (_l("Lunes"), _l("Martes"), _l("Miércoles"), _l("Jueves"), _l("Viernes"), _l("Sábado"),
                  _l("Domingo"))
RESPONSE_CLOCKS = {"first_response": _l("Primera respuesta"), "next_response": _l("Respuesta siguiente")}
BREACH_KINDS = {"met_late": _l("respondida tarde"), "closed_unanswered": _l("cerrado sin respuesta"),
                "unanswered": _l("sin respuesta todavía")}
DIMENSION_LABELS = {"desk": _l("Mesa"), "module": _l("Módulo"), "agent": _l("Agente"),
                    "organisation": _l("Organización")}
STATUS_NAMES = {"open": _l("Abierto"), "waiting_customer": _l("Esperando al cliente")}
# The filters each report page passes on to query (query refuses a wrong value with a 422).
REPORT_FILTERS = {"compliance": ("from", "to", "desk", "module", "organisation_id", "agent"),
                  "backlog": ("from", "to", "desk", "module", "organisation_id"),
                  "out_of_hours": ("from", "to", "desk", "organisation_id"),
                  "time": ("from", "to", "desk", "organisation_id", "agent")}
MAX_FILTER_LENGTH = 100


# ------------------------------------------------------------------ who may see what


def _role() -> str:
    return (session.get("user") or {}).get("role", "")


def supervisor_required(view):
    """Supervisors only (the editors): anyone else gets the not-found page."""
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if _role() != "supervisor":
            abort(404)
        return view(*args, **kwargs)
    return wrapped


def _desks() -> list[str]:
    """The reader's desks, in the catalog's order."""
    return [d for d in DESKS if d in (session.get("user") or {}).get("desks", [])]


def _chosen_desk(value: str | None) -> str:
    desks = _desks()
    if not desks:
        abort(404)
    if value and value not in desks:
        abort(404)
    return value or desks[0]


def _today() -> str:
    """Today in Caracas (YYYY-MM-DD): a change "from today" takes effect now."""
    return datetime.now(TIMEZONE).date().isoformat()


def _ahead(version: dict | None) -> bool:
    """A version saved to take effect later (its effective_from still ahead)."""
    try:
        return bool(version) and datetime.fromisoformat(version["effective_from"]) > datetime.now(TIMEZONE)
    except (KeyError, TypeError, ValueError):
        return False


def _refusal(reply: Reply) -> str:
    return forms.text_of(reply.body, language())


def _token() -> str:
    return session["token"]


# ------------------------------------------------------------------ calendars


def _calendar_versions(desk: str) -> list[dict]:
    reply = _checked(_ctx().backend.sla_read(_token(), "/api/calendars", _cid()))
    if not reply.ok:
        abort(404)
    return [item for item in reply.body.get("items", []) if item.get("desk") == desk]


def _calendar_page(desk: str, versions: list[dict], form: dict | None = None, errors: dict | None = None,
                   status: int = 200, notice: str | None = None):
    current = max(versions, key=lambda v: v["version"]) if versions else None
    doc = (current or {}).get("calendar") or {}
    return render_template("supervisor_calendars.html", desk=desk, desks=_desks(), current=current,
                           history=sorted(versions, key=lambda v: -v["version"]),
                           form=form or supervisor_forms.calendar_form(doc), errors=errors or {},
                           weekdays=WEEKDAY_LABELS, summary=supervisor_forms.weekly_summary, notice=notice,
                           ahead=_ahead,
                           base_version=(current or {}).get("version", 0)), status


@bp.get("/supervisor/calendars")
@supervisor_required
def calendars():
    """A desk's calendar: business hours per weekday, public holidays, closure days with notes; its versions."""
    desk = _chosen_desk(request.args.get("desk"))
    return _calendar_page(desk, _calendar_versions(desk))


@bp.post("/supervisor/calendars")
@supervisor_required
def calendars_save():
    """A new calendar version at sla; open tickets' running deadlines move with it (sla recomputes them)."""
    desk = _chosen_desk(request.form.get("desk"))
    dates, notes = request.form.getlist("closure_date")[:400], request.form.getlist("closure_note")[:400]
    removed = request.form.getlist("closure_remove")
    form = {**request.form.to_dict(), "public_holidays": request.form.get("public_holidays") == "VE",
            "closures": supervisor_forms.closure_rows(dates, notes, removed)}
    versions = _calendar_versions(desk)
    newest = max((v["version"] for v in versions), default=0)
    if str(newest) != request.form.get("base_version", ""):
        # Someone saved a version after this form was opened: saving would silently undo it.
        return _calendar_page(desk, versions, form, status=409, notice=str(_l(
            "Otra persona guardó la versión %(version)s de este calendario mientras usted lo editaba. Revise la "
            "historia abajo; si guarda de nuevo, su versión reemplaza a esa.", version=newest)))
    body, sent = supervisor_forms.calendar_body(request.form, dates, notes, removed, _today())
    reply = _checked(_ctx().backend.sla_change(_token(), f"/api/calendars/{desk}", body, _cid()))
    if reply.ok:
        flash(_l("Calendario de %(desk)s guardado: versión %(version)s. La mesa recalculó los plazos de los "
                 "tickets abiertos con él.", desk=desk, version=reply.body.get("version")))
        return redirect(url_for("supervisor.calendars", desk=desk))
    field = supervisor_forms.form_field(reply.body, sent)
    return _calendar_page(desk, versions, form, {field: [_refusal(reply)]}, 422)


# ------------------------------------------------------------------ policies


def _policy_versions(desk: str) -> list[dict]:
    reply = _checked(_ctx().backend.sla_read(_token(), "/api/policies", _cid()))
    if not reply.ok:
        abort(404)
    return [item for item in reply.body.get("items", []) if item.get("desk") == desk]


def _policies_page(desk: str, versions: list[dict], forms_by_class: dict | None = None, errors: dict | None = None,
                   status: int = 200, notice: str | None = None):
    current = supervisor_forms.latest(versions, "urgency_class")
    shown = {cls: (forms_by_class or {}).get(cls) or supervisor_forms.policy_form(
        (current.get((cls,)) or {}).get("policy") or {}) for cls in supervisor_forms.URGENCY_CLASSES}
    return render_template("supervisor_policies.html", desk=desk, desks=_desks(),
                           current={cls: current.get((cls,)) for cls in supervisor_forms.URGENCY_CLASSES},
                           history=sorted(versions, key=lambda v: (v["urgency_class"], -v["version"])),
                           forms=shown, errors=errors or {}, targets=supervisor_forms.TARGETS,
                           classes=supervisor_forms.URGENCY_CLASSES, clocks=supervisor_forms.CLOCKS,
                           target_labels=TARGET_LABELS, clock_labels=CLOCK_LABELS, class_labels=CLASS_LABELS,
                           notice=notice, ahead=_ahead), status


@bp.get("/supervisor/policies")
@supervisor_required
def policies():
    """A desk's SLA policies per urgency class: the four targets in minutes and their clocks; their versions."""
    desk = _chosen_desk(request.args.get("desk"))
    return _policies_page(desk, _policy_versions(desk))


@bp.post("/supervisor/policies")
@supervisor_required
def policies_save():
    """A new policy version at sla; tickets already open keep the version they were opened under."""
    desk = _chosen_desk(request.form.get("desk"))
    cls = request.form.get("urgency_class", "")
    if cls not in supervisor_forms.URGENCY_CLASSES:
        abort(404)
    versions = _policy_versions(desk)
    form = request.form.to_dict()
    newest = max((v["version"] for v in versions if v.get("urgency_class") == cls), default=0)
    if str(newest) != request.form.get("base_version", ""):
        return _policies_page(desk, versions, {cls: form}, status=409, notice=str(_l(
            "Otra persona guardó la versión %(version)s de esta política mientras usted la editaba. Revise la "
            "historia abajo; si guarda de nuevo, su versión reemplaza a esa.", version=newest)))
    body = supervisor_forms.policy_body(request.form, _today())
    reply = _checked(_ctx().backend.sla_change(_token(), f"/api/policies/{desk}/{cls}", body, _cid()))
    if reply.ok:
        flash(_l("Política %(cls)s de %(desk)s guardada: versión %(version)s. Rige para los tickets que se abran "
                 "desde ahora; los abiertos conservan la suya.", cls=CLASS_LABELS[cls], desk=desk,
                 version=reply.body.get("version")))
        return redirect(url_for("supervisor.policies", desk=desk))
    field = supervisor_forms.form_field(reply.body, {})
    return _policies_page(desk, versions, {cls: form}, {f"{cls}:{field}": [_refusal(reply)]}, 422)


# ------------------------------------------------------------------ reports


def _filters(report: str) -> dict:
    """The report's filters from the page's query string (blank ones dropped; others ignored)."""
    chosen = {}
    for name in REPORT_FILTERS[report]:
        value = (request.args.get(name) or "").strip()[:MAX_FILTER_LENGTH]
        if value:
            chosen[name] = value
    if chosen.get("desk"):
        _chosen_desk(chosen["desk"])
    return chosen


def _read(path: str, params: dict) -> Reply:
    """A report from query: a 403 is the not-found page, a 422 (a wrong filter) is returned to be shown."""
    reply = _checked(_ctx().backend.report(_token(), path, params, _cid()))
    if not reply.ok and reply.status != 422:
        abort(404)
    return reply


# query answers a compliance report a page at a time (at most 200 items a request); a page shows all.
ALL_ITEMS = "200"
MAX_PAGES = 50   # 10,000 rows: beyond any page a person reads, and a bound on a cursor that never ends


def _read_all(path: str, params: dict) -> Reply:
    """A paged report read to its end (following next_cursor), as one reply with every item; a refusal
    of any page is returned as it came."""
    reply = _read(path, {**params, "limit": ALL_ITEMS})
    items = list(reply.body.get("items", [])) if reply.ok else []
    cursor = reply.body.get("next_cursor") if reply.ok else None
    for _ in range(MAX_PAGES - 1):
        if not cursor:
            break
        page = _read(path, {**params, "limit": ALL_ITEMS, "cursor": cursor})
        if not page.ok:
            return page
        items += page.body.get("items", [])
        cursor = page.body.get("next_cursor")
    return Reply(reply.status, {**reply.body, "items": items, "next_cursor": None}) if reply.ok else reply


def _choices() -> dict:
    """What the filter selects offer: the reader's desks, their modules, organisations and agents."""
    desks = _desks()
    # Every module the desk's catalog knows now, retired ones too: reports cover older tickets.
    modules = sorted({m["code"] for d in desks
                      for m in _checked(_ctx().backend.desk_modules(_token(), d, _cid())).body.get("modules", [])})
    organisations = _read("/api/organisations", {}).body.get("items", [])
    agents: dict[str, str] = {}
    for desk in desks:
        for agent in _read(f"/api/desks/{desk}/workload", {}).body.get("agents", []):
            agents[agent["id"]] = agent["name"]
    return {"desks": desks, "modules": modules,
            "organisations": [(o["id"], o["name"]) for o in organisations],
            "agents": sorted(agents.items(), key=lambda a: a[1].casefold())}


def _svg(svg: str) -> Markup:
    # charts escapes every text it draws: its output is markup, not text.
    return Markup(svg)


def _percent(value: float) -> str:
    return charts.percent(value, language())


def _compliance_chart(items: list[dict]) -> Markup:
    months = sorted({i["month"] for i in items})
    share = {(i["month"], i["clock"]): i["share"] for i in items}
    series = [Series(str(label), [share.get((m, clock)) for m in months]) for clock, label in RESPONSE_CLOCKS.items()]
    return _svg(charts.bar_chart(str(_l("Respuestas dentro del plazo, por mes")), months, series, top=1,
                                 value_format=_percent, chart_id="compliance-chart",
                                 description=str(_l("Parte de las primeras respuestas y de las respuestas "
                                                    "siguientes que llegaron dentro del plazo, cada mes."))))


@bp.get("/reports/compliance")
@staff_required
def compliance():
    """SLA compliance: share within target for first/next responses, median and p90 in business hours,
    per month (chart) and per a chosen dimension; the breaches, each linking to its ticket."""
    filters = _filters("compliance")
    group = request.args.get("group_by", "desk")
    group = group if group in DIMENSION_LABELS else "desk"
    by_month = _read_all("/api/reports/compliance", {**filters, "group_by": "month"})
    if by_month.status == 422:
        return _report_refused("reports_compliance.html", by_month, filters, group=group)
    by_group = _read_all("/api/reports/compliance", {**filters, "group_by": group})
    cursor = (request.args.get("cursor") or "")[:400]
    breaches = _read("/api/reports/compliance/breaches", {**filters, "limit": 25, **({"cursor": cursor}
                                                                                     if cursor else {})})
    if breaches.status == 422:  # a stale cursor: the first page instead
        breaches = _read("/api/reports/compliance/breaches", {**filters, "limit": 25})
    # The customers' own words beside the figures (issue 12): the first ones of the period.
    comments = _read("/api/reports/satisfaction/comments", {**filters, "limit": 25})
    items = by_month.body.get("items", [])
    return render_template("reports_compliance.html", filters=filters, group=group, choices=_choices(),
                           by_month=items, by_group=by_group.body.get("items", []), chart=_compliance_chart(items),
                           breaches=breaches.body.get("items", []), next_cursor=breaches.body.get("next_cursor"),
                           comments=comments.body.get("items", []) if comments.ok else [],
                           period=(by_month.body.get("from"), by_month.body.get("to")), errors={},
                           **_report_labels())


def _report_labels() -> dict:
    return {"clock_names": RESPONSE_CLOCKS, "breach_kinds": BREACH_KINDS, "dimensions": DIMENSION_LABELS,
            "percent": _percent, "number": lambda v: "" if v is None else charts.decimal(v, language()),
            "status_names": STATUS_NAMES}


def _report_refused(template: str, reply: Reply, filters: dict, **context):
    """The page again with query's refusal of a filter beside it (422)."""
    field = reply.body.get("field") or ""
    field = "organisation_id" if field == "organisation" else field
    return render_template(template, filters=filters, choices=_choices(), errors={field or "from": [_refusal(reply)]},
                           refused=True, **context, **_report_labels()), 422


@bp.get("/reports/backlog")
@staff_required
def backlog():
    """Tickets not closed by status and module now, and per day of the period: opened, closed, open at its end."""
    filters = _filters("backlog")
    reply = _read("/api/reports/backlog", filters)
    if reply.status == 422:
        return _report_refused("reports_backlog.html", reply, filters)
    report = reply.body
    days = report.get("days", [])
    labels = [d["day"] for d in days]
    movement = _svg(charts.line_chart(
        str(_l("Tickets abiertos al final de cada día")), labels,
        [Series(str(_l("Abiertos al cierre del día")), [d["open_at_end"] for d in days]),
         Series(str(_l("Abiertos ese día")), [d["opened"] for d in days]),
         Series(str(_l("Cerrados ese día")), [d["closed"] for d in days])], chart_id="backlog-chart", counts=True))
    modules = report.get("current", {}).get("by_module", [])
    by_module = _svg(charts.bar_chart(str(_l("Tickets sin cerrar por módulo")), [m["id"] or "—" for m in modules],
                                      [Series(str(_l("Tickets")), [m["count"] for m in modules])],
                                      chart_id="backlog-modules", counts=True))
    return render_template("reports_backlog.html", filters=filters, choices=_choices(), report=report,
                           chart=movement, modules_chart=by_module, errors={}, **_report_labels())


@bp.get("/reports/workload")
@staff_required
def workload():
    """Per agent of a desk: tickets open (the desk's turn), waiting for the customer, answered today."""
    desk = _chosen_desk(request.args.get("desk"))
    report = _read(f"/api/desks/{desk}/workload", {}).body
    agents = report.get("agents", [])
    chart = _svg(charts.bar_chart(
        str(_l("Carga de trabajo por agente")), [a["name"] for a in agents],
        [Series(str(_l("Abiertos")), [a["open"] for a in agents]),
         Series(str(_l("Esperando al cliente")), [a["waiting_customer"] for a in agents]),
         Series(str(_l("Respondidos hoy")), [a["answered_today"] for a in agents])], chart_id="workload-chart",
        counts=True))
    return render_template("reports_workload.html", desk=desk, desks=_desks(), report=report, chart=chart,
                           **_report_labels())


@bp.get("/reports/out-of-hours")
@staff_required
def out_of_hours():
    """Out-of-hours billing per organisation and month, with the CSV a Venezuelan spreadsheet opens."""
    filters = _filters("out_of_hours")
    reply = _read("/api/reports/out-of-hours", filters)
    if reply.status == 422:
        return _report_refused("reports_out_of_hours.html", reply, filters)
    items = reply.body.get("items", [])
    months = sorted({i["month"] for i in items})
    per_month = {m: sum(i["outside_hours"] or 0 for i in items if i["month"] == m) for m in months}
    chart = _svg(charts.bar_chart(str(_l("Horas atendidas fuera de horario, por mes")), months,
                                  [Series(str(_l("Horas")), [per_month[m] for m in months])],
                                  value_format=lambda v: charts.decimal(v, language()), chart_id="ooh-chart"))
    return render_template("reports_out_of_hours.html", filters=filters, choices=_choices(), items=items,
                           chart=chart, period=(reply.body.get("from"), reply.body.get("to")), errors={},
                           **_report_labels())


@bp.get("/reports/time")
@staff_required
def time_spent():
    """The minutes staff recorded with answers and notes per agent, organisation and month, and the
    part billed for out-of-hours work (issue 12)."""
    filters = _filters("time")
    reply = _read("/api/reports/time", filters)
    if reply.status == 422:
        return _report_refused("reports_time.html", reply, filters)
    items = reply.body.get("items", [])
    agents = sorted({i["agent_name"] or i["agent_id"] for i in items}, key=str.casefold)
    chart = _svg(charts.bar_chart(str(_l("Horas registradas por agente")), agents,
                                  [Series(str(_l("Horas")), [sum(i["hours"] or 0 for i in items
                                                                 if (i["agent_name"] or i["agent_id"]) == a)
                                                             for a in agents]),
                                   Series(str(_l("Facturables")), [sum(i["billable_hours"] or 0 for i in items
                                                                       if (i["agent_name"] or i["agent_id"]) == a)
                                                                   for a in agents])],
                                  value_format=lambda v: charts.decimal(v, language()), chart_id="time-chart"))
    return render_template("reports_time.html", filters=filters, choices=_choices(), items=items, chart=chart,
                           period=(reply.body.get("from"), reply.body.get("to")), errors={}, **_report_labels())


@bp.get("/reports/out-of-hours.csv")
@staff_required
def out_of_hours_csv():
    """query's CSV streamed on as it comes (BOM, ';', decimal commas), with its name and type."""
    status, headers, chunks = _ctx().backend.report_download(_token(), "/api/reports/out-of-hours.csv",
                                                             _filters("out_of_hours"), _cid())
    if status != 200:
        for _ in chunks:  # drain and close the refused answer's connection
            pass
        if status == 401:
            _checked(Reply(401))
        abort(404 if status in (403, 404) else 400)
    response = Response(chunks, content_type=headers.get("Content-Type", "text/csv; charset=utf-8"))
    response.headers["Content-Disposition"] = headers.get("Content-Disposition", "attachment")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"  # a bill: not kept by shared caches or the browser
    return response
