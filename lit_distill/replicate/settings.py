"""The settings of ``python -m lit_distill replicate``: profiles, the deployment chain's choices, and the checked run settings.

:func:`settings` turns the command line into :class:`RunSettings` (raising
:class:`~lit_distill.replicate.inputs.InputError` with one message naming the option), writing the
by-article split on the way.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path

from lit_distill.replicate.inputs import (
    InputError,
    check_encoder,
    check_squad_file,
    split_articles,
    squad_version,
)

__all__ = [
    "PROFILES",
    "DeploySettings",
    "Profile",
    "RunSettings",
    "every_other_layer",
    "head_seeds",
    "settings",
]


@dataclass(frozen=True)
class Profile:
    """Hyper-parameters of one profile (see docs/replication.md for where each comes from)."""

    accelerator: str
    max_seq_length: int
    doc_stride: int
    batch_size: int
    eval_batch_size: int
    teacher_lr: float
    teacher_epochs: int
    student_lr: float
    student_epochs: int  # DistilBERT-style with and without distillation, and the pruned students
    id_epochs: int
    pd_epochs: int
    lengthdrop_lr: float
    lengthdrop_epochs: int
    prune_amount: float
    bench_batch_size: int
    bench_repeats: int
    deploy_lengthdrop_epochs: int  # LengthDrop on the teacher (deploy chain; LAT: 5)
    search_trials: int  # length-configuration search of the deploy chain
    prune_steps: int  # gradual structured pruning: pruning steps (one per epoch)
    prune_epochs: int  # structured pruning stages: training epochs (gradual and one-shot alike)
    prune_lr: float


PROFILES: dict[str, Profile] = {
    # ~2,000 questions on 2 CPU cores. The teacher recipe was measured on the real MiniLM
    # (held-out EM 43.8 / F1 57.9); the later stages get one epoch each to fit the budget.
    "cpu": Profile(
        accelerator="cpu",
        max_seq_length=256,
        doc_stride=128,
        batch_size=16,
        eval_batch_size=64,
        teacher_lr=1.5e-4,
        teacher_epochs=2,
        student_lr=1.5e-4,
        student_epochs=1,
        id_epochs=1,
        pd_epochs=1,
        lengthdrop_lr=5e-5,
        lengthdrop_epochs=1,
        prune_amount=0.5,
        bench_batch_size=8,
        bench_repeats=10,
        deploy_lengthdrop_epochs=3,
        search_trials=40,
        prune_steps=2,
        prune_epochs=3,
        prune_lr=1e-4,
    ),
    # The papers' schedules: teacher 3 epochs (BERT on SQuAD: 2-3), DistilBERT-style students
    # 3 epochs, TinyBERT task distillation ID 10 + PD 3 epochs, LAT's LengthDrop 5 epochs.
    "gpu": Profile(
        accelerator="auto",
        max_seq_length=384,
        doc_stride=128,
        batch_size=32,
        eval_batch_size=128,
        teacher_lr=1e-4,
        teacher_epochs=3,
        student_lr=1e-4,
        student_epochs=3,
        id_epochs=10,
        pd_epochs=3,
        lengthdrop_lr=3e-5,
        lengthdrop_epochs=5,
        prune_amount=0.5,
        bench_batch_size=8,
        bench_repeats=20,
        deploy_lengthdrop_epochs=5,
        search_trials=150,  # Dynamic-TinyBERT's search budget
        prune_steps=4,
        prune_epochs=6,
        prune_lr=1e-4,
    ),
}


@dataclass(frozen=True)
class DeploySettings:
    """The deployment chain's choices (``--chain deploy``; docs/replication.md).

    Attributes:
        subnetwork_weight: LengthDrop's weight of each sub-network's term (1: LAT).
        layer_drop: LayerDrop probability of the sub-networks (LAT / Dynamic-TinyBERT: 0.2).
        full_layer_drop: LayerDrop in the full model's pass too (LAT's reference does).
        control: also train the same epochs without LengthDrop (the control).
        search_file: SQuAD file the length configuration is searched on (not the held-out one).
        search_trials: trials of the length search.
        min_ratio: smallest share of its input tokens a layer may keep in the search.
        keep_f1: the chosen configuration is the fastest front point keeping this share of the
            full-length F1 on the search split.
        int8_schemes: INT8 schemes exported at full length and at the chosen configuration.
        fallback_scheme: the scheme exported once more with the sensitivity fallback.
        int8_budget: the fallback's budget in F1 points.
        calibration_windows: training windows static INT8 calibrates on.
        seq_length: tokens per window when evaluating and timing the artifacts (batch 1).
        fixed_steps: the hand-picked curve exported beside the searched front (fp32): layer ``i``
            keeps ``1 - step * (i + 1)``, as the main chain's Drop-and-Restore curve.
    """

    subnetwork_weight: float = 1.0
    layer_drop: float = 0.2
    full_layer_drop: bool = False
    control: bool = False
    search_file: str = ""
    search_trials: int = 40
    min_ratio: float = 0.2
    keep_f1: float = 0.97
    int8_schemes: tuple[str, ...] = ("s8-per-channel", "static-minmax", "static-percentile", "static-entropy")
    fallback_scheme: str = "static-percentile"
    int8_budget: float = 1.0
    calibration_windows: int = 128
    seq_length: int = 384
    fixed_steps: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25)

    @property
    def tag(self) -> str:
        """The chain's directory under OUT: ``deploy`` with LAT's settings, else named by what differs."""
        parts = ["deploy"]
        if self.subnetwork_weight != 1.0:
            parts.append(f"w{self.subnetwork_weight:g}")
        if self.layer_drop != 0.2:
            parts.append(f"ld{self.layer_drop:g}")
        if self.full_layer_drop:
            parts.append("fullld")
        return "_".join(parts)


@dataclass(frozen=True)
class RunSettings:
    """What one replication run trains on and where it writes."""

    profile: Profile
    out: Path
    train_file: str
    eval_file: str
    encoder: str
    version: str  # "1.1" | "2.0"
    seed: int
    student_layers: list[int]
    limit_train_batches: int | None = None  # smoke runs: batches per epoch
    limit_eval_batches: int | None = None
    teacher_layers: int = 6
    deploy: DeploySettings = field(default_factory=DeploySettings)


def every_other_layer(num_layers: int) -> list[int]:
    """Every other teacher layer, ending at the last one: 6 -> [1, 3, 5], 2 -> [1]."""
    return list(range(num_layers - 1, -1, -2))[::-1]


def _positive(args: argparse.Namespace) -> None:
    for name in ("limit_train_batches", "limit_eval_batches", "max_seq_length", "doc_stride"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    for name in (
        *("batch_size", "bench_repeats", "threads", "epochs", "teacher_epochs"),
        *("search_trials", "calibration_windows"),
    ):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.deploy_seq_length < 8:
        raise InputError(f"--deploy-seq-length must be >= 8, got {args.deploy_seq_length}")
    for name, low, high in (
        ("search_min_ratio", 0.0, 1.0),
        ("keep_f1", 0.0, 1.0),
        ("layer_drop", 0.0, 0.999),
    ):
        value = getattr(args, name)
        if not low < value <= high and not (name == "layer_drop" and value == 0.0):
            raise InputError(f"--{name.replace('_', '-')} must be in ({low}, {high}], got {value}")
    for name in ("subnetwork_weight", "int8_budget"):
        value = getattr(args, name)
        if not value >= 0 or value == float("inf"):
            raise InputError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")


def settings(args: argparse.Namespace) -> RunSettings:
    """Check the inputs and build the run's settings (raises :class:`InputError`)."""
    _positive(args)
    out = Path(args.output).resolve()
    layers = check_encoder(Path(args.encoder))
    if args.split_from:
        if args.train or args.eval:
            raise InputError(
                "give either --split-from (with --heldout-articles) or --train and --eval, not both"
            )
        if not args.heldout_articles:
            raise InputError("--split-from needs --heldout-articles (comma-separated article titles)")
        heldout = _titles(args.heldout_articles)
        if args.search_file:
            raise InputError(
                "--search-file goes with --train/--eval; with --split-from give --search-articles"
            )
        search = _titles(args.search_articles) if args.search_articles else None
        train_path, eval_path, search_path = split_articles(
            Path(args.split_from), heldout, out / "data", search
        )
    else:
        if not args.train or not args.eval:
            raise InputError("give --train and --eval (SQuAD files), or --split-from with --heldout-articles")
        if args.search_articles:
            raise InputError(
                "--search-articles goes with --split-from; with --train/--eval give --search-file"
            )
        train_path, eval_path = Path(args.train).resolve(), Path(args.eval).resolve()
        search_path = Path(args.search_file).resolve() if args.search_file else None
    version = squad_version(check_squad_file(train_path, "--train"), check_squad_file(eval_path, "--eval"))
    if search_path is not None:
        check_squad_file(search_path, "--search-file")
    if args.student_layers:
        try:
            student_layers = [int(v) for v in args.student_layers.split(",")]
        except ValueError:
            raise InputError(
                f"--student-layers {args.student_layers!r}: expected integers like 1,3,5"
            ) from None
        bad = [v for v in student_layers if not 0 <= v < layers]
        if bad or not student_layers or len(student_layers) >= layers:
            raise InputError(
                f"--student-layers {args.student_layers}: need fewer than {layers} distinct layers in 0..{layers - 1}"
            )
    else:
        student_layers = every_other_layer(layers)
    profile = PROFILES[args.profile]
    overrides = {
        k: getattr(args, k)
        for k in ("max_seq_length", "doc_stride", "batch_size")
        if getattr(args, k) is not None
    }
    if args.bench_repeats is not None:
        overrides["bench_repeats"] = args.bench_repeats
    if args.epochs is not None:
        for name in ("teacher", "student", "id", "pd", "lengthdrop", "deploy_lengthdrop", "prune"):
            overrides[f"{name}_epochs"] = args.epochs
        overrides["prune_steps"] = max(1, args.epochs - 1)  # the gradual run trains at its final shape last
    if args.teacher_epochs is not None:
        overrides["teacher_epochs"] = args.teacher_epochs
    if args.search_trials is not None:
        overrides["search_trials"] = args.search_trials
    profile = replace(profile, **overrides)
    schemes = tuple(s.strip() for s in args.int8_schemes.split(",") if s.strip())
    from lit_distill.export.quantize import INT8_SCHEMES

    for scheme in (*schemes, args.fallback_scheme):
        if scheme not in INT8_SCHEMES:
            raise InputError(
                f"--int8-schemes / --fallback-scheme: {scheme!r}; known: {', '.join(INT8_SCHEMES)}"
            )
    deploy = DeploySettings(
        subnetwork_weight=args.subnetwork_weight,
        layer_drop=args.layer_drop,
        full_layer_drop=args.full_layer_drop,
        control=args.deploy_control,
        search_file=str(search_path or train_path),
        search_trials=profile.search_trials,
        min_ratio=args.search_min_ratio,
        keep_f1=args.keep_f1,
        int8_schemes=schemes,
        fallback_scheme=args.fallback_scheme,
        int8_budget=args.int8_budget,
        calibration_windows=args.calibration_windows,
        seq_length=args.deploy_seq_length,
        fixed_steps=_steps(args.fixed_steps),
    )
    if profile.doc_stride >= profile.max_seq_length:
        raise InputError(
            f"--doc-stride {profile.doc_stride} must be < --max-seq-length {profile.max_seq_length}"
        )
    return RunSettings(
        profile=profile,
        out=out,
        train_file=str(train_path),
        eval_file=str(eval_path),
        encoder=str(Path(args.encoder).resolve()),
        version=version,
        seed=args.seed,
        student_layers=student_layers,
        limit_train_batches=args.limit_train_batches,
        limit_eval_batches=args.limit_eval_batches,
        teacher_layers=layers,
        deploy=deploy,
    )


def _steps(value: str) -> tuple[float, ...]:
    try:
        steps = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--fixed-steps {value!r}: expected numbers like 0.05,0.1,0.2") from None
    if any(not 0 < v < 1 for v in steps):
        raise InputError(f"--fixed-steps {value!r}: each step must be in (0, 1)")
    return steps


def _titles(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def head_seeds(args: argparse.Namespace) -> list[int]:
    """The seeds of ``--chain heads`` (default: ``--seed``, 43, 44, or the next ones)."""
    if args.head_seeds is None:
        seeds = [args.seed, *(s for s in (43, 44, 45) if s != args.seed)][:3]
        return seeds
    try:
        seeds = [int(v) for v in args.head_seeds.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--head-seeds {args.head_seeds!r}: expected integers like 42,43,44") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"--head-seeds {args.head_seeds!r}: give distinct seeds")
    return seeds
