"""The XSS and rendering corpus (tests/api/xss_corpus.py) through /v1/moderate and the item
page, server side: the text area holds only our own <mark> and <span class="ctl"> tags, its
text is exactly the stored (masked) text, and every hit's marks cover exactly its span.
The browser test (tests/ui/test_ui_xss.py) checks the same in chromium, with scripts."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from review_support import Desk, review_app, review_moderator
from ui_support import ui_login
from xss_corpus import texts

from api.ui_highlight import shown_text


class FieldParser(HTMLParser):
    """The tags, text and marks inside `<div id="field-…">` of an item page."""

    def __init__(self, field: str) -> None:
        super().__init__(convert_charrefs=True)
        self.field = field
        self.depth = 0
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.marks: list[tuple[str, str]] = []  # (refs, text) in order
        self._mark: list[str] | None = None
        self._refs = ""

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if self.depth == 0:
            if tag == "div" and a.get("id") == f"field-{self.field}":
                self.depth = 1
            return
        self.depth += 1
        self.tags.append((tag, a))
        if tag == "mark":
            self._mark, self._refs = [], a.get("data-refs") or ""

    def handle_endtag(self, tag):  # noqa: ANN001
        if self.depth == 0:
            return
        self.depth -= 1
        if tag == "mark" and self._mark is not None:
            self.marks.append((self._refs, "".join(self._mark)))
            self._mark = None

    def handle_data(self, data):  # noqa: ANN001
        if self.depth:
            self.text.append(data)
            if self._mark is not None:
                self._mark.append(data)


def parse(page: str, field: str = "content") -> FieldParser:
    p = FieldParser(field)
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def moderator(tmp_path_factory):
    return review_moderator(tmp_path_factory.mktemp("policy"))


@pytest.fixture
def desk(redis_server, rdb, moderator, tmp_path):
    with review_app(redis_server.url, tmp_path / "data", moderator) as c:
        yield Desk(c)


def test_every_payload_renders_as_inert_text_with_its_highlights_in_place(desk):
    corpus = texts()
    assert len(corpus) >= 30
    made = [desk.moderate(f"x-{i}", t, channel="message", title=t[:200] if i % 3 == 0
                          else None) for i, t in enumerate(corpus)]
    ui_login(desk.c, "li.na")
    for i, (text, m) in enumerate(zip(corpus, made, strict=True)):
        view = desk.call(desk.state.review.item, m["item_id"], 0)
        page = desk.c.get(f"/review/items/{m['item_id']}")
        assert page.status_code == 200, i
        for field, value in (("content", view["masked_text"]),
                             ("title", view["masked_title"])):
            if value is None:
                continue
            p = parse(page.text, field)
            for tag, attrs in p.tags:  # only our own elements, with our own attributes
                assert tag in ("mark", "span"), (i, tag)
                assert set(attrs) <= {"class", "data-refs", "data-start", "data-end",
                                      "title", "data-cp"}, (i, attrs)
            assert "".join(p.text) == shown_text(value), i
            hits = [h for h in view["decision"]["hits"] if h["field"] == field]
            assert field == "title" or hits, i  # the ad term is found in every text
            for j, h in enumerate(view["decision"]["hits"]):
                if h["field"] != field:
                    continue
                got = "".join(t for refs, t in p.marks if f"h{j}" in refs.split())
                assert got == shown_text(value[h["start"]:h["end"]]) == shown_text(h["text"]), \
                    (i, j)
        assert "<script>window" not in page.text and "onerror=\"window" not in page.text
        assert html.escape("<script>") in page.text or "<script" not in text
