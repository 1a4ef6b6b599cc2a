"""What ``export`` starts from: a model, its tokenizer and the recipe that made it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_distill.checkpoint_files import load_checkpoint
from lit_distill.export.errors import ExportInputError
from lit_distill.models.loading import OWN_CONFIG, load_tokenizer
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.sources import load_qa_model
from lit_distill.modules.squad_scoring import TUNED_THRESHOLD_KEY
from lit_distill.modules.tokenizer_info import check_same_tokenizer, tokenizer_info

__all__ = ["ExportSource", "load_source"]

# Hyper-parameters worth a line in the model card, when the checkpoint has them.
RECIPE_KEYS = (
    "teacher",
    "student",
    "student_layers",
    "alpha_ce",
    "alpha_squad",
    "alpha_cos",
    "temperature",
    "stage",
    "learning_rate",
    "weight_decay",
    "adam_epsilon",
    "lr_schedule",
    "clip_grad_per_tensor",
    "warmup_steps",
    "warmup_ratio",
    "warmup_from_zero",
    "length_config",
)


@dataclass
class ExportSource:
    """A loaded model ready to export.

    Attributes:
        model: The model, on CPU, in eval mode.
        tokenizer: Its Hugging Face fast tokenizer.
        path: Where it came from.
        recipe: How it was made (teacher, distillation settings, pruning), for the model card.
        data: The data module's settings recorded in a ``.ckpt`` (``version``, ``tokenizer``,
            ``source``, ...; read with :func:`~lit_distill.data.sources.source_from_hparams`;
            empty for a model directory).
        tuned_threshold: The last validation's F1-best no-answer threshold recorded in a
            ``.ckpt`` (:attr:`~lit_distill.modules.squad_scoring.SquadScoringModule.tuned_threshold`),
            or None.
    """

    model: QAModel
    tokenizer: Any
    path: str
    recipe: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    tuned_threshold: dict[str, Any] | None = None


def _checkpoint_data_hparams(path: Path) -> dict[str, Any]:
    """The data module's hyper-parameters recorded in a Lightning checkpoint (empty if none)."""
    checkpoint = load_checkpoint(path, "MODEL")  # verified and read without unpickling code
    hparams = checkpoint.get("datamodule_hyper_parameters") or {}
    return dict(hparams) if isinstance(hparams, dict) else {}


def load_source(model: str | Path, tokenizer: str | None = None) -> ExportSource:
    """Load ``model`` (a ``.ckpt`` of this project or a ``QAModel.save`` directory) and its tokenizer.

    Args:
        model: The checkpoint file or model directory.
        tokenizer: A tokenizer name or directory overriding the one the model records.

    Raises:
        ExportInputError: naming ``MODEL`` or ``--tokenizer`` when either cannot be used.
    """
    path = Path(model).expanduser()
    if not path.exists():
        raise ExportInputError("MODEL", f"{str(model)!r} does not exist")
    if path.is_dir() and not (path / OWN_CONFIG).is_file():
        raise ExportInputError(
            "MODEL",
            f"{str(model)!r} is a directory without {OWN_CONFIG}; give a .ckpt written by a lit_distill "
            "module or a directory written by QAModel.save",
        )
    try:
        loaded = load_qa_model(str(path), "MODEL")
    except (ValueError, KeyError, RuntimeError, OSError, EOFError) as err:
        raise ExportInputError(
            "MODEL",
            f"{str(model)!r} is neither a lit_distill checkpoint nor a QAModel.save directory ({err})",
        ) from err
    except Exception as err:  # torch.load of an arbitrary file raises unpickling errors of many kinds
        raise ExportInputError("MODEL", f"{str(model)!r} cannot be read as a checkpoint ({err})") from err
    data = _checkpoint_data_hparams(path) if path.is_file() else {}
    name = tokenizer
    if name is None:
        name = (str(data["tokenizer"]) if data.get("tokenizer") else None) if path.is_file() else str(path)
        name = name or loaded.model.config.source
    if name is None:
        raise ExportInputError(
            "--tokenizer", f"MODEL {str(model)!r} records no tokenizer; give its name or directory"
        )
    try:
        tok = load_tokenizer(name)
    except (OSError, ValueError) as err:
        raise ExportInputError("--tokenizer", f"cannot load tokenizer {name!r} ({err})") from err
    try:
        check_same_tokenizer(loaded.tokenizer, tokenizer_info(tok), "model", "tokenizer")
    except ValueError as err:
        raise ExportInputError("--tokenizer", str(err)) from err
    if len(tok) > loaded.model.config.vocab_size:
        raise ExportInputError(
            "--tokenizer",
            f"{name!r} has {len(tok)} tokens but the model's vocabulary has {loaded.model.config.vocab_size}",
        )
    recipe = {k: loaded.hparams[k] for k in RECIPE_KEYS if loaded.hparams.get(k) is not None}
    extra = {k: v for k, v in loaded.extra.items() if k not in ("model_config", "tokenizer")}
    recipe.update({k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool, list))})
    tuned = loaded.extra.get(TUNED_THRESHOLD_KEY)
    return ExportSource(
        model=loaded.model.eval(),
        tokenizer=tok,
        path=str(path),
        recipe=recipe,
        data=data,
        tuned_threshold=dict(tuned) if isinstance(tuned, dict) else None,
    )
