"""Running an exported directory: the Hugging Face model in PyTorch or the ONNX graph in ONNX Runtime.

Every exported directory carries ``lit_distill_export.json`` (the manifest: format,
INT8, length configuration, whether it needs ``trust_remote_code``, and everything
that turns its logits back into answers: windows, SQuAD version, n-best, longest
answer, the no-answer threshold), its tokenizer and its model card. A manifest written
by a newer lit_distill, or a directory missing one of the files its manifest lists,
is one clear message when it is loaded.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from lit_distill import __version__
from lit_distill.data.batches import collate_features
from lit_distill.data.features import FeatureArrays, FeatureSettings
from lit_distill.export.errors import require
from lit_distill.models.loading import EXPORT_MANIFEST as MANIFEST
from lit_distill.user_errors import MissingPathError, UserInputError

__all__ = [
    "MANIFEST",
    "MANIFEST_VERSION",
    "ONNX_FILE",
    "Artifact",
    "Decoding",
    "Manifest",
    "check_artifact_files",
    "load_artifact",
    "read_manifest",
    "span_logits",
]

MANIFEST_VERSION = 2
"""Version of the manifest's layout: 1 had no decoding fields; 2 adds them and the file list."""
ONNX_FILE = "model.onnx"
CARD_FILE = "README.md"
Runtime = Literal["torch", "onnxruntime"]
SQUAD_VERSIONS = ("1.1", "2.0")

# (B, L) int64 input_ids, attention_mask, token_type_ids -> (B, L) float32 start, end logits
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Decoding:
    """How an artifact's logits become answers (:func:`~lit_distill.metrics.postprocess.postprocess_predictions`).

    Attributes:
        squad_version: ``"2.0"`` (may answer ``""``) or ``"1.1"`` (always answers a span).
        n_best_size: Start and end candidates per window.
        max_answer_length: Longest answer in tokens.
        null_score_diff_threshold: SQuAD 2.0: answer ``""`` when ``null - best`` exceeds this
            (logit-difference units).
    """

    squad_version: str = "2.0"
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0


@dataclass
class Manifest:
    """What an exported directory holds.

    Attributes:
        format: ``"hf"`` (Hugging Face directory) or ``"onnx"``.
        int8: Whether the linear layers are INT8.
        length_config: The Drop-and-Restore configuration built in, or None.
        custom_code: Whether loading needs ``trust_remote_code=True``.
        source: The checkpoint or directory it was exported from, relative or by name (never
            an absolute local path: the directory is meant to be published).
        int8_scheme: The INT8 scheme (:mod:`lit_distill.export.quantize`), for an INT8 graph.
        squad_version: ``"1.1"`` or ``"2.0"``: whether the model may answer ``""``.
        max_seq_length: Tokens per window (special tokens included).
        doc_stride: Overlapping tokens of consecutive windows of one context.
        max_query_length: Question tokens kept.
        n_best_size: Start and end candidates per window.
        max_answer_length: Longest answer in tokens.
        null_score_diff_threshold: SQuAD 2.0 no-answer threshold in logit-difference units.
        threshold_source: Where ``null_score_diff_threshold`` came from (shown in the model card).
        files: The files of the directory the model needs (checked at load time).
        manifest_version: Layout version (:data:`MANIFEST_VERSION` when written).
        lit_distill_version: The lit_distill that wrote it.
    """

    format: str
    int8: bool = False
    length_config: list[int] | list[float] | None = None
    custom_code: bool = False
    source: str = ""
    int8_scheme: str | None = None
    squad_version: str = "2.0"
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0
    threshold_source: str = "default"
    files: list[str] = field(default_factory=list)
    manifest_version: int = MANIFEST_VERSION
    lit_distill_version: str = __version__

    def feature_settings(self) -> FeatureSettings:
        """The windows questions and contexts are cut into (as at the artifact's evaluation)."""
        return FeatureSettings(self.max_seq_length, self.doc_stride, self.max_query_length)

    def decoding(self) -> Decoding:
        """How logits become answers."""
        return Decoding(
            self.squad_version, self.n_best_size, self.max_answer_length, self.null_score_diff_threshold
        )

    def write(self, directory: Path) -> None:
        """Write ``lit_distill_export.json`` into ``directory``, listing the files it holds (but the card)."""
        self.files = sorted(
            p.relative_to(directory).as_posix()
            for p in directory.rglob("*")
            if p.is_file() and p.name not in (MANIFEST, CARD_FILE)
        )
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "int8": (bool,),
    "custom_code": (bool,),
    "source": (str,),
    "squad_version": (str,),
    "max_seq_length": (int,),
    "doc_stride": (int,),
    "max_query_length": (int,),
    "n_best_size": (int,),
    "max_answer_length": (int,),
    "null_score_diff_threshold": (int, float),
    "threshold_source": (str,),
    "manifest_version": (int,),
    "lit_distill_version": (str,),
}


def _check_manifest(data: Any, path: Path) -> Manifest:
    """A :class:`Manifest` from parsed JSON, or one message naming the file and what is wrong."""
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: must be a JSON object (written by `lit_distill export`)")
    version = data.get("manifest_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserInputError(f"{path}: manifest_version must be a positive integer, got {version!r}")
    if version > MANIFEST_VERSION:
        raise UserInputError(
            f"{path.parent} was written by lit_distill {data.get('lit_distill_version', '(newer)')} "
            f"(manifest version {version}); this lit_distill {__version__} reads manifest versions up to "
            f"{MANIFEST_VERSION}: upgrade lit_distill (pip install -U lit_distill) or re-export the model with "
            "this version"
        )
    known = {f.name for f in dataclasses.fields(Manifest)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserInputError(
            f"{path}: unknown field(s) {', '.join(map(repr, unknown))} for manifest version {version}; "
            "the file was edited or written by another tool"
        )
    for name, types in _FIELD_TYPES.items():
        if name in data and (
            not isinstance(data[name], types) or (bool not in types and isinstance(data[name], bool))
        ):
            raise UserInputError(f"{path}: {name} is {data[name]!r}, of the wrong type")
    if "format" not in data or data["format"] not in ("hf", "onnx"):
        raise UserInputError(f"{path}: format must be 'hf' or 'onnx', got {data.get('format')!r}")
    if data.get("squad_version", "2.0") not in SQUAD_VERSIONS:
        raise UserInputError(
            f"{path}: squad_version must be one of {SQUAD_VERSIONS}, got {data['squad_version']!r}"
        )
    threshold = data.get("null_score_diff_threshold", 0.0)
    if not math.isfinite(threshold):
        raise UserInputError(f"{path}: null_score_diff_threshold must be a finite number, got {threshold!r}")
    manifest = Manifest(**data)
    manifest.manifest_version = version
    try:
        manifest.feature_settings().validate()
    except ValueError as err:
        raise UserInputError(f"{path}: {err}") from err
    if manifest.n_best_size < 1 or manifest.max_answer_length < 1:
        raise UserInputError(f"{path}: n_best_size and max_answer_length must be >= 1")
    return manifest


def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of an exported directory.

    Raises:
        MissingPathError: ``directory`` was not written by ``lit_distill export`` (a ``FileNotFoundError``).
        UserInputError: the manifest is not valid JSON, was written by a newer lit_distill, or
            has fields of the wrong type.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        what = "does not exist" if not Path(directory).exists() else f"has no {MANIFEST}"
        raise MissingPathError(
            f"{directory} {what}: give a directory written by `python -m lit_distill export`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from err
    return _check_manifest(data, path)


def check_artifact_files(directory: str | Path, manifest: Manifest) -> None:
    """Fail with one message when a file the manifest lists is missing from ``directory``.

    Raises:
        MissingPathError: naming the missing files.
    """
    missing = [name for name in manifest.files if not (Path(directory) / name).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise MissingPathError(
            f"{directory} is incomplete: {shown} missing (listed in its {MANIFEST}); copy the whole "
            "directory or export the model again"
        )


def span_logits(
    forward: Forward, features: FeatureArrays, pad_id: int, width: int, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits of every feature, in batches of similar length.

    Args:
        forward: The artifact's forward.
        features: Ragged features (:func:`~lit_distill.data.features.build_features`).
        pad_id: The tokenizer's padding id.
        width: Columns of the result (at least the longest feature).
        batch_size: Features per forward call.

    Returns:
        ``(start, end)``: (F, width) float32 each; columns past a feature's length hold -1e9.
    """
    n = len(features)
    start = np.full((n, width), -1e9, dtype=np.float32)
    end = np.full((n, width), -1e9, dtype=np.float32)
    order = np.argsort(features.lengths, kind="stable")  # similar lengths share a batch
    for lo in range(0, n, batch_size):
        indices = [int(i) for i in order[lo : lo + batch_size]]
        batch = collate_features(features, indices, pad_id, None)
        s, e = forward(
            batch["input_ids"].numpy(), batch["attention_mask"].numpy(), batch["token_type_ids"].numpy()
        )  # (b, l) each
        start[indices, : s.shape[1]] = s
        end[indices, : e.shape[1]] = e
    return start, end


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


def onnx_session(path: Path, threads: int | None = None, spinning: bool = True) -> Any:
    """An ONNX Runtime CPU session with all graph optimisations.

    Args:
        path: The ONNX graph.
        threads: Intra-op threads (None: ONNX Runtime's choice).
        spinning: Let idle intra-op threads spin-wait for the next operator (ONNX Runtime's
            default: lowest latency for back-to-back calls; ``False`` leaves the cores to other
            processes between calls, as a server's HTTP workers need). Sessions timed against
            each other in one process (interleaved rounds) must not spin: a spinning session's
            idle threads hold the cores the next session needs, so that two identical graphs
            timed 0.66x apart (docs/replication.md, "Timing several graphs in one process").
    """
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    spinning: bool = True,
) -> Artifact:
    """Load an exported directory for inference.

    Args:
        directory: Written by ``lit_distill export``.
        runtime: ``"torch"`` (a Hugging Face directory) or ``"onnxruntime"`` (an ONNX one);
            default: the one that fits the directory.
        threads: ONNX Runtime intra-op threads (torch's are set with ``torch.set_num_threads``).
        onnx_file: The graph to load from an ONNX directory.
        spinning: ONNX Runtime's idle threads spin-wait (see :func:`onnx_session`).

    Raises:
        MissingPathError: not an exported directory, or one missing a file (a ``FileNotFoundError``).
        UserInputError: a manifest written by a newer lit_distill, or not valid; or the runtime does
            not fit the directory's format.
    """
    from transformers import AutoTokenizer

    path = Path(directory)
    manifest = read_manifest(path)
    check_artifact_files(path, manifest)
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
        session = onnx_session(path / onnx_file, threads, spinning)
        return Artifact(onnx_forward(session), tokenizer, manifest, chosen, session)
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(path), trust_remote_code=manifest.custom_code)
    model.eval()
    return Artifact(torch_forward(model), tokenizer, manifest, chosen, model)
