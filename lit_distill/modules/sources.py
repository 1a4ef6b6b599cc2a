"""Loading a ``QAModel`` from whatever a user points at: a checkpoint of this project, a directory, a hub name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lit_distill.checkpoint_files import check_checkpoint_file, load_checkpoint
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.tokenizer_info import TokenizerInfo, load_tokenizer_info
from lit_distill.user_errors import MissingPathError, UserInputError

__all__ = ["LoadedModel", "check_source_exists", "load_qa_model"]

CHECKPOINT_KEY = "lit_distill"


@dataclass
class LoadedModel:
    """A model with what is known about how it was made.

    Attributes:
        model: the loaded model (on CPU).
        tokenizer: its tokenizer's summary, when known.
        source: the path or name it came from.
        hparams: the Lightning hyper-parameters of a ``.ckpt`` source (empty otherwise).
        extra: the ``lit_distill`` entry of a ``.ckpt`` source (empty otherwise).
    """

    model: QAModel
    tokenizer: TokenizerInfo | None
    source: str
    hparams: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _looks_like_path(source: str) -> bool:
    return (
        source.endswith((".ckpt", ".pt", ".pth"))
        or source.startswith(("/", "./", "../", "~"))
        or source.count("/") > 1
        or "\\" in source
    )


def check_source_exists(source: str, parameter: str) -> None:
    """Fail early when ``source`` names a local path that does not exist.

    Hub model ids (``bert-base-uncased``, ``org/name``) are not checked here. A checkpoint
    file is verified without unpickling it (complete, intact, only allowed types), so a bad
    one fails before any data is prepared.

    Raises:
        MissingPathError: naming the parameter and the path (a ``FileNotFoundError``).
        UserInputError: for an empty source or a truncated, corrupt or unsafe checkpoint.
    """
    if not isinstance(source, str) or not source.strip():
        raise UserInputError(
            f"{parameter} must be a checkpoint path, a model directory or a hub model id, got {source!r}"
        )
    path = Path(source).expanduser()
    if _looks_like_path(source) and not path.exists():
        raise MissingPathError(
            f"{parameter}={source!r}: no such file or directory (expected a .ckpt of this project, "
            "a directory saved by QAModel.save or Hugging Face's save_pretrained, or a hub model id)"
        )
    if path.is_file():
        check_checkpoint_file(path, parameter)


def load_qa_model(source: str, parameter: str) -> LoadedModel:
    """Load a model for distillation.

    Args:
        source: a Lightning ``.ckpt`` written by a lit_distill module, a directory
            (this project's ``QAModel.save`` or a Hugging Face BERT/DistilBERT/TinyBERT
            checkpoint), or a hub model id.
        parameter: the argument name, for error messages (e.g. ``"teacher"``).

    A ``.ckpt`` is read with ``weights_only=True`` (:mod:`lit_distill.checkpoint_files`):
    loading it runs no code from the file.

    Raises:
        MissingPathError: if a local path is missing.
        UserInputError: if a ``.ckpt`` is corrupt, unsafe or was not written by this project.
    """
    check_source_exists(source, parameter)
    path = Path(source).expanduser()
    if path.is_file():
        return _load_lightning_checkpoint(path, parameter)
    model = QAModel.from_pretrained(source)
    return LoadedModel(model=model, tokenizer=load_tokenizer_info(source), source=source)


def _load_lightning_checkpoint(path: Path, parameter: str) -> LoadedModel:
    checkpoint = load_checkpoint(path, parameter)
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint:
        raise UserInputError(
            f"{parameter}={str(path)!r} is not a checkpoint written by a lit_distill module "
            "(no 'lit_distill' entry); pass a model directory or hub id for Hugging Face models"
        )
    extra = checkpoint[CHECKPOINT_KEY]
    model = QAModel(EncoderConfig.from_dict(extra["model_config"]))
    state = {k[len("model.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    tokenizer = TokenizerInfo.from_dict(extra["tokenizer"]) if extra.get("tokenizer") else None
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    return LoadedModel(model=model, tokenizer=tokenizer, source=str(path), hparams=hparams, extra=extra)
