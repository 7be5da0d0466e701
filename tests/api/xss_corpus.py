"""Hostile and awkward texts for the review pages (tests/api/test_api_ui_xss.py and the
browser test tests/ui/test_ui_xss.py): each must render as inert text, its highlights at
the right spans. Payloads that would run set `window.__pwned` or open a dialog.

Each text carries the review-severity term `加微信` so it is queued and highlighted.
"""

from __future__ import annotations

AD_TERM = "加微信"
PWN = "window.__pwned=1"

PAYLOADS: list[str] = [
    "<script>window.__pwned=1</script>",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="window.__pwned=1">',
    "<img src=x onerror=alert(1)>",
    '<svg onload="window.__pwned=1"></svg>',
    "<svg><script>window.__pwned=1</script></svg>",
    '<svg><a xlink:href="javascript:window.__pwned=1"><text x="20" y="20">点</text></a></svg>',
    '<a href="javascript:window.__pwned=1">点我领奖</a>',
    "javascript:window.__pwned=1",
    '<iframe src="javascript:window.__pwned=1"></iframe>',
    '<body onload="window.__pwned=1">',
    '<div style="background:url(javascript:window.__pwned=1)">x</div>',
    '"><script>window.__pwned=1</script>',
    "'><img src=x onerror=window.__pwned=1>",
    '" onmouseover="window.__pwned=1" x="',
    "</textarea><script>window.__pwned=1</script>",
    "</title><script>window.__pwned=1</script>",
    "<!--<script>window.__pwned=1</script>-->",
    "&lt;script&gt;window.__pwned=1&lt;/script&gt;",
    "&#60;img src=x onerror=window.__pwned=1&#62;",
    "&amp;&quot;&#x27;&nbsp;&copy;",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>",
    '<details open ontoggle="window.__pwned=1">',
    '<input autofocus onfocus="window.__pwned=1">',
    '<object data="javascript:window.__pwned=1"></object>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=1">',
    '<form action="javascript:window.__pwned=1"><button>提交</button></form>',
    "{{7*7}} ${7*7} {% raw %}{{ config }}{% endraw %}",
    "\u202e这是反转的文字 gnp.exe\u202c 后面正常",
    "零\u200b宽\u200c字\u200d符\ufeff测试\u2060结束",
    "加\u200b微\u200b信 隐藏的联系方式",
    "\u2066隔离\u2069\u202d覆盖\u202c\u200f右到左\u200e",
    "<style>*{display:none}</style>看不见",
    "\x00\x01\x07控制字符\x1b[31m红色\x1b[0m",
    "A" * 9_990,
    "🙂😀👍🏽 emoji 与 𠀀 扩展汉字",
]


def texts() -> list[str]:
    """The payloads as sent: the ad term after (or, for the long line, within) each."""
    out = []
    for p in PAYLOADS:
        if len(p) > 9_000:
            out.append(p[:5_000] + AD_TERM + p[5_000:])  # a 10,000-character line
        else:
            out.append(f"{p} {AD_TERM}{p}")
    return out
