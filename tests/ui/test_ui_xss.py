"""The XSS and rendering corpus (tests/api/xss_corpus.py) in chromium: every payload sent
through /v1/moderate shows as inert text on the item page (no dialog, no script ran, no
element of its own), the highlights sit at the hits' spans, and the browser enforces the
page's Content-Security-Policy (an injected inline script does not run)."""

from __future__ import annotations

import contextlib

from browser_support import login
from xss_corpus import texts

from api.ui_highlight import shown_text
from api.ui_security import CSP

FIELD_CHECK = """(field) => {
  const div = document.getElementById('field-' + field);
  if (!div) return null;
  const foreign = [...div.querySelectorAll('*')].filter(
      e => !(e.tagName === 'MARK' || (e.tagName === 'SPAN' && e.className === 'ctl')))
      .map(e => e.tagName);
  const marks = [...div.querySelectorAll('mark')].map(
      m => [m.getAttribute('data-refs'), m.textContent]);
  return {text: div.textContent, foreign, marks};
}"""


def test_the_corpus_renders_inert_in_the_browser(page, site):
    corpus = texts()
    made = [site.moderate(f"xss-{i}", t, channel="profile",
                          title=t[:200] if i % 3 == 0 else None)
            for i, t in enumerate(corpus)]
    login(page, "li.na")
    for i, m in enumerate(made):
        resp = page.goto(f"/review/items/{m['item_id']}")
        assert resp is not None and resp.status == 200
        if i == 0:
            assert resp.headers["content-security-policy"] == CSP
        got = page.evaluate(FIELD_CHECK, "content")
        assert got["foreign"] == [], (i, got["foreign"])
        assert got["text"] == shown_text(m["masked_text"]), i
        hits = [(j, h) for j, h in enumerate(m["hits"]) if h["field"] == "content"]
        assert hits, i
        for j, h in hits:
            covered = "".join(t for refs, t in got["marks"] if f"h{j}" in refs.split())
            assert covered == shown_text(h["text"]) == shown_text(
                m["masked_text"][h["start"]:h["end"]]), (i, j)
        if m.get("masked_title") is not None:
            title = page.evaluate(FIELD_CHECK, "title")
            assert title["foreign"] == [] and title["text"] == shown_text(m["masked_title"]), i
        page.hover("#field-content")  # mouseover handlers, had any been injected
        assert page.evaluate("window.__pwned") is None, i
    assert page.dialogs == []


def test_the_browser_enforces_the_csp(page, site):
    login(page, "li.na")
    page.goto("/review/queues")
    with contextlib.suppress(Exception):  # an inline script, as an injection adds it;
        page.add_script_tag(content="window.__inline = 1")  # refused by the CSP
    assert page.evaluate("window.__inline") is None
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") <= 1
    # the page's own script file runs (the shortcut help opens)
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
