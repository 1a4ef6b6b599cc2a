"""Checks run once the classes of a command are built, before its first step.

A run should not train for hours and then crash on its first save: every
location it will write to (checkpoints, logs, the exported model, predictions,
caches) is checked to be a writable directory, or creatable as one, and a
checkpoint to resume from (``--ckpt_path``, also ``last``) is verified to be an
intact archive. Each failure is a :class:`~lit_distill.user_errors.UserInputError`
naming the parameter.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lit_distill.checkpoint_files import check_checkpoint_file
from lit_distill.user_errors import UserInputError

__all__ = [
    "check_resume_checkpoint",
    "check_run_outputs",
    "check_writable_dir",
    "output_locations",
    "run_folders",
]


def check_writable_dir(path: str | Path, parameter: str) -> None:
    """Fail unless ``path`` is a writable directory or can be created as one.

    Writability is tested by creating (and at once removing) a temporary file in the
    directory, or in its nearest existing ancestor, so that it holds for root and for
    read-only file systems alike; no directory is created.

    Raises:
        UserInputError: naming ``parameter``, the path and the reason.
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise UserInputError(f"{parameter}={str(path)!r} is a file, not a directory; give a directory")
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserInputError(
            f"{parameter}={str(path)!r} cannot be created: {str(existing)!r} is a file, not a directory"
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        # named by the setting and the directory given, not by the probe file (no exception chained:
        # the probe's FileNotFoundError would be reported in place of this message)
        where = "" if existing == target else f" (its nearest existing parent {str(existing)!r})"
        reason = exc.strerror or type(exc).__name__
        raise UserInputError(
            f"{parameter}={str(path)!r} is not writable{where}: {reason}; give a directory this run can write to"
        ) from None


def output_locations(trainer: Any, model: Any, datamodule: Any, subcommand: str) -> Iterator[tuple[str, str]]:
    """``(parameter, directory)`` for every location the run will write to."""
    fitting = subcommand == "fit"
    if trainer is not None:
        root = getattr(trainer, "default_root_dir", None)
        # the working directory (Lightning's default) is checked only when a fit may write there
        if root and (fitting or Path(root).resolve() != Path.cwd().resolve()):
            yield "trainer.default_root_dir", str(root)
        for logger in getattr(trainer, "loggers", []) or []:
            save_dir = getattr(logger, "save_dir", None)
            if save_dir:
                yield f"trainer.logger ({type(logger).__name__}) save_dir", str(save_dir)
        if fitting:
            for callback in getattr(trainer, "checkpoint_callbacks", []) or []:
                dirpath = getattr(callback, "dirpath", None)
                if dirpath:
                    yield f"trainer.callbacks ({type(callback).__name__}) dirpath", str(dirpath)
    names = ("export_dir", "logit_cache_dir") if fitting else ("predictions_dir",)
    for name in names:
        value = getattr(model, name, None)
        if isinstance(value, (str, Path)) and str(value):
            yield f"model.init_args.{name}", str(value)
    cache_dir = getattr(datamodule, "cache_dir", None)
    if isinstance(cache_dir, (str, Path)) and str(cache_dir):
        yield "data.init_args.cache_dir", str(cache_dir)


def run_folders(trainer: Any, model: Any) -> list[Path]:
    """The folders a ``fit`` writes its own files into, outermost only: what a run-folder lock covers.

    The logger's directory (``trainer.log_dir``: ``metrics.csv``, ``config.yaml``), each
    checkpoint callback's ``dirpath`` and the folder holding ``model.init_args.export_dir``
    (the export is swapped in beside it); a folder inside another of them is left out. Caches
    (``data.init_args.cache_dir``, ``logit_cache_dir``) are shared between runs and are not
    run folders.
    """
    candidates: list[Path] = []
    log_dir = getattr(trainer, "log_dir", None)
    if log_dir:
        candidates.append(Path(log_dir))
    for callback in getattr(trainer, "checkpoint_callbacks", []) or []:
        dirpath = getattr(callback, "dirpath", None)
        if dirpath:
            candidates.append(Path(dirpath))
    export_dir = getattr(model, "export_dir", None)
    if isinstance(export_dir, (str, Path)) and str(export_dir):
        candidates.append(Path(export_dir).expanduser().absolute().parent)
    folders: list[Path] = []
    for folder in sorted(
        {Path(os.path.abspath(c.expanduser())) for c in candidates}, key=lambda p: len(p.parts)
    ):
        if not any(folder == kept or kept in folder.parents for kept in folders):
            folders.append(folder)
    return folders


def check_run_outputs(trainer: Any, model: Any, datamodule: Any, subcommand: str) -> None:
    """Check every output location of the run (:func:`output_locations`) is writable.

    Raises:
        UserInputError: naming the first parameter whose location is not writable.
    """
    for parameter, directory in output_locations(trainer, model, datamodule, subcommand):
        check_writable_dir(directory, parameter)


def check_resume_checkpoint(trainer: Any, ckpt_path: Any) -> None:
    """Verify the checkpoint ``--ckpt_path`` names (a file, or ``last``: the newest ``last*.ckpt``).

    Raises:
        UserInputError: naming the file when it is truncated, corrupt or unsafe.
    """
    if not ckpt_path:
        return
    if str(ckpt_path) == "last":
        candidates = [
            file
            for callback in getattr(trainer, "checkpoint_callbacks", []) or []
            if getattr(callback, "dirpath", None) and Path(callback.dirpath).is_dir()
            for file in Path(callback.dirpath).glob("last*.ckpt")
        ]
        if candidates:
            check_checkpoint_file(max(candidates, key=lambda f: f.stat().st_mtime), "ckpt_path (last)")
        return
    path = Path(str(ckpt_path)).expanduser()
    if path.is_file():
        check_checkpoint_file(path, "ckpt_path")
