"""Ship a model: Hugging Face directories, ONNX graphs, INT8, each evaluated itself (``python -m lit_distill export``).

The names below are imported on first use, so that loading an exported directory
(:mod:`lit_distill.export.artifact`, used by :mod:`lit_distill.inference`) does not import
the exporter or Lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lit_distill.export.api import ExportResult, export_model, upload_to_hub
    from lit_distill.export.deployed_latency import DeployedLatency
    from lit_distill.export.errors import ExportInputError

__all__ = ["DeployedLatency", "ExportInputError", "ExportResult", "export_model", "upload_to_hub"]

_HOMES = {
    "ExportResult": "lit_distill.export.api",
    "export_model": "lit_distill.export.api",
    "upload_to_hub": "lit_distill.export.api",
    "DeployedLatency": "lit_distill.export.deployed_latency",
    "ExportInputError": "lit_distill.export.errors",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'lit_distill.export' has no attribute {name!r}")
