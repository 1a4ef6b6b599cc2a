"""Reading checkpoint files without running code from them.

A PyTorch checkpoint is a zip archive holding a pickle. Unpickling an arbitrary
pickle can run any code, so every checkpoint is read with
``torch.load(..., weights_only=True)``: tensors, plain Python data and the few
types in :data:`CHECKPOINT_SAFE_GLOBALS`, nothing else. Before that, the
archive's CRC-32 checksums are verified, so a truncated or overwritten file is a
clear error naming it instead of a deep traceback (or, for bytes overwritten in
tensor data, weights that are silently wrong).

``LIT_DISTILL_TRUST_CHECKPOINTS=1`` is the one opt-in to full unpickling, for a
``teacher`` / ``student`` checkpoint the user wrote and trusts; it warns.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from lit_distill.user_errors import MissingPathError, UserInputError

__all__ = [
    "CHECKPOINT_SAFE_GLOBALS",
    "TRUST_ENV",
    "allow_checkpoint_types",
    "check_checkpoint_file",
    "load_checkpoint",
]

TRUST_ENV = "LIT_DISTILL_TRUST_CHECKPOINTS"


def _safe_globals() -> list[Any]:
    from lightning.fabric.utilities.data import AttributeDict

    # Paths (a hyper-parameter given as a Path in Python) and Lightning's hparams dict:
    # building them runs no user code.
    return [
        pathlib.PosixPath,
        pathlib.WindowsPath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        AttributeDict,
    ]


CHECKPOINT_SAFE_GLOBALS: list[Any] = _safe_globals()


def allow_checkpoint_types() -> None:
    """Add :data:`CHECKPOINT_SAFE_GLOBALS` to PyTorch's allow-list (also for Lightning's own loads)."""
    torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)


def _fail_corrupt(path: Path, parameter: str, detail: str) -> UserInputError:
    return UserInputError(
        f"{parameter}={str(path)!r} is not a readable checkpoint ({detail}): the file is truncated or "
        "corrupt; give another checkpoint or delete this one"
    )


def check_checkpoint_file(path: str | Path, parameter: str) -> None:
    """Verify a checkpoint without unpickling it: a complete archive, intact, with only allowed types.

    Raises:
        MissingPathError: if there is no such file.
        UserInputError: naming ``parameter`` and the file when it is truncated, corrupt, or
            holds objects whose loading could run code.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingPathError(f"{parameter}={str(path)!r}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise _fail_corrupt(path, parameter, "not a complete zip archive as torch.save writes")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _fail_corrupt(path, parameter, str(exc)) from exc
    if bad is not None:
        raise _fail_corrupt(path, parameter, f"checksum mismatch in {bad!r}")
    if os.environ.get(TRUST_ENV) == "1":
        return
    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch >= 2.5
    if scan is None:
        return  # the weights_only load itself still refuses them
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        unsafe = scan(str(path))
    if unsafe:
        raise _unsafe_error(path, parameter, ", ".join(sorted(set(unsafe))))


def _unsafe_error(path: Path, parameter: str, what: str) -> UserInputError:
    return UserInputError(
        f"{parameter}={str(path)!r} holds pickled objects other than tensors and plain data ({what}); "
        "it was not loaded, because unpickling them could run code. Checkpoints written by lit_distill "
        f"never need this; if you wrote this file yourself and trust it, set {TRUST_ENV}=1"
    )


def load_checkpoint(path: str | Path, parameter: str) -> Any:
    """Verify (:func:`check_checkpoint_file`) and load a checkpoint on CPU with ``weights_only=True``.

    With ``LIT_DISTILL_TRUST_CHECKPOINTS=1`` the file is fully unpickled instead, with a warning.

    Raises:
        MissingPathError, UserInputError: as :func:`check_checkpoint_file`.
    """
    path = Path(path).expanduser()
    check_checkpoint_file(path, parameter)
    if os.environ.get(TRUST_ENV) == "1":
        warnings.warn(
            f"{TRUST_ENV}=1: {parameter}={str(path)!r} is fully unpickled (weights_only=False); "
            "any code pickled in it runs",
            stacklevel=2,
        )
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = next((line for line in str(exc).splitlines() if "GLOBAL" in line), str(exc)[:200])
        raise _unsafe_error(path, parameter, first.strip()) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail_corrupt(path, parameter, str(exc).splitlines()[0]) from exc
