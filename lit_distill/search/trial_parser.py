"""The trial's own parser, in this process: a config's defaults, and one trial built without running it.

A trial runs ``python -m lit_distill fit|validate --config BASE ... --config overrides.yaml``
through :class:`lit_distill.cli.LitDistillCLI`. Before any trial runs, the search asks
that same parser two things, in this process and never by starting the spec's
``launcher`` (a command the spec names, so code):

* :func:`full_config` — the base config with every default filled in, to find a config
  key that the base YAML does not write;
* :func:`build_trial` — a trial's classes built as the trial builds them (model, data
  module, trainer, the output checks before the first step), then the module's ``setup``
  against the data module: the student built from its teacher, teacher, student and
  data tokenizers compared, the vocabulary and a length configuration checked. No
  training or evaluation step runs, no callback hook is called and the data's features
  are not computed.

Torch, Lightning and the project's modules are imported only when one of these is
called, so the rest of :mod:`lit_distill.search` stays torch-free.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from lit_distill.search.spec_reader import SearchSpecError

__all__ = ["build_trial", "full_config"]


def _parser_class() -> Any:
    """:class:`~lit_distill.cli.LitDistillCLI` that parses, optionally builds, and never runs a trainer method."""
    from lit_distill.cli import LitDistillCLI

    class TrialParser(LitDistillCLI):
        def __init__(self, args: list[str], build: bool) -> None:
            self._build = build
            super().__init__(args=args, save_config_callback=None, parser_kwargs={"exit_on_error": False})

        def parse_arguments(self, parser: Any, args: Any) -> None:
            self.config = parser.parse_args(args)  # not LightningCLI's: it warns about sys.argv

        def _set_seed(self) -> None:  # the search process keeps its own random state and environment
            pass

        def _parse_ckpt_path(self) -> None:
            if self._build:
                super()._parse_ckpt_path()

        def instantiate_classes(self) -> None:
            if self._build:
                super().instantiate_classes()

        def _run_subcommand(self, subcommand: str) -> None:
            pass

    return TrialParser


def _parse(argv: Sequence[str], build: bool) -> Any:
    """Parse (and build) ``argv`` (``fit --config …``); errors as :class:`SearchSpecError`.

    Raises:
        SearchSpecError: For what the user's configs or values cause (jsonargparse's
            complaints, :class:`~lit_distill.user_errors.UserInputError` and missing files).
    """
    from jsonargparse import ArgumentError

    from lit_distill.user_errors import find_user_error

    try:
        return _parser_class()(list(argv), build)
    except ArgumentError as err:
        raise SearchSpecError(" ".join(str(err).split())) from None
    except Exception as exc:
        error = find_user_error(exc)
        if error is None:
            raise
        raise SearchSpecError(str(error)) from exc


def full_config(command: str, base_configs: Sequence[str]) -> dict[str, Any]:
    """The config of ``command`` from ``base_configs`` (in order) with every default filled in.

    What ``python -m lit_distill COMMAND --config … --print_config`` prints, computed by the
    same parser in this process; nothing is built.

    Raises:
        SearchSpecError: If the configs do not parse (naming jsonargparse's reason).
    """
    argv = [command]
    for path in base_configs:
        argv += ["--config", str(path)]
    try:
        cli = _parse(argv, build=False)
    except SearchSpecError as err:
        files = ", ".join(str(p) for p in base_configs)
        raise SearchSpecError(f"base config {files} does not parse for `{command}`: {err}") from None
    config = cli.config[command].as_dict()
    return config if isinstance(config, dict) else {}


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning's "GPU available" lines are the trial's to print, not ``search check``'s."""
    import lightning.pytorch  # noqa: F401 - its import sets the level that is lowered here

    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_trial(argv: Sequence[str]) -> list[str]:
    """Build the trial ``argv`` (``fit --config BASE --config overrides.yaml …``) and run its module's ``setup``.

    Returns:
        One line per object built (for ``search check``'s output).

    Raises:
        SearchSpecError: With the error the trial would exit with (code 2), before any trial runs.
    """
    command = argv[0]
    with _quiet_lightning():
        cli = _parse(argv, build=True)
    model, datamodule, trainer = cli.model, cli.datamodule, cli.trainer
    built = [f"model: {type(model).__name__}", f"data: {type(datamodule).__name__}"]
    trainer.datamodule = datamodule  # what Trainer.fit attaches before the setup hooks
    if datamodule is not None:
        datamodule.trainer = trainer
    model.trainer = trainer
    from lit_distill.user_errors import find_user_error

    try:
        model.setup("fit" if command == "fit" else "validate")
    except Exception as exc:
        error = find_user_error(exc)
        if error is None and not isinstance(exc, (ValueError, TypeError, OSError)):
            raise
        raise SearchSpecError(str(error or exc)) from exc
    finally:
        model.trainer = None
    network = getattr(model, "model", None)
    if network is not None and hasattr(network, "parameters"):
        count = sum(p.numel() for p in network.parameters())
        built.append(f"network: {type(network).__name__} with {count:,} parameters")
    return built
