"""Hugging Face BERT / DistilBERT / TinyBERT checkpoints <-> the project's state dict (pure functions).

Supported checkpoint types:

* ``bert``: ``BertModel``, ``BertForQuestionAnswering``, ``BertForPreTraining``
  and other heads (only the encoder and a ``qa_outputs`` head are read);
* TinyBERT general checkpoints: BERT layout, a ``config.json`` without
  ``model_type`` and sometimes ``fit_dense``, the student-to-teacher projection learned
  in general distillation: :class:`QAModel` does not use it (it is reported as ignored),
  but the conversion keeps it in :attr:`ConversionReport.fit_dense` and
  :func:`fit_dense_from_hf` reads it, for TinyBERT's intermediate-layer distillation;
* ``distilbert``: ``DistilBertModel``, ``DistilBertForQuestionAnswering``, ...

Anything else raises a ``UserInputError`` listing these types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from lit_distill.checks import UserInputError
from lit_distill.models.config import EncoderConfig

SUPPORTED_TYPES: tuple[str, ...] = ("bert", "distilbert", "tinybert (BERT layout without model_type)")

# (Hugging Face name, our name) below the embeddings / a layer, per layout.
_EMBEDDINGS = {
    "bert": [
        ("embeddings.word_embeddings", "encoder.embeddings.word"),
        ("embeddings.position_embeddings", "encoder.embeddings.position"),
        ("embeddings.token_type_embeddings", "encoder.embeddings.token_type"),
        ("embeddings.LayerNorm", "encoder.embeddings.norm"),
    ],
    "distilbert": [
        ("embeddings.word_embeddings", "encoder.embeddings.word"),
        ("embeddings.position_embeddings", "encoder.embeddings.position"),
        ("embeddings.LayerNorm", "encoder.embeddings.norm"),
    ],
}
_LAYER_PREFIX = {"bert": "encoder.layer", "distilbert": "transformer.layer"}
_LAYER = {
    "bert": [
        ("attention.output.dense", "attn_out"),
        ("attention.output.LayerNorm", "attn_norm"),
        ("intermediate.dense", "ffn_in"),
        ("output.dense", "ffn_out"),
        ("output.LayerNorm", "ffn_norm"),
    ],
    "distilbert": [
        ("attention.out_lin", "attn_out"),
        ("sa_layer_norm", "attn_norm"),
        ("ffn.lin1", "ffn_in"),
        ("ffn.lin2", "ffn_out"),
        ("output_layer_norm", "ffn_norm"),
    ],
}
_QKV = {
    "bert": ("attention.self.query", "attention.self.key", "attention.self.value"),
    "distilbert": ("attention.q_lin", "attention.k_lin", "attention.v_lin"),
}
_BASE_PREFIX = {"bert": "bert.", "distilbert": "distilbert."}
# Buffers some checkpoints carry that hold no learned information.
_SILENT = re.compile(r"(^|\.)(position_ids|token_type_ids)$")


@dataclass
class ConversionReport:
    """What a conversion kept, dropped and could not find."""

    ignored: list[str] = field(
        default_factory=list
    )  # checkpoint keys not used (pooler, MLM head, fit_dense...)
    missing: list[str] = field(
        default_factory=list
    )  # our keys the checkpoint lacks (only the QA head may be)
    fit_dense: dict[str, Tensor] = field(
        default_factory=dict
    )  # TinyBERT's projection: {"weight": (H_teacher, H_student), "bias": (H_teacher,)}


def detect_checkpoint_type(hf_config: dict[str, Any]) -> str:
    """``"bert"`` or ``"distilbert"`` for a Hugging Face ``config.json`` dictionary.

    TinyBERT's general checkpoints have no ``model_type``; their keys identify the BERT layout.

    Raises:
        UserInputError: for any other model type, listing the supported ones.
    """
    model_type = hf_config.get("model_type")
    if model_type is None:
        if {"dim", "n_layers", "n_heads"} <= hf_config.keys():
            return "distilbert"
        if {"hidden_size", "num_hidden_layers", "num_attention_heads"} <= hf_config.keys():
            return "bert"
    elif model_type in ("bert", "distilbert"):
        return str(model_type)
    raise UserInputError(
        f"unsupported checkpoint type {model_type!r} (architectures {hf_config.get('architectures')}); "
        f"supported: {', '.join(SUPPORTED_TYPES)}"
    )


def encoder_config_from_hf(hf_config: dict[str, Any], source: str | None = None) -> EncoderConfig:
    """Translate a Hugging Face ``config.json`` dictionary into an :class:`EncoderConfig`."""
    kind = detect_checkpoint_type(hf_config)
    if kind == "distilbert":
        return EncoderConfig(
            vocab_size=hf_config.get("vocab_size", 30522),
            hidden_size=hf_config.get("dim", 768),
            num_hidden_layers=hf_config.get("n_layers", 6),
            num_attention_heads=hf_config.get("n_heads", 12),
            intermediate_size=hf_config.get("hidden_dim", 3072),
            hidden_act=hf_config.get("activation", "gelu"),
            max_position_embeddings=hf_config.get("max_position_embeddings", 512),
            type_vocab_size=0,
            layer_norm_eps=1e-12,
            hidden_dropout_prob=hf_config.get("dropout", 0.1),
            attention_probs_dropout_prob=hf_config.get("attention_dropout", 0.1),
            qa_dropout_prob=hf_config.get("qa_dropout", 0.1),
            initializer_range=hf_config.get("initializer_range", 0.02),
            pad_token_id=hf_config.get("pad_token_id", 0) or 0,
            layout="distilbert",
            sinusoidal_position_embeddings=bool(hf_config.get("sinusoidal_pos_embds", False)),
            source=source,
        )
    position_type = hf_config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise UserInputError(
            f"position_embedding_type={position_type!r} is not supported; allowed: 'absolute' (source {source})"
        )
    return EncoderConfig(
        vocab_size=hf_config.get("vocab_size", 30522),
        hidden_size=hf_config.get("hidden_size", 768),
        num_hidden_layers=hf_config.get("num_hidden_layers", 12),
        num_attention_heads=hf_config.get("num_attention_heads", 12),
        intermediate_size=hf_config.get("intermediate_size", 3072),
        hidden_act=hf_config.get("hidden_act", "gelu"),
        max_position_embeddings=hf_config.get("max_position_embeddings", 512),
        type_vocab_size=hf_config.get("type_vocab_size", 2),
        layer_norm_eps=hf_config.get("layer_norm_eps", 1e-12),
        hidden_dropout_prob=hf_config.get("hidden_dropout_prob", 0.1),
        attention_probs_dropout_prob=hf_config.get("attention_probs_dropout_prob", 0.1),
        qa_dropout_prob=0.0,
        initializer_range=hf_config.get("initializer_range", 0.02),
        pad_token_id=hf_config.get("pad_token_id", 0) or 0,
        layout="bert",
        source=source,
    )


def _normalise_key(key: str) -> str:
    """Old TensorFlow-era names: LayerNorm ``gamma``/``beta`` -> ``weight``/``bias``."""
    if key.endswith(".gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith(".beta"):
        return key[: -len("beta")] + "bias"
    return key


def state_dict_from_hf(
    hf_state: dict[str, Tensor], config: EncoderConfig
) -> tuple[dict[str, Tensor], EncoderConfig, ConversionReport]:
    """Map a Hugging Face state dict onto ours.

    Head counts per layer are read from the weight shapes, so checkpoints saved
    after Hugging Face head pruning load too.

    Args:
        hf_state: Checkpoint tensors (with or without the ``bert.`` / ``distilbert.`` prefix).
        config: Config from :func:`encoder_config_from_hf`.

    Returns:
        ``(state_dict, config, report)``; ``config`` has ``heads_per_layer`` filled in
        when a layer has fewer heads than ``num_attention_heads``, and
        ``intermediate_per_layer`` when a layer's feed-forward block is narrower than
        ``intermediate_size``.

    Raises:
        UserInputError: when encoder weights are missing (a QA head may be missing).
    """
    layout = config.layout
    prefix = _BASE_PREFIX[layout]
    source: dict[str, str] = {}  # normalised name -> original key
    for key in hf_state:
        name = _normalise_key(key)
        source[name[len(prefix) :] if name.startswith(prefix) else name] = key
    used: set[str] = set()

    def take(name: str) -> Tensor | None:
        key = source.get(name)
        if key is None:
            return None
        used.add(key)
        return hf_state[key]

    ours: dict[str, Tensor] = {}
    wanted: list[str] = []
    for hf_name, our_name in _EMBEDDINGS[layout]:
        params = ("weight", "bias") if "norm" in our_name else ("weight",)
        if our_name.endswith("token_type") and config.type_vocab_size == 0:
            continue
        for p in params:
            wanted.append(f"{our_name}.{p}")
            tensor = take(f"{hf_name}.{p}")
            if tensor is not None:
                ours[f"{our_name}.{p}"] = tensor
    heads: list[int] = []
    widths: list[int] = []
    for i in range(config.num_hidden_layers):
        hf_layer = f"{_LAYER_PREFIX[layout]}.{i}"
        for hf_name, our_name in _LAYER[layout]:
            for p in ("weight", "bias"):
                wanted.append(f"encoder.layers.{i}.{our_name}.{p}")
                tensor = take(f"{hf_layer}.{hf_name}.{p}")
                if tensor is not None:
                    ours[f"encoder.layers.{i}.{our_name}.{p}"] = tensor
        for p in ("weight", "bias"):
            wanted.append(f"encoder.layers.{i}.qkv.{p}")
            parts = [take(f"{hf_layer}.{name}.{p}") for name in _QKV[layout]]
            if all(t is not None for t in parts):
                ours[f"encoder.layers.{i}.qkv.{p}"] = torch.cat([t for t in parts if t is not None], dim=0)
        qkv = ours.get(f"encoder.layers.{i}.qkv.weight")
        heads.append(
            config.num_attention_heads if qkv is None else qkv.shape[0] // (3 * config.attention_head_size)
        )
        ffn_in = ours.get(f"encoder.layers.{i}.ffn_in.weight")
        widths.append(config.intermediate_size if ffn_in is None else int(ffn_in.shape[0]))
    for p in ("weight", "bias"):
        wanted.append(f"qa_outputs.{p}")
        tensor = take(f"qa_outputs.{p}")
        if tensor is not None:
            ours[f"qa_outputs.{p}"] = tensor

    report = ConversionReport(
        ignored=sorted(k for k in hf_state if k not in used and not _SILENT.search(k)),
        missing=[k for k in wanted if k not in ours],
        fit_dense=fit_dense_from_hf(hf_state) or {},
    )
    encoder_missing = [k for k in report.missing if not k.startswith("qa_outputs.")]
    if encoder_missing:
        raise UserInputError(
            f"checkpoint {config.source or ''} lacks encoder weights for a {layout} model with "
            f"{config.num_hidden_layers} layers: {encoder_missing[:8]}"
            f"{' ...' if len(encoder_missing) > 8 else ''}"
        )
    if any(h != config.num_attention_heads for h in heads):
        config = EncoderConfig.from_dict({**config.to_dict(), "heads_per_layer": heads})
    if any(w != config.intermediate_size for w in widths):
        config = EncoderConfig.from_dict({**config.to_dict(), "intermediate_per_layer": widths})
    return ours, config, report


def fit_dense_from_hf(hf_state: dict[str, Tensor]) -> dict[str, Tensor] | None:
    """TinyBERT's ``fit_dense`` (student width → teacher width) from a checkpoint, if it has one.

    The general TinyBERT checkpoints store it at the top level (``fit_dense.weight``
    (H_teacher, H_student), ``fit_dense.bias`` (H_teacher,)); TinyBERT's task distillation
    loads it and fine-tunes it as the projection of its intermediate-layer losses.

    Raises:
        UserInputError: a checkpoint with only one of the two tensors, or with shapes that do not fit.
    """
    found = {name: hf_state.get(f"fit_dense.{name}") for name in ("weight", "bias")}
    if found["weight"] is None and found["bias"] is None:
        return None
    weight, bias = found["weight"], found["bias"]
    if weight is None or bias is None or weight.dim() != 2 or tuple(bias.shape) != (weight.shape[0],):
        shapes = {k: None if v is None else tuple(v.shape) for k, v in found.items()}
        raise UserInputError(
            f"fit_dense must have a (teacher, student) weight and a (teacher,) bias, got shapes {shapes}"
        )
    return {"weight": weight, "bias": bias}


def state_dict_to_hf(state: dict[str, Tensor], config: EncoderConfig) -> dict[str, Tensor]:
    """Our state dict -> a Hugging Face ``BertForQuestionAnswering`` / ``DistilBertForQuestionAnswering`` one.

    Hugging Face BERT and DistilBERT have one feed-forward width for every layer, so a
    layer narrowed by FFN pruning (``intermediate_per_layer``) is padded back to
    ``intermediate_size`` with zero neurons: zero rows of the first linear layer, zero
    bias, zero columns of the second. A padded neuron's output is multiplied by its
    zero column, so it adds exactly nothing whatever the activation: the padded model
    computes what the pruned one does (but not faster; :func:`lit_distill.export.hf_export.save_hf`
    therefore writes pruned models with the custom-code encoder instead).

    Raises:
        ValueError: for a model with pruned heads (Hugging Face 5 cannot load those).
    """
    if config.heads_per_layer is not None and any(
        h != config.num_attention_heads for h in config.layer_heads
    ):
        raise ValueError(
            f"cannot export a model with pruned heads (heads_per_layer={config.heads_per_layer}) to "
            "Hugging Face format; transformers 5 has no per-layer head counts. Save it with QAModel.save instead"
        )
    layout = config.layout
    prefix = _BASE_PREFIX[layout]
    out: dict[str, Tensor] = {}
    for hf_name, our_name in _EMBEDDINGS[layout]:
        for p in ("weight", "bias"):
            if f"{our_name}.{p}" in state:
                out[f"{prefix}{hf_name}.{p}"] = state[f"{our_name}.{p}"]
    for i in range(config.num_hidden_layers):
        hf_layer = f"{prefix}{_LAYER_PREFIX[layout]}.{i}"
        for hf_name, our_name in _LAYER[layout]:
            for p in ("weight", "bias"):
                tensor = state[f"encoder.layers.{i}.{our_name}.{p}"]
                out[f"{hf_layer}.{hf_name}.{p}"] = _pad_ffn(tensor, our_name, p, config.intermediate_size)
        for p in ("weight", "bias"):
            parts = state[f"encoder.layers.{i}.qkv.{p}"].chunk(3, dim=0)
            for name, part in zip(_QKV[layout], parts, strict=True):
                out[f"{hf_layer}.{name}.{p}"] = part.clone()
    for p in ("weight", "bias"):
        out[f"qa_outputs.{p}"] = state[f"qa_outputs.{p}"]
    return out


def _pad_ffn(tensor: Tensor, our_name: str, param: str, width: int) -> Tensor:
    """Zero-pad a pruned feed-forward tensor to ``width`` neurons (``ffn_in`` rows, ``ffn_out`` columns)."""
    if our_name == "ffn_in" and tensor.shape[0] < width:
        pad = tensor.new_zeros((width - tensor.shape[0], *tensor.shape[1:]))  # (missing, H) or (missing,)
        return torch.cat([tensor, pad], dim=0)
    if our_name == "ffn_out" and param == "weight" and tensor.shape[1] < width:
        return torch.cat([tensor, tensor.new_zeros(tensor.shape[0], width - tensor.shape[1])], dim=1)
    return tensor


def hf_config_from_encoder(config: EncoderConfig) -> dict[str, Any]:
    """A Hugging Face ``config.json`` dictionary for an unpruned model (inverse of :func:`encoder_config_from_hf`)."""
    if config.layout == "distilbert":
        return {
            "model_type": "distilbert",
            "architectures": ["DistilBertForQuestionAnswering"],
            "vocab_size": config.vocab_size,
            "dim": config.hidden_size,
            "n_layers": config.num_hidden_layers,
            "n_heads": config.num_attention_heads,
            "hidden_dim": config.intermediate_size,
            "activation": config.hidden_act,
            "max_position_embeddings": config.max_position_embeddings,
            "dropout": config.hidden_dropout_prob,
            "attention_dropout": config.attention_probs_dropout_prob,
            "qa_dropout": config.qa_dropout_prob,
            "initializer_range": config.initializer_range,
            "pad_token_id": config.pad_token_id,
            "sinusoidal_pos_embds": config.sinusoidal_position_embeddings,
        }
    return {
        "model_type": "bert",
        "architectures": ["BertForQuestionAnswering"],
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": config.hidden_act,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "layer_norm_eps": config.layer_norm_eps,
        "hidden_dropout_prob": config.hidden_dropout_prob,
        "attention_probs_dropout_prob": config.attention_probs_dropout_prob,
        "initializer_range": config.initializer_range,
        "pad_token_id": config.pad_token_id,
    }
