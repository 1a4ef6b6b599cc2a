"""Is the synthetic dataset learnable and non-trivial?

1. Baseline: answer every question with the first noun phrase of the context
   (the first run of capitalised words), scored on the dev split.
2. A tiny Hugging Face ``BertForQuestionAnswering`` (random init) trained from
   scratch for ``--minutes`` of CPU time through ``SquadDataModule``, scored with
   ``SquadMetric`` on the dev split.

    python -m benchmarks.data_learnability --minutes 2 --threads 2
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time


def first_noun_phrase(context: str) -> str:
    """First maximal run of capitalised words (skipping the first word of the context)."""
    words = context.split()
    for i in range(1, len(words)):
        if words[i][:1].isupper():
            j = i
            while j + 1 < len(words) and words[j + 1][:1].isupper():
                j += 1
            return re.sub(r"[^\w\s]+$", "", " ".join(words[i : j + 1]))
    return words[0] if words else ""


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument(
        "--steps", type=int, default=0, help="stop after this many steps (0: time budget only)"
    )
    parser.add_argument("--eval-every", type=int, default=0, help="print dev EM/F1 every N steps")
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument(
        "--decay-steps", type=int, default=0, help="linear decay to 0 over this many steps (0: constant)"
    )
    args = parser.parse_args()

    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from lit_distill.data import SquadDataModule, SyntheticSquad
    from lit_distill.metrics import SquadMetric
    from lit_distill.metrics.squad import squad_evaluate

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cache = tempfile.mkdtemp(prefix="lit_distill_learn_")
    dm = SquadDataModule(
        SyntheticSquad(train_size=args.train_size),
        max_seq_length=128,
        doc_stride=64,
        batch_size=args.batch_size,
        eval_batch_size=128,
        cache_dir=cache,
    )
    dm.prepare_data()
    dm.setup("fit")
    es = dm.eval_set("validation")
    base = {qid: first_noun_phrase(ctx) for qid, ctx in zip(es.example_ids, es.contexts, strict=True)}
    b = squad_evaluate(es.gold(), base)
    print(
        f"first-noun-phrase baseline on dev: EM {b['exact']:.1f}  F1 {b['f1']:.1f}  "
        f"(HasAns EM {b['HasAns_exact']:.1f}, NoAns EM {b['NoAns_exact']:.1f})"
    )

    config = BertConfig(
        vocab_size=len(dm.tokenizer),
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=max(1, args.hidden // 32),
        intermediate_size=4 * args.hidden,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForQuestionAnswering(config)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

    def lr_factor(step: int) -> float:
        warm = min(1.0, (step + 1) / args.warmup) if args.warmup else 1.0
        decay = max(0.0, 1.0 - step / args.decay_steps) if args.decay_steps else 1.0
        return warm * decay

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    budget = args.minutes * 60
    t0 = time.perf_counter()
    steps = epochs = 0

    def evaluate() -> dict[str, float]:
        model.eval()
        metric = SquadMetric().bind(es)
        with torch.no_grad():
            for batch in dm.val_dataloader():
                out = model(
                    input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"],
                )
                metric.update(out.start_logits, out.end_logits, batch["feature_index"])
        return metric.compute()

    def done() -> bool:
        return time.perf_counter() - t0 >= budget or (args.steps > 0 and steps >= args.steps)

    while not done():
        epochs += 1
        for batch in dm.train_dataloader():
            model.train()
            out = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"],
                start_positions=batch["start_positions"],
                end_positions=batch["end_positions"],
            )
            out.loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            steps += 1
            if args.eval_every and steps % args.eval_every == 0:
                r = evaluate()
                elapsed = time.perf_counter() - t0
                print(
                    f"  step {steps} ({elapsed:.0f} s): dev EM {r['exact']:.1f} F1 {r['f1']:.1f}", flush=True
                )
            if done():
                break
    train_s = time.perf_counter() - t0
    r = evaluate()
    print(
        f"tiny BERT ({args.layers} layers, hidden {args.hidden}) trained {train_s:.0f} s "
        f"({steps} steps, {epochs} epochs over {len(dm.features('train'))} features): "
        f"dev EM {r['exact']:.1f}  F1 {r['f1']:.1f}  HasAns EM {r['HasAns_exact']:.1f}  "
        f"NoAns EM {r['NoAns_exact']:.1f}  best_f1 {r['best_f1']:.1f}"
    )


if __name__ == "__main__":
    main()
