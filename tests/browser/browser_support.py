"""A portal page in a Playwright browser context, for the browser tests (helpers, not fixtures)."""
from __future__ import annotations

from pathlib import Path

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".run" / "screenshots"  # git-ignored (.run/); the README names it


def submit(page, selector: str) -> None:
    """Click a form's submit button and wait until the page its POST leads to has loaded.

    A bare click returns once the event is dispatched; a reload, a fill or another click right
    after it races the form's own navigation on a loaded machine (the POST may be aborted, or the
    next text typed into the page that is about to go)."""
    with page.expect_navigation():
        page.click(selector)


class Portal:
    """A page of the portal in one browser context (its own cookies), with what CSP refused."""

    def __init__(self, page, base_url: str):
        self.page, self.base_url = page, base_url
        self.csp_violations: list[str] = []
        page.on("console", lambda m: self.csp_violations.append(m.text)
                if "Content Security Policy" in m.text else None)

    def goto(self, path: str):
        """Open a path of the portal."""
        return self.page.goto(self.base_url + path)

    def login(self, email: str, password: str = "mesa-demo", lands: str = "**/tickets") -> None:
        """Log in from the entry page and land on "Mis tickets" (staff: `lands="**/queue"`, their desk's queue)."""
        self.goto("/")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("#login-submit")
        self.page.wait_for_url(lands)

    def screenshot(self, name: str) -> None:
        """Save the whole page under .run/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
