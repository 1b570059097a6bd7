from __future__ import annotations

from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot


def test_login_page_is_accessible(site: Site) -> None:
    page = site.page(phone=True)
    page.goto(f"{site.url}/login")
    shot(page, "login-phone")
    check_page(page)
