"""Imported once by the trial fork server (:mod:`lit_distill.search.launch`), before any trial forks.

Everything a ``python -m lit_distill fit|validate`` run imports that costs time:
torch, Lightning, jsonargparse, transformers' tokenizers, the project's modules,
data modules and callbacks. Nothing here touches CUDA or starts a thread, so a
``fork()`` of this process is as clean as a fresh interpreter.
"""

from __future__ import annotations

from lit_distill import cli  # torch, Lightning, jsonargparse

cli._register_project_classes()  # the project's modules, data modules (transformers) and callbacks
