"""The teacher fine-tuning done the plain Hugging Face way, as a reference point for lit_distill's.

``BertForQuestionAnswering`` on a pretrained encoder directory, a plain PyTorch loop (AdamW,
linear warm-up and decay, no weight decay on biases and LayerNorm), features and answer
decoding in the style of transformers' ``run_qa.py`` example (written here: the question
is not truncated separately, the context is cut into windows of ``--max-seq-length`` tokens
with ``--doc-stride`` overlap, every window padded to the full length; an answer outside a
window points at [CLS]). Held-out predictions are scored by ``python -m lit_distill squad-eval``
(the official script's numbers). One run per seed; prints EM/F1 per seed and mean ± std.

    python -m tests.reference.hf_reference --train TRAIN.json --eval HELDOUT.json \\
        --encoder MODEL_DIR --seeds 42,43,44 --epochs 2 --lr 1.5e-4 --batch-size 16 \\
        --max-seq-length 256 --doc-stride 128 --output hf_reference.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lit_distill.replicate.inputs import InputError, check_encoder, check_squad_file, squad_version


def read_examples(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per question: id, question, context, answer texts and character starts."""
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                out.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"].lstrip(),
                        "context": paragraph["context"],
                        "answer_starts": [a["answer_start"] for a in answers],
                        "answer_texts": [a["text"] for a in answers],
                    }
                )
    return out


def tokenize(examples: list[dict[str, Any]], tokenizer: Any, max_len: int, stride: int) -> dict[str, Any]:
    """Windows over each context (question first, context second), padded to ``max_len``."""
    enc = tokenizer(
        [e["question"] for e in examples],
        [e["context"] for e in examples],
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    starts, ends, offsets = [], [], []
    for i, example_index in enumerate(enc["overflow_to_sample_mapping"]):
        example = examples[example_index]
        seq_ids = enc.sequence_ids(i)
        context = [j for j, s in enumerate(seq_ids) if s == 1]
        offsets.append([o if seq_ids[j] == 1 else None for j, o in enumerate(enc["offset_mapping"][i])])
        start_tok = end_tok = 0  # [CLS]: no answer in this window
        if example["answer_starts"]:
            a_start = example["answer_starts"][0]
            a_end = a_start + len(example["answer_texts"][0])
            first, last = context[0], context[-1]
            off = enc["offset_mapping"][i]
            if off[first][0] <= a_start and off[last][1] >= a_end:
                start_tok = next(j for j in context if off[j][1] > a_start)
                end_tok = max(j for j in context if off[j][0] < a_end)
        starts.append(start_tok)
        ends.append(end_tok)
    return {
        "input_ids": torch.tensor(enc["input_ids"]),
        "attention_mask": torch.tensor(enc["attention_mask"]),
        "token_type_ids": torch.tensor(enc["token_type_ids"]),
        "start_positions": torch.tensor(starts),
        "end_positions": torch.tensor(ends),
        "example_index": list(enc["overflow_to_sample_mapping"]),
        "offsets": offsets,
    }


def decode(
    examples: list[dict[str, Any]],
    feats: dict[str, Any],
    start_logits: np.ndarray,  # (F, L)
    end_logits: np.ndarray,  # (F, L)
    version: str,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> tuple[dict[str, str], dict[str, float]]:
    """Best span per question over its windows; for 2.0, "" when the [CLS] score beats it.

    Returns:
        The predictions and, per question, the no-answer probability squad-eval takes:
        sigmoid([CLS] score - best span score) (monotonic in the margin, so the best thresholds
        are those of the margin).
    """
    by_example: dict[int, list[int]] = {}
    for f, e in enumerate(feats["example_index"]):
        by_example.setdefault(e, []).append(f)
    predictions, null_odds = {}, {}
    for e, features in by_example.items():
        best_text, best_score, null_score = "", -np.inf, np.inf
        for f in features:
            s_log, e_log, offsets = start_logits[f], end_logits[f], feats["offsets"][f]
            null_score = min(null_score, float(s_log[0] + e_log[0]))
            for s in np.argsort(s_log)[::-1][:n_best]:
                for t in np.argsort(e_log)[::-1][:n_best]:
                    if offsets[s] is None or offsets[t] is None or t < s or t - s + 1 > max_answer_length:
                        continue
                    score = float(s_log[s] + e_log[t])
                    if score > best_score:
                        best_score = score
                        best_text = examples[e]["context"][offsets[s][0] : offsets[t][1]]
        qid = examples[e]["id"]
        predictions[qid] = "" if version == "2.0" and null_score > best_score else best_text
        margin = null_score - best_score if np.isfinite(best_score) else 50.0
        null_odds[qid] = float(
            1.0 / (1.0 + np.exp(-np.clip(margin, -50.0, 50.0)))
        )  # a probability for squad-eval
    return predictions, null_odds


def _squad_eval(eval_file: str, predictions: dict[str, str], null_odds: dict[str, float]) -> dict[str, Any]:
    from lit_distill.__main__ import main as lit_main

    with tempfile.TemporaryDirectory() as tmp:
        pred, na, out = (Path(tmp) / n for n in ("pred.json", "na.json", "out.json"))
        pred.write_text(json.dumps(predictions))
        na.write_text(json.dumps(null_odds))
        code = lit_main(["squad-eval", eval_file, str(pred), "-n", str(na), "-o", str(out)])
        if code:
            raise RuntimeError(f"squad-eval failed with exit code {code}")
        return dict(json.loads(out.read_text()))


TRAIN_KEYS = ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")


def hf_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, warmup_ratio: float, total_steps: int
) -> tuple[torch.optim.AdamW, Any]:
    """AdamW without decay on biases and LayerNorm weights, transformers' linear warm-up and decay."""
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr)
    warmup = hf_warmup_steps(warmup_ratio, total_steps)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def hf_warmup_steps(warmup_ratio: float, total_steps: int) -> int:
    """Warm-up steps of :func:`hf_optimizer` (the ratio's share of the steps, rounded down)."""
    return int(warmup_ratio * total_steps)


def trim_to_longest(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch without the padding columns no window of it uses (lit_distill pads to the longest)."""
    width = int(batch["attention_mask"].sum(dim=1).max())
    return {k: v[:, :width] if v.dim() == 2 else v for k, v in batch.items()}


def train_and_evaluate(args: argparse.Namespace, seed: int, version: str) -> dict[str, Any]:
    """Fine-tune one seed and score it on ``--eval``."""
    from transformers import AutoTokenizer, BertForQuestionAnswering, set_seed

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    train_ex = read_examples(json.loads(Path(args.train).read_text()))
    eval_ex = read_examples(json.loads(Path(args.eval).read_text()))
    train = tokenize(train_ex, tokenizer, args.max_seq_length, args.doc_stride)
    evalf = tokenize(eval_ex, tokenizer, args.max_seq_length, args.doc_stride)
    model = BertForQuestionAnswering.from_pretrained(args.encoder)
    n = len(train["input_ids"])
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    if args.max_steps:
        steps_per_epoch = min(steps_per_epoch, args.max_steps)
    total = steps_per_epoch * args.epochs
    optimizer, scheduler = hf_optimizer(model, args.lr, args.weight_decay, args.warmup_ratio, total)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(n, generator=generator)
        for step in range(steps_per_epoch):
            idx = order[step * args.batch_size : (step + 1) * args.batch_size]
            batch = {k: train[k][idx] for k in TRAIN_KEYS}
            loss = model(**(trim_to_longest(batch) if args.pad_to_longest else batch)).loss
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    train_s = time.perf_counter() - start
    model.eval()
    starts, ends = [], []
    with torch.inference_mode():
        for i in range(0, len(evalf["input_ids"]), args.eval_batch_size):
            out = model(**{k: evalf[k][i : i + args.eval_batch_size] for k in TRAIN_KEYS[:3]})
            starts.append(out.start_logits.numpy())
            ends.append(out.end_logits.numpy())
    predictions, null_odds = decode(eval_ex, evalf, np.concatenate(starts), np.concatenate(ends), version)
    scores = _squad_eval(args.eval, predictions, null_odds)
    return {"seed": seed, "steps": total, "train_time_s": round(train_s, 1), **scores}


def check_sizes(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Raise :class:`InputError` unless each option in ``names`` is >= 1 and the stride fits the window."""
    for name in names:
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.doc_stride >= args.max_seq_length:
        raise InputError(f"--doc-stride {args.doc_stride} must be < --max-seq-length {args.max_seq_length}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (defaults: the cpu profile's teacher recipe)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("--eval", required=True)
    p.add_argument("--encoder", required=True, help="pretrained BERT directory (Hugging Face format)")
    p.add_argument("--seeds", default="42", help="comma-separated seeds, one run each (default 42)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--doc-stride", type=int, default=128)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument(
        "--max-steps", type=int, default=None, help="smoke runs: at most this many steps per epoch"
    )
    p.add_argument(
        "--max-grad-norm",
        type=float,
        default=1.0,
        help="gradient clipping (default 1.0, the Trainer's and run_qa.py's; 0: none, as lit_distill's teacher stage)",
    )
    p.add_argument(
        "--pad-to-longest",
        action="store_true",
        help="pad each training batch to its longest window, as lit_distill does (default: every window "
        "to --max-seq-length, as run_qa.py; padded positions take part in the span softmax either way)",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--output", default=None, help="write the per-seed results and their mean as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; 2 for bad input."""
    args = build_parser().parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        print(f"error: --seeds {args.seeds!r}: expected integers like 42,43,44", file=sys.stderr)
        return 2
    try:
        check_encoder(Path(args.encoder))
        version = squad_version(
            check_squad_file(Path(args.train), "--train"), check_squad_file(Path(args.eval), "--eval")
        )
        check_sizes(args, ("epochs", "batch_size", "eval_batch_size", "max_seq_length", "doc_stride"))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = []
    for seed in seeds:
        result = train_and_evaluate(args, seed, version)
        runs.append(result)
        print(
            f"seed {seed}: EM {result['exact']:.2f} F1 {result['f1']:.2f} ({result['train_time_s']:.0f} s training)",
            flush=True,
        )
    summary: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items()},
        "version": version,
        "runs": runs,
    }
    for key in ("exact", "f1"):
        values = [r[key] for r in runs]
        summary[f"{key}_mean"] = statistics.fmean(values)
        summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    print(
        f"Hugging Face reference over {len(runs)} seed(s): EM {summary['exact_mean']:.2f} ± {summary['exact_std']:.2f}, "
        f"F1 {summary['f1_mean']:.2f} ± {summary['f1_std']:.2f}"
    )
    if args.output:
        Path(args.output).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
