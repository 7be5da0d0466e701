"""Recover a pretrained Chinese BERT encoder from the int8 ONNX model inside a pinned PyPI wheel.

No model hub is reachable from the machines this project runs on, but the Apache-2.0 wheel
`wordformat==1.7.0` ships `uer/chinese_roberta_L-4_H-256` (fine-tuned on a 22-class thesis
task) as a dynamically quantized ONNX graph. This script:

1. downloads the pinned wheel with pip (`--no-deps`) and checks its SHA-256;
2. dequantizes every initializer, `(q - zero_point) * scale` per tensor. The anonymous
   `MatMulInteger` weights are named by following MatMulInteger -> Cast -> Mul ->
   Add(<module>.bias);
   they are stored (in, out), so they are transposed into torch `Linear` (out, in) weights;
3. loads them into a `BertForSequenceClassification` of the wheel's shape and checks its logits
   against onnxruntime on sample texts (the graph also quantizes activations, so agreement is
   close, not exact);
4. writes the encoder (`BertModel`, pooler included) and a lowercasing WordPiece tokenizer with
   `save_pretrained`. The wheel's tokenizer has lowercasing off although its vocabulary holds no
   capital Latin letters, so every capital would become [UNK].

Usage:
    python scripts/build_base_model.py --out .work/base/wordformat-l4-h256
    python scripts/build_base_model.py --wheel path/to/wordformat-1.7.0-py3-none-any.whl --out DIR

Needs the `train` extra (onnx, onnxruntime).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# Pinned wheels: version -> (sha256 of the wheel, model file inside it).
WHEELS: dict[str, tuple[str, str]] = {
    "1.7.0": (
        "124c09c3f4643d1fad6840890bfbde65cdef7313bc78fca6dc227dfbc3fd131e",
        "wordformat/data/model/thesis_paragraph_classifier_int8.onnx",
    ),
}
TOKENIZER_MEMBER = "wordformat/data/model/tokenizer.json"
MIN_LOGIT_COSINE = 0.99
SAMPLES = (
    "这个地区的人素质真差，别来我们这里。",
    "我支持男女平等，反对任何形式的地域歧视。",
    "Hello World，今天天气不错。",
    "政府网站的留言板什么时候能回复我的问题？",
    "黑人和白人都是人，不应该被区别对待",
    "第一章 绪论",
    "参考文献",
    "本文研究了基于深度学习的中文文本分类方法，实验表明该方法有效。",
)


@dataclass(frozen=True)
class Dequantized:
    """Float weights keyed by torch module path (`encoder.layer.0.attention.self.query.weight`)."""

    tensors: dict[str, np.ndarray]
    num_labels: int


def download_wheel(version: str, dest: Path) -> Path:
    """Fetch the pinned wheel with pip (the only network access; registries are reachable)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"wordformat=={version}", "-d", str(dest)]
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    found = sorted(dest.glob(f"wordformat-{version}-*.whl"))
    if not found:
        raise SystemExit(f"pip did not produce a wordformat {version} wheel in {dest}")
    return found[0]


def check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise SystemExit(f"{path.name}: sha256 {digest} does not match the pinned {expected}")


def _torch_name(onnx_name: str) -> str:
    """`m.bert.encoder.layer.0.attention.self.query.bias` -> `bert.encoder.layer.0....bias`."""
    for anchor in ("bert.", "classifier."):
        idx = onnx_name.find(anchor)
        if idx >= 0:
            return onnx_name[idx:]
    raise ValueError(f"cannot place {onnx_name!r} in a BERT module")


def dequantize_graph(onnx_path: Path) -> Dequantized:
    """Turn the quantized initializers into float tensors named like a torch BERT."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def deq(prefix: str) -> np.ndarray:
        q = inits[f"{prefix}_quantized"].astype(np.float32)
        zero = inits[f"{prefix}_zero_point"].astype(np.float32)
        return (q - zero) * inits[f"{prefix}_scale"].astype(np.float32)

    out: dict[str, np.ndarray] = {}
    for name, arr in inits.items():  # float tensors: biases and LayerNorm parameters
        if arr.dtype == np.float32 and arr.ndim == 1 and ("bert." in name or "classifier" in name):
            out[_torch_name(name)] = arr
    for name in inits:
        if name.endswith("_embeddings.weight_quantized"):
            prefix = name.removesuffix("_quantized")
            out[_torch_name(prefix)] = deq(prefix)
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        weight = next(i for i in node.input if i in inits and i.endswith("_quantized"))
        cur, bias = node, None
        for _ in range(6):
            nxt = consumers.get(cur.output[0], [])
            if not nxt:
                break
            cur = nxt[0]
            names = [i for i in cur.input if i in inits and i.endswith(".bias")]
            if cur.op_type == "Add" and names:
                bias = names[0]
                break
        if bias is None:
            raise ValueError(f"no bias found after MatMulInteger on {weight}")
        module = _torch_name(bias).removesuffix(".bias")
        out[module + ".weight"] = deq(weight.removesuffix("_quantized")).T.copy()
    num_labels = int(out["classifier.weight"].shape[0])
    return Dequantized(tensors=out, num_labels=num_labels)


def build_model(deq: Dequantized):
    from transformers import BertConfig, BertForSequenceClassification

    t = deq.tensors
    hidden = t["bert.embeddings.word_embeddings.weight"].shape[1]
    layers = 1 + max(int(k.split(".")[3]) for k in t if k.startswith("bert.encoder.layer."))
    config = BertConfig(
        vocab_size=t["bert.embeddings.word_embeddings.weight"].shape[0],
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=t["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=t["bert.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=t["bert.embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=1e-12,
        hidden_act="gelu",
        num_labels=deq.num_labels,
    )
    model = BertForSequenceClassification(config).eval()
    state = {k: torch.from_numpy(np.array(v)) for k, v in t.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit BERT: missing={missing} unexpected={unexpected}")
    return model


def make_tokenizer(tokenizer_json: bytes):
    """A lowercasing BERT WordPiece tokenizer over the wheel's vocabulary.

    Checked against the wheel's own tokenizer on lowercased samples, so ids match the graph's.
    """
    from tokenizers import Tokenizer
    from transformers import BertTokenizer

    vocab = json.loads(tokenizer_json)["model"]["vocab"]
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=512)
    wheel_tok = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    wheel_tok.no_padding()
    wheel_tok.no_truncation()
    for text in SAMPLES:
        ours = tokenizer(text)["input_ids"]
        theirs = wheel_tok.encode(text.lower()).ids
        if ours != theirs:
            raise SystemExit(f"tokenizer mismatch on {text!r}: {ours} != {theirs}")
    unk = sum(tokenizer(t)["input_ids"].count(tokenizer.unk_token_id) for t in SAMPLES)
    if unk:
        raise SystemExit(f"{unk} [UNK] tokens in the samples: vocabulary not loaded")
    return tokenizer


def verify(model, onnx_path: Path, tokenizer) -> float:
    """Worst cosine between torch and onnxruntime logits over the samples; exits if too low."""
    import onnxruntime as ort

    enc = tokenizer(list(SAMPLES), padding=True, truncation=True, max_length=128,
                    return_tensors="np")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = session.run(["logits"], {"input_ids": enc["input_ids"].astype(np.int64),
                                   "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
    with torch.inference_mode():
        got = model(input_ids=torch.from_numpy(enc["input_ids"]).long(),
                    attention_mask=torch.from_numpy(enc["attention_mask"]).long()).logits.numpy()
    cos = (ref * got).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    print(f"verify: logits cosine min {cos.min():.4f} mean {cos.mean():.4f}, "
          f"argmax agreement {agree:.2f}, max abs diff {np.abs(ref - got).max():.3f}",
          file=sys.stderr)
    if cos.min() < MIN_LOGIT_COSINE:
        raise SystemExit(f"converted model disagrees with the ONNX graph (cosine {cos.min():.4f})")
    return float(cos.min())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--version", default="1.7.0", choices=sorted(WHEELS))
    parser.add_argument("--wheel", type=Path, help="use this wheel file instead of downloading")
    args = parser.parse_args(argv)

    sha, member = WHEELS[args.version]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel = args.wheel or download_wheel(args.version, tmp / "wheel")
        check_sha256(wheel, sha)
        with zipfile.ZipFile(wheel) as zf:
            onnx_path = tmp / "model.onnx"
            onnx_path.write_bytes(zf.read(member))
            tokenizer = make_tokenizer(zf.read(TOKENIZER_MEMBER))
        model = build_model(dequantize_graph(onnx_path))
        cosine = verify(model, onnx_path, tokenizer)

    args.out.mkdir(parents=True, exist_ok=True)
    encoder = model.bert
    encoder.config.architectures = ["BertModel"]
    encoder.config.id2label = {0: "LABEL_0", 1: "LABEL_1"}
    encoder.config.label2id = {"LABEL_0": 0, "LABEL_1": 1}
    encoder.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    provenance = {
        "source": f"PyPI wordformat=={args.version} ({member})",
        "wheel_sha256": sha,
        "upstream": "uer/chinese_roberta_L-4_H-256, fine-tuned on a thesis-paragraph task",
        "license": "Apache-2.0",
        "conversion": "per-tensor dequantization, MatMulInteger weights transposed",
        "verify_min_logit_cosine": round(cosine, 4),
    }
    (args.out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
