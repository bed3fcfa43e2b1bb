"""Prometheus, its alerts and the Grafana dashboard agree with the metrics the services expose.

No Prometheus or Grafana is needed: the files are parsed, and every PromQL expression must
name only series that some collector in shared/ or services/ creates (so a renamed metric or
a typo in a panel fails here, not on an ops screen showing "No data").
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PROMETHEUS = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
ALERTS = yaml.safe_load((ROOT / "infra" / "prometheus" / "alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "infra" / "grafana" / "dashboards" / "mesa.json").read_text())
DATASOURCES = yaml.safe_load((ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
PROVIDERS = yaml.safe_load((ROOT / "infra" / "grafana" / "provisioning" / "dashboards" / "mesa.yml").read_text())
GUNICORN_SERVICES = ("intake", "query", "sla", "notifier", "portal")
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def exposed_metrics() -> set[str]:
    """Every series name a collector in the code creates, as it appears on /metrics."""
    names = set(PROMETHEUS_OWN)
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        text = path.read_text()
        for kind, name in re.findall(r"\b(GaugeMetricFamily|CounterMetricFamily|Counter|Gauge|Histogram)\(\s*\"(\w+)\"",
                                     text):
            if kind in ("Counter", "CounterMetricFamily"):
                names.add(name if name.endswith("_total") else name + "_total")
            elif kind == "Histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            else:
                names.add(name)
    return names


KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series a PromQL expression reads (not its functions, labels, ranges or keywords)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    return {n for n in re.findall(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()", e) if n.lower() not in KEYWORDS}


def test_metric_names_are_read_out_of_promql_expressions():
    assert metric_names('sum by (desk) (rate(mesa_events_applied_total{type="X"}[5m])) > 0 and up == 0') == {
        "mesa_events_applied_total", "up"}
    assert metric_names("max(mesa_mails_retrying) > 0 and max(mesa_mails_oldest_pending_seconds) > 900") == {
        "mesa_mails_retrying", "mesa_mails_oldest_pending_seconds"}


def test_the_code_exposes_the_series_issue_8_names():
    assert {"http_requests_total", "mesa_events_applied_total", "mesa_consumer_lag", "mesa_sla_timers_pending",
            "mesa_sla_timers_fired_total", "mesa_mails_total", "mesa_open_tickets", "mesa_dead_letters"
            } <= exposed_metrics()


def _panel_exprs() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_the_dashboard_parses_and_every_panel_expression_names_only_exposed_series():
    exposed = exposed_metrics()
    assert DASHBOARD["panels"] and all(panel["targets"] for panel in DASHBOARD["panels"])
    for title, expr in _panel_exprs():
        names = metric_names(expr)
        assert names, f"{title}: {expr!r} reads no series"
        assert names <= exposed, f"{title}: {sorted(names - exposed)} is not exposed by any service"


def test_the_dashboard_has_queue_size_lag_compliance_and_mail_failure_panels():
    read = {name for _, expr in _panel_exprs() for name in metric_names(expr)}
    assert {"mesa_open_tickets", "mesa_consumer_lag", "mesa_sla_compliance_ratio", "mesa_mails_total"} <= read
    assert any('status="failed"' in expr for _, expr in _panel_exprs())


def test_panels_use_the_provisioned_datasource_and_the_provider_reads_the_mounted_folder():
    [source] = DATASOURCES["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])
    mounts = dict(str(v).split(":")[:2] for v in COMPOSE["grafana"]["volumes"])
    [provider] = PROVIDERS["providers"]
    assert mounts["./infra/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./infra/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_prometheus_scrapes_every_http_service_at_the_port_it_binds_in_compose():
    targets = {t for job in PROMETHEUS["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    expected = set()
    for name in GUNICORN_SERVICES:
        argv = COMPOSE[name]["command"]
        bind = argv[argv.index("-b") + 1]
        expected.add(f"{name}:{bind.rsplit(':', 1)[1]}")
    assert targets == expected
    mounts = dict(str(v).split(":")[:2] for v in COMPOSE["prometheus"]["volumes"])
    assert mounts["./infra/prometheus"] == "/etc/prometheus"
    assert PROMETHEUS["rule_files"] == ["/etc/prometheus/alerts.yml"]


RULES = [rule for group in ALERTS["groups"] for rule in group["rules"]]


def test_the_alerts_cover_service_down_lag_dead_letters_mails_and_overdue_timers():
    read = {rule["alert"]: metric_names(rule["expr"]) for rule in RULES}
    assert 4 <= len(RULES) <= 8
    assert "up" in read["MesaServiceDown"]
    assert "mesa_consumer_lag" in read["MesaConsumerLagHigh"]
    assert "mesa_dead_letters" in read["MesaDeadLetters"]
    assert "mesa_mails_total" in read["MesaMailsFailing"]
    assert "mesa_sla_timers_overdue_seconds" in read["MesaSlaTimersOverdue"]


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_every_alert_reads_exposed_series_and_says_what_it_means(rule):
    assert metric_names(rule["expr"]) and metric_names(rule["expr"]) <= exposed_metrics()
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert rule["alert"] in (ROOT / "README.md").read_text(), "README's 'Operating Mesa' explains every alert"


def _gunicorn_argvs() -> dict[str, list[str]]:
    argvs = {f"compose:{name}": [str(a) for a in COMPOSE[name]["command"]] for name in GUNICORN_SERVICES}
    for line in (ROOT / "bin" / "up").read_text().splitlines():
        if re.match(r"^start \S+ .* -- gunicorn ", line):
            argvs[f"bin/up:{line.split()[1]}"] = shlex.split(line.split(" -- ", 1)[1].replace('"', ""))
    local = (ROOT / "shared" / "helpdesk_shared" / "localstack.py").read_text()
    argvs["localstack"] = re.findall(r'"([^"]+)"', re.search(r'\[py, "-m", "gunicorn",(.*?)\]', local, re.S).group(1))
    return argvs


def test_every_gunicorn_logs_json_through_the_shared_config():
    argvs = _gunicorn_argvs()
    assert len(argvs) == 2 * len(GUNICORN_SERVICES) + 1
    for where, argv in argvs.items():
        assert argv[argv.index("-c") + 1] == "python:helpdesk_shared.gunicorn_conf", where
