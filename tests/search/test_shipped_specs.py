"""Every shipped search spec loads, and every config key it sets exists in its base config."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_distill.search.config_keys import read_base, resolve_key, spec_keys
from lit_distill.search.space import optimizer_space
from lit_distill.search.spec import load_spec

from .fake_sigopt import needs_lite
from .helpers import ROOT

SPECS = sorted((ROOT / "configs" / "search").glob("*.yaml"))


def test_the_issue_s_specs_ship() -> None:
    names = {p.name for p in SPECS}
    assert {"distilbert_multimetric.yaml", "length_config.yaml", "quickstart.yaml"} <= names


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_loads_and_its_keys_exist(path: Path) -> None:
    spec = load_spec(path)
    assert optimizer_space(spec)
    base = read_base(spec)
    keys = spec_keys(spec) + [(f"holdout {k}", k) for k in spec.holdout_overrides]
    missing = [(where, key) for where, key in keys if resolve_key(base, key) is None]
    assert not missing, f"{path.name}: keys not in {spec.base_label}: {missing}"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_a_trial_config_parses_with_lightning_cli(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mid-point trial's command line (base + overrides + TrialResult) parses, with every override applied."""
    import yaml

    from lit_distill.cli import LitDistillCLI
    from lit_distill.search.config_keys import canonical_keys
    from lit_distill.search.runner import build_command, fill_trial_dir
    from lit_distill.search.space import config_overrides, decode

    spec = load_spec(path)
    raw = {p.name: p.choices[0] if p.choices else (p.low + p.high) / 2 for p in optimizer_space(spec)}  # type: ignore[operator]
    raw = {
        k: round(v)
        if isinstance(v, float) and k in {p.name for p in spec.parameters if p.type == "int"}
        else v
        for k, v in raw.items()
    }
    keys = canonical_keys(spec, spec_keys(spec))
    overrides = {keys[k]: v for k, v in config_overrides(spec, decode(spec, raw)).items()}
    argv = build_command(spec, tmp_path, overrides)
    command_at = argv.index(spec.command)
    with pytest.raises(SystemExit) as exit_info:
        LitDistillCLI(args=[*argv[command_at:], "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["default_root_dir"] == str(tmp_path)
    callbacks = printed["trainer"]["callbacks"] or []
    assert any(c["class_path"].endswith("TrialResult") for c in callbacks)
    for key, value in overrides.items():
        node = printed
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == fill_trial_dir(value, tmp_path), key


def test_length_searches_follow_dynamic_tinybert() -> None:
    """Guskin et al. 2021: six lengths in [91, 384] for 384-token inputs, 150 trials, F1 vs eval time;
    SQuAD 1.1 optimises f1, the SQuAD 2.0 variant best_f1 (threshold tuned)."""
    objectives = {}
    for name in ("length_config.yaml", "length_config_squad2.yaml"):
        spec = load_spec(ROOT / "configs" / "search" / name)
        (chain,) = spec.chains
        assert (chain.key, chain.length, chain.type) == ("model.init_args.length_config", 6, "int")
        assert (chain.low, chain.high) == (91, 384)
        assert spec.observation_budget == 150
        assert read_base(spec)["data"]["init_args"]["max_seq_length"] == 384
        objectives[name] = [(m.name, m.objective) for m in spec.objectives]
    assert objectives["length_config.yaml"] == [("f1", "maximize"), ("eval_time_s", "minimize")]
    assert objectives["length_config_squad2.yaml"] == [("best_f1", "maximize"), ("eval_time_s", "minimize")]
    squad2 = load_spec(ROOT / "configs" / "search" / "length_config_squad2.yaml")
    assert squad2.fixed["data.init_args.version"] == "2.0"


@pytest.fixture(scope="module")
def quickstart_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding what `python -m lit_distill quickstart` leaves for the searches: the
    synthetic data of configs/quickstart/teacher.yaml and a teacher trained on it, here a tiny random
    model of the same shape saved with that data's own tokenizer."""
    import yaml

    from lit_distill.data import SquadDataModule
    from lit_distill.models import EncoderConfig, QAModel

    root = tmp_path_factory.mktemp("quickstart")
    teacher = yaml.safe_load((ROOT / "configs" / "quickstart" / "teacher.yaml").read_text())
    data = dict(teacher["data"]["init_args"], cache_dir=str(root / "runs" / "quickstart" / "data"))
    tokenizer = SquadDataModule(**data).tokenizer
    shape = teacher["model"]["init_args"]["model_config"]
    config = EncoderConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=shape["num_hidden_layers"],
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=shape["max_position_embeddings"],
    )
    QAModel(config).save(root / "runs" / "quickstart" / "teacher" / "model", tokenizer=tokenizer)
    return root


@pytest.mark.parametrize("name", ["quickstart.yaml", "quickstart_length.yaml"])
def test_the_quickstart_searches_build_on_the_quickstart_teacher(
    name: str,
    quickstart_teacher: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """#29.1: every trial of the shipped demo exited 2 (its synthetic data, so its tokenizer, was not the
    teacher's); `search check` builds the example trial as the trial does, tokenizer match included."""
    import yaml

    from lit_distill.commands.search import main

    raw = yaml.safe_load((ROOT / "configs" / "search" / name).read_text())
    raw["base_config"] = str((ROOT / "configs" / "search" / raw["base_config"]).resolve())
    raw["output_dir"] = str(tmp_path / "out")
    spec = tmp_path / name
    spec.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(quickstart_teacher)  # the configs name runs/quickstart/... from the working directory
    code = main(["check", "--config", str(spec)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "example trial built in this process" in captured.out and "network: QAModel" in captured.out


@needs_lite
def test_sigopt_lite_runs_the_quickstart_length_search_with_real_trials(
    quickstart_teacher: Path, tmp_path: Path
) -> None:
    """#34: the shipped quickstart length search on SigOpt-Lite, each trial a real ``python -m lit_distill
    validate`` of the quickstart teacher on the synthetic search split; killed with SIGKILL while its
    second trial runs, run again: the finished trial is replayed, the budget finished, a front written."""
    import json
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from lit_distill.search.runner import trial_dir
    from lit_distill.search.sigopt_lite import lite_records

    raw = yaml.safe_load((ROOT / "configs" / "search" / "quickstart_length.yaml").read_text())
    raw["base_config"] = str((ROOT / "configs" / "search" / raw["base_config"]).resolve())
    raw.update(
        output_dir=str(tmp_path / "out"),
        observation_budget=2,
        backend={"type": "sigopt", "driver": "lite", "seed": 0},
    )
    path = tmp_path / "quickstart_length_lite.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = load_spec(path)
    command = [sys.executable, "-m", "lit_distill", "search", "run", "--config", str(path)]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            command, cwd=quickstart_teacher, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    search = start()
    deadline = time.time() + 300
    while not (trial_dir(spec, 1) / "command.txt").exists():  # trial 0 finished, trial 1 under way
        assert time.time() < deadline and search.poll() is None, search.stdout.read() if search.stdout else ""
        time.sleep(0.05)
    search.send_signal(signal.SIGKILL)
    search.wait()
    first = json.loads((trial_dir(spec, 0) / "outcome.json").read_text())

    again = start()
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    assert "replayed 1 finished trial(s) into a fresh SigOpt-Lite experiment" in out
    assert json.loads((trial_dir(spec, 0) / "outcome.json").read_text()) == first  # not run again
    records = {r.number: r for r in lite_records(spec)}
    assert records[1].outcome == "interrupted"
    finished = [r for r in records.values() if r.outcome == "complete"]
    assert len(finished) == 2  # the budget
    for record in finished:  # real validation metrics of a real (tiny, untrained) model
        assert 0.0 <= record.metrics["f1"] <= 100.0 and record.metrics["eval_time_s"] > 0.0
    front = json.loads((spec.output_dir / "report" / "pareto.json").read_text())["front"]
    assert front and {t["number"] for t in front} <= {r.number for r in finished}
