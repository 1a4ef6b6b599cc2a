"""Examples → features: windows with doc stride, offsets, span labels, question truncation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lit_distill.data.features import FeatureSettings, build_features
from lit_distill.data.squad import SquadExample

FILLER = " ".join(f"Stone {i} lies by the river." for i in range(40))
CONTEXT = FILLER + " The bell of Drask was cast by Mira Tal in spring. " + FILLER


def _example(
    qid: str = "q", question: str = "Who cast the bell of Drask?", impossible: bool = False
) -> SquadExample:
    text = "Mira Tal"
    start = CONTEXT.index(text)
    if impossible:
        return SquadExample(qid, "T", question, CONTEXT, (), (), True)
    return SquadExample(qid, "T", question, CONTEXT, (text, "Mira"), (start, start), False)


def _windows(f: Any, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = f.row_splits[i], f.row_splits[i + 1]
    return f.input_ids[lo:hi], f.offset_start[lo:hi], f.offset_end[lo:hi]


def test_long_context_gets_overlapping_windows_and_gold_positions(tokenizer: Any) -> None:
    settings = FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=20)
    ex = _example()
    f = build_features([ex], tokenizer, settings)
    assert len(f) > 3 and set(f.example_index.tolist()) == {0}
    assert f.lengths.max() <= 64
    # Matches the Hugging Face tokenizer's own windows exactly.
    ref = tokenizer(
        ex.question,
        ex.context,
        truncation="only_second",
        max_length=64,
        stride=16,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    assert len(ref["input_ids"]) == len(f)
    for i in range(len(f)):
        ids, off_s, off_e = _windows(f, i)
        assert ids.tolist() == ref["input_ids"][i]
        seq = ref.sequence_ids(i)
        want = [tuple(o) if s == 1 else (-1, -1) for o, s in zip(ref["offset_mapping"][i], seq, strict=True)]
        assert list(zip(off_s.tolist(), off_e.tolist(), strict=True)) == want
        ctx = np.flatnonzero(off_s >= 0)
        if i > 0:  # consecutive windows share doc_stride context tokens
            prev_ids, prev_s, _ = _windows(f, i - 1)
            assert prev_ids[prev_s >= 0][-16:].tolist() == ids[ctx][:16].tolist()
        start, end = int(f.start_positions[i]), int(f.end_positions[i])
        if start == 0:
            assert end == 0
            answer_inside = off_s[ctx].min() <= ex.answer_starts[0] and ex.answer_starts[0] + 8 <= off_e.max()
            assert not answer_inside
        else:
            assert ex.context[off_s[start] : off_e[end]] == "Mira Tal"
    assert (f.start_positions > 0).sum() >= 1


def test_unanswerable_and_tokens_types(tokenizer: Any) -> None:
    f = build_features([_example(impossible=True)], tokenizer, FeatureSettings(128, 32, 20))
    assert (f.start_positions == 0).all() and (f.end_positions == 0).all()
    ids, off_s, _ = _windows(f, 0)
    assert ids[0] == tokenizer.cls_token_id
    types = f.token_type_ids[: f.row_splits[1]]
    assert (types[off_s >= 0] == 1).all() and types[1] == 0


def test_long_questions_are_truncated_and_counted(tokenizer: Any) -> None:
    long_q = "Who cast " + "the very old " * 20 + "bell?"
    f = build_features([_example("a", long_q), _example("b")], tokenizer, FeatureSettings(128, 32, 12))
    assert f.n_truncated_questions == 1
    _ids, off_s, _ = _windows(f, 0)
    first_context = int(np.flatnonzero(off_s >= 0)[0])
    assert first_context - 2 == 12  # [CLS] + 12 question tokens + [SEP]


def test_settings_and_tokenizer_errors(tokenizer: Any) -> None:
    with pytest.raises(ValueError, match=r"doc_stride \(64\) must be smaller than max_seq_length \(64\)"):
        build_features([_example()], tokenizer, FeatureSettings(64, 64, 10))
    long_q = "Who cast " + "the very old " * 20 + "bell?"
    with pytest.raises(ValueError, match=r"question 'z' .*doc_stride \(40\) must be smaller"):
        build_features([_example("z", long_q)], tokenizer, FeatureSettings(64, 40, 30))

    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match=r"a fast .* tokenizer is needed"):
        build_features([_example()], Slow(), FeatureSettings())


def test_padded_offsets_are_minus_one_outside_the_context(tokenizer: Any) -> None:
    f = build_features([_example(), _example("b", impossible=True)], tokenizer, FeatureSettings(64, 16, 20))
    padded = f.padded_offsets()
    assert padded.shape == (len(f), int(f.lengths.max()), 2)
    for i in range(len(f)):
        _, off_s, _off_e = _windows(f, i)
        assert padded[i, : len(off_s), 0].tolist() == off_s.tolist()
        assert (padded[i, len(off_s) :] == -1).all()
