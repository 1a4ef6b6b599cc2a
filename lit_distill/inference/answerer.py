"""``QuestionAnswerer``: answers from an exported directory, with the windows and decoding it records.

The one inference core of the project: ``answer``, ``predict`` and ``serve`` call it, and
``export --eval-file`` scores the same answers (both run
:func:`lit_distill.export.evaluate.predict_answers`: the project's windows of
:mod:`lit_distill.data.features`, the artifact's forward in batches, and the n-best
post-processing of :mod:`lit_distill.metrics.postprocess` with the artifact's SQuAD
version, longest answer and no-answer threshold).

Example::

    from lit_distill.inference import QuestionAnswerer

    qa = QuestionAnswerer.from_artifact("deploy/student-int8")
    answer = qa.answer(question="Where is the Eiffel Tower?", context="The Eiffel Tower is in Paris.")
    print(answer.text, answer.score, answer.no_answer)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.data.squad import SquadExample
from lit_distill.export.artifact import Artifact, Decoding, Manifest, Runtime, load_artifact
from lit_distill.export.evaluate import EvalData, build_eval_data, predict_answers
from lit_distill.metrics.postprocess import QAPredictions
from lit_distill.user_errors import UserInputError

__all__ = ["Answer", "QuestionAnswerer"]


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    Attributes:
        text: The answer (``""``: the model says the context holds none).
        start: Its first character in the context (-1 for no answer).
        end: One past its last character (-1 for no answer).
        score: ``start_logit + end_logit`` of the best span (``-inf`` when the windows hold no
            candidate span).
        null_score_diff: ``[CLS] score - score``: the answer is ``""`` when this exceeds the
            artifact's ``null_score_diff_threshold`` (SQuAD 2.0 artifacts).
        no_answer: Whether the answer is ``""``.
        no_answer_probability: ``sigmoid(null_score_diff)`` (the official ``null_odds.json`` value).
    """

    text: str
    start: int
    end: int
    score: float
    null_score_diff: float
    no_answer: bool
    no_answer_probability: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (infinite scores become None)."""
        out = dataclasses.asdict(self)
        for key in ("score", "null_score_diff"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


def _text(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str):
        raise UserInputError(f"{where}{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise UserInputError(f"{where}{field} is empty; give a non-empty {field}")
    return value


def _pairs(pairs: Sequence[Any]) -> list[tuple[str, str]]:
    """``(question, context)`` tuples from tuples or ``{"question", "context"}`` mappings, checked."""
    out = []
    for i, pair in enumerate(pairs):
        where = f"pair {i}: " if len(pairs) > 1 else ""
        if isinstance(pair, Mapping):
            question, context = pair.get("question"), pair.get("context")
        elif isinstance(pair, (tuple, list)) and len(pair) == 2:
            question, context = pair
        else:
            raise UserInputError(
                f"{where}expected (question, context) or {{'question', 'context'}}, got {pair!r}"
            )
        out.append((_text(question, "question", where), _text(context, "context", where)))
    return out


class QuestionAnswerer:
    """Answers questions about contexts with an exported model.

    Build it with :meth:`from_artifact`. Long contexts are cut into the artifact's
    overlapping windows; the best span over all windows wins; a SQuAD 2.0 artifact answers
    ``""`` when the [CLS] span beats the best span by more than its no-answer threshold.

    Args:
        artifact: A loaded exported directory.
        decoding: How logits become answers (default: the artifact's manifest).
        batch_size: Windows per forward call.
    """

    def __init__(self, artifact: Artifact, decoding: Decoding | None = None, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise UserInputError(f"batch_size must be >= 1, got {batch_size}")
        self.artifact = artifact
        self.decoding = decoding or artifact.manifest.decoding()
        self.settings = artifact.manifest.feature_settings()
        self.batch_size = batch_size

    @classmethod
    def from_artifact(
        cls,
        directory: str | Path,
        *,
        threads: int | None = None,
        batch_size: int = 16,
        null_score_diff_threshold: float | None = None,
        runtime: Runtime | None = None,
        spinning: bool = True,
    ) -> QuestionAnswerer:
        """Load a directory written by ``python -m lit_distill export`` (Hugging Face or ONNX, fp32 or INT8).

        Args:
            directory: The exported directory.
            threads: CPU threads: ONNX Runtime's intra-op threads, or for a Hugging Face
                (PyTorch) directory ``torch.set_num_threads`` (process-wide).
            batch_size: Windows per forward call.
            null_score_diff_threshold: Replace the artifact's no-answer threshold (logit-difference
                units) for this answerer.
            runtime: ``"torch"`` or ``"onnxruntime"``; default: the one that fits the directory.
            spinning: ONNX Runtime's idle threads spin-wait between calls (its default; ``serve``
                turns it off so that its HTTP process gets the cores between batches).

        Raises:
            MissingPathError: not an exported directory, or one missing a file its manifest lists.
            UserInputError: a manifest written by a newer lit_distill, or not valid; a bad setting.
        """
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise UserInputError(f"threads must be a whole number >= 1, got {threads!r}")
        if null_score_diff_threshold is not None and not math.isfinite(null_score_diff_threshold):
            raise UserInputError(
                f"null_score_diff_threshold must be a finite number, got {null_score_diff_threshold!r}"
            )
        try:
            artifact = load_artifact(directory, runtime=runtime, threads=threads, spinning=spinning)
        except ValueError as err:
            if isinstance(err, UserInputError):
                raise
            raise UserInputError(str(err)) from err
        if threads is not None and artifact.runtime == "torch":
            import torch

            torch.set_num_threads(threads)
        decoding = artifact.manifest.decoding()
        if null_score_diff_threshold is not None:
            decoding = dataclasses.replace(
                decoding, null_score_diff_threshold=float(null_score_diff_threshold)
            )
        return cls(artifact, decoding, batch_size)

    @property
    def manifest(self) -> Manifest:
        """The artifact's manifest (format, windows, decoding, source)."""
        return self.artifact.manifest

    def answer(self, question: str, context: str) -> Answer:
        """The answer to one question about ``context``.

        Raises:
            UserInputError: an empty or non-string question or context, or a question too long
                for the artifact's windows.
        """
        return self.answer_many([(question, context)])[0]

    def answer_many(self, pairs: Sequence[Any]) -> list[Answer]:
        """Answers to many ``(question, context)`` pairs (tuples or mappings), in one batched pass.

        Raises:
            UserInputError: naming the pair and field at fault.
        """
        checked = _pairs(pairs)
        if not checked:
            return []
        examples = [
            SquadExample(str(i), "", question, context, (), (), False)
            for i, (question, context) in enumerate(checked)
        ]
        preds = self.predict_examples(examples)
        answers = []
        for example in examples:
            span = preds.spans[example.id]
            text = preds.answers[example.id]
            answers.append(
                Answer(
                    text=text,
                    start=span.start if text else -1,
                    end=span.end if text else -1,
                    score=span.score,
                    null_score_diff=span.null_score_diff,
                    no_answer=not text,
                    no_answer_probability=preds.na_probs[example.id],
                )
            )
        return answers

    def tokenize(self, examples: list[SquadExample], source: str = "") -> EvalData:
        """``examples`` cut into the artifact's windows.

        Raises:
            UserInputError: a question leaves no room for a context window.
        """
        try:
            return build_eval_data(examples, self.artifact.tokenizer, self.settings, source)
        except ValueError as err:
            raise UserInputError(f"{source + ': ' if source else ''}{err}") from err

    def predict_examples(self, examples: list[SquadExample], source: str = "") -> QAPredictions:
        """Answers, no-answer probabilities and best spans by question id (``examples``' ids)."""
        if not examples:
            return QAPredictions({}, {})
        return self.predict_data(self.tokenize(examples, source))

    def predict_data(self, data: EvalData) -> QAPredictions:
        """Answers of questions already cut into the artifact's windows (:meth:`tokenize`)."""
        return predict_answers(self.artifact.forward, data, self.decoding, self.batch_size)
