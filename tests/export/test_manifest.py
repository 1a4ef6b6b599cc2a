"""The manifest of an exported directory: what it records, and one clear message when it cannot be used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_distill.export import export_model
from lit_distill.export.artifact import MANIFEST, MANIFEST_VERSION, load_artifact, read_manifest
from lit_distill.user_errors import MissingPathError, UserInputError


@pytest.fixture(scope="module")
def exported(uniform_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manifest") / "hf"
    export_model(uniform_dir, "hf", out, max_seq_length=48, doc_stride=20, log=lambda _: None)
    return out


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, dst))


def test_records_windows_decoding_files_and_version(exported: Path) -> None:
    m = read_manifest(exported)
    # as given (a given stride is not cut to a quarter of the window); the question at most half
    assert (m.max_seq_length, m.doc_stride, m.max_query_length) == (48, 20, 24)
    assert (m.squad_version, m.n_best_size, m.max_answer_length) == ("2.0", 20, 30)
    assert m.null_score_diff_threshold == 0.0 and m.threshold_source.startswith("default")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(m.files)
    assert m.manifest_version == MANIFEST_VERSION and m.lit_distill_version
    assert not Path(m.source).is_absolute()


def test_newer_manifest_is_one_clear_message(exported: Path, tmp_path: Path) -> None:
    copy = _copy(exported, tmp_path / "copy")
    data = json.loads((copy / MANIFEST).read_text())
    data.update(manifest_version=MANIFEST_VERSION + 1, lit_distill_version="9.0.0", new_field=1)
    (copy / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=r"written by lit_distill 9\.0\.0 .*upgrade lit_distill"):
        load_artifact(copy)


def test_missing_file_is_named(exported: Path, tmp_path: Path) -> None:
    copy = _copy(exported, tmp_path / "copy")
    (copy / "model.safetensors").unlink()
    with pytest.raises(MissingPathError, match=r"incomplete: model\.safetensors missing"):
        load_artifact(copy)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"squad_version": "3.0"}, "squad_version"),
        ({"doc_stride": "128"}, "doc_stride is '128'"),
        ({"doc_stride": 100, "max_seq_length": 64}, "doc_stride"),
        ({"unknown": True}, "unknown field"),
        ({"null_score_diff_threshold": float("nan")}, "finite"),
    ],
)
def test_bad_fields_are_named(exported: Path, tmp_path: Path, change: dict[str, object], match: str) -> None:
    copy = _copy(exported, tmp_path / "copy")
    data = {**json.loads((copy / MANIFEST).read_text()), **change}
    (copy / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=match):
        read_manifest(copy)


def test_first_version_manifest_still_loads(exported: Path, tmp_path: Path) -> None:
    copy = _copy(exported, tmp_path / "copy")
    old = {
        "format": "hf",
        "int8": False,
        "length_config": None,
        "custom_code": False,
        "source": "x",
        "int8_scheme": None,
    }
    (copy / MANIFEST).write_text(json.dumps(old))
    m = load_artifact(copy).manifest
    assert m.manifest_version == 1 and m.files == [] and m.max_seq_length == 384


def test_not_an_export(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match="does not exist"):
        read_manifest(tmp_path / "nowhere")
    with pytest.raises(MissingPathError, match=f"has no {MANIFEST}"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_eval_limit_and_help(
    uniform_dir: Path, eval_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lit_distill.commands.export import main

    result = export_model(
        uniform_dir, "hf", tmp_path / "hf", eval_file=eval_file, eval_limit=5, log=lambda _: None
    )
    assert result.metrics is not None and result.metrics["total"] == 5
    assert "(its first 5 questions)" in (tmp_path / "hf" / "README.md").read_text()
    assert main([str(uniform_dir), "--to", "hf", "--output", str(tmp_path / "x"), "--eval-limit", "3"]) == 2
    assert "--eval-limit: only with --eval-file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert (
        "pipeline" not in help_text
        and "--eval-limit" in help_text
        and "--null-score-diff-threshold" in help_text
    )


def test_a_checkpoint_is_exported_with_the_windows_it_trained_and_validated_with(
    pruned_ckpt: Path, tmp_path: Path
) -> None:
    """Without --max-seq-length / --doc-stride the card's EM/F1 use training's validation windows."""
    import torch

    checkpoint = torch.load(pruned_ckpt, weights_only=True)
    checkpoint["datamodule_hyper_parameters"].update(max_seq_length=40, doc_stride=24, max_query_length=16)
    ckpt = tmp_path / "windows.ckpt"
    torch.save(checkpoint, ckpt)
    said: list[str] = []
    export_model(ckpt, "hf", tmp_path / "own", log=said.append)
    m = read_manifest(tmp_path / "own")
    assert (m.max_seq_length, m.doc_stride, m.max_query_length) == (40, 24, 16)
    assert any("windows 40 / stride 24 (the checkpoint's data module)" in line for line in said)
    export_model(ckpt, "hf", tmp_path / "given", max_seq_length=48, log=said.append)  # options win
    m = read_manifest(tmp_path / "given")
    assert (m.max_seq_length, m.doc_stride) == (48, 12)
    assert any("windows 48 / stride 12 (--max-seq-length)" in line for line in said)


def test_a_stride_as_long_as_the_window_names_the_option(uniform_dir: Path, tmp_path: Path) -> None:
    from lit_distill.export.errors import ExportInputError

    with pytest.raises(ExportInputError, match="--doc-stride"):
        export_model(uniform_dir, "hf", tmp_path / "x", max_seq_length=48, doc_stride=48, log=lambda _: None)
