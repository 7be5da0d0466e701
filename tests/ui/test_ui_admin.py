"""Admin pages in chromium: edit a lexicon term, see its dry run, publish, see a moderation
result change, roll back in one click."""

from __future__ import annotations

from browser_support import login
from review_support import AD


def test_edit_a_term_publish_and_roll_back(page, site):
    assert site.moderate("lx-1", AD, channel="post")["decision"] == "review"
    login(page, "admin")
    page.goto("/review/admin/lexicon?q=加微信")
    row = page.locator('#terms tr[data-term="加微信"]')
    row.locator('select[name="severity"]').select_option("block")
    with page.expect_navigation():
        row.locator("form.edit-term button").click()
    assert "草稿已创建" in page.locator("#flash").inner_text()
    assert int(page.locator("#dry-changed").inner_text()) >= 1  # lx-1 would be blocked
    with page.expect_navigation():
        page.locator("#publish").click()
    assert "已发布" in page.locator("#flash").inner_text()
    assert site.moderate("lx-2", AD, channel="post")["decision"] == "block"

    current = page.locator("#versions tr[data-version] .badge").first
    assert current.is_visible()
    older = page.locator("#versions tr[data-version] button.rollback").first
    with page.expect_navigation():
        older.click()
    assert "已回滚" in page.locator("#flash").inner_text()
    assert site.moderate("lx-3", AD, channel="post")["decision"] == "review"
    assert page.dialogs == []
