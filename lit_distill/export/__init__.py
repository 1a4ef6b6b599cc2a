"""Ship a model: Hugging Face directories, ONNX graphs, INT8, each evaluated itself (``python -m lit_distill export``)."""

from lit_distill.export.api import ExportResult, export_model, upload_to_hub
from lit_distill.export.deployed_latency import DeployedLatency
from lit_distill.export.errors import ExportInputError

__all__ = ["DeployedLatency", "ExportInputError", "ExportResult", "export_model", "upload_to_hub"]
