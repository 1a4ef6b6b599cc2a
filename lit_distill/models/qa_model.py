"""``QAModel``: the encoder plus a span head, with loading and saving.

Example::

    model = QAModel.from_pretrained("bert-base-uncased")  # QA head initialised (and reported)
    tokenizer = load_tokenizer("bert-base-uncased")
    out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                length_config=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.2, 0.2])
    model.save("out/student", tokenizer=tokenizer)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from lit_distill.file_modes import apply_umask
from lit_distill.models.config import EncoderConfig
from lit_distill.models.convert import ConversionReport, encoder_config_from_hf, state_dict_from_hf
from lit_distill.models.encoder import Encoder, sinusoidal_positions
from lit_distill.models.length import TokenSelection, check_length_config, check_token_selection
from lit_distill.models.loading import (
    HF_CONFIG,
    OWN_CONFIG,
    OWN_WEIGHTS,
    read_json,
    read_state_dict,
    resolve_directory,
)

log = logging.getLogger(__name__)


@dataclass
class QAOutput:
    """What :meth:`QAModel.forward` returns."""

    start_logits: Tensor  # (B, L)
    end_logits: Tensor  # (B, L)
    hidden_states: tuple[Tensor, ...] | None = None  # num_layers + 1 tensors (B, L, H), embeddings first
    attention_scores: tuple[Tensor, ...] | None = None  # num_layers tensors (B, h_l, L, L), pre-softmax


class QAModel(nn.Module):
    """BERT-family encoder with a span head (start/end logits per token).

    Args:
        config: Shape of the model; see :class:`EncoderConfig`.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.qa_dropout = nn.Dropout(config.qa_dropout_prob)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.apply(self._init_weights)
        if config.sinusoidal_position_embeddings:
            position = self.encoder.embeddings.position
            with torch.no_grad():
                position.weight.copy_(
                    sinusoidal_positions(config.max_position_embeddings, config.hidden_size)
                )
            position.weight.requires_grad_(False)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if (
                module is self.encoder.embeddings.word
                and 0 <= self.config.pad_token_id < module.num_embeddings
            ):
                with torch.no_grad():
                    module.weight[self.config.pad_token_id].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @property
    def num_layers(self) -> int:
        """Number of encoder layers."""
        return len(self.encoder.layers)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
        length_config: Sequence[int] | Sequence[float] | None = None,
        skip_layers: Sequence[int] | None = None,
        head_gates: Sequence[Tensor | None] | None = None,
        output_hidden_states: bool = False,
        output_attention_scores: bool = False,
        token_selection: TokenSelection = "real_queries",
    ) -> QAOutput:
        """Start/end logits for every token.

        Args:
            input_ids: (B, L) token ids.
            attention_mask: (B, L), 1 for real tokens, 0 for padding.
            token_type_ids: (B, L) segment ids (ignored by DistilBERT-layout models).
            length_config: Drop-and-Restore: per-layer token counts (ints in [1, L]) or
                ratios of each sequence's real length (floats in (0, 1]), non-increasing.
                ``None`` runs the plain encoder.
            skip_layers: Layer indices to skip (LayerDrop).
            head_gates: One (heads_l,) tensor (or None) per layer multiplying each head's
                output before the output projection; the gradient w.r.t. a gate is the
                head's importance (Michel et al. 2019).
            output_hidden_states: Also return embeddings and every layer's output (B, L, H);
                with a length configuration, dropped tokens keep their last vector.
            output_attention_scores: Also return each layer's pre-softmax scores
                ``QK^T / sqrt(d)`` without the mask term (B, h_l, L, L); with a length
                configuration, dropped tokens' rows and columns are 0.
            token_selection: How Drop-and-Restore picks the kept tokens: ``"real_queries"``
                (attention from real queries, [CLS] always kept), ``"lat"`` (LAT's SQuAD rule:
                attention from every position, padding included, [CLS] may be dropped) or
                ``"lat_keep_cls"``; see :mod:`lit_distill.models.length`.

        Returns:
            :class:`QAOutput`.
        """
        lengths = None
        if length_config is not None:  # the model's public entry: checked here, trusted below
            lengths = check_length_config(length_config, self.num_layers, int(input_ids.shape[-1]))
            check_token_selection(token_selection)
        enc = self.encoder(
            input_ids,
            attention_mask,
            token_type_ids=token_type_ids,
            length_config=lengths,
            token_selection=token_selection,
            skip_layers=skip_layers,
            head_gates=head_gates,
            output_hidden_states=output_hidden_states,
            output_attention_scores=output_attention_scores,
        )
        logits = self.qa_outputs(self.qa_dropout(enc.last_hidden_state))  # (B, L, 2)
        start_logits, end_logits = logits.unbind(dim=-1)
        return QAOutput(
            start_logits=start_logits.contiguous(),
            end_logits=end_logits.contiguous(),
            hidden_states=enc.hidden_states,
            attention_scores=enc.attention_scores,
        )

    # ------------------------------------------------------------------ construction and I/O

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> QAModel:
        """A randomly initialised model.

        Args:
            config: An :class:`EncoderConfig`, a Hugging Face ``BertConfig`` /
                ``DistilBertConfig``, or a ``config.json``-style dictionary.
            **overrides: :class:`EncoderConfig` fields to change (e.g. ``num_hidden_layers=6``).
        """
        if isinstance(config, EncoderConfig):
            base = config
        elif isinstance(config, dict):
            base = encoder_config_from_hf(config)
        elif hasattr(config, "to_dict"):
            base = encoder_config_from_hf(config.to_dict())
        else:
            raise TypeError(
                f"from_config expects an EncoderConfig, a Hugging Face config or a dict, got {type(config).__name__}"
            )
        if overrides:
            base = EncoderConfig.from_dict({**base.to_dict(), **overrides})
        return cls(base)

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path, revision: str | None = None) -> QAModel:
        """Load the project's own directory or a Hugging Face BERT / DistilBERT / TinyBERT checkpoint.

        A checkpoint without a QA head (``BertModel``, TinyBERT general distillation,
        ...) gets a freshly initialised ``qa_outputs`` and a logged warning; weights
        the model does not use (pooler, MLM head, TinyBERT's ``fit_dense``) are
        logged too.

        Args:
            name_or_dir: Local directory or Hugging Face Hub model id.
            revision: Hub revision.

        Raises:
            FileNotFoundError: no checkpoint there.
            ValueError: unsupported checkpoint type (the message lists the supported ones).
        """
        directory = resolve_directory(name_or_dir, revision)
        if (directory / OWN_CONFIG).is_file():
            config = EncoderConfig.from_json_file(directory / OWN_CONFIG)
            model = cls(config)
            state = read_state_dict(directory)
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as err:
                raise ValueError(f"{directory}: weights do not match {OWN_CONFIG}: {err}") from err
            return model
        if not (directory / HF_CONFIG).is_file():
            raise FileNotFoundError(
                f"{directory} has neither {OWN_CONFIG} (a lit_distill model) nor {HF_CONFIG} (a Hugging Face model)"
            )
        config = encoder_config_from_hf(read_json(directory / HF_CONFIG), source=str(name_or_dir))
        state, config, report = state_dict_from_hf(read_state_dict(directory), config)
        model = cls(config)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) != set(report.missing):
            raise ValueError(f"{directory}: conversion mismatch (missing {missing}, unexpected {unexpected})")
        _log_report(str(name_or_dir), report)
        return model

    def save(self, directory: str | Path, tokenizer: Any = None) -> Path:
        """Write ``model.safetensors`` and ``lit_distill_config.json`` (and the tokenizer, if given).

        The directory can be loaded back with :meth:`from_pretrained` and
        :func:`lit_distill.models.load_tokenizer`. Its files get the umask's permissions
        (``0o644`` under umask ``022``; safetensors alone would write ``0o600``), so a server
        running as another user can read them.
        """
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(path / OWN_WEIGHTS), metadata={"format": "pt"})
        apply_umask(path / OWN_WEIGHTS)
        self.config.to_json_file(path / OWN_CONFIG)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(path))
        return path


def _log_report(name: str, report: ConversionReport) -> None:
    if report.missing:
        log.warning(
            "%s has no weights for %s; they were initialised randomly (train the QA head before use)",
            name,
            ", ".join(report.missing),
        )
    if report.ignored:
        groups: dict[str, int] = {}
        for key in report.ignored:
            parts = key.split(".")[:-1] or [key]
            group = ".".join(parts[:2])
            groups[group] = groups.get(group, 0) + 1
        log.warning(
            "%s: %d checkpoint tensors not used by QAModel: %s",
            name,
            len(report.ignored),
            ", ".join(f"{group}.* ({count})" for group, count in groups.items()),
        )
        log.debug("unused tensors of %s: %s", name, ", ".join(report.ignored))
