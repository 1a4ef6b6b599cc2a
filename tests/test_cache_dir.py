"""One cache directory for every cache: ``$LIT_DISTILL_CACHE`` when set and not empty, else ``~/.cache/lit_distill``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit_distill.cache_dir import CACHE_ENV, default_cache_dir


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_empty_is_the_home_cache_never_the_working_directory(
    value: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    if value is None:
        monkeypatch.delenv(CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(CACHE_ENV, value)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "lit_distill"
    assert (
        default_cache_dir("teacher_logits") == tmp_path / "home" / ".cache" / "lit_distill" / "teacher_logits"
    )
    assert default_cache_dir() != Path(".") and default_cache_dir().is_absolute()


def test_the_variable_moves_every_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(CACHE_ENV, "~/elsewhere")
    assert default_cache_dir("teacher_logits") == tmp_path / "home" / "elsewhere" / "teacher_logits"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    from lit_distill.data import SquadDataModule, SyntheticSquad

    # the feature cache and the teacher-logit cache live under the same root
    assert SquadDataModule(SyntheticSquad()).cache_dir == tmp_path / "c"
    monkeypatch.setenv(CACHE_ENV, "")
    assert SquadDataModule(SyntheticSquad()).cache_dir == tmp_path / "home" / ".cache" / "lit_distill"
