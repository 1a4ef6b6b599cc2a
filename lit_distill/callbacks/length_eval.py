"""Drop-and-Restore evaluation of one model under many length configurations in one process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from typing_extensions import override

from lit_distill.callbacks.result_rows import write_rows
from lit_distill.checks import finite_number, one_of, positive_int
from lit_distill.compression.length_config import format_length_config
from lit_distill.models.length import (
    LengthConfig,
    TokenSelection,
    check_length_config,
    check_token_selection,
    is_token_counts,
)
from lit_distill.timing import (
    MAX_SPREAD,
    Clock,
    Timing,
    device_sync,
    round_order,
    speedup,
    speedup_cell,
    timed,
)
from lit_distill.user_errors import UserInputError

__all__ = ["LengthConfigEvaluator", "evaluate_length_configs", "is_full_length", "limited_batches"]

_SCORE_KEYS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1")


def evaluate_length_configs(
    forward: Callable[..., Any],
    batches: Callable[[], Iterable[dict[str, Tensor]]],
    new_metric: Callable[[], Any],
    model_config: Any,
    length_configs: Sequence[LengthConfig | None],
    device: torch.device,
    token_selection: TokenSelection | None = None,
    *,
    timing_repeats: int = 1,
    max_spread: float = MAX_SPREAD,
    clock: Clock = time.perf_counter,
) -> list[dict[str, Any]]:
    """Score and time a model under each length configuration, interleaved batch by batch.

    Every batch is one round of :mod:`lit_distill.timing`: it runs under each configuration
    in turn (in a new order each round), so a change of the machine's load hits every
    configuration alike. The speed-up of a configuration is the median over rounds of the
    full model's time / its time on the same batch, flagged (null, with the reason) when
    the rounds disagree (:func:`lit_distill.timing.speedup`).

    Args:
        forward: ``forward(batch, length_config=...)`` returning start/end logits.
        batches: returns a fresh iterable over the evaluation batches.
        new_metric: returns a fresh, bound :class:`~lit_distill.metrics.squad_metric.SquadMetric`.
        model_config: the model's :class:`~lit_distill.models.config.EncoderConfig` (for FLOPs).
        length_configs: configurations to evaluate (None = full length), already checked.
        device: where the model runs.
        token_selection: passed on to ``forward`` when given (how the kept tokens are chosen).
        timing_repeats: timed passes of each batch per configuration (the first one is scored);
            more rounds for a small evaluation set.
        max_spread: the largest relative spread of a speed-up reported as a number.
        clock: the clock (a fake one in tests).

    Returns:
        One row per configuration with the SQuAD scores (``exact``, ``f1``, ...),
        ``features``, ``model_time_s`` (its forward passes, the first of each batch's
        repeats), ``wall_time_s`` (its forward passes, answer decoding and scoring;
        loading the batches is shared and not counted), ``throughput_features_per_s``
        (features / model time), ``gflops_per_feature`` (mean over features of their real
        lengths) and, when a None configuration is present, ``relative_flops`` and
        ``speedup_vs_full`` (null when flagged; ``speedup_vs_full_measured``, ``_p25``,
        ``_p75`` and ``_flag`` beside it).
    """
    from lit_distill.models.flops import forward_flops

    selection = {} if token_selection is None else {"token_selection": token_selection}
    sync = device_sync(device)
    n = len(length_configs)
    metrics = [new_metric() for _ in length_configs]
    flops_cache: list[dict[int, int]] = [{} for _ in length_configs]
    total_flops = [0] * n
    rounds: list[list[float]] = [[] for _ in length_configs]  # seconds per round (batch x repeat)
    model_time = [0.0] * n
    other_time = [0.0] * n  # metric updates and compute
    features = 0
    round_index = 0
    with torch.inference_mode():
        for raw in batches():
            batch = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in raw.items()}
            real = [int(v) for v in batch["attention_mask"].sum(dim=1).tolist()]  # real tokens per feature
            for repeat in range(timing_repeats):
                round_index += 1
                for i in round_order(n, round_index - 1):
                    cfg = length_configs[i]
                    out, seconds = timed(partial(forward, batch, length_config=cfg, **selection), clock, sync)
                    rounds[i].append(seconds)
                    if repeat:
                        continue
                    model_time[i] += seconds
                    update = partial(
                        metrics[i].update, out.start_logits, out.end_logits, batch["feature_index"]
                    )
                    _, seconds = timed(update, clock)
                    other_time[i] += seconds
                    for length in real:
                        if length not in flops_cache[i]:
                            flops_cache[i][length] = forward_flops(model_config, length, length_config=cfg)
                        total_flops[i] += flops_cache[i][length]
            features += len(real)
    rows: list[dict[str, Any]] = []
    for i, cfg in enumerate(length_configs):
        scores, seconds = timed(metrics[i].compute, clock)
        row: dict[str, Any] = {
            "config": format_length_config(cfg),
            "length_config": None if cfg is None else list(cfg),
        }
        row.update({k: float(scores[k]) for k in _SCORE_KEYS if k in scores})
        row.update(
            {
                "features": features,
                "model_time_s": model_time[i],
                "wall_time_s": model_time[i] + other_time[i] + seconds,
                "throughput_features_per_s": features / model_time[i] if model_time[i] > 0 else float("nan"),
                "gflops_per_feature": total_flops[i] / max(features, 1) / 1e9,
            }
        )
        rows.append(row)
    full = next((i for i, c in enumerate(length_configs) if c is None), None)
    if full is not None and rounds[full]:
        reference = Timing.of(rounds[full])
        for row, samples in zip(rows, rounds, strict=True):
            row["relative_flops"] = row["gflops_per_feature"] / rows[full]["gflops_per_feature"]
            timing = reference if samples is rounds[full] else Timing.of(samples)
            row.update(speedup(reference, timing, max_spread=max_spread).fields("speedup_vs_full"))
    return rows


def limited_batches(available: int, limit: int | float) -> int:
    """How many of ``available`` batches Lightning's ``limit_val_batches=limit`` evaluates.

    An int is a number of batches, a float a fraction of them (at least one when > 0).
    """
    if isinstance(limit, int):
        return min(available, max(limit, 0))
    if limit <= 0:
        return 0
    return min(available, max(1, int(available * limit)))


def is_full_length(config: LengthConfig, max_seq_length: int | None) -> bool:
    """True for a configuration that keeps every token: all ratios 1, or all counts >= ``max_seq_length``."""
    if is_token_counts(config):
        return max_seq_length is not None and min(config) >= max_seq_length
    return all(v >= 1.0 for v in config)


class LengthConfigEvaluator(Callback):
    """Evaluate the model under several Drop-and-Restore length configurations.

    After the regular evaluation, the evaluation split is run once per
    configuration (plus the full-length model when ``include_full``), on as many
    batches as ``trainer.limit_val_batches`` (``limit_test_batches``) allows, and F1, EM,
    wall time, model time, throughput and FLOPs per configuration are written to
    ``<output_dir>/length_configs.json`` and ``.csv``, logged under
    ``length_eval/<config>/<key>`` and printed as a table (with the measured speed-up
    over the full-length model when ``include_full``). Runs on global rank 0
    (the other DDP processes wait).

    Args:
        length_configs: configurations, each one length per layer: token counts (integral
            values, ``256`` or ``256.0``) or ratios in (0, 1] of each feature's real length,
            non-increasing. Repeated configurations are evaluated once.
        include_full: also evaluate the full-length model (the reference for speed-ups);
            a configuration that keeps every token is then the same model and is skipped.
        output_dir: where to write the files; default the logger's directory, else
            the trainer's ``default_root_dir``.
        split: ``"validation"`` or ``"test"``: which data module split to use.
        when: ``"validate"`` (after ``python -m lit_distill validate``), ``"fit_end"``
            (once training is over) or ``"both"``.
        token_selection: how a layer picks the tokens it keeps: ``"real_queries"`` (default)
            or LAT's ``"lat"`` / ``"lat_keep_cls"`` (see :mod:`lit_distill.models.length`);
            None uses the module's own ``token_selection``.
        timing_repeats: timed passes of each batch under each configuration (the first is
            scored); raise it when the evaluation has few batches.
        max_spread: the largest relative spread (IQR / median) of the per-batch speed-ups
            reported as a number; a configuration above it reads ``noisy`` (see
            :mod:`lit_distill.timing`).

    Example::

        python -m lit_distill validate --config configs/quickstart/student.yaml --ckpt_path student.ckpt \\
            --trainer.callbacks+=lit_distill.callbacks.length_eval.LengthConfigEvaluator \\
            --trainer.callbacks.length_configs="[[1.0,0.8,0.6,0.5], [0.8,0.6,0.4,0.3]]"
    """

    def __init__(
        self,
        length_configs: list[list[int]] | list[list[float]] | list[list[int] | list[float]],
        include_full: bool = True,
        output_dir: str | None = None,
        split: Literal["validation", "test"] = "validation",
        when: Literal["validate", "fit_end", "both"] = "validate",
        token_selection: TokenSelection | None = None,
        timing_repeats: int = 1,
        max_spread: float = MAX_SPREAD,
    ) -> None:
        one_of("LengthConfigEvaluator: split", split, ("validation", "test"))
        positive_int("LengthConfigEvaluator: timing_repeats", timing_repeats)
        finite_number("LengthConfigEvaluator: max_spread", max_spread, low=0, low_open=True)
        one_of("LengthConfigEvaluator: when", when, ("validate", "fit_end", "both"))
        if not length_configs and not include_full:
            raise UserInputError(
                "LengthConfigEvaluator: no length_configs and include_full=False leaves nothing to do"
            )
        self.length_configs = [
            check_length_config(c, name=f"LengthConfigEvaluator.length_configs[{i}]")
            for i, c in enumerate(length_configs)
        ]
        self.token_selection = None if token_selection is None else check_token_selection(token_selection)
        self._checked_layers: int | None = None  # the model depth the configurations were checked for
        self.include_full = include_full
        self.output_dir = output_dir
        self.split = split
        self.when = when
        self.timing_repeats = timing_repeats
        self.max_spread = max_spread
        self.results: list[dict[str, Any]] = []

    def _check_depth(self, model: Any) -> None:
        """Check the configurations against the model's layer count, once per depth."""
        layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
        if not isinstance(layers, int) or layers == self._checked_layers:
            return
        for i, c in enumerate(self.length_configs):
            check_length_config(c, layers, name=f"LengthConfigEvaluator.length_configs[{i}]")
        self._checked_layers = layers

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # a model restored from a checkpoint later is checked when it runs
        self._check_depth(getattr(pl_module, "model", None))

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.when in ("validate", "both") and trainer.state.fn == "validate":
            self.run(trainer, pl_module)

    @override
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.when in ("validate", "both") and self.split == "test":
            self.run(trainer, pl_module)

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.when in ("fit_end", "both"):
            self.run(trainer, pl_module)

    def run(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[dict[str, Any]]:
        """Evaluate every configuration now; returns (and stores in ``results``) the rows."""
        if trainer.global_rank == 0:
            self.results = self._evaluate(trainer, pl_module)
        trainer.strategy.barrier("LengthConfigEvaluator")
        return self.results

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[dict[str, Any]]:
        from lit_distill.metrics.squad_metric import SquadMetric

        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "eval_set"):
            raise UserInputError(
                "LengthConfigEvaluator needs a data module with eval_set(split), e.g. SquadDataModule"
            )
        model: Any = pl_module.model
        layers = model.config.num_hidden_layers
        self._check_depth(model)
        eval_set = datamodule.eval_set(self.split)
        loader_fn = datamodule.val_dataloader if self.split == "validation" else datamodule.test_dataloader
        limit = trainer.limit_val_batches if self.split == "validation" else trainer.limit_test_batches
        num_batches = limited_batches(len(loader_fn()), limit)
        if num_batches == 0:
            rank_zero_warn(
                f"LengthConfigEvaluator: trainer.limit_{'val' if self.split == 'validation' else 'test'}_batches"
                f"={limit} leaves no batch to evaluate; nothing written"
            )
            return []

        def batches() -> Iterable[dict[str, Tensor]]:
            return itertools.islice(loader_fn(), num_batches)

        def new_metric() -> Any:
            metric = SquadMetric(  # rank 0 alone sees every feature: no cross-process sync
                getattr(pl_module, "n_best_size", 20),
                getattr(pl_module, "max_answer_length", 30),
                sync_on_compute=False,
            )
            metric.bind(eval_set)
            return metric.to(pl_module.device)

        configs: list[LengthConfig | None] = [None] if self.include_full else []
        seq = getattr(getattr(datamodule, "settings", None), "max_seq_length", None)
        for c in self.length_configs:
            if self.include_full and is_full_length(c, seq):
                rank_zero_info(
                    f"LengthConfigEvaluator: {format_length_config(c)} keeps every token: same as 'full'"
                )
            elif c not in configs:  # each model evaluated once
                configs.append(c)
        was_training = pl_module.training
        pl_module.eval()
        try:
            forward: Callable[..., Any] = pl_module.forward_model  # type: ignore[assignment]
            rows = evaluate_length_configs(
                forward, batches, new_metric, model.config, configs, pl_module.device, self.token_selection,
                timing_repeats=self.timing_repeats, max_spread=self.max_spread,
            )  # fmt: skip
        finally:
            pl_module.train(was_training)
        out_dir = Path(self.output_dir or trainer.log_dir or trainer.default_root_dir)
        write_rows(
            rows,
            out_dir / "length_configs.json",
            out_dir / "length_configs.csv",
            meta={
                "split": self.split,
                "device": str(pl_module.device),
                "num_layers": layers,
                "batches": num_batches,
                "timing": "interleaved per batch",
                "timing_repeats": self.timing_repeats,
                "max_spread": self.max_spread,
                "token_selection": self.token_selection
                or getattr(pl_module, "token_selection", "real_queries"),
            },
        )
        for logger in trainer.loggers:
            logger.log_metrics(
                {
                    f"length_eval/{r['config']}/{k}": float(r[k])
                    for r in rows
                    for k in ("exact", "f1", "model_time_s", "gflops_per_feature")
                    if k in r
                },
                step=trainer.global_step,
            )
        rank_zero_info(_table(rows) + f"\nwrote {out_dir / 'length_configs.json'} and .csv")
        return rows


def _table(rows: Sequence[dict[str, Any]]) -> str:
    header = (
        f"{'config':<32} {'EM':>6} {'F1':>6} {'model s':>8} {'feat/s':>8} {'GFLOPs':>7} {'rel.FLOPs':>9} "
        f"{'speed-up':>8}"
    )
    lines = ["Drop-and-Restore evaluation", header, "-" * len(header)]
    notes: list[str] = []
    for r in rows:
        rel = f"{r['relative_flops']:.2f}" if "relative_flops" in r else "-"
        speedup = speedup_cell(r, "speedup_vs_full")
        if r.get("speedup_vs_full_flag"):
            notes.append(f"{r['config']}: speed-up not reported: {r['speedup_vs_full_flag']}")
        lines.append(
            f"{r['config']:<32} {r.get('exact', float('nan')):>6.2f} {r.get('f1', float('nan')):>6.2f} "
            f"{r['model_time_s']:>8.2f} {r['throughput_features_per_s']:>8.1f} {r['gflops_per_feature']:>7.3f} "
            f"{rel:>9} {speedup:>8}"
        )
    if notes:
        lines += ["", *notes, "(timed interleaved per batch; raise timing_repeats or evaluate more batches)"]
    return "\n".join(lines)
