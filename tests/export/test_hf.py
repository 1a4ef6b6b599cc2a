"""``export --to hf``: standard and custom-code directories load in transformers and answer as we do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import has_qa_pipeline, our_predict, padded_batch, pipeline_answers, transformers_answers

from lit_distill.export import export_model
from lit_distill.export.source import load_source


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _logits(
    directory: Path, batch: dict[str, torch.Tensor], trust: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(directory), trust_remote_code=trust).eval()
    with torch.no_grad():
        out = model(**batch)
    return out.start_logits, out.end_logits


def _check_logits(directory: Path, model: Any, trust: bool, length_config: Any = None) -> None:
    for seed, (b, n) in enumerate([(3, 20), (1, 9)]):
        batch = padded_batch(model.config.vocab_size, b, n, seed)
        start, end = _logits(directory, batch, trust)
        with torch.no_grad():
            ours = model(**batch, length_config=length_config)
        mask = batch["attention_mask"].bool()
        torch.testing.assert_close(start[mask], ours.start_logits[mask], atol=1e-5, rtol=0)
        torch.testing.assert_close(end[mask], ours.end_logits[mask], atol=1e-5, rtol=0)


def test_uniform_model_becomes_plain_bert(
    uniform_dir: Path, eval_file: Path, tmp_path: Path, tokenizer: Any
) -> None:
    out = tmp_path / "hf"
    result = export_model(uniform_dir, "hf", out, eval_file=eval_file, threads=1, log=lambda _: None)
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and "auto_map" not in config
    assert not list(out.glob("*.py"))  # no custom code
    model = load_source(uniform_dir).model
    _check_logits(out, model, trust=False)
    ours = our_predict(model, tokenizer, eval_file)
    assert transformers_answers(out, eval_file, trust_remote_code=False) == ours
    if has_qa_pipeline():
        assert pipeline_answers(out, eval_file, trust_remote_code=False) == ours
    card = (out / "README.md").read_text()
    assert f"{result.metrics['f1']:.2f}" in card and "trust_remote_code" not in card  # type: ignore[index]


def test_pruned_checkpoint_uses_custom_code(
    pruned_ckpt: Path, eval_file: Path, tmp_path: Path, tokenizer: Any
) -> None:
    out = tmp_path / "hf"
    export_model(pruned_ckpt, "hf", out, log=lambda _: None)
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoModelForQuestionAnswering"].startswith("modeling_lit_distill.")
    assert config["encoder"]["heads_per_layer"] == [4, 2, 3]
    assert config["encoder"]["intermediate_per_layer"] == [37, 9, 20]
    model = load_source(pruned_ckpt).model
    _check_logits(out, model, trust=True)
    ours = our_predict(model, tokenizer, eval_file)
    assert transformers_answers(out, eval_file, trust_remote_code=True) == ours
    if has_qa_pipeline():
        assert pipeline_answers(out, eval_file, trust_remote_code=True) == ours
    card = (out / "README.md").read_text()
    assert "trust_remote_code=True" in card and "alpha_ce" in card and "runs/teacher" in card
    # The optimiser's recipe (TinyBERT's constant schedule and per-tensor clipping) is on the card too.
    assert '| lr_schedule | `"constant"` |' in card and "| clip_grad_per_tensor | `1.0` |" in card


def test_length_config_is_the_custom_model_default(
    uniform_dir: Path, eval_file: Path, tmp_path: Path, tokenizer: Any
) -> None:
    out = tmp_path / "hf"
    lengths = [0.8, 0.5, 0.3]
    export_model(uniform_dir, "hf", out, length_config="[0.8,0.5,0.3]", log=lambda _: None)
    assert json.loads((out / "config.json").read_text())["length_config"] == lengths
    model = load_source(uniform_dir).model
    _check_logits(out, model, trust=True, length_config=lengths)
    ours = our_predict(model, tokenizer, eval_file, lengths)
    assert transformers_answers(out, eval_file, trust_remote_code=True) == ours
    if has_qa_pipeline():
        assert pipeline_answers(out, eval_file, trust_remote_code=True) == ours
