"""The whole system (intake, query, sla on real Kafka and PostgreSQL, plus the portal) under
gunicorn, and Debian's Chromium driven by Playwright, headless.

Never a browser Playwright downloads: the `chromium` package's binary (bin/stack install).
Screenshots of every main page go to `.run/screenshots/` (git-ignored; the README names it).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from browser_support import DESKTOP, PHONE, Portal
from smtp_sink import Sink
from intake import demo
from helpdesk_shared import localstack



def chromium_binary() -> str:
    """Debian's chromium (the package's launcher or its binary)."""
    found = shutil.which("chromium") or next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
                                              if Path(p).exists()), None)
    if found is None:
        pytest.fail("chromium is not installed: run bin/stack install (apt-get install chromium)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    """intake, query, sla, the notifier and the portal as real processes on fresh databases and
    topics; the notifier's mails (their links point at the portal) land in `system.sink`."""
    sink = Sink(localstack.free_port()).start()
    s = localstack.LocalStack(tmp_path_factory.mktemp("browser") / "stack", load_demo=demo.load, with_portal=True, with_notifier=True,
                              extra_env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port)})
    s.sink = sink
    try:
        yield s.start()
    finally:
        s.stop()
        sink.stop()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_binary(), headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def portal(system, browser):
    """A fresh browser context (no cookies) at desktop width on the portal."""
    context = browser.new_context(viewport=DESKTOP, locale="es-VE")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield Portal(page, system.urls["portal"])
    context.close()


@pytest.fixture
def phone(system, browser):
    """A fresh browser context 360 px wide (a phone)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-VE")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield Portal(page, system.urls["portal"])
    context.close()
