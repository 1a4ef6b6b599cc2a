"""CPU time of the quickstart's pieces: a training step with AdamW's per-tensor loop vs ``foreach``.

Times, with ``time.process_time()`` in one process, a training step (forward, span
cross-entropy, backward, ``AdamW.step``) of the quickstart teacher (4 layers, hidden 128)
and student (2 layers) on a random 32 × 96 batch, with ``foreach=False`` (torch's CPU
default) and ``foreach=True`` (what :func:`lit_distill.modules.optim.build_optimizer` uses),
and a 64 × 96 evaluation batch; prints milliseconds and the ratios. Also checks that both
optimisers leave bitwise-identical parameters. Run it with ``OMP_NUM_THREADS=1`` on a busy
machine (several threads spin-wait for each other there).

    OMP_NUM_THREADS=1 python -m benchmarks.quickstart_step
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import torch

from lit_distill.losses import span_cross_entropy
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel


def _model(layers: int) -> QAModel:
    torch.manual_seed(0)
    config = {
        "vocab_size": 1500,
        "hidden_size": 128,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": 512,
        "max_position_embeddings": 128,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    return QAModel(EncoderConfig.from_dict(config))


def _batch(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 1500, (size, 96), generator=g)  # (B, L)
    return ids, torch.ones_like(ids), torch.zeros_like(ids)


def _train_step(model: QAModel, foreach: bool) -> Callable[[], None]:
    ids, mask, types = _batch(32)
    g = torch.Generator().manual_seed(2)  # the same targets for both optimisers
    starts, ends = torch.randint(0, 96, (32,), generator=g), torch.randint(0, 96, (32,), generator=g)  # (B,)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, foreach=foreach)

    def step() -> None:
        out = model(ids, mask, token_type_ids=types)
        span_cross_entropy(out.start_logits, out.end_logits, starts, ends).backward()
        opt.step()
        opt.zero_grad()

    return step


def _eval_step(model: QAModel) -> Callable[[], None]:
    ids, mask, types = _batch(64)

    def step() -> None:
        with torch.no_grad():
            model(ids, mask, token_type_ids=types)

    return step


def _ms(step: Callable[[], None], repeats: int) -> float:
    step()  # warm-up
    start = time.process_time()
    for _ in range(repeats):
        step()
    return 1000 * (time.process_time() - start) / repeats


def main() -> None:
    p = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    for name, layers in (("teacher", 4), ("student", 2)):
        base = _model(layers)
        loop, fe = copy.deepcopy(base), copy.deepcopy(base)
        t_loop = _ms(_train_step(loop, foreach=False), args.repeats)
        t_fe = _ms(_train_step(fe, foreach=True), args.repeats)
        same = all(torch.equal(a, b) for a, b in zip(loop.parameters(), fe.parameters(), strict=True))
        t_eval = _ms(_eval_step(base.eval()), args.repeats)
        print(
            f"{name}: train step {t_loop:.1f} ms (per-tensor AdamW) vs {t_fe:.1f} ms (foreach), "
            f"ratio {t_fe / t_loop:.3f}; parameters bitwise identical: {same}; "
            f"eval batch of 64: {t_eval:.1f} ms ({torch.get_num_threads()} threads)"
        )


if __name__ == "__main__":
    main()
