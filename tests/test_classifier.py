"""The classifier: the shipped model on real Chinese comments, windows, batching, load errors.

Tests never train a real model. They use the shipped `models/cold-l4-h256` (loaded once) for
behaviour on real text, and a tiny seeded BERT written to tmp_path for the mechanics (windows,
batching, multi-label, any-checkpoint loading).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from model_fixtures import build_tiny_bert

from moderation.classifier import DEFAULT_MODEL_NAME, Classifier, default_model_path
from moderation.errors import ModelLoadError

OFFENSIVE = [
    "黑人都是懒惰的寄生虫，滚出中国",
    "河南人都是骗子，出门一定要小心",
    "这些东北人素质太低了，真恶心",
    "你个傻逼，脑子有病吧",
    "上海人都看不起外地人，一群势利眼",
    "娘炮就该去死",
]
SAFE = [
    "请问社区什么时候能修好小区门口的路灯？",
    "建议政府加强对农民工工资拖欠问题的监管",
    "我们小区的垃圾已经三天没人清理了，希望有关部门尽快处理",
    "感谢街道办工作人员的耐心解答",
    "拆迁补偿标准不透明，希望公开相关文件",
    "物业服务太差了，电梯坏了一个星期没人修",
    "希望延长图书馆周末的开放时间",
]
#: A long, calm letter (well over the 128-token window) used to hide one offensive sentence.
LETTER = ("尊敬的领导您好，我是本市居民，想反映一下我们小区周边道路的情况。"
          "最近几个月道路施工一直没有结束，早晚高峰非常拥堵，公交车也经常晚点，"
          "老人和孩子出行很不方便，希望有关部门能够协调施工单位加快进度，"
          "同时在路口增加交通引导人员，谢谢。") * 3


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    path = default_model_path()
    assert path is not None, "the default model must be shipped under models/"
    return Classifier.load(path, threads=1)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> Classifier:
    return Classifier.load(tiny_dir, threads=1, batch_size=4)


# --- the shipped model -------------------------------------------------------------------


def test_default_model_is_shipped_as_fp16_under_the_size_cap() -> None:
    path = default_model_path()
    assert path is not None and path.name == DEFAULT_MODEL_NAME
    weights = path / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024 * 1024
    assert json.loads((path / "config.json").read_text())["dtype"] == "float16"


def test_shipped_model_identity(shipped: Classifier) -> None:
    assert re.fullmatch(rf"{DEFAULT_MODEL_NAME}@[0-9a-f]{{8}}", shipped.name)
    assert shipped.labels == ("safe", "offensive")
    assert next(shipped.model.parameters()).dtype == torch.float32  # upcast at load


@pytest.mark.parametrize("text", OFFENSIVE)
def test_shipped_model_flags_attacks_on_groups_and_people(shipped: Classifier, text: str) -> None:
    [scores] = shipped.predict([text])
    assert scores["offensive"] > 0.5, scores


@pytest.mark.parametrize("text", SAFE)
def test_shipped_model_passes_complaints_and_requests(shipped: Classifier, text: str) -> None:
    [scores] = shipped.predict([text])
    assert scores["offensive"] < 0.5, scores


def test_scores_are_probabilities(shipped: Classifier) -> None:
    for scores in shipped.predict(["", "，", *SAFE[:2]]):
        assert set(scores) == {"safe", "offensive"}
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_offensive_sentence_at_the_end_of_a_long_letter_is_found(shipped: Classifier) -> None:
    letter_ids = shipped.tokenizer(LETTER)["input_ids"]
    assert len(letter_ids) > 2 * shipped.window  # several windows
    text = LETTER + OFFENSIVE[0]
    [calm] = shipped.predict([LETTER])
    [mixed] = shipped.predict([text])
    first_window_only = shipped.tokenizer(text, truncation=True, max_length=shipped.window,
                                          return_tensors="pt")
    with torch.inference_mode():
        truncated = torch.softmax(shipped.model(**first_window_only).logits, -1)[0, 1]
    assert calm["offensive"] < 0.5
    assert mixed["offensive"] > 0.5
    assert float(truncated) < 0.5  # what plain truncation would have missed


def test_int8_quantization_keeps_the_decisions(shipped: Classifier) -> None:
    path = default_model_path()
    assert path is not None
    q = Classifier.load(path, threads=1, quantize=True)
    assert q.name.startswith(f"{DEFAULT_MODEL_NAME}-int8@")
    assert q.name.split("@")[1] == shipped.name.split("@")[1]
    texts = OFFENSIVE + SAFE
    for a, b in zip(shipped.predict(texts), q.predict(texts), strict=True):
        assert abs(a["offensive"] - b["offensive"]) < 0.15
        assert (a["offensive"] > 0.5) == (b["offensive"] > 0.5)


# --- mechanics on a tiny checkpoint ----------------------------------------------------


def test_any_checkpoint_directory_loads(tiny: Classifier, tiny_dir: Path) -> None:
    assert tiny.labels == ("safe", "offensive")
    assert tiny.window == 16
    assert tiny.name.startswith("tiny-bert@")


def test_empty_batch(tiny: Classifier) -> None:
    assert tiny.predict([]) == []


def test_long_text_is_split_into_overlapping_windows(tiny: Classifier) -> None:
    text = "小区垃圾没人清理请尽快处理" * 3 + "这帮人就是废物全家不得好死"
    windows = tiny.windows([text])
    ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(windows) > 1
    assert all(len(w.ids) <= tiny.window for w in windows)
    assert all(w.ids[0] == tiny.tokenizer.cls_token_id for w in windows)
    bodies = [w.ids[1:-1] for w in windows]
    assert bodies[0] == ids[: len(bodies[0])]
    assert bodies[-1] == ids[-len(bodies[-1]):]  # the end of the text is covered
    covered = sum(len(b) for b in bodies)
    assert covered > len(ids)  # consecutive windows overlap


def test_long_text_score_is_the_max_over_its_windows(tiny: Classifier) -> None:
    text = "请问残疾人补贴怎么申请" * 2 + "你个蠢货脑子有病吧" + "建议增加公交线路方便老人出行"
    windows = tiny.windows([text])
    assert len(windows) >= 3
    per_window = []
    with torch.inference_mode():
        for w in windows:
            logits = tiny.model(input_ids=torch.tensor([w.ids])).logits
            per_window.append(torch.softmax(logits, -1)[0])
    expected = torch.stack(per_window).max(0).values
    [scores] = tiny.predict([text])
    assert scores["safe"] == pytest.approx(float(expected[0]), abs=1e-5)
    assert scores["offensive"] == pytest.approx(float(expected[1]), abs=1e-5)


def test_batching_and_padding_do_not_change_scores(tiny_dir: Path) -> None:
    texts = ["请问残疾人补贴怎么申请", "你个蠢货", "建议增加公交线路方便老人出行" * 3, "",
             "黑人都是寄生虫滚出去", "abc"]
    one = Classifier.load(tiny_dir, batch_size=1)
    many = Classifier.load(tiny_dir, batch_size=32)
    singles = [one.predict([t])[0] for t in texts]
    for a, b in zip(singles, many.predict(texts), strict=True):
        for label in a:
            assert a[label] == pytest.approx(b[label], abs=1e-5)


def test_multi_label_checkpoints_use_sigmoid(tmp_path: Path) -> None:
    clf = Classifier.load(build_tiny_bert(tmp_path / "ml", multi_label=True))
    [scores] = clf.predict(["你个蠢货脑子有病吧"])
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert sum(scores.values()) != pytest.approx(1.0, abs=1e-3)


def test_threads_setting_is_applied(tiny_dir: Path) -> None:
    before = torch.get_num_threads()
    try:
        Classifier.load(tiny_dir, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- load errors: at start-up, with a sentence that names the problem -------------------


def _no_weights(d: Path) -> None:
    (d / "model.safetensors").unlink()


def _corrupt_weights(d: Path) -> None:
    (d / "model.safetensors").write_bytes(b"\x00garbage, not a safetensors file")


def _corrupt_config(d: Path) -> None:
    (d / "config.json").write_text("{not json")


def _no_tokenizer(d: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (d / name).unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_no_weights, "holds no weights"),
        (_corrupt_weights, "cannot be loaded"),
        (_corrupt_config, "cannot be loaded"),
        (_no_tokenizer, "no tokenizer files"),
    ],
)
def test_damaged_directory_is_a_load_error(tiny_dir: Path, tmp_path: Path, damage,
                                           message: str) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    damage(broken)
    with pytest.raises(ModelLoadError, match=message) as info:
        Classifier.load(broken)
    assert info.value.code == "model_unavailable"
    assert "\n" not in info.value.message


def test_missing_directory_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        Classifier.load(tmp_path / "nowhere")


def test_directory_without_config_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        Classifier.load(tmp_path)


def test_concurrent_predictions_from_many_threads(tiny: Classifier) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [["请问残疾人补贴怎么申请" * k, "你个蠢货"] for k in range(1, 9)]
    expected = [tiny.predict(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            got = list(pool.map(tiny.predict, texts))
            for e, g in zip(expected, got, strict=True):
                for a, b in zip(e, g, strict=True):
                    assert a["offensive"] == pytest.approx(b["offensive"], abs=1e-5)
