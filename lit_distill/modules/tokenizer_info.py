"""A small, comparable summary of a tokenizer, so that teacher, student and data can be checked to agree."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["TokenizerInfo", "check_same_tokenizer", "load_tokenizer_info", "tokenizer_info"]


@dataclass(frozen=True)
class TokenizerInfo:
    """What decides which ids a text becomes: vocabulary, normalisation and pre-tokenisation.

    Attributes:
        fingerprint: hash of the vocabulary, normaliser and pre-tokeniser.
        vocab_size: number of tokens (added tokens included).
        lowercase: whether the normaliser lowercases (``None`` if unknown).
        name: where it came from (for messages).
    """

    fingerprint: str
    vocab_size: int
    lowercase: bool | None
    name: str

    def describe(self) -> str:
        """Human-readable one-liner for error messages."""
        case = {True: "lowercased", False: "cased", None: "case handling unknown"}[self.lowercase]
        return f"{self.name!r}: {self.vocab_size} tokens, {case}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (stored in checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerInfo:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def tokenizer_info(tokenizer: Any) -> TokenizerInfo:
    """Summarise a Hugging Face fast tokenizer (or anything with ``get_vocab()``)."""
    name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    lowercase: bool | None = None
    if backend is not None:
        state = json.loads(backend.to_str())
        relevant = {
            "normalizer": state.get("normalizer"),
            "pre_tokenizer": state.get("pre_tokenizer"),
            "vocab": sorted(tokenizer.get_vocab().items()),
        }
        lowercase = _lowercases(state.get("normalizer"))
    else:
        relevant = {"vocab": sorted(tokenizer.get_vocab().items())}
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return TokenizerInfo(fingerprint=digest, vocab_size=len(tokenizer), lowercase=lowercase, name=name)


def _lowercases(normalizer: Any) -> bool | None:
    if not isinstance(normalizer, dict):
        return None
    if normalizer.get("type") == "BertNormalizer":
        return bool(normalizer.get("lowercase", True))
    if normalizer.get("type") == "Lowercase":
        return True
    if normalizer.get("type") == "Sequence":
        found = [_lowercases(n) for n in normalizer.get("normalizers", [])]
        return True if True in found else (False if found else None)
    return False


def load_tokenizer_info(name_or_dir: str) -> TokenizerInfo | None:
    """The tokenizer stored with a model directory or hub name, or ``None`` when it has none.

    A local directory without tokenizer files gives ``None`` (nothing to compare);
    a hub name needs network access the first time (then Hugging Face's cache).
    """
    path = Path(name_or_dir)
    if path.is_dir() and not any(
        (path / f).exists() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")
    ):
        return None
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name_or_dir)
    except (OSError, ValueError):
        return None
    return tokenizer_info(tokenizer)


def check_same_tokenizer(a: TokenizerInfo | None, b: TokenizerInfo | None, what_a: str, what_b: str) -> None:
    """Raise when two known tokenizers differ (unknown ones are not compared).

    Raises:
        UserInputError: naming both sides, their vocabulary sizes and case handling.
    """
    from lit_distill.user_errors import UserInputError

    if a is None or b is None or a.fingerprint == b.fingerprint:
        return
    raise UserInputError(
        f"the {what_a} and the {what_b} use different tokenizers ({what_a}: {a.describe()}; "
        f"{what_b}: {b.describe()}); distillation needs one tokenizer for both, because the student "
        "learns from the teacher's scores on the same token ids"
    )
