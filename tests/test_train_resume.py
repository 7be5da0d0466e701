"""Checkpointed training: a run stopped part-way and resumed ends with exactly the weights of
a run that was never stopped, and a checkpoint of another run is refused, not mixed in.

Runs on a tiny BERT built in tmp_path (tests never train a real model), fp32 on one CPU thread
so that both runs are bit-for-bit comparable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from model_fixtures import build_tiny_bert, write_csv
from test_model_cli import ROWS, cold_rows, run

from moderation.errors import ModelLoadError
from moderation.training.data import LabeledTexts
from moderation.training.train import (
    CHECKPOINT_FILE,
    TrainConfig,
    TrainingPaused,
    _bucketed_batches,
    train,
)

DATA = LabeledTexts(tuple(r[0] for r in ROWS) * 3, tuple(r[1] for r in ROWS) * 3, name="rows")
DEV = LabeledTexts(tuple(r[0] for r in ROWS), tuple(r[1] for r in ROWS), name="dev")


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    torch.set_num_threads(1)
    return build_tiny_bert(tmp_path / "base", texts=[r[0] for r in ROWS])


def config(base: Path, tmp_path: Path, name: str, **kw) -> TrainConfig:
    return TrainConfig(base=base, out=None, epochs=3, patience=3, batch_size=4, device="cpu",
                       seed=9, checkpoint_dir=tmp_path / name, checkpoint_every=2, **kw)


def weights(result) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in result.model.state_dict().items()}


@pytest.mark.parametrize("bucket", [False, True])
def test_a_paused_run_resumes_to_the_same_weights(base: Path, tmp_path: Path,
                                                  bucket: bool) -> None:
    whole = train(config(base, tmp_path, "whole", bucket_by_length=bucket), DATA, DEV,
                  progress=False)
    chunked = config(base, tmp_path, "chunked", bucket_by_length=bucket)
    pauses = []
    for _ in range(20):  # 9 batches per epoch, 3 epochs: chunks of 4 steps
        try:
            resumed = train(chunked, DATA, DEV, progress=False, max_steps=4)
            break
        except TrainingPaused as paused:
            pauses.append((paused.epoch, paused.position))
    else:
        pytest.fail("the chunked run never finished")
    assert len(pauses) >= 5 and (1, 4) in pauses
    assert resumed.history == whole.history  # the train loss of every epoch, exactly
    assert resumed.best_epoch == whole.best_epoch
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The last epoch's weights too (the best epoch may be an early one).
    last = [torch.load(tmp_path / name / CHECKPOINT_FILE, weights_only=False)["model"]
            for name in ("whole", "chunked")]
    assert all(torch.equal(last[0][k], last[1][k]) for k in last[0])


def test_a_checkpoint_of_other_settings_or_data_is_refused(base: Path, tmp_path: Path) -> None:
    first = config(base, tmp_path, "ckpt")
    with pytest.raises(TrainingPaused):
        train(first, DATA, DEV, progress=False, max_steps=3)
    assert (tmp_path / "ckpt" / CHECKPOINT_FILE).is_file()
    with pytest.raises(ModelLoadError, match="other settings or data"):
        train(config(base, tmp_path, "ckpt", lr=3e-4), DATA, DEV, progress=False)
    fewer = LabeledTexts(DATA.texts[:-1], DATA.labels[:-1], name="rows")
    with pytest.raises(ModelLoadError, match="other settings or data"):
        train(first, fewer, DEV, progress=False)


def test_max_steps_without_a_checkpoint_directory_is_refused(base: Path) -> None:
    with pytest.raises(ValueError):
        train(TrainConfig(base=base, out=None, device="cpu"), DATA, DEV, progress=False,
              max_steps=2)


def test_bucketed_batches_cover_every_text_once_in_similar_lengths() -> None:
    import random

    lengths = [random.Random(i).randrange(5, 120) for i in range(1000)]
    batches = _bucketed_batches(lengths, 32, random.Random(1))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 20  # random batches of 32 spread over ~100
    again = _bucketed_batches(lengths, 32, random.Random(1))
    assert again == batches


def test_cli_pauses_and_resumes_with_the_same_command(tmp_path: Path, base: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv", cold_rows(), bom=True)
    write_csv(data / "dev.csv", cold_rows(ROWS[::2]), bom=True)
    out = tmp_path / "out"
    argv = ["train", "--base", str(base), "--data", str(data), "--out", str(out),
            "--epochs", "2", "--batch-size", "4", "--device", "cpu", "--counter", "4",
            "--checkpoint-dir", str(tmp_path / "ck"), "--max-steps", "2",
            "--bucket-by-length"]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(stdout) == {"paused": True, "checkpoint": str(tmp_path / "ck"),
                                  "epoch": 1, "position": 2, "steps": 2}
    assert not out.exists()
    for _ in range(5):
        code, stdout, err = run(capsys, *argv)
        assert code == 0, err
        if "paused" not in json.loads(stdout):
            break
    assert "resuming from" in err
    assert json.loads((out / "training.json").read_text())["train"]["n"] == len(ROWS) + 8
    code, stdout, err = run(capsys, *argv[:-3], "--max-steps", "0")
    assert code == 2 and "--max-steps" in err
