"""Finding checkpoint files: local directories, Hugging Face Hub names, weights and tokenizers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from lit_distill.checks import UserInputError

OWN_CONFIG = "lit_distill_config.json"
OWN_WEIGHTS = "model.safetensors"
HF_CONFIG = "config.json"
EXPORT_MANIFEST = "lit_distill_export.json"
"""The manifest of a directory written by ``python -m lit_distill export`` (:mod:`lit_distill.export.artifact`)."""
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt")


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by ``python -m lit_distill export`` (it has the manifest)."""
    return (Path(path).expanduser() / EXPORT_MANIFEST).is_file()


def resolve_directory(name_or_dir: str | Path, revision: str | None = None) -> Path:
    """A local directory holding the checkpoint: ``name_or_dir`` itself or a Hub snapshot.

    Args:
        name_or_dir: A local directory, or a Hugging Face Hub model id (``bert-base-uncased``).
        revision: Hub branch, tag or commit (ignored for local directories).

    Raises:
        FileNotFoundError: when it is neither a local directory nor downloadable.
    """
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise FileNotFoundError(f"{name_or_dir} is a file; pass the checkpoint directory or a Hub model id")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(
            repo_id=str(name_or_dir),
            revision=revision,
            allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt"],
        )
    except Exception as err:  # the hub raises many types: offline, unknown repo, auth
        raise FileNotFoundError(
            f"{name_or_dir!r} is not a local directory and could not be fetched from the Hugging Face Hub "
            f"({type(err).__name__}: {err})"
        ) from err
    return Path(local)


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, with the file name in any error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object")
    return data


def _load_one(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise UserInputError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def read_state_dict(directory: Path) -> dict[str, Tensor]:
    """All tensors of a Hugging Face checkpoint directory (single file or sharded, safetensors or .bin).

    Raises:
        FileNotFoundError: naming the files looked for.
    """
    for name in _WEIGHT_FILES:
        path = directory / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):
            shards = sorted(set(read_json(path).get("weight_map", {}).values()))
            state: dict[str, Tensor] = {}
            for shard in shards:
                state.update(_load_one(directory / shard))
            return state
        return _load_one(path)
    raise FileNotFoundError(f"no weights in {directory}; looked for {', '.join(_WEIGHT_FILES)}")


def load_tokenizer(name_or_dir: str | Path, revision: str | None = None) -> Any:
    """The fast tokenizer that belongs to a checkpoint.

    Works for Hugging Face names and directories, TinyBERT directories that only
    carry ``vocab.txt``, and the project's own directories (the tokenizer saved
    next to the model by ``QAModel.save(dir, tokenizer=...)``, else the one of
    the checkpoint the model was converted from).

    Raises:
        FileNotFoundError: when no tokenizer can be found.
    """
    from transformers import AutoTokenizer

    directory = resolve_directory(name_or_dir, revision)
    has_tokenizer = any((directory / f).is_file() for f in _TOKENIZER_FILES)
    if (directory / OWN_CONFIG).is_file() and not has_tokenizer:
        source = read_json(directory / OWN_CONFIG).get("source")
        if not source:
            raise FileNotFoundError(
                f"{directory} has no tokenizer files and its {OWN_CONFIG} records no source checkpoint; "
                "save the model with QAModel.save(dir, tokenizer=tokenizer)"
            )
        return load_tokenizer(source)
    try:
        return AutoTokenizer.from_pretrained(str(directory), use_fast=True)
    except (OSError, ValueError, KeyError) as err:
        vocab = directory / "vocab.txt"
        if not vocab.is_file():
            raise FileNotFoundError(f"no tokenizer in {directory} ({err})") from err
        lower = (
            bool(read_json(directory / "tokenizer_config.json").get("do_lower_case", True))
            if (directory / "tokenizer_config.json").is_file()
            else True
        )
        return wordpiece_tokenizer(vocab, do_lower_case=lower)


def wordpiece_tokenizer(vocab_file: str | Path, do_lower_case: bool = True) -> Any:
    """A fast BERT WordPiece tokenizer from a ``vocab.txt``, for transformers 4 and 5.

    transformers 5's ``BertTokenizerFast`` silently ignores ``vocab_file=`` (leaving an
    empty vocabulary) and takes the path as ``vocab=``; transformers 4 wants ``vocab_file=``.
    """
    import inspect

    import transformers

    cls: Any = getattr(transformers, "BertTokenizerFast")  # noqa: B009  (absent from transformers 5 stubs)
    if "vocab_file" in inspect.signature(cls.__init__).parameters:
        return cls(vocab_file=str(vocab_file), do_lower_case=do_lower_case)
    return cls(vocab=str(vocab_file), do_lower_case=do_lower_case)
