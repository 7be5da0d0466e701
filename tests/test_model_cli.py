"""`moderation model evaluate` and `moderation model train`, called through their handlers.

Evaluation runs the shipped model on small CSVs of real comments; its figures are checked
against the classifier's own predictions, not against hard-coded numbers. Training runs on a
tiny BERT built in tmp_path, one epoch over a dozen rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_fixtures import build_tiny_bert, write_csv

from moderation import cli_model
from moderation.classifier import Classifier, default_model_path
from moderation.training.data import swsr_split
from moderation.training.metrics import report

ROWS = [
    ("黑人都是懒惰的寄生虫，滚出中国", 1, 2),
    ("河南人都是骗子，出门一定要小心", 1, 2),
    ("你个傻逼，脑子有病吧", 1, 1),
    ("上海人都看不起外地人，一群势利眼", 1, 2),
    ("娘炮就该去死", 1, 1),
    ("请问社区什么时候能修好小区门口的路灯？", 0, 0),
    ("建议政府加强对农民工工资拖欠问题的监管", 0, 0),
    ("感谢街道办工作人员的耐心解答", 0, 0),
    ("我反对任何形式的种族歧视，每个人都应该被尊重", 0, 3),
    ("地域黑是不对的，哪里都有好人和坏人", 0, 3),
    ("男女平等是社会进步的体现，女性也可以成为优秀的工程师", 0, 3),
    ("女人就应该待在家里做饭生孩子", 1, 2),
]


TOPICS = ("race", "region", "gender")


def cold_rows(rows=ROWS) -> list[dict[str, object]]:
    return [{"": i, "split": "test", "topic": TOPICS[i % 3], "label": y,
             "fine-grained-label": f, "TEXT": t} for i, (t, y, f) in enumerate(rows)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_model.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    path = default_model_path()
    assert path is not None
    return Classifier.load(path, threads=1)


def expected_report(shipped: Classifier, texts, labels) -> dict:
    predicted = [0 if s["safe"] >= s["offensive"] else 1 for s in shipped.predict(list(texts))]
    return report(labels, predicted, shipped.labels) | {"predicted": predicted}


def test_evaluate_prints_one_json_object_with_the_contract_fields(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shipped: Classifier) -> None:
    data = write_csv(tmp_path / "test.csv", cold_rows(), bom=True)
    code, out, err = run(capsys, "evaluate", "--data", str(data), "--threads", "1")
    assert code == 0, err
    assert out.count("\n") == 1
    result = json.loads(out)
    want = expected_report(shipped, [r[0] for r in ROWS], [r[1] for r in ROWS])
    assert result["n"] == len(ROWS)
    assert result["model"] == shipped.name
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix"):
        assert result[key] == want[key]
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f1"] <= 1.0
    assert sum(map(sum, result["confusion_matrix"])) == len(ROWS)
    assert result["per_class"]["offensive"]["support"] == sum(r[1] for r in ROWS)
    anti = [p for p, r in zip(want["predicted"], ROWS, strict=True) if r[2] == 3]
    assert result["anti_bias"] == {"n": 3, "flagged": sum(anti),
                                   "false_positive_rate": round(sum(anti) / 3, 4)}
    assert "without_train_overlap" not in result  # no train.csv beside the file


def test_evaluate_removes_texts_shared_with_a_sibling_train_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shipped: Classifier) -> None:
    write_csv(tmp_path / "test.csv", cold_rows(), bom=True)
    write_csv(tmp_path / "train.csv", cold_rows(ROWS[:2] + [("别的评论", 0, 0)]), bom=True)
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "test.csv"))
    assert code == 0, err
    clean = json.loads(out)["without_train_overlap"]
    assert clean["removed"] == 2
    assert clean["n"] == len(ROWS) - 2
    want = expected_report(shipped, [r[0] for r in ROWS[2:]], [r[1] for r in ROWS[2:]])
    assert clean["accuracy"] == want["accuracy"]


@pytest.mark.parametrize("env_model", ["default", "none"])
def test_evaluate_model_environment_names_the_shipped_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        shipped: Classifier, env_model: str) -> None:
    # MODERATION_MODEL=default is the service's own default value, not a directory name
    monkeypatch.setenv("MODERATION_MODEL", env_model)
    data = write_csv(tmp_path / "test.csv", cold_rows()[:3])
    code, out, err = run(capsys, "evaluate", "--data", str(data))
    assert code == 0, err
    assert json.loads(out)["model"] == shipped.name


def test_evaluate_cold_dataset_from_the_environment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cold = tmp_path / "sets" / "cold"
    cold.mkdir(parents=True)
    write_csv(cold / "test.csv", cold_rows(), bom=True)
    write_csv(cold / "train.csv", cold_rows(ROWS[:1]), bom=True)
    monkeypatch.setenv("MODERATION_DATASETS", str(tmp_path / "sets"))
    code, out, err = run(capsys, "evaluate", "--dataset", "cold")
    assert code == 0, err
    result = json.loads(out)
    assert result["data"] == "cold/test"
    assert result["n"] == len(ROWS)
    assert result["without_train_overlap"]["removed"] == 1
    assert result["anti_bias"]["n"] == 3


def test_evaluate_cold_reports_each_topic_and_fine_grained_label(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shipped: Classifier) -> None:
    write_csv(tmp_path / "test.csv", cold_rows(), bom=True)
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "test.csv"))
    assert code == 0, err
    result = json.loads(out)
    predicted = expected_report(shipped, [r[0] for r in ROWS], [r[1] for r in ROWS])["predicted"]
    for k, topic in enumerate(TOPICS):
        rows = [(r[1], p) for i, (r, p) in enumerate(zip(ROWS, predicted, strict=True))
                if i % 3 == k]
        figures = result["per_topic"][topic]
        assert figures["n"] == len(rows)
        assert figures["accuracy"] == round(sum(y == p for y, p in rows) / len(rows), 4)
        assert figures["flag_rate"] == round(sum(p for _, p in rows) / len(rows), 4)
    assert sorted(result["per_fine_label"]) == ["0", "1", "2", "3"]
    for fine, block in result["per_fine_label"].items():
        flags = [p for r, p in zip(ROWS, predicted, strict=True) if r[2] == int(fine)]
        assert (block["n"], block["flagged"]) == (len(flags), sum(flags))
    assert result["per_fine_label"]["3"]["name"] == "anti-bias"
    assert result["per_fine_label"]["3"]["flagged"] == result["anti_bias"]["flagged"]


def test_evaluate_counter_templates_dev_half(capsys: pytest.CaptureFixture[str],
                                             shipped: Classifier) -> None:
    from moderation.training.counter import counter_examples

    code, out, err = run(capsys, "evaluate", "--dataset", "counter")
    assert code == 0, err
    result = json.loads(out)
    dev = counter_examples(cli_model.COUNTER_DEV, cli_model.COUNTER_DEV, part="dev")
    assert result["data"] == dev.name and result["n"] == len(dev)
    assert sorted(result["per_topic"]) == ["gender", "race", "region"]
    assert result["accuracy"] == expected_report(shipped, dev.texts, dev.labels)["accuracy"]


def swsr_rows(n_posts: int = 10) -> list[dict[str, object]]:
    comments = ["女司机就是马路杀手", "支持女性参加工作", "女人就该在家带孩子",
                "这个政策对女职工很友好"]
    return [{"index": k, "weibo_id": 1000 + post, "comment_text": f"{c}{post}",
             "label": int(i % 2 == 0), "category": "MA" if i == 0 else "SCB" if i == 2 else "",
             "target": "G" if i % 2 == 0 else ""}
            for k, (post, (i, c)) in enumerate(
                (p, ic) for p in range(n_posts) for ic in enumerate(comments))]


def test_swsr_split_is_grouped_by_post_and_seeded(tmp_path: Path) -> None:
    (tmp_path / "swsr").mkdir()
    rows = swsr_rows()
    write_csv(tmp_path / "swsr" / "SexComment.csv", rows)
    a, b = swsr_split(tmp_path), swsr_split(tmp_path)
    assert a["heldout"].texts == b["heldout"].texts
    post_of = {r["comment_text"]: r["weibo_id"] for r in rows}
    held = {post_of[t] for t in a["heldout"].texts}
    train = {post_of[t] for t in a["train"].texts}
    assert held and train and not held & train
    assert len(a["heldout"]) + len(a["train"]) == len(rows)
    other = swsr_split(tmp_path, seed=1)
    assert {post_of[t] for t in other["heldout"].texts} != held or len(held) == 0


def test_evaluate_swsr_heldout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "swsr").mkdir()
    write_csv(tmp_path / "swsr" / "SexComment.csv", swsr_rows())
    code, out, err = run(capsys, "evaluate", "--dataset", "swsr", "--datasets", str(tmp_path))
    assert code == 0, err
    result = json.loads(out)
    assert result["data"] == "swsr/heldout"
    assert result["n"] == len(swsr_split(tmp_path)["heldout"])
    assert result["split"]["seed"] == 2022
    # Per sexism category: every sexist comment of category MA is the first of its post.
    per = result["per_topic"]
    assert sorted(per) == ["MA", "SCB", "non-sexist"]
    assert per["MA"]["n"] == per["SCB"]["n"] == per["non-sexist"]["n"] // 2
    assert per["MA"]["macro_f1"] is None  # one true class: accuracy says it all
    assert per["MA"]["accuracy"] == per["MA"]["flag_rate"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--data", "{tmp}/missing.csv"), "does not exist"),
        (("--data", "{tmp}/test.csv", "--text-column", "comment"), "no column 'comment'"),
        (("--data", "{tmp}/test.csv", "--label-column", "TEXT"), "is not an integer"),
        (("--data", "{tmp}/test.csv", "--model", "{tmp}/no-model"), "does not exist"),
        (("--dataset", "cold", "--datasets", "{tmp}/nowhere"), "does not exist"),
    ],
)
def test_bad_usage_is_one_sentence_and_exit_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              args: tuple[str, ...], fragment: str) -> None:
    write_csv(tmp_path / "test.csv", cold_rows())
    code, out, err = run(capsys, "evaluate", *(a.format(tmp=tmp_path) for a in args))
    assert code == 2
    assert out == ""
    assert fragment in err
    assert err.strip().count("\n") == 0


def test_labels_outside_the_model_are_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rows = cold_rows()
    rows[0]["label"] = 2
    write_csv(tmp_path / "test.csv", rows)
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "test.csv"))
    assert code == 2 and out == ""
    assert "outside the model" in err


def test_register_adds_model_train_and_evaluate() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    cli_model.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "evaluate", "--dataset", "cold"])
    assert args.func is cli_model.evaluate_command
    args = parser.parse_args(["model", "train", "--base", "b", "--out", "o"])
    assert args.func is cli_model.train_command


# --- training on a tiny checkpoint -----------------------------------------------------


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv", cold_rows(), bom=True)
    write_csv(data / "dev.csv", cold_rows(ROWS[::2]), bom=True)
    return data


@pytest.mark.parametrize("scratch", [False, True])
def test_train_writes_a_loadable_checkpoint(tmp_path: Path, tiny_data: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            scratch: bool) -> None:
    base = build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])
    out = tmp_path / "models" / "tiny-cold"
    argv = ["train", "--base", str(base), "--data", str(tiny_data), "--out", str(out),
            "--epochs", "2", "--batch-size", "4", "--max-length", "24", "--device", "cpu"]
    code, stdout, err = run(capsys, *argv, *(["--from-scratch"] if scratch else []))
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["best_epoch"] in (1, 2)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "safe", "1": "offensive"}
    assert config["dtype"] == "float16"
    record = json.loads((out / "training.json").read_text())
    assert record["config"]["from_scratch"] is scratch
    assert record["train"]["n"] == len(ROWS)
    clf = Classifier.load(out)
    assert clf.window == 24
    assert len(clf.predict([r[0] for r in ROWS])) == len(ROWS)


def test_training_is_seeded(tmp_path: Path, tiny_data: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    base = build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])
    outs = []
    for name in ("a", "b"):
        argv = ["train", "--base", str(base), "--data", str(tiny_data), "--out",
                str(tmp_path / name), "--epochs", "1", "--batch-size", "4", "--device", "cpu",
                "--seed", "3", "--fp32"]
        code, _, err = run(capsys, *argv)
        assert code == 0, err
        outs.append(Classifier.load(tmp_path / name).predict([r[0] for r in ROWS]))
    assert outs[0] == outs[1]


def test_train_with_a_missing_base_is_exit_2(tmp_path: Path, tiny_data: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--base", str(tmp_path / "none"), "--data",
                         str(tiny_data), "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert "does not exist" in err


def test_report_on_a_hand_counted_case() -> None:
    # true 0 0 0 1 1 / predicted 0 1 0 1 0: safe 2 of 3 right, offensive 1 of 2 right.
    r = report([0, 0, 0, 1, 1], [0, 1, 0, 1, 0], ("safe", "offensive"))
    assert r["confusion_matrix"] == [[2, 1], [1, 1]]
    assert r["accuracy"] == 0.6
    assert r["per_class"]["safe"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667,
                                      "support": 3}
    assert r["per_class"]["offensive"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                           "support": 2}
    assert r["macro_f1"] == 0.5833


def test_soup_averages_checkpoints(tmp_path: Path) -> None:
    import importlib.util

    import torch
    from transformers import AutoModelForSequenceClassification

    script = Path(__file__).resolve().parents[1] / "scripts" / "train_classifier.py"
    spec = importlib.util.spec_from_file_location("train_classifier", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a = build_tiny_bert(tmp_path / "a", seed=1)
    b = build_tiny_bert(tmp_path / "b", seed=2)
    out = module.soup([a, b], tmp_path / "soup", max_length=16)
    wa, wb, ws = (AutoModelForSequenceClassification.from_pretrained(str(p)).float()
                  .classifier.weight.detach() for p in (a, b, out))
    assert torch.allclose(ws, (wa + wb) / 2, atol=2e-3)  # fp16 storage
    assert Classifier.load(out).window == 16


def test_distillation_from_teacher_logits_trains(tmp_path: Path) -> None:
    import numpy as np

    from moderation.training.data import LabeledTexts
    from moderation.training.train import TrainConfig, train

    base = build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])
    data = LabeledTexts(tuple(r[0] for r in ROWS), tuple(r[1] for r in ROWS), name="rows")
    teacher = np.array([[-2.0, 2.0] if r[1] else [2.0, -2.0] for r in ROWS], dtype=np.float32)
    config = TrainConfig(base=base, out=None, epochs=2, batch_size=4, device="cpu", seed=5)
    result = train(config, data, data, teacher_logits=teacher, progress=False)
    assert len(result.history) >= 1
    assert all(np.isfinite(h["train_loss"]) for h in result.history)


def test_train_with_mlm_adaptation_and_civic_templates(tmp_path: Path, tiny_data: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    base = build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])
    out = tmp_path / "models" / "adapted"
    code, _, err = run(capsys, "train", "--base", str(base), "--data", str(tiny_data),
                       "--out", str(out), "--epochs", "1", "--batch-size", "8",
                       "--mlm-epochs", "1", "--civic", "20", "--device", "cpu")
    assert code == 0, err
    record = json.loads((out / "training.json").read_text())
    assert record["mlm"]["from"] == str(base)
    assert record["mlm"]["texts"] == len(ROWS) + len(ROWS[::2])  # COLD texts only
    assert record["train"]["n"] == len(ROWS) + 30  # 20 complaints + 10 insults
    assert sorted(p.name for p in out.parent.iterdir()) == ["adapted"]  # no leftovers
    assert Classifier.load(out).predict(["请尽快处理"])[0]["safe"] > 0


def test_train_repeats_bias_talk_and_records_the_training_size(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from moderation.training.bias_talk import discusses_bias

    base = build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])
    out = tmp_path / "out"
    code, _, err = run(capsys, "train", "--base", str(base), "--data", str(tiny_data),
                       "--out", str(out), "--epochs", "1", "--batch-size", "8",
                       "--bias-talk", "3", "--device", "cpu")
    assert code == 0, err
    talk = sum(1 for text, label, _ in ROWS if label == 0 and discusses_bias(text))
    assert talk >= 3
    assert json.loads((out / "training.json").read_text())["train"]["n"] == len(ROWS) + 3 * talk
    code, _, err = run(capsys, "train", "--base", str(base), "--data", str(tiny_data),
                       "--out", str(out), "--bias-talk", "-1")
    assert code == 2 and "--bias-talk" in err
