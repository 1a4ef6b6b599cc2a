"""``Teacher``: fine-tune a QAModel on SQuAD with the span cross-entropy."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_distill.losses import span_cross_entropy
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.qa_module import NOT_HYPERPARAMETERS, QAModule
from lit_distill.modules.sources import check_source_exists, load_qa_model
from lit_distill.modules.tokenizer_info import check_same_tokenizer
from lit_distill.user_errors import UserInputError

__all__ = ["Teacher"]


class Teacher(QAModule):
    """Fine-tunes a BERT-family model for extractive QA (the teacher of later distillation).

    Exactly one of ``model`` and ``model_config`` is given.

    Args:
        model: what to start from: a hub id (``bert-base-uncased``), a Hugging Face or
            lit_distill model directory, or a ``.ckpt`` of this project.
        model_config: train from random weights with this :class:`EncoderConfig`
            (a dict of its fields). ``vocab_size`` may be left out: it is then taken
            from the data module's tokenizer.
        **kwargs: the optimiser and evaluation arguments of :class:`QAModule`.

    Example:
        ``python -m lit_distill fit --config configs/teacher.yaml``
    """

    def __init__(
        self,
        model: str | None = None,
        model_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (model is None) == (model_config is None):
            raise ValueError(
                "Teacher needs exactly one of model (a hub id, model directory or .ckpt) and "
                f"model_config (train from scratch); got model={model!r}, model_config={model_config!r}"
            )
        if model is not None:
            check_source_exists(model, "model")
        elif not isinstance(model_config, dict):
            raise ValueError(f"model_config must be a mapping of EncoderConfig fields, got {model_config!r}")
        else:  # checked now, when the classes are built (exit 2), not when fit builds the model
            try:
                EncoderConfig.from_dict({"vocab_size": 1, **model_config})
            except (TypeError, ValueError) as err:
                raise UserInputError(f"model_config: {err}") from err
        self.source = model
        self.model_config = None if model_config is None else dict(model_config)
        self.save_hyperparameters(ignore=list(NOT_HYPERPARAMETERS))

    def build_model(self, stage: str) -> None:
        """Load ``model`` or build ``model_config`` from random weights."""
        if self.source is not None:
            loaded = load_qa_model(self.source, "model")
            check_same_tokenizer(loaded.tokenizer, self.tokenizer, f"model {self.source!r}", "data module")
            self.model = loaded.model
            return
        config = dict(self.model_config or {})
        if "vocab_size" not in config:
            if self.tokenizer is None:
                raise ValueError(
                    "model_config has no vocab_size and the data module has no tokenizer to take it from; "
                    "set model_config.vocab_size"
                )
            config["vocab_size"] = self.tokenizer.vocab_size
        self.model = QAModel(EncoderConfig.from_dict(config))

    def compute_loss(self, batch: dict[str, Tensor]) -> tuple[Any, dict[str, Tensor]]:
        """Span cross-entropy of the model's start/end logits."""
        out = self.forward_model(batch)
        loss = span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )
        return out, {"loss": loss}
