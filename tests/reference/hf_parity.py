"""Step-by-step parity of lit_distill's teacher training with the plain Hugging Face way.

Both sides start from the same pretrained encoder and the same span-head weights (the head
that ``BertForQuestionAnswering`` draws is copied into ours), see the same windows in the same
order, with dropout off, and take ``--steps`` optimiser steps; each step prints both losses.
First it checks that our windows (``lit_distill.data.features``) equal the ``run_qa.py``-style
ones of ``tests/reference/hf_reference.py`` (tokens, segments, answer labels).

Ours: ``QAModel`` loaded by the teacher's loader, ``span_cross_entropy``, ``build_optimizer``
(the teacher's AdamW groups and warm-up), batches padded to their longest window. Theirs:
``BertForQuestionAnswering``'s own loss, ``hf_optimizer`` of ``tests/reference/hf_reference.py``, windows
padded to ``--max-seq-length``. Options align one difference at a time, so each one's effect on
the trajectory can be seen:

    python -m tests.reference.hf_parity --train runs/replicate_v1/data/train.json --encoder MODEL_DIR --steps 20
    python -m tests.reference.hf_parity ... --hf-pad-to-longest --hf-max-grad-norm 0 --hf-schedule ours
    python -m tests.reference.hf_parity ... --hf-pad-to-longest --hf-max-grad-norm 0 --ours-warmup-from-zero

With all three aligned the losses agree to float precision: what is left between the two
trainings is the random draws (head initialisation, dropout masks, data order).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lit_distill.replicate.inputs import InputError, check_encoder, check_squad_file, squad_version
from tests.reference.hf_reference import (
    TRAIN_KEYS,
    check_sizes,
    hf_optimizer,
    hf_warmup_steps,
    read_examples,
    tokenize,
    trim_to_longest,
)


def same_windows(ours: Any, theirs: dict[str, Any]) -> tuple[int, int]:
    """How many windows agree in tokens, segments and answer labels; and how many windows ours has.

    Args:
        ours: :class:`~lit_distill.data.features.FeatureArrays` (ragged).
        theirs: :func:`tests.reference.hf_reference.tokenize` output (padded to one length).
    """
    n = len(ours.row_splits) - 1
    if n != len(theirs["input_ids"]):
        return 0, n
    same = 0
    for i in range(n):
        lo, hi = ours.row_splits[i], ours.row_splits[i + 1]
        real = theirs["attention_mask"][i].bool()  # (L,)
        ids, types = theirs["input_ids"][i][real].numpy(), theirs["token_type_ids"][i][real].numpy()
        same += int(
            hi - lo == len(ids)
            and np.array_equal(ours.input_ids[lo:hi], ids)
            and np.array_equal(ours.token_type_ids[lo:hi], types)
            and ours.start_positions[i] == int(theirs["start_positions"][i])
            and ours.end_positions[i] == int(theirs["end_positions"][i])
        )
    return same, n


def run(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    """Build both sides and take ``args.steps`` steps on ``data`` (the ``--train`` file, parsed);
    returns the per-step losses and the checks."""
    from transformers import AutoTokenizer, BertForQuestionAnswering

    from lit_distill.data.datamodule import collate_features
    from lit_distill.data.features import FeatureSettings, build_features
    from lit_distill.data.squad import parse_squad_dict
    from lit_distill.losses import span_cross_entropy
    from lit_distill.modules.optim import build_optimizer, resolve_warmup_steps
    from lit_distill.modules.sources import load_qa_model

    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    theirs_feats = tokenize(read_examples(data), tokenizer, args.max_seq_length, args.doc_stride)
    settings = FeatureSettings(args.max_seq_length, args.doc_stride)
    loaded = parse_squad_dict(data, args.train, "2.0" if squad_version(data) == "2.0" else "1.1")
    ours_feats = build_features(loaded.examples, tokenizer, settings)
    same, n = same_windows(ours_feats, theirs_feats)

    torch.manual_seed(args.seed)
    theirs = BertForQuestionAnswering.from_pretrained(args.encoder)
    ours = load_qa_model(args.encoder, "--encoder").model
    with torch.no_grad():  # one span head for both
        ours.qa_outputs.weight.copy_(theirs.qa_outputs.weight)
        ours.qa_outputs.bias.copy_(theirs.qa_outputs.bias)
    theirs.eval()  # dropout off on both sides; gradients still flow
    ours.eval()
    total = args.schedule_steps or args.steps
    optimizer = partial(
        build_optimizer,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        adam_epsilon=1e-8,  # transformers' and torch's AdamW default
        warmup_steps=0,
        warmup_ratio=args.warmup_ratio,
        total_steps=total,
    )
    ours_opt, ours_sched = optimizer([ours], warmup_from_zero=args.ours_warmup_from_zero)
    warmup_ours = resolve_warmup_steps(0, args.warmup_ratio, total, round_up=args.ours_warmup_from_zero)
    if args.hf_schedule == "ours":
        theirs_opt, theirs_sched = optimizer([theirs])
        warmup_theirs = warmup_ours
    else:
        theirs_opt, theirs_sched = hf_optimizer(theirs, args.lr, args.weight_decay, args.warmup_ratio, total)
        warmup_theirs = hf_warmup_steps(args.warmup_ratio, total)
    pad_id = int(tokenizer.pad_token_id)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    steps: list[dict[str, float]] = []
    for step in range(args.steps):
        idx = order[(step * args.batch_size) % n :][: args.batch_size]  # (B,)
        batch = collate_features(ours_feats, idx.tolist(), pad_id, None)
        out = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        loss_ours = span_cross_entropy(
            out.start_logits, out.end_logits, batch["start_positions"], batch["end_positions"]
        )
        hf_batch = {k: theirs_feats[k][idx] for k in TRAIN_KEYS}
        loss_theirs = theirs(**(trim_to_longest(hf_batch) if args.hf_pad_to_longest else hf_batch)).loss
        row: dict[str, float] = {
            "step": step,
            "lr_ours": float(ours_sched.get_last_lr()[0]),
            "lr_theirs": float(theirs_sched.get_last_lr()[0]),
        }
        for loss, model, opt, sched, clip, side in (
            (loss_ours, ours, ours_opt, ours_sched, args.ours_max_grad_norm, "ours"),
            (loss_theirs, theirs, theirs_opt, theirs_sched, args.hf_max_grad_norm, "theirs"),
        ):
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf"))
            opt.step()
            sched.step()
            opt.zero_grad()
            row[f"loss_{side}"] = loss.item()
            row[f"grad_norm_{side}"] = float(norm)
        steps.append(row)
        print(
            f"step {step:3d}  loss ours {row['loss_ours']:.6f}  theirs {row['loss_theirs']:.6f}  "
            f"diff {row['loss_ours'] - row['loss_theirs']:+.2e}  grad norm {row['grad_norm_ours']:.2f} / "
            f"{row['grad_norm_theirs']:.2f}  lr {row['lr_ours']:.3g} / {row['lr_theirs']:.3g}",
            flush=True,
        )
    return {
        "windows_same": same,
        "windows": n,
        "warmup_steps_ours": warmup_ours,
        "warmup_steps_theirs": warmup_theirs,
        "max_abs_loss_diff": max(abs(r["loss_ours"] - r["loss_theirs"]) for r in steps),
        "steps": steps,
    }


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (defaults: the cpu profile's teacher recipe)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True, help="SQuAD JSON whose windows both sides train on")
    p.add_argument("--encoder", required=True, help="pretrained BERT directory (Hugging Face format)")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps (default 20)")
    p.add_argument(
        "--schedule-steps",
        type=int,
        default=None,
        help="length of the learning-rate schedule (default --steps; 302 is the cpu profile's teacher)",
    )
    p.add_argument("--seed", type=int, default=42, help="span-head draw and window order (default 42)")
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--doc-stride", type=int, default=128)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument(
        "--ours-max-grad-norm", type=float, default=0.0, help="0 (default): no clipping, as the teacher stage"
    )
    p.add_argument("--hf-max-grad-norm", type=float, default=1.0, help="1.0 (default): run_qa.py's; 0: none")
    p.add_argument(
        "--hf-pad-to-longest", action="store_true", help="pad their batches to the longest window, as ours"
    )
    p.add_argument(
        "--hf-schedule",
        choices=("transformers", "ours"),
        default="transformers",
        help="their warm-up: transformers' get_linear_schedule_with_warmup (default) or ours",
    )
    p.add_argument(
        "--ours-warmup-from-zero",
        action="store_true",
        help="our warm-up from lr 0 (warmup_from_zero: true), as transformers' (default: ours from lr / (warm-up + 1))",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--output", default=None, help="write the checks and per-step losses as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; 2 for bad input."""
    args = build_parser().parse_args(argv)
    try:
        check_encoder(Path(args.encoder))
        data = check_squad_file(Path(args.train), "--train")
        check_sizes(args, ("steps", "batch_size", "max_seq_length", "doc_stride"))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args, data)
    print(
        f"windows identical: {result['windows_same']} of {result['windows']}; warm-up steps ours "
        f"{result['warmup_steps_ours']}, theirs {result['warmup_steps_theirs']}; largest loss difference "
        f"{result['max_abs_loss_diff']:.2e}"
    )
    if args.output:
        Path(args.output).write_text(json.dumps({"settings": vars(args), **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
