"""``python -m lit_distill replicate``'s deploy, pruning and heads chains on the tiny synthetic split (see test_replicate.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lit_distill.replicate.deploy import choose_config
from lit_distill.replicate.front import deploy_goals
from tests.replicate.conftest import run_replicate


def _args(encoder: Path, squad: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--encoder", str(encoder), "--output", str(out), "--split-from", str(squad),
        "--heldout-articles", "A6,A7", "--epochs", "1", "--limit-train-batches", "1",
        "--max-seq-length", "48", "--doc-stride", "16", "--batch-size", "8", "--bench-repeats", "1",
        "--threads", "1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def teacher_run(tiny_encoder: Path, tiny_squad: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory whose teacher is trained (on A0..A3: A4, A5 are the deploy chain's search split)."""
    out = tmp_path_factory.mktemp("chains") / "run"
    args = _args(tiny_encoder, tiny_squad, out, "--chain", "deploy", "--search-articles", "A4,A5")
    assert run_replicate([*args, "--stop-after", "teacher"]) == 0
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def test_deploy_chain_writes_one_front_of_every_artifact_scored_and_timed(
    teacher_run: Path,
    tiny_encoder: Path,
    tiny_squad: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _copy(teacher_run, tmp_path)
    deploy = [
        "--chain",
        "deploy",
        "--search-articles",
        "A4,A5",
        "--search-trials",
        "2",
        "--deploy-seq-length",
        "48",
    ]
    deploy += ["--int8-schemes", "s8-per-channel,static-minmax", "--fallback-scheme", "static-minmax"]
    deploy += ["--fixed-steps", "0.2"]  # one hand-picked configuration beside the searched ones
    deploy += [
        "--calibration-windows",
        "4",
        "--subnetwork-weight",
        "0.5",
        "--int8-budget",
        "0",
        "--deploy-control",
    ]
    assert run_replicate(_args(tiny_encoder, tiny_squad, out, *deploy)) == 0
    printed = capsys.readouterr().out
    assert printed.count("finished before: skipped") == 1  # the teacher
    where = out / "deploy_w0.5"  # the ablation's own directory: LAT's settings would write deploy/
    config = (where / "lengthdrop" / "config.yaml").read_text()
    assert "subnetwork_weight: 0.5" in config and "layer_dropout_prob: 0.2" in config
    assert "Teacher" in config and str(out / "teacher" / "model") in config
    control = yaml.safe_load(
        (where / "control" / "config.yaml").read_text()
    )  # the same epochs, no LengthDrop
    assert [c["class_path"].rsplit(".", 1)[1] for c in control["trainer"]["callbacks"]] == ["LastCheckpoint"]
    assert control["trainer"]["gradient_clip_val"] == 1.0
    # the search ran on A4, A5 (not the held-out articles) and its front was scored on A6, A7
    spec = (where / "search" / "spec.yaml").read_text()
    assert (
        str(out / "data" / "heldout.json") in spec
        and "search.json" in (where / "search" / "base.yaml").read_text()
    )
    titles = {a["title"] for a in json.loads((out / "data" / "train.json").read_text())["data"]}
    assert titles == {"A0", "A1", "A2", "A3"}
    summary = json.loads((where / "results.json").read_text())
    front = summary["search"]["front"]
    assert front and all(p["holdout_f1"] is not None for p in front)
    rows = {r["name"]: r for r in summary["front"]["rows"]}
    lengths = [n for n in rows if n.startswith("lengthdrop-fp32-len")]
    assert len(lengths) == len(front)
    expected = {"teacher-fp32", "control-fp32", "lengthdrop-fp32", "lengthdrop-fp32-fixed0", *lengths}
    for suffix in ("", "-len"):
        expected |= {f"lengthdrop-s8-per-channel{suffix}", f"lengthdrop-static-minmax{suffix}"}
        expected.add(f"lengthdrop-static-minmax-fallback{suffix}")
    assert set(rows) == expected
    for name, row in rows.items():
        assert 0.0 <= row["f1"] <= 100.0 and row["latency_ms"] > 0, name
        assert (Path(row["directory"]) / "model.onnx").is_file()
        # every artifact was scored by itself on the 12 held-out questions (its model card says so)
        assert "heldout.json" in (Path(row["directory"]) / "README.md").read_text()
    assert rows["lengthdrop-fp32-fixed0"]["length_config"] == [0.8, 0.6, 0.4, 0.2]  # 1 - 0.2 (i + 1)
    chosen = summary["front"]["chosen"]
    assert rows["lengthdrop-static-minmax-len"]["length_config"] == chosen
    assert rows["lengthdrop-s8-per-channel"]["f1_vs_own_fp32"] == pytest.approx(
        rows["lengthdrop-s8-per-channel"]["f1"] - rows["lengthdrop-fp32"]["f1"]
    )
    fallback = rows["lengthdrop-static-minmax-fallback"]
    assert isinstance(fallback["kept_fp32"], list)
    assert rows["teacher-fp32"]["speedup_vs_teacher"] == pytest.approx(1.0)
    # speed-ups are medians of per-round ratios; a noisy one is None with its measured value kept
    assert all(r["speedup_vs_bert_base_measured"] > 0 for r in rows.values())
    assert all(
        (r["speedup_vs_teacher"] is None) == (r["speedup_vs_teacher_flag"] is not None) for r in rows.values()
    )
    assert set(summary["goals"]) == {"lengths", "int8", "final"}
    assert (where / "front.csv").read_text().count("\n") == len(rows) + 1
    assert (where / "front.png").is_file()
    assert (
        "Deployment front: held-out F1" in printed
        and "noise check: the teacher and the LengthDrop" in printed
    )
    assert "INT8 within 1.0 F1 of its own fp32: " in printed

    # a second run finds everything finished and prints the same front
    assert run_replicate(_args(tiny_encoder, tiny_squad, out, *deploy)) == 0
    assert capsys.readouterr().out.count("finished before: skipped") == 6
    assert json.loads((where / "results.json").read_text())["front"] == summary["front"]


def test_pruning_and_head_seed_chains(
    teacher_run: Path,
    tiny_encoder: Path,
    tiny_squad: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _copy(teacher_run, tmp_path)
    common = ["--search-articles", "A4,A5"]  # the run directory's split
    args = _args(tiny_encoder, tiny_squad, out, *common, "--chain", "pruning")
    args[args.index("--epochs") + 1] = "2"  # gradual: one pruning step, then an epoch at the final shape
    assert run_replicate(args) == 0
    summary = json.loads((out / "pruning" / "results.json").read_text())
    rows = {r["stage"]: r for r in summary["models"]}
    assert list(rows) == ["teacher", "prune_oneshot", "prune_gradual"]
    for stage in ("prune_oneshot", "prune_gradual"):
        assert rows[stage]["encoder_flops_ratio"] <= 0.5 + 1e-3, stage  # half of the encoder FLOPs gone
        assert rows[stage]["parameters"] < rows["teacher"]["parameters"]
    configs = {
        s: yaml.safe_load((out / s / "config.yaml").read_text()) for s in ("prune_gradual", "prune_oneshot")
    }
    for stage, steps in (("prune_gradual", 1), ("prune_oneshot", 0)):  # the same 2 epochs of distillation
        config = configs[stage]
        pruning = config["trainer"]["callbacks"][-1]["init_args"]
        assert (pruning["epochs"], pruning["target"], config["trainer"]["max_epochs"]) == (steps, 0.5, 2), (
            stage
        )
        assert config["model"]["init_args"]["student_layers"] == [0, 1, 2, 3]  # a copy of the 4-layer teacher
    assert "gradual_minus_oneshot_f1" in summary["goals"]
    capsys.readouterr()

    assert (
        run_replicate(
            _args(tiny_encoder, tiny_squad, out, *common, "--chain", "heads", "--head-seeds", "42,43")
        )
        == 0
    )
    printed = capsys.readouterr().out
    heads = json.loads((out / "heads" / "results.json").read_text())
    stages = [r["stage"] for r in heads["models"]]
    assert stages == ["prune_importance", "prune_random", "prune_importance_s43", "prune_random_s43"]
    assert "seed: 43" in (out / "prune_random_s43" / "config.yaml").read_text()
    for strategy in ("importance", "random"):
        stat = heads["heads"][strategy]
        assert stat["seeds"] == 2 and stat["mean"] == pytest.approx(sum(stat["f1"]) / 2)
        assert stat["sd"] is not None
    assert "mean ± sd over seeds" in printed


def test_choosing_the_configuration_and_reading_the_goals() -> None:
    front = [
        {"length_config": [0.5], "search_f1": 50.0, "search_latency_ms": 5.0},
        {"length_config": [0.7], "search_f1": 58.5, "search_latency_ms": 7.0},
        {"length_config": [0.9], "search_f1": 59.9, "search_latency_ms": 9.0},
    ]
    assert choose_config(front, 60.0, 0.97) == 1  # the fastest keeping 97 % of 60
    assert choose_config(front, 70.0, 0.97) == 2  # none does: the most accurate
    assert choose_config([], 60.0, 0.97) is None

    def row(
        name: str, model: str, f1: float, ms: float, lengths: list[float] | None, scheme: str | None
    ) -> dict:
        return {
            "name": name,
            "model": model,
            "f1": f1,
            "latency_ms": ms,
            "length_config": lengths,
            "scheme": scheme,
        }

    rows = [
        row("teacher-fp32", "teacher", 60.0, 100.0, None, None),
        row("ld", "lengthdrop", 61.0, 100.0, None, None),
        row("ld-len", "lengthdrop", 59.5, 60.0, [0.7], None),
        row("ld-int8-len", "lengthdrop", 58.8, 38.0, [0.7], "static-minmax"),
    ]

    def speed(r: dict, key: str, value: float, flag: str | None = None) -> None:
        r.update({key: None if flag else value, f"{key}_measured": value, f"{key}_flag": flag})

    for r in rows:
        speed(r, "speedup_vs_teacher", 100.0 / r["latency_ms"])
        speed(r, "speedup_vs_full", 100.0 / r["latency_ms"])
        r["f1_vs_teacher"] = r["f1"] - 60.0
        r["f1_vs_own_fp32"] = None if r["scheme"] is None else r["f1"] - 59.5
    goals = deploy_goals(rows, [0.7])
    assert goals["lengths"]["met"] and goals["lengths"]["best"]["speedup_vs_full"] == pytest.approx(100 / 60)
    assert goals["int8"]["met"] and goals["int8"]["best"]["f1_vs_own_fp32"] == pytest.approx(-0.7)
    assert goals["final"]["met"] and goals["final"]["best"]["name"] == "ld-int8-len"
    speed(rows[3], "speedup_vs_teacher", 2.0)  # 2x is not 2.5x
    assert not deploy_goals(rows, [0.7])["final"]["met"]
    speed(rows[3], "speedup_vs_teacher", 2.6, flag="per-round speed-ups spread 40% (IQR)")
    assert not deploy_goals(rows, [0.7])["final"]["met"]  # a speed-up the rounds disagree on meets no goal
    speed(rows[2], "speedup_vs_full", 100 / 60, flag="per-round speed-ups spread 40% (IQR)")
    assert not deploy_goals(rows, [0.7])["lengths"]["met"]


def test_the_front_times_its_graphs_without_spinning_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many ONNX Runtime sessions in interleaved rounds: none may spin (docs/replication.md measured
    two identical graphs 0.66x apart with spinning threads)."""
    import lit_distill.export.artifact as artifact_module
    import lit_distill.replicate.front as front

    sessions: list[tuple[str, bool]] = []

    def session(path: Path, threads: int | None = None, spinning: bool = True) -> str:
        sessions.append((str(path), spinning))
        return str(path)

    monkeypatch.setattr(artifact_module, "onnx_session", session)
    monkeypatch.setattr(artifact_module, "onnx_forward", lambda s: lambda *inputs: s)
    monkeypatch.setattr(front, "bert_base_qa", lambda: lambda *tensors: None)
    stats = front._time_all([Path("a.onnx"), Path("b.onnx")], seq_length=8, vocab=50, threads=1, repeats=2)
    assert sessions == [("a.onnx", False), ("b.onnx", False)]
    assert len(stats) == 3 and all(len(s.samples) == 2 for s in stats)  # BERT-base first, then each graph


def test_the_front_plot_puts_each_artifact_in_its_series() -> None:
    from lit_distill.replicate.front import _plot_group

    def row(lengths: list[float] | None, scheme: str | None, **extra: object) -> dict:
        return {"length_config": lengths, "scheme": scheme, **extra}

    assert _plot_group(row(None, None)) == "fp32, full length"
    assert _plot_group(row([0.9], None, front_index=0)) == "fp32 + searched lengths"
    assert _plot_group(row([0.9], None)) == "fp32 + fixed curve"  # not a front point
    assert _plot_group(row(None, "static-minmax")) == "INT8, full length"
    assert _plot_group(row([0.9], "s8-per-channel", fallback=True)) == "INT8 + lengths"


def test_the_search_split_is_disjoint_and_a_run_directory_keeps_its_split(
    tiny_squad: Path, tmp_path: Path
) -> None:
    from lit_distill.replicate.inputs import InputError, split_articles

    train, _, search = split_articles(tiny_squad, ["A6", "A7"], tmp_path / "data", ["A4"])
    assert search is not None and [a["title"] for a in json.loads(search.read_text())["data"]] == ["A4"]
    assert len(json.loads(train.read_text())["data"]) == 5  # A0..A3, A5
    with pytest.raises(InputError, match=r"--search-articles: A6 also held out"):
        split_articles(tiny_squad, ["A6", "A7"], tmp_path / "other", ["A6"])
    with pytest.raises(InputError, match=r"--output: .* was made with another split"):
        split_articles(tiny_squad, ["A6", "A7"], tmp_path / "data")  # no search split: another train.json
    assert len(json.loads(train.read_text())["data"]) == 5  # nothing overwritten


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--chain", "deploy", "--int8-schemes", "s8,int4"],
            "--int8-schemes / --fallback-scheme: 'int4'; known: s8",
        ),
        (
            ["--chain", "heads", "--stop-after", "lengthdrop"],
            "--stop-after 'lengthdrop': the heads chain's stages are",
        ),
        (["--chain", "deploy", "--search-file", "x.json"], "--search-file goes with --train/--eval"),
        (["--chain", "heads", "--head-seeds", "1,1"], "--head-seeds '1,1': give distinct seeds"),
        (["--chain", "deploy", "--keep-f1", "1.5"], "--keep-f1 must be in (0.0, 1.0], got 1.5"),
    ],
)
def test_bad_chain_options_exit_2_with_one_message(
    tiny_encoder: Path,
    tiny_squad: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    assert run_replicate(_args(tiny_encoder, tiny_squad, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "teacher").exists()
