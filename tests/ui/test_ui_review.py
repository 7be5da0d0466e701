"""The review desk in a real browser (Debian's chromium): log in, claim, decide from the
keyboard alone, the shortcut help, and the message for a lost lease."""

from __future__ import annotations

import time

from browser_support import login
from review_support import AD, DRUGS

from api.store import keys


def test_a_reviewer_works_through_a_queue_with_the_keyboard(page, site):
    first = site.moderate("kb-1", f"有人{DRUGS}", author_ref="kb-author")
    second = site.moderate("kb-2", AD, author_ref="kb-author")
    assert first["status"] == second["status"] == "pending"
    login(page, "li.na")
    assert page.url.endswith("/review/queues")
    assert page.locator('#queues tr[data-queue="comment"] .depth').inner_text() == "2"

    page.keyboard.press("?")  # the shortcuts
    assert page.locator("#help").is_visible()
    assert "驳回" in page.locator("#help").inner_text()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()

    page.keyboard.press("n")  # claim next: the block-severity item comes first
    page.wait_for_url("**/review/items/*")
    assert first["item_id"] in page.url
    mark = page.locator("#field-content mark").first
    assert mark.inner_text() == DRUGS[:2] or DRUGS.startswith(mark.inner_text())
    assert "毒品" in mark.get_attribute("title") and "拦截" in mark.get_attribute("title")
    assert page.locator("#lease").inner_text().endswith("秒")  # the countdown runs
    assert "kb-2" in page.locator("#author-history").inner_text()

    page.keyboard.press("r")  # reject, then the digit of the reason (1 = 毒品 here)
    assert page.locator("#reject-pick").is_visible()
    with page.expect_navigation():
        page.keyboard.press("1")
    assert second["item_id"] in page.url
    assert "已驳回" in page.locator("#flash").inner_text()

    with page.expect_navigation():
        page.keyboard.press("a")  # approve: the queue is now empty
    assert page.url.endswith("/review/queues?m=done_empty")
    assert page.dialogs == []

    assert site.item("kb-1")["status"] == "rejected"
    assert site.item("kb-1")["verdict"]["reason_code"] == "drugs"
    assert site.item("kb-2")["status"] == "approved"


def test_a_lost_lease_shows_a_clear_message(page, site):
    made = site.moderate("lease-1", AD, channel="message")
    login(page, "wang.fang")
    page.locator('#queues tr[data-queue="message"] button').click()
    page.wait_for_url(f"**/review/items/{made['item_id']}*")
    r = site.redis()
    key = r.get(keys.item_id(made["item_id"]))
    r.hset(key, "lease_ms", int(time.time() * 1000) - 1)  # the lease runs out meanwhile
    with page.expect_navigation():
        page.keyboard.press("a")
    err = page.locator("#error").inner_text()
    assert "租约已过期" in err and "没有保存" in err
    assert site.item("lease-1")["status"] in ("pending", "claimed")  # nothing decided
    r.close()
