"""No default secret (SPEC §6): every service refuses to start without its secrets, naming the
variable; bin/up makes them once per run folder and keeps them."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from helpdesk_shared import keys
from helpdesk_shared.config import MissingSecret

ROOT = Path(__file__).resolve().parents[2]
NEEDS = {
    "intake": ("TOKEN_SIGNING_KEY", "LINK_SECRET", "INBOUND_SECRET", "PORTAL_FORWARD_SECRET"),
    "query": ("TOKEN_VERIFY_KEY",),
    "sla": ("TOKEN_VERIFY_KEY",),
    "notifier": ("TOKEN_VERIFY_KEY", "LINK_SECRET", "REPLY_SECRET", "INBOUND_SECRET"),
    "portal": ("PORTAL_SESSION_SECRET", "PORTAL_FORWARD_SECRET"),
}
CASES = [(service, name) for service, names in NEEDS.items() for name in names]


def _config_class(service: str):
    return __import__(f"{service}.config", fromlist=["Config"]).Config


def _env_without(name: str) -> dict:
    return {k: v for k, v in keys.fresh().items() if k != name}


@pytest.mark.parametrize("service, name", CASES)
def test_a_service_without_one_of_its_secrets_refuses_to_start_naming_it(service, name):
    with mock.patch.dict(os.environ, _env_without(name), clear=True), pytest.raises(MissingSecret, match=name):
        _config_class(service).from_env()


@pytest.mark.parametrize("service, name", CASES)
def test_a_secret_shorter_than_32_bytes_or_not_a_key_is_refused(service, name):
    for bad in ("dev-only-secret-change-me", "x" * 31, "replace-me"):
        with mock.patch.dict(os.environ, {**keys.fresh(), name: bad}, clear=True), \
                pytest.raises(MissingSecret, match=name):
            _config_class(service).from_env()


@pytest.mark.parametrize("service", NEEDS)
def test_create_app_without_secrets_refuses_before_touching_anything(service):
    create_app = __import__(f"{service}.app", fromlist=["create_app"]).create_app
    with mock.patch.dict(os.environ, {}, clear=True), \
            mock.patch("helpdesk_shared.migrations.require_current") as check, \
            mock.patch("helpdesk_shared.migrations.migrate") as migrate, pytest.raises(MissingSecret):
        create_app()
    check.assert_not_called()
    migrate.assert_not_called()


ENTRY_POINTS = ["intake.relay", "intake.sla_consumer", "intake.demo", "query.consumer", "sla.consumer", "sla.relay",
                "notifier.consumer", "notifier.sender", "notifier.relay", "notifier.inbound_server"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_python_m_entry_point_exits_with_a_message_naming_the_missing_secret(module):
    env = {k: v for k, v in os.environ.items() if k not in keys.fresh()}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"  # never reached
    done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert re.search(r"MissingSecret: (TOKEN_SIGNING_KEY|TOKEN_VERIFY_KEY) is not set", done.stderr), done.stderr[-500:]


def test_the_generated_keys_are_accepted_by_every_service():
    with mock.patch.dict(os.environ, keys.fresh(), clear=True):
        for service in NEEDS:
            _config_class(service).from_env()


def _bin_up_secrets_block() -> str:
    up = (ROOT / "bin" / "up").read_text()
    return up[up.index('SECRETS="$RUN/secrets.env"'):up.index('chmod 600 "$SECRETS"\n') + len('chmod 600 "$SECRETS"\n')]


def test_bin_up_makes_the_secrets_once_mode_600_and_reuses_them(tmp_path):
    # bin/up runs .venv's interpreter as $PY; here the one running the tests stands in for it.
    script = f'set -euo pipefail\nRUN="{tmp_path}"\nPY="{sys.executable}"\n{_bin_up_secrets_block()}'
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(["bash", "-c", script], check=True, env=env, capture_output=True)
    path = tmp_path / "secrets.env"
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    subprocess.run(["bash", "-c", script], check=True, env=env, capture_output=True)
    assert path.read_text() == first
    values = dict(line.split("=", 1) for line in first.splitlines())
    assert set(values) == set(keys.fresh())
    with mock.patch.dict(os.environ, values, clear=True):
        for service in NEEDS:
            _config_class(service).from_env()


def test_no_process_bin_up_starts_gets_a_secret_of_another_purpose():
    up = (ROOT / "bin" / "up").read_text()
    arrays = {name: body for name, body in re.findall(r"^(\w+)_ENV=\((.*?)\)$", up, re.M | re.S)}
    held = {name.lower(): set(re.findall(r"\b([A-Z_]+(?:KEY|SECRET))=", body)) for name, body in arrays.items()}
    assert held == {service: set(names) for service, names in NEEDS.items()}
    assert "set -a" not in up and "export TOKEN" not in up and "AUTH_SECRET" not in up
