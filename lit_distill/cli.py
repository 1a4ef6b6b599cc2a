"""The LightningCLI of lit_distill (subclass mode for models and data)."""

from __future__ import annotations

import warnings
from typing import Any, NoReturn

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI


class LitDistillArgumentParser(LightningArgumentParser):
    """Lightning's parser; a data key of before the data module took one ``source`` is a one-line error.

    ``data.init_args.synthetic_train_size`` (or ``train_file``, ``hub_dataset``, ...) in a config
    file or on the command line raises :class:`~lit_distill.user_errors.UserInputError` naming the
    key and its new spelling (:func:`~lit_distill.data.sources.old_data_key_message`), instead of
    jsonargparse's usage text.
    """

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Raise the old-key message when ``message`` rejects an old data key; else jsonargparse's error."""
        from lit_distill.data.sources import old_data_key_in, old_data_key_message
        from lit_distill.user_errors import UserInputError

        key = old_data_key_in(message)
        if key is not None:
            raise UserInputError(old_data_key_message(key)) from ex
        super().error(message, ex)


class LitDistillCLI(LightningCLI):
    """LightningCLI with subclass mode for both the module and the data module.

    Any ``LightningModule`` / ``LightningDataModule`` importable by ``class_path``
    can be used; the project's own are found by their short names once imported
    by ``lit_distill.modules`` and ``lit_distill.data``. Every option can also
    come from an environment variable, e.g. ``LIT_DISTILL_FIT__TRAINER__MAX_EPOCHS=3``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _register_project_classes()
        kwargs.setdefault("model_class", LightningModule)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("parser_class", LitDistillArgumentParser)
        parser_kwargs = kwargs.setdefault("parser_kwargs", {})
        parser_kwargs.setdefault("env_prefix", "LIT_DISTILL")
        parser_kwargs.setdefault("default_env", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Always add :class:`~lit_distill.callbacks.plain_progress.PlainProgress` (options ``progress.*``)."""
        from lit_distill.callbacks.plain_progress import PlainProgress

        parser.add_lightning_class_args(PlainProgress, "progress")

    def before_instantiate_classes(self) -> None:
        """An unset ``trainer.precision`` follows the accelerator: 16-mixed on CUDA, else 32-true."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.get("trainer") is not None and config.trainer.get("precision") is None:
            config.trainer.precision = default_precision(config.trainer.get("accelerator"))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Build the trainer.

        Checkpoints are written atomically (:class:`~lit_distill.checkpoint_io.AtomicCheckpointIO`,
        unless ``trainer.plugins`` names another ``CheckpointIO``); Lightning's default model
        summary becomes :class:`QAModelSummary`; ``fit`` stops on SIGTERM with a resumable
        checkpoint (:class:`~lit_distill.callbacks.preemption.SigtermCheckpoint`).
        """
        from lightning.pytorch.callbacks import ModelSummary, RichModelSummary

        from lit_distill.callbacks.model_summary import QAModelSummary
        from lit_distill.callbacks.preemption import SigtermCheckpoint
        from lit_distill.checkpoint_io import with_atomic_checkpoint_io

        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        given = kwargs["plugins"] if "plugins" in kwargs else (config.get("trainer") or {}).get("plugins")
        kwargs["plugins"] = with_atomic_checkpoint_io(given)
        trainer = super().instantiate_trainer(**kwargs)
        callbacks: list[Any] = trainer.callbacks  # type: ignore[attr-defined]
        for i, callback in enumerate(callbacks):
            if type(callback) in (ModelSummary, RichModelSummary):  # Lightning's own (default or named)
                # no public accessor of the depth (Lightning 2.6); tests/safety/test_lightning_internals.py
                callbacks[i] = QAModelSummary(max_depth=callback._max_depth)
        if self.subcommand == "fit":
            callbacks.append(SigtermCheckpoint())  # a Checkpoint: Lightning keeps it after the others
        return trainer

    # ------------------------------------------------- safety checks (docs/safety.md)
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse; then verify a ``--ckpt_path`` file before Lightning reads its hyper-parameters from it."""
        from lit_distill.checkpoint_files import allow_checkpoint_types
        from lit_distill.preflight import check_resume_checkpoint

        super().parse_arguments(parser, args)
        allow_checkpoint_types()
        subcommand = self.config.get("subcommand")
        if subcommand:
            check_resume_checkpoint(None, self.config[subcommand].get("ckpt_path"))

    def instantiate_classes(self) -> None:
        """Build the classes; a constructor's complaint about its arguments is a user error (exit 2).

        Then, before the first step: every output location must be writable, a ``--ckpt_path last``
        must be intact, and Lightning loads checkpoints with ``weights_only=True`` unless the user
        passes ``--weights_only false``. A ``fit`` locks its run folders
        (:class:`~lit_distill.callbacks.run_folder.RunFolderLock`): a second run into them fails.
        """
        from lit_distill.callbacks.run_folder import RunFolderLock
        from lit_distill.preflight import check_resume_checkpoint, check_run_outputs, run_folders
        from lit_distill.user_errors import UserInputError, find_user_error, root_cause

        try:
            super().instantiate_classes()
        except Exception as exc:
            # a UserInputError in the chain is reported by __main__ as it is (the outermost one,
            # with the context the project added); a file-system error from a path the user gave
            # becomes one; anything else (a ValueError included) is a bug and keeps its traceback
            cause = root_cause(exc)
            if find_user_error(exc) is None and isinstance(cause, OSError):
                raise UserInputError(str(cause)) from exc
            raise
        subcommand = self.subcommand
        if subcommand is None:
            return
        config = self.config_init[subcommand]
        if "weights_only" in config and config["weights_only"] is None:
            config["weights_only"] = True
        elif "weights_only" in config and config["weights_only"] is False and config.get("ckpt_path"):
            warnings.warn(
                "--weights_only false: the checkpoint is fully unpickled and any code pickled in it runs; "
                "use it only for files you trust",
                stacklevel=2,
            )
        check_run_outputs(self.trainer, self.model, self.datamodule, subcommand)
        if config.get("ckpt_path") == "last":  # a file was checked in parse_arguments
            check_resume_checkpoint(self.trainer, "last")
        if subcommand == "fit" and self.trainer.is_global_zero:
            # before Lightning's loggers start (a CSVLogger removes an existing metrics.csv)
            lock = RunFolderLock(run_folders(self.trainer, self.model))
            lock.acquire()
            self.trainer.callbacks.append(lock)  # type: ignore[attr-defined]


def default_precision(accelerator: Any) -> str:
    """``"16-mixed"`` when ``accelerator`` resolves to a CUDA GPU, else ``"32-true"``.

    Mixed precision pays off on GPUs; on CPUs Lightning supports only bf16, which
    is slower than float32 on most of them.
    """
    import torch

    name = accelerator if isinstance(accelerator, str) or accelerator is None else type(accelerator).__name__
    name = (name or "auto").lower()
    if name in ("gpu", "cuda", "cudaaccelerator"):
        return "16-mixed"
    if name == "auto" and torch.cuda.is_available():
        return "16-mixed"
    return "32-true"


def _register_project_classes() -> None:
    """Import the project's modules, data modules and callbacks so short class names resolve."""
    import importlib

    for name in ("lit_distill.modules", "lit_distill.data", "lit_distill.callbacks"):
        importlib.import_module(name)
