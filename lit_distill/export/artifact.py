"""Running an exported directory: the Hugging Face model in PyTorch or the ONNX graph in ONNX Runtime.

Every exported directory carries ``lit_distill_export.json`` (the manifest: format,
INT8, length configuration, whether it needs ``trust_remote_code``), its tokenizer
and its model card.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from lit_distill.export.errors import require
from lit_distill.models.loading import EXPORT_MANIFEST as MANIFEST
from lit_distill.user_errors import UserInputError

__all__ = ["MANIFEST", "ONNX_FILE", "Artifact", "Manifest", "load_artifact", "read_manifest"]

ONNX_FILE = "model.onnx"
Runtime = Literal["torch", "onnxruntime"]

# (B, L) int64 input_ids, attention_mask, token_type_ids -> (B, L) float32 start, end logits
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Manifest:
    """What an exported directory holds.

    Attributes:
        format: ``"hf"`` (Hugging Face directory) or ``"onnx"``.
        int8: Whether the linear layers are INT8.
        length_config: The Drop-and-Restore configuration built in, or None.
        custom_code: Whether loading needs ``trust_remote_code=True``.
        source: The checkpoint or directory it was exported from.
        int8_scheme: The INT8 scheme (:mod:`lit_distill.export.quantize`), for an INT8 graph.
    """

    format: str
    int8: bool = False
    length_config: list[int] | list[float] | None = None
    custom_code: bool = False
    source: str = ""
    int8_scheme: str | None = None

    def write(self, directory: Path) -> None:
        """Write ``lit_distill_export.json`` into ``directory``."""
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of an exported directory.

    Raises:
        FileNotFoundError: when ``directory`` was not written by ``lit_distill export``.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not a directory written by `lit_distill export` (no {MANIFEST})"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return Manifest(**data)


@dataclass
class Artifact:
    """A loaded exported model.

    Attributes:
        forward: Runs one batch (numpy in, numpy out).
        tokenizer: The tokenizer saved with it.
        manifest: Its manifest.
        runtime: ``"torch"`` or ``"onnxruntime"``.
        model: The underlying ``PreTrainedModel`` or ``InferenceSession``.
    """

    forward: Forward
    tokenizer: Any
    manifest: Manifest
    runtime: str
    model: Any


def onnx_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session with all graph optimisations."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_forward(session: Any) -> Forward:
    """Wrap a session; inputs the graph does not use (DistilBERT's segment ids) are left out."""
    names = {i.name for i in session.get_inputs()}

    def run(
        input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        start, end = session.run(
            ["start_logits", "end_logits"], {k: v for k, v in feed.items() if k in names}
        )
        return start, end

    return run


def torch_forward(model: Any) -> Forward:
    """Wrap a Hugging Face QA model (fp32, CPU, inference mode)."""
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters

    def run(
        input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        kwargs = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
        }
        if takes_types:
            kwargs["token_type_ids"] = torch.from_numpy(token_type_ids)
        with torch.inference_mode():
            out = model(**kwargs)
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()

    return run


def load_artifact(
    directory: str | Path,
    runtime: Runtime | None = None,
    threads: int | None = None,
    onnx_file: str = ONNX_FILE,
) -> Artifact:
    """Load an exported directory for inference.

    Args:
        directory: Written by ``lit_distill export``.
        runtime: ``"torch"`` (a Hugging Face directory) or ``"onnxruntime"`` (an ONNX one);
            default: the one that fits the directory.
        threads: ONNX Runtime intra-op threads (torch's are set with ``torch.set_num_threads``).
        onnx_file: The graph to load from an ONNX directory.

    Raises:
        FileNotFoundError: not an exported directory.
        UserInputError: the runtime does not fit the directory's format.
    """
    from transformers import AutoTokenizer

    path = Path(directory)
    manifest = read_manifest(path)
    chosen = runtime or ("onnxruntime" if manifest.format == "onnx" else "torch")
    expected = "onnxruntime" if manifest.format == "onnx" else "torch"
    if chosen != expected:
        raise UserInputError(
            f"--runtime {chosen}: {directory} is a {manifest.format!r} export, which runs with --runtime {expected}"
        )
    tokenizer = AutoTokenizer.from_pretrained(
        str(path), use_fast=True, trust_remote_code=manifest.custom_code
    )
    if chosen == "onnxruntime":
        session = onnx_session(path / onnx_file, threads)
        return Artifact(onnx_forward(session), tokenizer, manifest, chosen, session)
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(path), trust_remote_code=manifest.custom_code)
    model.eval()
    return Artifact(torch_forward(model), tokenizer, manifest, chosen, model)
