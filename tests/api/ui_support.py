"""Helpers of the review-page tests (server side, through the app's TestClient)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from review_support import PASSWORD

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_in(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def ui_login(c: TestClient, who: str, password: str = PASSWORD):
    """Log in through the login form, as a browser does (cookie jar of the client)."""
    c.cookies.clear()
    page = c.get("/review/login")
    return c.post("/review/login", data={"username": who, "password": password,
                                         "csrf": csrf_in(page.text)}, follow_redirects=False)


def post_form(c: TestClient, url: str, page_html: str, **fields: str):
    return c.post(url, data={"csrf": csrf_in(page_html), **fields}, follow_redirects=False)
