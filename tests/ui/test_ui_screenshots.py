"""Screenshots of the queue, item, lexicon and dashboard pages (docs/ui-*.png, shown in the
README), taken after the other browser tests of the session have filled the service (this
file sorts after test_ui_review.py, whose keyboard test needs the comment queue empty).
They are written to a temporary directory, so a test run leaves the checkout clean;
`MODERATION_UPDATE_SCREENSHOTS=1` writes them to docs/ to refresh the README's pictures."""

from __future__ import annotations

import os
from pathlib import Path

from browser_support import login
from review_support import AD, DRUGS, ID_CARD

REPO_DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_screenshots_of_the_pages(page, site, tmp_path):
    update = os.environ.get("MODERATION_UPDATE_SCREENSHOTS") == "1"
    DOCS = REPO_DOCS if update else tmp_path  # noqa: N806 - the folder the pictures go to
    DOCS.mkdir(exist_ok=True)
    site.moderate("shot-1", f"有人在小区门口{DRUGS}，联系电话13912345678，{ID_CARD}",
                  channel="comment", author_ref="author-9")
    site.moderate("shot-2", f"欢迎{AD}，每天返现", channel="comment", author_ref="author-9")
    site.moderate("shot-3", "小区门口的路灯坏了，希望尽快修理。", channel="comment",
                  author_ref="author-9")
    login(page, "zhao.lei")
    page.goto("/review/queues")
    page.screenshot(path=str(DOCS / "ui-queues.png"), full_page=True)
    with page.expect_navigation():
        page.locator('#queues tr[data-queue="comment"] button').click()
    page.locator("#field-content mark").first.hover()
    page.screenshot(path=str(DOCS / "ui-item.png"), full_page=True)
    page.context.clear_cookies()
    login(page, "admin")
    page.goto("/review/admin/lexicon?q=微信")
    page.screenshot(path=str(DOCS / "ui-lexicon.png"), full_page=True)
    page.goto("/review/admin/dashboard")
    page.screenshot(path=str(DOCS / "ui-dashboard.png"), full_page=True)
    for name in ("queues", "item", "lexicon", "dashboard"):
        assert (DOCS / f"ui-{name}.png").stat().st_size > 10_000
