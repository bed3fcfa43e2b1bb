"""The entry page's rules (portal.content) when intake answers oddly: the portal trusts no stored
HTML, and the login form stays usable when the rules cannot be read."""
from __future__ import annotations

from configs import portal_config
from portal.app import create_app
from portal.backend import Reply, Unavailable
from test_portal_pages import FakeBackend


class OddIntake(FakeBackend):
    """Intake answering the rules page with `html`, or not answering at all."""

    def __init__(self, html: str | None = None):
        super().__init__()
        self.html = html

    def rules_page(self, desk, language, cid=None):
        if self.html is None:
            raise Unavailable("intake")
        return Reply(200, {"desk": desk, "language": language, "shown_language": language, "html": self.html,
                           "text": "", "version": 3})


def entry(backend) -> tuple[int, str]:
    response = create_app(portal_config("http://i", "http://q"), backend=backend).test_client().get("/")
    return response.status_code, response.get_data(as_text=True)


def test_html_the_portal_did_not_write_is_sanitised_again_before_it_is_shown():
    status, page = entry(OddIntake('<p onclick="alert(1)">Reglas</p><script>alert(2)</script>'
                                   '<a href="javascript:alert(3)">x</a>'))
    assert status == 200 and "<p>Reglas</p>" in page
    assert "onclick" not in page and "alert(2)" not in page and "javascript:" not in page


def test_when_intake_does_not_answer_the_entry_page_says_so_and_still_offers_login():
    status, page = entry(OddIntake(None))
    assert status == 200
    assert "no se pueden mostrar en este momento" in page and 'id="login-submit"' in page
