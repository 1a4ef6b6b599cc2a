"""Checkpoints written atomically beside their final name, through Lightning's ``CheckpointIO`` seam.

Lightning's :class:`~lightning.fabric.plugins.io.torch_io.TorchCheckpointIO` writes through
an fsspec transaction: a temporary file from ``tempfile.mkstemp()`` (in ``$TMPDIR``)
moved into place with ``shutil.move``. When ``$TMPDIR`` is another file system (a tmpfs
``/tmp``, a second disk, NFS) that move is a truncate-and-copy into ``last.ckpt``: a kill
or a full disk during the copy leaves it empty or partial, and the previous good
checkpoint is gone. :class:`AtomicCheckpointIO` writes the temporary in the checkpoint's
own directory instead (:func:`lit_distill.atomic_write.write_bytes`): ``last.ckpt`` is at
every moment a complete checkpoint, old or new. ``python -m lit_distill`` sets it unless
the configuration names another ``CheckpointIO`` plugin.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fsspec.utils
import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from typing_extensions import override

from lit_distill.atomic_write import write_bytes

__all__ = ["AtomicCheckpointIO", "with_atomic_checkpoint_io"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` that replaces a local checkpoint file atomically.

    The checkpoint is serialised in memory (as Lightning's own save does), written to a
    temporary file in the same directory, flushed to the device, and renamed over the
    target. Remote paths (``s3://`` ...) and ``storage_options`` go to Lightning's
    implementation unchanged. Loading is Lightning's.

    Raises:
        lit_distill.atomic_write.DiskFullError: no room for the checkpoint (one line, exit
            code 2); the previous checkpoint is intact.

    Example::

        trainer = Trainer(plugins=[AtomicCheckpointIO()])
    """

    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or fsspec.utils.get_protocol(str(path)) not in ("file", "local"):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_bytes(path, buffer.getbuffer())


def with_atomic_checkpoint_io(plugins: Any) -> list[Any]:
    """The trainer's ``plugins`` (None, one, or a list) plus an :class:`AtomicCheckpointIO`, unless one is a ``CheckpointIO``."""
    given = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if any(isinstance(plugin, CheckpointIO) for plugin in given):
        return given
    return [*given, AtomicCheckpointIO()]
