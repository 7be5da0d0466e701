"""Tests for moderation.pii: every type with valid and broken checks, spans against the
original text, width folding, run boundaries, precedence, masking, and properties.

Valid numbers are computed here with our own small implementations of the published
algorithms (not the library's), and invalid ones made by changing one character.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.pii import PII_TYPES, find_pii, mask_text
from moderation.types import PiiFinding

# ---------------------------------------------------------------- test-side algorithms


def id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 ...
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def make_id(first17: str) -> str:
    return first17 + id_check(first17)


def luhn_complete(partial: str) -> str:
    """Append the digit that makes `partial` + digit pass Luhn."""
    for d in "0123456789":
        digits = [int(c) for c in partial + d][::-1]
        total = sum(
            x if i % 2 == 0 else (x * 2 - 9 if x * 2 > 9 else x * 2) for i, x in enumerate(digits)
        )
        if total % 10 == 0:
            return partial + d
    raise AssertionError("unreachable")


def luhn_passes(number: str) -> bool:
    return luhn_complete(number[:-1]) == number


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return first17 + USCC_CHARS[(31 - total % 31) % 31]


def org_code(first8: str) -> str:
    """GB 11714 organization code: weights 3 7 9 10 5 8 4 2, mod 11, 10 written X."""
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in first8]
    total = sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
    check = (11 - total % 11) % 11
    return first8 + ("X" if check == 10 else str(check))


def flip(value: str, index: int) -> str:
    """Change one digit (the check character by default) so a checksum fails."""
    c = value[index]
    new = "0" if c in "Xx" else str((int(c) + 1) % 10)
    return value[:index] + new + value[index + 1 :]


def flip_uscc(value: str) -> str:
    return value[:17] + USCC_CHARS[(USCC_CHARS.index(value[17]) + 1) % 31]


def id_ending_in_x() -> str:
    for seq in range(1000):
        first17 = f"44030519880715{seq:03d}"
        if id_check(first17) == "X":
            return first17 + "X"
    raise AssertionError("no X in 1000 sequence numbers")


ID_BJ = make_id("11010519491231002")
ID_SZ = make_id("44030519900307123")
ID_HEBEI = make_id("13010219851120456")  # starts with 13: looks like a mobile prefix
ID_X = id_ending_in_x()
CARD16 = luhn_complete("622202123456789")
CARD19 = luhn_complete("621700001234567890")
CARD_VISA = luhn_complete("411111111111111")
USCC_REAL = "91350100M000100Y43"  # published example of a company registration
USCC_MADE = make_uscc("91110108MA01ABCDE")
USCC_DIGITS = make_uscc("12100000" + org_code("40001039"))  # older all-digit organization code


def grouped(number: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(number[i : i + size] for i in range(0, len(number), size))


def only(text: str) -> PiiFinding:
    findings = find_pii(text)
    assert len(findings) == 1, findings
    return findings[0]


def spans(text: str) -> list[tuple[str, str, bool]]:
    return [(f.type, text[f.start : f.end], f.validated) for f in find_pii(text)]


def to_halfwidth(s: str) -> str:
    return "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in s)


def to_fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def test_test_helpers_agree_with_published_examples() -> None:
    # GB 11643 appendix example and a published USCC: our helpers are right, or all else is moot
    assert id_check("11010519491231002") == "X"
    assert make_uscc(USCC_REAL[:17]) == USCC_REAL
    assert org_code("M000100Y") == USCC_REAL[8:17]
    assert luhn_passes("4111111111111111")


def test_types_listed() -> None:
    assert set(PII_TYPES) == {
        "cn_id_card",
        "mobile",
        "landline",
        "bank_card",
        "uscc",
        "email",
        "ipv4",
        "ipv6",
        "passport",
        "license_plate",
        "qq",
    }


# ---------------------------------------------------------------- ID cards


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("我的身份证号是{}，请帮忙查询办理进度", ID_BJ),
        ("申请人张三（身份证{}）反映小区噪音问题", ID_SZ),
        ("身份证号码:{}", ID_HEBEI),
        ("身份证{}末位是X", ID_X),
        ("身份证{}末位小写", ID_X.lower()),
        ("证件号 {} 已核实", f"{ID_SZ[:6]} {ID_SZ[6:14]} {ID_SZ[14:]}"),
        ("老身份证号{}还能用吗", "110105491231002"),  # legacy 15-digit form
    ],
)
def test_id_card_valid(template: str, value: str) -> None:
    text = template.format(value)
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated) == ("cn_id_card", value, True)
    assert f.field == "content"


def test_id_card_mask_keeps_region_and_last_four() -> None:
    text = f"身份证{ID_BJ}"
    assert only(text).masked == f"110105********{ID_BJ[-4:]}"
    assert only("老证110105491231002").masked == "110105******002"


@pytest.mark.parametrize("index", [17, 16, 3])
def test_id_card_wrong_check_digit_is_reported_unvalidated(index: int) -> None:
    bad = flip(ID_BJ, index)  # starts with 1: outside every card range, so never a bank card
    text = f"请核对身份证号{bad}是否正确"
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated) == ("cn_id_card", bad, False)
    assert f.masked == f"{bad[:6]}********{bad[-4:]}"


@pytest.mark.parametrize(
    "first17",
    [
        "11010520990101001",  # born in the future
        "11010519490231001",  # 31 February
        "11010519491301001",  # month 13
        "99010519491231001",  # no province 99
        "00010519491231001",  # no province 00
    ],
)
def test_id_card_impossible_region_or_date_is_no_id(first17: str) -> None:
    value = make_id(first17)
    assert all(f.type != "cn_id_card" for f in find_pii(f"号码{value}"))


def test_id_card_birthday_today_is_fine_tomorrow_is_not() -> None:
    today = dt.date.today()
    ok = make_id(f"110105{today:%Y%m%d}001")
    assert only(ok).validated
    tomorrow = today + dt.timedelta(days=1)
    future = make_id(f"110105{tomorrow:%Y%m%d}001")
    assert all(f.type != "cn_id_card" for f in find_pii(future))


@pytest.mark.parametrize("value", ["110105491331002", "110105490230002", "990105491231002"])
def test_legacy_id_with_bad_date_or_region(value: str) -> None:
    assert find_pii(f"旧号{value}") == []


# ---------------------------------------------------------------- mobile


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("我的手机13912345678请联系", "13912345678", "139****5678"),
        ("联系电话：+86 139-1234-5678。", "+86 139-1234-5678", "+86 139-****-5678"),
        ("拨打+8615012345678咨询", "+8615012345678", "+86150****5678"),
        ("号码008618612345678", "008618612345678", "0086186****5678"),
        ("国际格式8613912345678也行", "8613912345678", "86139****5678"),
        ("（+86）177 1234 5678转人工", "（+86）177 1234 5678", "（+86）177 **** 5678"),
        ("电话139 1234 5678找王科长", "139 1234 5678", "139 **** 5678"),
        ("手机１３９１２３４５６７８（全角）", "１３９１２３４５６７８", "１３９****５６７８"),
        ("尾号19912345678，谢谢", "19912345678", "199****5678"),
        ("tel:16612345678", "16612345678", "166****5678"),
    ],
)
def test_mobile(text: str, value: str, masked: str) -> None:
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated, f.masked) == ("mobile", value, True, masked)


@pytest.mark.parametrize(
    "text",
    [
        "编号12912345678不是手机",  # prefix 12 is not a mobile range
        "号码1391234567少一位",
        "订单813912345678已发货",  # the 11 digits sit inside a longer run
        "流水号139123456789",
        "单号A13912345678",  # inside a letter/digit run
        "13912345678B",
        "2023年11月25日下午3点",
    ],
)
def test_mobile_not_found(text: str) -> None:
    assert [f for f in find_pii(text) if f.type == "mobile"] == []


# ---------------------------------------------------------------- landline


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("请致电010-12345678咨询", "010-12345678", "010-****5678"),
        ("热线（0755）8888 6666", "（0755）8888 6666", "（0755）**** 6666"),
        ("(0571)87654321转分机", "(0571)87654321", "(0571)****4321"),
        ("值班电话0898-6543210", "0898-6543210", "0898-***3210"),
        ("办公室02087654321", "02087654321", "020****4321"),
        ("座机０２１－６２３４５６７８", "０２１－６２３４５６７８", "０２１－****５６７８"),
        ("信访办0991 4567890", "0991 4567890", "0991 ***7890"),
    ],
)
def test_landline(text: str, value: str, masked: str) -> None:
    f = only(text)
    got = (f.type, text[f.start : f.end], f.validated, f.masked)
    assert got == ("landline", value, True, masked)


@pytest.mark.parametrize(
    "text",
    [
        "号码026-12345678",  # 026 is not assigned
        "号码0001-1234567",
        "号码0755-0888666",  # local numbers never start with 0
        "号码010-1234567",  # Beijing numbers have 8 digits
        "日期2023-11-25",
    ],
)
def test_landline_not_found(text: str) -> None:
    assert find_pii(text) == []


# ---------------------------------------------------------------- bank cards


@pytest.mark.parametrize(
    "value",
    [CARD16, CARD19, CARD_VISA, grouped(CARD16), grouped(CARD19), grouped(CARD16, sep="-")],
)
def test_bank_card_valid(value: str) -> None:
    text = f"请把补贴打到我的卡号{value}上"
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated) == ("bank_card", value, True)


def test_bank_card_mask() -> None:
    assert only(f"卡{grouped(CARD16)}").masked == f"6222 **** **** {CARD16[-4:]}"
    assert only(f"卡{CARD19}").masked == f"6217{'*' * 11}{CARD19[-4:]}"


@pytest.mark.parametrize("value", [flip(CARD16, 15), flip(CARD19, 5), grouped(flip(CARD16, 2))])
def test_bank_card_failing_luhn_is_not_reported(value: str) -> None:
    assert find_pii(f"卡号{value}") == []


@pytest.mark.parametrize("partial", ["202311251234567", "100000000000000", "800012345678901"])
def test_luhn_valid_number_outside_card_ranges_is_not_a_card(partial: str) -> None:
    order_no = luhn_complete(partial)
    assert find_pii(f"订单号{order_no}一直没发货") == []


# ---------------------------------------------------------------- USCC


@pytest.mark.parametrize("value", [USCC_REAL, USCC_MADE, USCC_DIGITS])
def test_uscc_valid(value: str) -> None:
    text = f"举报某公司（统一社会信用代码：{value}）虚假宣传"
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated) == ("uscc", value, True)
    assert f.masked == value[:6] + "*" * 8 + value[-4:]


@pytest.mark.parametrize("value", [flip_uscc(USCC_REAL), flip_uscc(USCC_MADE), "0" + USCC_REAL[1:]])
def test_uscc_failing_check_is_not_reported(value: str) -> None:
    assert find_pii(f"信用代码{value}") == []


def test_all_digit_uscc_needs_its_organization_code_check_too() -> None:
    # passes GB 32100 but its organization code part fails GB 11714: an order number
    good = org_code("40001039")
    values = [make_uscc(f"12100000{good[:8]}{d}") for d in "0123456789" if d != good[8]]
    all_digit = [v for v in values if v.isdigit()]
    assert all_digit
    for value in all_digit:
        assert find_pii(f"单号{value}") == []


# ---------------------------------------------------------------- email, IP


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        (
            "请回复邮箱zhang.san@example.gov.cn谢谢",
            "zhang.san@example.gov.cn",
            "z********@example.gov.cn",
        ),
        ("邮件：wang_li+gov@163.com", "wang_li+gov@163.com", "w**********@163.com"),
        (
            "发到１２３４５６７＠ｑｑ．ｃｏｍ",
            "１２３４５６７＠ｑｑ．ｃｏｍ",
            "１******＠ｑｑ．ｃｏｍ",
        ),
        ("13912345678@139.com是我的邮箱", "13912345678@139.com", "1**********@139.com"),
    ],
)
def test_email(text: str, value: str, masked: str) -> None:
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated, f.masked) == ("email", value, True, masked)


@pytest.mark.parametrize("text", ["邮箱a..b@example.com", "邮箱zhang@localhost", "@用户 你好"])
def test_email_not_found(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "value", "masked"),
    [
        ("来访IP：192.168.1.100。", "ipv4", "192.168.1.100", "192.168.*.***"),
        ("服务器10.0.0.1宕机", "ipv4", "10.0.0.1", "10.0.*.*"),
        (
            "地址2001:db8::8a2e:370:7334有问题",
            "ipv6",
            "2001:db8::8a2e:370:7334",
            "2001:db8::****:***:****",
        ),
        ("本机::1", "ipv6", "::1", "::*"),
        ("映射::ffff:192.168.1.1", "ipv6", "::ffff:192.168.1.1", "::****:***.***.*.*"),
        (
            "fe80::1ff:fe23:4567:890a网卡",
            "ipv6",
            "fe80::1ff:fe23:4567:890a",
            "fe80::***:****:****:****",
        ),
    ],
)
def test_ip(text: str, kind: str, value: str, masked: str) -> None:
    f = only(text)
    assert (f.type, text[f.start : f.end], f.validated, f.masked) == (kind, value, True, masked)


@pytest.mark.parametrize(
    "text",
    [
        "版本256.1.1.1",
        "地址192.168.01.1",  # leading zero
        "版本号1.2.3.4.5",
        "v1.2.3.4",
        "会议时间12:30:45开始",
        "MAC 00:1A:2B:3C:4D:5E",
        "地址2001:db8:::1",
    ],
)
def test_ip_not_found(text: str) -> None:
    assert find_pii(text) == []


# ---------------------------------------------------------------- passport, plates


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("E12345678", "E*****678"),
        ("EA1234567", "E*****567"),
        ("G87654321", "G*****321"),
        ("DE1234567", "D*****567"),
    ],
)
def test_passport(value: str, masked: str) -> None:
    text = f"护照号{value}，出境记录"
    f = only(text)
    got = (f.type, text[f.start : f.end], f.validated, f.masked)
    assert got == ("passport", value, True, masked)


@pytest.mark.parametrize("value", ["E1234567", "A12345678", "EI1234567", "XE12345678"])
def test_passport_not_found(value: str) -> None:
    assert find_pii(f"证件{value}") == []


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("车牌京A12345违停", "京A12345", "京A***45"),
        ("粤B·D12345新能源车", "粤B·D12345", "粤B·****45"),
        ("沪AB1234占用消防通道", "沪AB1234", "沪A***34"),
        ("浙AK8N68被套牌", "浙AK8N68", "浙A***68"),
        ("川A12345D大货车", "川A12345D", "川A****5D"),
        ("教练车苏E1234学", "苏E1234学", "苏E**34学"),
        ("车牌号：浙Ａ１２３４５", "浙Ａ１２３４５", "浙Ａ***４５"),
    ],
)
def test_license_plate(text: str, value: str, masked: str) -> None:
    f = only(text)
    got = (f.type, text[f.start : f.end], f.validated, f.masked)
    assert got == ("license_plate", value, True, masked)


@pytest.mark.parametrize(
    "text", ["京ABCDE", "京I12345", "美A12345", "京a12345", "京A123456", "苏E1234学５"]
)
def test_license_plate_not_found(text: str) -> None:
    assert [f for f in find_pii(text) if f.type == "license_plate"] == []


# ---------------------------------------------------------------- runs and precedence


def _id_that_passes_luhn() -> str:
    for seq in range(1000):
        value = make_id(f"44030519900307{seq:03d}")
        if value.isdigit() and luhn_passes(value):
            return value
    raise AssertionError("none found")


def _bad_id_that_passes_luhn() -> str:
    for seq in range(1000):
        good = make_id(f"44030519900307{seq:03d}")
        for d in "0123456789":
            bad = good[:17] + d
            if bad != good and luhn_passes(bad):
                return bad
    raise AssertionError("none found")


def test_precedence_id_card_over_bank_card() -> None:
    value = _id_that_passes_luhn()
    assert spans(f"号码{value}") == [("cn_id_card", value, True)]


def test_precedence_validated_bank_card_over_unvalidated_id() -> None:
    value = _bad_id_that_passes_luhn()
    assert spans(f"号码{value}") == [("bank_card", value, True)]


def test_precedence_id_card_over_mobile_inside_it() -> None:
    # ID_HEBEI starts with 130..., its first 11 digits look like a mobile number
    assert spans(f"身份证{ID_HEBEI}") == [("cn_id_card", ID_HEBEI, True)]


def test_precedence_email_over_mobile_inside_it() -> None:
    assert [f.type for f in find_pii("邮箱13912345678@163.com")] == ["email"]


def test_precedence_ipv6_over_embedded_ipv4() -> None:
    assert [f.type for f in find_pii("::ffff:10.1.2.3")] == ["ipv6"]


@pytest.mark.parametrize(
    "text",
    [
        f"号码9{ID_BJ}",  # an ID inside a 19-digit run is not an ID
        f"号码{ID_BJ}1",
        f"编号AB{CARD16}",
        f"{CARD16}XYZ",
        "单号1139123456789",
    ],
)
def test_runs_embedded_in_longer_runs_are_not_split(text: str) -> None:
    assert all(f.type not in ("cn_id_card", "mobile") for f in find_pii(text))
    for f in find_pii(text):
        assert not text[f.end : f.end + 1].isalnum() or not text[f.end].isascii()


def test_one_run_one_finding() -> None:
    text = f"身份证{ID_SZ}手机13912345678卡号{CARD16}邮箱a@b.cn车牌京A12345"
    got = [(f.type, text[f.start : f.end]) for f in find_pii(text)]
    assert got == [
        ("cn_id_card", ID_SZ),
        ("mobile", "13912345678"),
        ("bank_card", CARD16),
        ("email", "a@b.cn"),
        ("license_plate", "京A12345"),
    ]


def test_field_is_passed_through_and_findings_sorted() -> None:
    text = "电话010-12345678，手机13912345678"
    findings = find_pii(text, "title")
    assert [f.field for f in findings] == ["title", "title"]
    assert [f.start for f in findings] == sorted(f.start for f in findings)


def test_mask_text_masks_every_finding_and_keeps_length() -> None:
    text = f"我叫张三，身份证{ID_BJ}，手机+86 139-1234-5678，邮箱zhang.san@example.gov.cn"
    masked = mask_text(text, find_pii(text))
    assert masked == (
        f"我叫张三，身份证110105********{ID_BJ[-4:]}，手机+86 139-****-5678，"
        "邮箱z********@example.gov.cn"
    )
    assert len(masked) == len(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [("a@b.cn", "*@b.cn"), ("0::", "*::"), ("1:2::", "1:*::"), ("::1", "::*")],
)
def test_short_values_are_still_masked(text: str, masked: str) -> None:
    assert only(text).masked == masked


def test_mask_text_without_findings_is_identity() -> None:
    text = "建议在小区门口增设公交站台，方便老人出行"
    assert find_pii(text) == []
    assert mask_text(text, []) == text


# ---------------------------------------------------------------- properties

_ALPHABET = st.sampled_from(
    list("0123456789０１２３４５６７８９ -+().@:·XxEeGDabc京粤我的手机号码，。")
)
_SAMPLES = [
    ID_BJ,
    ID_X,
    CARD16,
    grouped(CARD19),
    USCC_REAL,
    "13912345678",
    "+86 139-1234-5678",
    "(0755)8888 6666",
    "zhang.san@example.gov.cn",
    "192.168.1.100",
    "2001:db8::1",
    "E12345678",
    "粤B·D12345",
    "a@b.cn",
    "0::",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, st.sampled_from(_SAMPLES)), max_size=30).map("".join))
def test_property_findings_are_sane(text: str) -> None:
    findings = find_pii(text)
    prev_end = 0
    for f in findings:
        assert 0 <= prev_end <= f.start < f.end <= len(text)  # sorted, disjoint, inside
        assert f.type in PII_TYPES
        assert len(f.masked) == f.end - f.start
        span = text[f.start : f.end]
        assert all(m in ("*", o) for m, o in zip(f.masked, span, strict=True))
        assert "*" in f.masked
        prev_end = f.end
        folded = to_halfwidth(span)
        assert f.validated or f.type == "cn_id_card"  # the only type reported unvalidated
        if f.validated and f.type == "cn_id_card" and len(folded) == 18:
            assert id_check(folded[:17]) == folded[17].upper()  # checksum failures never pass
        if f.validated and f.type == "bank_card":
            assert luhn_passes("".join(c for c in folded if c.isdigit()))
        if f.validated and f.type == "uscc":
            assert make_uscc(folded[:17]) == folded
    masked = mask_text(text, findings)
    assert len(masked) == len(text)
    outside = [i for i in range(len(text)) if not any(f.start <= i < f.end for f in findings)]
    assert all(masked[i] == text[i] for i in outside)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="我的电话是请联系谢谢，。！ 办理进度", max_size=8),
    st.sampled_from(_SAMPLES),
    st.text(alphabet="我的电话是请联系谢谢，。！ 办理进度", max_size=8),
)
def test_property_value_in_chinese_context_is_found_exactly(
    pre: str, value: str, post: str
) -> None:
    text = pre + value + post
    findings = find_pii(text)
    assert [(f.start, f.end) for f in findings] == [(len(pre), len(pre) + len(value))]
    assert findings[0].validated


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, st.sampled_from(_SAMPLES)), max_size=20).map("".join))
def test_property_full_width_finds_the_same_spans(text: str) -> None:
    wide = to_fullwidth(text)
    assert [(f.type, f.start, f.end, f.validated) for f in find_pii(wide)] == [
        (f.type, f.start, f.end, f.validated) for f in find_pii(text)
    ]


# --- numbers spelled to dodge the recognizers (evasion) ------------------------------------

SPELLED = [
    # (text, type, what the user typed, masked form)
    ("电话幺三九一二三四五六七八，速联", "mobile", "幺三九一二三四五六七八", "幺三九****五六七八"),
    ("壹叁玖 壹贰叁肆 伍陆柒捌", "mobile", "壹叁玖 壹贰叁肆 伍陆柒捌", "壹叁玖 **** 伍陆柒捌"),
    ("联系1 3 9 1 2 3 4 5 6 7 8", "mobile", "1 3 9 1 2 3 4 5 6 7 8", "1 3 9 * * * * 5 6 7 8"),
    ("手机一八六.零零幺二.三四五六", "mobile", "一八六.零零幺二.三四五六", "一八六.****.三四五六"),
    ("加QQ：一二三四五六七八九", "qq", "一二三四五六七八九", "一二*****八九"),
    ("扣扣 12345678 详聊", "qq", "12345678", "12****78"),
    ("企鹅号 9 8 7 6 5 4 3", "qq", "9 8 7 6 5 4 3", "9 8 * * * 4 3"),
]


@pytest.mark.parametrize(("text", "kind", "typed", "masked"), SPELLED)
def test_spelled_numbers_are_found_with_their_real_span(
    text: str, kind: str, typed: str, masked: str
) -> None:
    (finding,) = find_pii(text)
    assert (finding.type, text[finding.start : finding.end]) == (kind, typed)
    assert finding.masked == masked
    assert mask_text(text, [finding]) == text.replace(typed, masked)


@pytest.mark.parametrize(
    "text",
    [
        "十一月二十五日上午九点",  # dates in numerals are not numbers
        "一二三四五，上山打老虎",  # no keyword, not a mobile
        "我有一二三四五六七八九个问题",
        "编号 1 2 3 4 5 6 7 8 9 0 1",  # spaced but not a mobile (and no QQ keyword)
        "QQ群很多，一二三四都有",  # four numerals are no QQ number
    ],
)
def test_numerals_in_ordinary_text_are_not_pii(text: str) -> None:
    assert find_pii(text) == []
