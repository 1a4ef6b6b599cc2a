"""Examples → features: question first, context windows with overflow, offsets, span labels.

Works with any Hugging Face *fast* tokenizer: its Rust ``tokenizers`` backend
encodes each batch in one call (skipping the Python-side conversion that
dominates ``tokenizer(...)``); context masks, answer token positions and offsets are
computed with array operations (no per-token Python loop).

Window semantics follow the Hugging Face fast tokenizers (``stride`` =
``doc_stride`` tokens of overlap between consecutive windows of one context),
as in Hugging Face's ``run_qa.py``.

Features are stored ragged (no padding): per feature ``input_ids``,
``token_type_ids`` and ``offsets`` of its real length, plus ``example_index``,
``start_positions`` and ``end_positions``. Offsets are ``-1`` for every token
that is not part of the context (question, special tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from lit_distill.data.squad import SquadExample
from lit_distill.user_errors import UserInputError

__all__ = ["FeatureArrays", "FeatureSettings", "build_features", "truncate_questions"]


@dataclass(frozen=True)
class FeatureSettings:
    """How examples become features.

    Attributes:
        max_seq_length: Tokens per feature, special tokens included.
        doc_stride: Overlapping tokens between consecutive context windows.
        max_query_length: Question tokens kept (longer questions are truncated).
    """

    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64

    def validate(self) -> None:
        """Raise ``ValueError`` naming the bad setting and what is allowed."""
        if self.max_seq_length < 8:
            raise ValueError(f"max_seq_length must be >= 8, got {self.max_seq_length}")
        if self.max_query_length < 1:
            raise ValueError(f"max_query_length must be >= 1, got {self.max_query_length}")
        if self.doc_stride < 0:
            raise ValueError(f"doc_stride must be >= 0, got {self.doc_stride}")
        if self.doc_stride >= self.max_seq_length:
            raise ValueError(
                f"doc_stride ({self.doc_stride}) must be smaller than max_seq_length ({self.max_seq_length})"
            )


@dataclass
class FeatureArrays:
    """Ragged feature columns (concatenated values + row boundaries).

    Attributes:
        row_splits: (F + 1,) int64; feature ``f`` spans ``[row_splits[f], row_splits[f + 1])``.
        input_ids: (T,) int32 token ids of all features, concatenated.
        token_type_ids: (T,) int8 segment ids (0 question, 1 context for BERT).
        offset_start: (T,) int32 context character start, -1 outside the context.
        offset_end: (T,) int32 context character end, -1 outside the context.
        example_index: (F,) int32 index of the example each feature belongs to.
        start_positions: (F,) int32 gold start token (CLS index 0 if no answer in the window).
        end_positions: (F,) int32 gold end token (0 if no answer in the window).
        n_truncated_questions: Questions longer than ``max_query_length`` tokens.
    """

    row_splits: np.ndarray
    input_ids: np.ndarray
    token_type_ids: np.ndarray
    offset_start: np.ndarray
    offset_end: np.ndarray
    example_index: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    n_truncated_questions: int = 0

    def __len__(self) -> int:
        return len(self.example_index)

    @property
    def lengths(self) -> np.ndarray:
        """(F,) real length of each feature."""
        return np.diff(self.row_splits)

    def padded_offsets(self) -> np.ndarray:
        """(F, L_max, 2) int32 offsets padded with -1 (L_max = longest feature)."""
        lengths = self.lengths
        width = int(lengths.max()) if len(lengths) else 0
        out = np.full((len(lengths), width, 2), -1, dtype=np.int32)
        mask = np.arange(width)[None, :] < lengths[:, None]  # (F, L_max)
        out[..., 0][mask] = self.offset_start
        out[..., 1][mask] = self.offset_end
        return out


def _backend(tokenizer: Any, settings: FeatureSettings) -> Any:
    """A private copy of the Rust tokenizer with our truncation and no padding."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    return backend


def truncate_questions(
    questions: Sequence[str], backend: Any, max_query_length: int
) -> tuple[list[str], int, list[int]]:
    """Cut questions to at most ``max_query_length`` tokens (at a token boundary).

    Args:
        questions: Question texts.
        backend: A ``tokenizers.Tokenizer`` without truncation.
        max_query_length: Tokens to keep.

    Returns:
        The (possibly shortened) questions, how many were shortened, and each
        question's token count after truncation.
    """
    out: list[str] = []
    lengths: list[int] = []
    n_cut = 0
    for question, enc in zip(
        questions, backend.encode_batch(list(questions), add_special_tokens=False), strict=True
    ):
        n = len(enc.ids)
        if n > max_query_length:
            out.append(question[: enc.offsets[max_query_length - 1][1]])
            n_cut += 1
        else:
            out.append(question)
        lengths.append(min(n, max_query_length))
    return out, n_cut, lengths


def _check_windows(
    examples: Sequence[SquadExample], lengths: list[int], backend: Any, settings: FeatureSettings
) -> None:
    """Error (naming the question) when a question leaves no room for ``doc_stride``."""
    n_special = backend.num_special_tokens_to_add(is_pair=True)
    worst = int(np.argmax(lengths))
    window = settings.max_seq_length - n_special - lengths[worst]
    if window <= settings.doc_stride:
        raise UserInputError(
            f"max_seq_length {settings.max_seq_length} leaves a context window of {window} tokens for question "
            f"{examples[worst].id!r} ({lengths[worst]} question tokens, {n_special} special tokens); "
            f"doc_stride ({settings.doc_stride}) must be smaller: lower doc_stride or max_query_length, "
            "or raise max_seq_length"
        )


def _flat(encodings: list[Any], attr: str, dtype: type) -> np.ndarray:
    return np.fromiter(chain.from_iterable(getattr(e, attr) for e in encodings), dtype=dtype)


def _encode_batch(
    examples: Sequence[SquadExample], questions: list[str], backend: Any, settings: FeatureSettings
) -> dict[str, np.ndarray]:
    encs = backend.encode_batch([(q, e.context) for q, e in zip(questions, examples, strict=True)])
    flat: list[Any] = []
    sample_list: list[int] = []
    for i, enc in enumerate(encs):  # each window of example i: the encoding, then its overflows
        flat.append(enc)
        flat.extend(enc.overflowing)
        sample_list.extend([i] * (1 + len(enc.overflowing)))
    sample = np.asarray(sample_list, dtype=np.int64)  # (F,)
    lengths = np.fromiter((len(e.ids) for e in flat), dtype=np.int64, count=len(flat))  # (F,)
    splits = np.concatenate([[0], np.cumsum(lengths)])  # (F + 1,)
    ids = _flat(flat, "ids", np.int32)  # (T,)
    types = _flat(flat, "type_ids", np.int8)  # (T,)
    special = _flat(flat, "special_tokens_mask", np.int8)  # (T,)
    pairs = np.fromiter(
        chain.from_iterable(chain.from_iterable(e.offsets for e in flat)), dtype=np.int32, count=2 * len(ids)
    ).reshape(-1, 2)  # (T, 2)
    row = np.repeat(np.arange(len(flat)), lengths)  # (T,) feature of each token
    first = np.zeros(len(ids), dtype=bool)
    first[splits[:-1][lengths > 0]] = True  # (T,) first token of a feature
    # Non-special tokens form two runs per feature: the question, then the context.
    real = special == 0
    prev_real = np.concatenate([[False], real[:-1]]) & ~first
    run_starts = np.cumsum(real & ~prev_real)  # (T,) runs so far, across features
    runs_before = np.concatenate([[0], run_starts])[splits[:-1]]  # (F,) runs before each feature
    context = real & (run_starts - runs_before[row] == 2)  # (T,)
    off_s = np.where(context, pairs[:, 0], -1).astype(np.int32)  # (T,)
    off_e = np.where(context, pairs[:, 1], -1).astype(np.int32)  # (T,)

    has_answer = np.array([not e.is_impossible for e in examples], dtype=bool)[sample]  # (F,)
    ans_s = np.array([e.answer_starts[0] if e.answer_starts else -1 for e in examples], dtype=np.int64)[
        sample
    ]
    ans_e = ans_s + np.array([len(e.answer_texts[0]) if e.answer_texts else 0 for e in examples])[sample]
    big = np.iinfo(np.int32).max
    win_s = np.full(len(flat), big, dtype=np.int64)
    np.minimum.at(win_s, row[context], off_s[context])  # (F,) first context character
    win_e = np.full(len(flat), -1, dtype=np.int64)
    np.maximum.at(win_e, row[context], off_e[context])  # (F,) end of the last context character
    inside = has_answer & (win_s <= ans_s) & (ans_e <= win_e)  # (F,)
    pos = np.arange(len(ids)) - splits[row]  # (T,) position within the feature
    # start: last context token starting at/before the answer; end: first context token ending at/after it
    start_tok = np.full(len(flat), -1, dtype=np.int64)
    sel = context & (off_s <= ans_s[row])
    np.maximum.at(start_tok, row[sel], pos[sel])
    end_tok = np.full(len(flat), big, dtype=np.int64)
    sel = context & (off_e >= ans_e[row])
    np.minimum.at(end_tok, row[sel], pos[sel])
    return {
        "lengths": lengths,
        "input_ids": ids,
        "token_type_ids": types,
        "offset_start": off_s,
        "offset_end": off_e,
        "sample": sample,
        "start": np.where(inside, start_tok, 0).astype(np.int32),
        "end": np.where(inside, end_tok, 0).astype(np.int32),
    }


def build_features(
    examples: Sequence[SquadExample],
    tokenizer: Any,
    settings: FeatureSettings | None = None,
    batch_size: int = 1000,
) -> FeatureArrays:
    """Tokenise examples into features (windows over the context).

    Args:
        examples: SQuAD examples (answer positions use the first gold answer).
        tokenizer: A Hugging Face fast tokenizer (``tokenizer.is_fast``).
        settings: Lengths and stride; defaults to 384 / 128 / 64.
        batch_size: Examples tokenised per call.

    Returns:
        Ragged feature arrays; features of one example are consecutive.

    Raises:
        ValueError: If the tokenizer is not fast, or a question leaves no room for ``doc_stride``.
    """
    settings = settings or FeatureSettings()
    settings.validate()
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"a fast (Rust) tokenizer is needed for offset mappings, got {type(tokenizer).__name__}; "
            "load it with AutoTokenizer.from_pretrained(name, use_fast=True)"
        )
    backend = _backend(tokenizer, settings)
    parts: list[dict[str, np.ndarray]] = []
    n_truncated = 0
    for lo in range(0, len(examples), batch_size):
        batch = examples[lo : lo + batch_size]
        questions, n_cut, q_lengths = truncate_questions(
            [e.question for e in batch], backend, settings.max_query_length
        )
        n_truncated += n_cut
        _check_windows(batch, q_lengths, backend, settings)
        backend.enable_truncation(
            settings.max_seq_length, stride=settings.doc_stride, strategy="only_second", direction="right"
        )
        part = _encode_batch(batch, questions, backend, settings)
        backend.no_truncation()
        part["sample"] = part["sample"] + lo
        parts.append(part)
    if not parts:
        empty_i = np.zeros(0, dtype=np.int32)
        return FeatureArrays(
            np.zeros(1, dtype=np.int64),
            empty_i,
            empty_i.astype(np.int8),
            empty_i,
            empty_i,
            empty_i,
            empty_i,
            empty_i,
        )
    lengths = np.concatenate([p["lengths"] for p in parts])
    return FeatureArrays(
        row_splits=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        input_ids=np.concatenate([p["input_ids"] for p in parts]),
        token_type_ids=np.concatenate([p["token_type_ids"] for p in parts]),
        offset_start=np.concatenate([p["offset_start"] for p in parts]),
        offset_end=np.concatenate([p["offset_end"] for p in parts]),
        example_index=np.concatenate([p["sample"] for p in parts]).astype(np.int32),
        start_positions=np.concatenate([p["start"] for p in parts]),
        end_positions=np.concatenate([p["end"] for p in parts]),
        n_truncated_questions=n_truncated,
    )
