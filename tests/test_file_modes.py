"""Saved and exported models get the umask's permissions, so a server running as another user reads them (#29.6)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lit_distill.file_modes import apply_umask, current_umask
from lit_distill.models.config import EncoderConfig
from lit_distill.models.qa_model import QAModel


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of ``root`` and everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def tiny_model() -> QAModel:
    torch.manual_seed(0)
    return QAModel(
        EncoderConfig(
            vocab_size=40,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    )


def test_current_umask_reads_without_changing_it(umask_022: None) -> None:
    assert current_umask() == 0o022
    assert current_umask() == 0o022


def test_qa_model_save_gives_files_0o644_and_directories_0o755(umask_022: None, tmp_path: Path) -> None:
    out = tiny_model().save(tmp_path / "model")
    found = modes(out)
    assert found["."] == 0o755
    assert found["model.safetensors"] == 0o644  # safetensors alone writes 0o600
    assert set(found.values()) <= {0o644, 0o755}, found


def test_export_to_hf_gives_the_umask_s_permissions(umask_022: None, tmp_path: Path) -> None:
    from lit_distill.export import export_model
    from lit_distill.models.loading import wordpiece_tokenizer
    from tests.export.conftest import VOCAB

    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = wordpiece_tokenizer(tmp_path / "vocab.txt")
    model = QAModel(
        EncoderConfig(
            vocab_size=len(VOCAB),
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    )
    source = model.save(tmp_path / "model", tokenizer=tokenizer)
    for to, extra in (("hf", {}), ("hf", {"length_config": "[0.8,0.5]"})):  # plain BERT and custom code
        out = tmp_path / f"deploy-{len(extra)}"
        export_model(str(source), to, str(out), log=lambda line: None, **extra)  # type: ignore[arg-type]
        found = modes(out)
        assert found["."] == 0o755, found  # tempfile.mkdtemp made it 0o700
        assert found["model.safetensors"] == 0o644, found
        assert all(m == (0o755 if (out / p).is_dir() else 0o644) for p, m in found.items()), found


def test_apply_umask_follows_another_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        (tmp_path / "d" / "e").mkdir(parents=True)
        (tmp_path / "d" / "e" / "f").write_text("x")
        os.chmod(tmp_path / "d", 0o700)
        os.chmod(tmp_path / "d" / "e" / "f", 0o600)
        apply_umask(tmp_path / "d")
        assert modes(tmp_path / "d") == {".": 0o750, "e": 0o750, "e/f": 0o640}
    finally:
        os.umask(old)
