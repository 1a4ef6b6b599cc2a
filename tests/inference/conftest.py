"""A tiny teacher trained by the module tests' helpers on synthetic SQuAD 2.0 data, and its exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lit_distill.export import export_model
from tests.modules.conftest import SEQ, make_datamodule, trainer

SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": SEQ,
}


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``ckpt``: a teacher trained for a few steps (its validation records a tuned threshold);
    ``dev``: its synthetic SQuAD 2.0 validation file; ``tokenizer``: the synthetic data's tokenizer."""
    from lit_distill.modules import Teacher

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("trained")
    dm = make_datamodule(root / "data")
    module = Teacher(model_config=SMALL, learning_rate=3e-3)
    t = trainer(root, limit_train_batches=6, num_sanity_val_steps=0, max_epochs=1)
    t.fit(module, datamodule=dm)
    assert module.tuned_threshold is not None  # the validation of SQuAD 2.0 data tuned it
    ckpt = root / "tiny.ckpt"
    t.save_checkpoint(ckpt)
    data = dm.source.directory(dm.cache_dir)  # type: ignore[attr-defined]
    return {"ckpt": ckpt, "dev": data / "dev.json", "tokenizer": data / "tokenizer", "cache": root / "data"}


def _export(trained: dict[str, Path], out: Path, **kwargs: Any) -> Path:
    export_model(
        trained["ckpt"],
        output=out,
        eval_file=trained["dev"],
        tokenizer=str(trained["tokenizer"]),
        threads=1,
        log=lambda _: None,
        **kwargs,
    )
    return out


@pytest.fixture(scope="session")
def exports(trained: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The trained teacher exported: ``tuned`` (HF, with the threshold its validation tuned), and
    ``hf``, ``onnx``, ``int8`` with the median no-answer margin of the dev questions as threshold,
    so that about half of the answers are spans and half are "no answer" (a model this small
    learns little: its tuned threshold answers nothing)."""
    from lit_distill.inference import QuestionAnswerer
    from lit_distill.inference.questions import read_questions

    root = tmp_path_factory.mktemp("exports")
    torch.set_num_threads(1)
    tuned = _export(trained, root / "tuned", to="hf")
    qa = QuestionAnswerer.from_artifact(tuned)
    spans = qa.predict_examples(read_questions(trained["dev"])).spans
    margin = float(np.median([s.null_score_diff for s in spans.values()]))
    return {
        "tuned": tuned,
        "hf": _export(trained, root / "hf", to="hf", null_score_diff_threshold=margin),
        "onnx": _export(trained, root / "onnx", to="onnx", null_score_diff_threshold=margin),
        "int8": _export(trained, root / "int8", to="onnx", int8=True, null_score_diff_threshold=margin),
    }


WORDS = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "lives",
    "in",
    "paris",
    "london",
    "rome",
    "oslo",
    "lisbon",
    "vienna",
    "prague",
    "dublin",
    "and",
    "works",
    "at",
    "the",
    "bank",
    "school",
    "this",
    "is",
    "request",
    "where",
    "does",
    "who",
    "what",
    ".",
    "?",
    ",",
]


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer model with a word-level vocabulary, exported as an ONNX graph (fp32)."""
    from transformers import AutoTokenizer

    from lit_distill.models.config import EncoderConfig
    from lit_distill.models.loading import wordpiece_tokenizer
    from lit_distill.models.qa_model import QAModel

    root = tmp_path_factory.mktemp("tiny")
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    wordpiece_tokenizer(root / "vocab.txt").save_pretrained(str(root / "tok"))
    tokenizer = AutoTokenizer.from_pretrained(str(root / "tok"))
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    model = QAModel(config).eval()
    with torch.no_grad():  # a visible QA head: random logits of a realistic spread
        model.qa_outputs.weight.normal_(0.0, 1.0)
    model.save(root / "model", tokenizer=tokenizer)
    export_model(root / "model", "onnx", root / "onnx", log=lambda _: None)
    return root / "onnx"
