"""What the export tests compare against: our own model, batches, and our predict path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lit_distill.data.eval_set import EvalSet
from lit_distill.data.features import FeatureSettings, build_features
from lit_distill.data.squad import load_squad_json
from lit_distill.metrics.postprocess import postprocess_predictions
from lit_distill.models.qa_model import QAModel

SETTINGS = FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=32)


def padded_batch(
    vocab: int, batch: int, length: int, seed: int, types: bool = True
) -> dict[str, torch.Tensor]:
    """Random ids, [CLS]=2 first, every sequence after the first padded by a different amount."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab, (batch, length), generator=g)
    input_ids[:, 0] = 2
    mask = torch.ones(batch, length, dtype=torch.long)
    for b in range(1, batch):
        mask[b, max(2, length - 3 * b) :] = 0
    input_ids[mask == 0] = 0
    token_type_ids = torch.zeros(batch, length, dtype=torch.long)
    if types:
        token_type_ids[:, length // 3 :] = 1
        token_type_ids[mask == 0] = 0
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_type_ids}


def our_predict(model: QAModel, tokenizer: Any, eval_file: Path, length_config: Any = None) -> dict[str, str]:
    """Answers by question id through the project's predict path (features -> QAModel -> post-processing)."""
    examples = load_squad_json(eval_file, "1.1").examples
    features = build_features(examples, tokenizer, SETTINGS)
    eval_set = EvalSet.from_features(examples, features, "1.1")
    starts, ends = [], []
    with torch.no_grad():
        for f in range(len(features)):
            lo, hi = features.row_splits[f], features.row_splits[f + 1]
            ids = torch.from_numpy(features.input_ids[lo:hi].astype(np.int64))[None]
            types = torch.from_numpy(features.token_type_ids[lo:hi].astype(np.int64))[None]
            out = model(ids, torch.ones_like(ids), types, length_config=length_config)
            pad = eval_set.max_length - ids.shape[1]
            starts.append(torch.nn.functional.pad(out.start_logits[0], (0, pad), value=-1e9))
            ends.append(torch.nn.functional.pad(out.end_logits[0], (0, pad), value=-1e9))
    return postprocess_predictions(eval_set, torch.stack(starts), torch.stack(ends)).answers


def has_qa_pipeline() -> bool:
    """Whether this transformers still has the question-answering pipeline (5.x removed it)."""
    from transformers.pipelines import SUPPORTED_TASKS

    return "question-answering" in SUPPORTED_TASKS


def transformers_answers(directory: Path, eval_file: Path, trust_remote_code: bool) -> dict[str, str]:
    """Answers by question id using only transformers: AutoTokenizer + AutoModelForQuestionAnswering.

    What a transformers user writes without the pipeline: one window per question, the best
    span of context tokens (at most 30) by start + end logit.
    """
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
    model = AutoModelForQuestionAnswering.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
    answers = {}
    for e in load_squad_json(eval_file, "1.1").examples:
        enc = tokenizer(e.question, e.context, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0]
        context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])  # (L,)
        with torch.no_grad():
            out = model(**enc)
        score = out.start_logits[0][:, None] + out.end_logits[0][None, :]  # (L, L) start x end
        n = score.shape[0]
        span = torch.arange(n)[None, :] - torch.arange(n)[:, None]
        allowed = context[:, None] & context[None, :] & (span >= 0) & (span < 30)
        best = int(score.masked_fill(~allowed, -torch.inf).flatten().argmax())
        start, end = divmod(best, n)
        answers[e.id] = e.context[int(offsets[start, 0]) : int(offsets[end, 1])]
    return answers


def pipeline_answers(directory: Path, eval_file: Path, trust_remote_code: bool) -> dict[str, str]:
    """Answers by question id from ``pipeline("question-answering", model=directory)``."""
    from transformers import pipeline

    qa = pipeline(
        "question-answering", model=str(directory), trust_remote_code=trust_remote_code, device="cpu"
    )
    examples = load_squad_json(eval_file, "1.1").examples
    return {
        e.id: qa(question=e.question, context=e.context, max_answer_len=30, max_seq_len=64, doc_stride=16)[
            "answer"
        ]
        for e in examples
    }
