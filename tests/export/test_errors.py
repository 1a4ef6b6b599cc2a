"""``python -m lit_distill export``: bad input is one clear message naming the argument, exit 2, nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

import pytest

from lit_distill.__main__ import main
from lit_distill.export import export_model


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["export", *argv])
    return code, capsys.readouterr().err


def _nothing_left(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".partial-" in p.name or p.name == "out"]


def test_model_that_is_neither_checkpoint_nor_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    code, err = _run(capsys, str(junk), "--to", "hf", "--output", str(tmp_path / "out"))
    assert code == 2 and "MODEL" in err and "junk.ckpt" in err and "Traceback" not in err
    empty = tmp_path / "dir"
    empty.mkdir()
    code, err = _run(capsys, str(empty), "--to", "onnx", "--output", str(tmp_path / "out"))
    assert code == 2 and "MODEL" in err and "lit_distill_config.json" in err
    assert _nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[0.9,0.5]", "3 layers"),
        ("[0.5,0.8,0.9]", "increase"),
        ("[100,50,10]", "64"),
        ("[1.5,1,1]", "(0, 1]"),
    ],
)
def test_length_config_that_does_not_fit(
    uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, expected: str
) -> None:
    code, err = _run(
        capsys, str(uniform_dir), "--to", "onnx", "--length-config", config, "--output", str(tmp_path / "out")
    )
    assert code == 2 and "--length-config" in err and expected in err
    assert _nothing_left(tmp_path)


def test_non_empty_output_needs_overwrite(
    uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _run(capsys, str(uniform_dir), "--to", "hf", "--output", str(out))[0] == 0  # an earlier export
    (out / "keep.txt").write_text("user data")
    code, err = _run(capsys, str(uniform_dir), "--to", "hf", "--output", str(out))
    assert code == 2 and "--output" in err and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "user data"
    assert _run(capsys, str(uniform_dir), "--to", "hf", "--output", str(out), "--overwrite")[0] == 0
    assert (out / "config.json").is_file() and not (out / "keep.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary or old directory left


def test_eval_file_with_another_vocabulary(
    uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context = "le chat noir dort sur la chaise rouge pendant que le chien mange"
    data = {
        "version": "1.1",
        "data": [{"title": "fr", "paragraphs": [{"context": context, "qas": [
            {"id": "q1", "question": "ou dort le chat ?", "answers": [{"text": "sur la chaise", "answer_start": 18}]}
        ]}]}],
    }  # fmt: skip
    path = tmp_path / "fr.json"
    path.write_text(json.dumps(data))
    code, err = _run(
        capsys, str(uniform_dir), "--to", "hf", "--eval-file", str(path), "--output", str(tmp_path / "out")
    )
    assert code == 2 and "--eval-file" in err and "[UNK]" in err and "fr.json" in err
    assert not (tmp_path / "out").exists() and _nothing_left(tmp_path)


def test_int8_needs_onnx(uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, str(uniform_dir), "--to", "hf", "--int8", "--output", str(tmp_path / "out"))
    assert code == 2 and "--int8" in err and "--to onnx" in err


def test_missing_extra_names_it(
    uniform_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.dict(sys.modules, {"onnx": None, "onnxruntime": None}):  # None: import fails
        code, err = _run(capsys, str(uniform_dir), "--to", "onnx", "--output", str(tmp_path / "out"))
    assert code == 2 and 'pip install "lit_distill[export]"' in err


def test_push_to_hub_uploads_the_written_directory(uniform_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with mock.patch("huggingface_hub.HfApi") as api:
        export_model(uniform_dir, "hf", out, push_to_hub="me/tiny-qa", log=lambda _: None)
    api.return_value.create_repo.assert_called_once_with("me/tiny-qa", exist_ok=True, private=False)
    kwargs = api.return_value.upload_folder.call_args.kwargs
    assert kwargs["repo_id"] == "me/tiny-qa" and kwargs["folder_path"] == str(out)
