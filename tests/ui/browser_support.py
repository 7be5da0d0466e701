"""Helpers of the browser tests (a module: conftest.py cannot be imported)."""

from __future__ import annotations

from review_support import PASSWORD


def login(page, who: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    """Log in through the form, as a person does (Enter in the password field)."""
    page.goto("/review/login")
    page.fill("#username", who)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_load_state()
