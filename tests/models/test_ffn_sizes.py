"""Per-layer feed-forward widths: config, encoder, save/load, FLOPs, Hugging Face export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    BertConfig,
    BertForQuestionAnswering,
    DistilBertConfig,
    DistilBertForQuestionAnswering,
)

from lit_distill.commands.bench import model_shape
from lit_distill.models import EncoderConfig, QAModel
from lit_distill.models.convert import hf_config_from_encoder, state_dict_from_hf, state_dict_to_hf
from lit_distill.models.flops import forward_flops

from ._tiny import make_batch, tiny_model

TOL = dict(atol=1e-5, rtol=0.0)


def narrow_model(widths: list[int], **kw: object) -> QAModel:
    return tiny_model(num_layers=len(widths), intermediate_per_layer=widths, **kw)


def test_none_means_intermediate_size_everywhere() -> None:
    config = EncoderConfig(num_hidden_layers=3, intermediate_size=40)
    assert config.layer_intermediate_sizes == [40, 40, 40]
    assert EncoderConfig(num_hidden_layers=2, intermediate_per_layer=[5, 40]).layer_intermediate_sizes == [
        5,
        40,
    ]


@pytest.mark.parametrize(
    ("widths", "match"),
    [
        ([10, 10], r"has 2 entries but num_hidden_layers is 3"),
        ([10, 0, 10], r"intermediate_per_layer\[1\]=0; allowed: an integer in \[1, 37\]"),
        ([10, 10, 38], r"intermediate_per_layer\[2\]=38; allowed: an integer in \[1, 37\]"),
        ([10, 2.5, 10], r"intermediate_per_layer\[1\]=2.5"),
    ],
)
def test_invalid_widths_name_the_index_and_range(widths: list[object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EncoderConfig(num_hidden_layers=3, intermediate_size=37, intermediate_per_layer=widths)  # type: ignore[arg-type]


def test_encoder_builds_each_width_and_saves_and_loads_it(tmp_path: Path) -> None:
    model = narrow_model([5, 37, 12])
    shapes = [(layer.ffn_in.weight.shape, layer.ffn_out.weight.shape) for layer in model.encoder.layers]
    assert shapes == [((5, 32), (32, 5)), ((37, 32), (32, 37)), ((12, 32), (32, 12))]
    loaded = QAModel.from_pretrained(model.save(tmp_path / "m")).eval()
    assert loaded.config.intermediate_per_layer == [5, 37, 12]
    batch = make_batch()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).start_logits, model(**batch).start_logits, **TOL)


def test_flops_and_parameters_count_each_layers_width() -> None:
    full, narrow = tiny_model(num_layers=2), narrow_model([37, 10])
    hidden, n = 32, 20
    # the narrow layer lacks 27 neurons: 2 matmuls of n x H x 27 multiply-adds (2 FLOPs each)
    assert forward_flops(full.config, n) - forward_flops(narrow.config, n) == 2 * 2 * n * hidden * 27
    # each neuron holds a row of ffn_in (H weights + 1 bias) and a column of ffn_out (H weights)
    full_params = sum(p.numel() for p in full.parameters())
    assert full_params - sum(p.numel() for p in narrow.parameters()) == 27 * (2 * hidden + 1)
    shape = model_shape(narrow)  # what `bench` prints and writes
    assert shape["intermediate_per_layer"] == [37, 10] and shape["heads_per_layer"] == [4, 4]
    assert shape["num_parameters"] == full_params - 27 * (2 * hidden + 1)


@pytest.mark.parametrize(("layout", "act"), [("bert", "gelu"), ("distilbert", "relu")])
def test_hugging_face_export_pads_with_zero_neurons_exactly(layout: str, act: str) -> None:
    model = narrow_model(
        [5, 37, 12], layout=layout, hidden_act=act, type_vocab_size=0 if layout == "distilbert" else 2
    )
    with torch.no_grad():  # a visible QA head
        model.qa_outputs.weight.normal_(0.0, 1.0)
    hf_dict = hf_config_from_encoder(model.config)
    hf_dict.pop("model_type"), hf_dict.pop("architectures")
    if layout == "bert":
        hf = BertForQuestionAnswering(BertConfig(**hf_dict, attn_implementation="eager")).eval()
    else:
        hf = DistilBertForQuestionAnswering(DistilBertConfig(**hf_dict)).eval()
    state = state_dict_to_hf(model.state_dict(), model.config)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing)
    batch = make_batch()
    kwargs = {"token_type_ids": batch["token_type_ids"]} if layout == "bert" else {}
    with torch.no_grad():
        ref = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
        ours = model(batch["input_ids"], batch["attention_mask"], **kwargs)
    torch.testing.assert_close(ref.start_logits, ours.start_logits, **TOL)
    torch.testing.assert_close(ref.end_logits, ours.end_logits, **TOL)
    # reading the padded checkpoint back gives the full width (padding is kept, not guessed away)
    plain = EncoderConfig.from_dict({**model.config.to_dict(), "intermediate_per_layer": None})
    _, config, _ = state_dict_from_hf(state, plain)
    assert config.layer_intermediate_sizes == [37, 37, 37]


def test_narrow_hugging_face_weights_load_with_their_widths() -> None:
    model = narrow_model([5, 37, 12])
    config = EncoderConfig.from_dict({**model.config.to_dict(), "intermediate_per_layer": None})
    hf_state = _unpadded_hf_state(model)
    ours, loaded, _ = state_dict_from_hf(hf_state, config)
    assert loaded.intermediate_per_layer == [5, 37, 12]
    rebuilt = QAModel(loaded).eval()
    rebuilt.load_state_dict(ours)
    batch = make_batch()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(**batch).start_logits, model(**batch).start_logits, **TOL)


def _unpadded_hf_state(model: QAModel) -> dict[str, torch.Tensor]:
    """Hugging Face names for our weights at their pruned widths (as a pruned HF checkpoint has them)."""
    state = state_dict_to_hf(model.state_dict(), model.config)
    for i, width in enumerate(model.config.layer_intermediate_sizes):
        prefix = f"bert.encoder.layer.{i}"
        state[f"{prefix}.intermediate.dense.weight"] = state[f"{prefix}.intermediate.dense.weight"][:width]
        state[f"{prefix}.intermediate.dense.bias"] = state[f"{prefix}.intermediate.dense.bias"][:width]
        state[f"{prefix}.output.dense.weight"] = state[f"{prefix}.output.dense.weight"][:, :width]
    return state
