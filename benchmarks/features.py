"""Benchmark: feature building vs. a straightforward batched implementation, and the on-disk cache.

1. ``build_features`` (lit_distill) vs. the usual batched fast-tokenizer code
   (``tokenizer(questions, contexts, truncation="only_second", stride=...,
   return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")``
   then a Python loop per feature over ``sequence_ids`` for the context offsets
   and the start/end token positions) on the same examples, in ONE run;
   also checks that both give the same token ids and labels.
2. ``SquadDataModule`` setup on an empty cache (read + build + save) vs. a
   second instance with unchanged inputs (read + load from the Arrow cache).

    python -m benchmarks.features --data $SQUAD_DIR/dev-v2.0-half.json \
        --vocab $SQUAD_DIR/bert-base-uncased-vocab.txt
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def straightforward_features(examples, tokenizer, max_len=384, stride=128):
    """The usual batched implementation (training + evaluation features in one pass)."""
    enc = tokenizer(
        [e.question.lstrip() for e in examples],
        [e.context for e in examples],
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    sample_map = enc.pop("overflow_to_sample_mapping")
    starts, ends, example_ids, offsets_out = [], [], [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        seq = enc.sequence_ids(i)
        ex = examples[sample_map[i]]
        example_ids.append(sample_map[i])
        offsets_out.append([o if seq[k] == 1 else None for k, o in enumerate(offsets)])
        if ex.is_impossible:
            starts.append(0)
            ends.append(0)
            continue
        start_char = ex.answer_starts[0]
        end_char = start_char + len(ex.answer_texts[0])
        tok_start = 0
        while seq[tok_start] != 1:
            tok_start += 1
        tok_end = len(enc["input_ids"][i]) - 1
        while seq[tok_end] != 1:
            tok_end -= 1
        if not (offsets[tok_start][0] <= start_char and offsets[tok_end][1] >= end_char):
            starts.append(0)
            ends.append(0)
            continue
        while tok_start < len(offsets) and offsets[tok_start][0] <= start_char:
            tok_start += 1
        starts.append(tok_start - 1)
        while offsets[tok_end][1] >= end_char:
            tok_end -= 1
        ends.append(tok_end + 1)
    return enc["input_ids"], starts, ends, example_ids, offsets_out


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--vocab", required=True, help="BERT vocab.txt")
    parser.add_argument("--version", default="2.0", choices=["1.1", "2.0"])
    parser.add_argument("--repeats", type=int, default=3, help="best of N for the two builders")
    args = parser.parse_args()

    from lit_distill.data import SquadDataModule, SquadFiles, build_features, load_squad_json
    from lit_distill.models.loading import wordpiece_tokenizer

    tok = wordpiece_tokenizer(args.vocab, do_lower_case=True)
    examples = load_squad_json(args.data, version=args.version).examples

    t_ours, t_base = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = build_features(examples, tok)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ids, starts, ends, ex_ids, _ = straightforward_features(examples, tok)
        t_base.append(time.perf_counter() - t0)
    same_ids = all(
        ours.input_ids[ours.row_splits[i] : ours.row_splits[i + 1]].tolist() == [t for t in ids[i] if t != 0]
        for i in range(len(ids))
    )
    same_labels = (
        np.array_equal(ours.start_positions, starts)
        and np.array_equal(ours.end_positions, ends)
        and np.array_equal(ours.example_index, ex_ids)
    )
    print(f"questions: {len(examples)}  features: {len(ours)}  (384/128/64)")
    print(
        f"build_features: {min(t_ours):.2f} s   straightforward batched: {min(t_base):.2f} s   "
        f"ratio (straightforward / ours): {min(t_base) / min(t_ours):.2f}x  (best of {args.repeats})"
    )
    print(f"same token ids: {same_ids}   same start/end/example labels: {same_labels}")

    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(f"{tmp}/tok")
        kwargs = {
            "source": SquadFiles(validation=args.data),
            "tokenizer": f"{tmp}/tok",
            "version": args.version,
            "cache_dir": f"{tmp}/cache",
        }
        t0 = time.perf_counter()
        SquadDataModule(**kwargs).setup("validate")
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = SquadDataModule(**kwargs)
        dm.setup("validate")
        warm = time.perf_counter() - t0
        print(
            f"DataModule setup, empty cache: {cold:.2f} s   unchanged inputs (cached): {warm:.2f} s   "
            f"speed-up: {cold / warm:.1f}x   ({len(dm.features('validation'))} features)"
        )


if __name__ == "__main__":
    main()
