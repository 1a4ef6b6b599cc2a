"""Tiny fixtures for the export tests: a word-level vocabulary, SQuAD files, a model directory and a .ckpt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lit_distill.models.config import EncoderConfig
from lit_distill.models.loading import wordpiece_tokenizer
from lit_distill.models.qa_model import QAModel
from lit_distill.modules.tokenizer_info import tokenizer_info

_TEXT = (
    "alice bob carol dave lives in paris london rome oslo works at the bank school farm shop who where "
    "does what is a teacher doctor baker pilot job city she he and likes music tea chess golf her his "
    "favourite game drink . ? ,"
)
WORDS = _TEXT.split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]

PEOPLE = [
    ("alice", "paris", "teacher", "chess", "she"),
    ("bob", "london", "doctor", "golf", "he"),
    ("carol", "rome", "baker", "tea", "she"),
    ("dave", "oslo", "pilot", "music", "he"),
]


def squad_dict(people: list[tuple[str, str, str, str, str]]) -> dict[str, Any]:
    """SQuAD 1.1 with one paragraph per person and three questions each."""
    paragraphs = []
    for name, city, job, game, pron in people:
        context = f"{name} lives in {city} . {pron} works at the bank and is a {job} . her favourite game is {game} ."
        qas = []
        for i, (question, answer) in enumerate(
            [
                (f"where does {name} live ?", city),
                (f"what is {name} job ?", job),
                (f"what is {name} favourite game ?", game),
            ]
        ):
            qas.append(
                {
                    "id": f"{name}-{i}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": context.index(f" {answer} ") + 1}],
                }
            )
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "1.1", "data": [{"title": "people", "paragraphs": paragraphs}]}


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok")
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    wordpiece_tokenizer(path / "vocab.txt").save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


@pytest.fixture(scope="session")
def eval_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "eval.json"
    path.write_text(json.dumps(squad_dict(PEOPLE)), encoding="utf-8")
    return path


def make_model(
    heads_per_layer: list[int] | None = None,
    seed: int = 0,
    layout: str = "bert",
    intermediate_per_layer: list[int] | None = None,
) -> QAModel:
    torch.manual_seed(seed)
    config = EncoderConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        heads_per_layer=heads_per_layer,
        intermediate_size=37,
        intermediate_per_layer=intermediate_per_layer,
        max_position_embeddings=64,
        type_vocab_size=0 if layout == "distilbert" else 2,
        layout=layout,  # type: ignore[arg-type]
    )
    model = QAModel(config).eval()
    with torch.no_grad():  # a visible QA head: random logits of a realistic spread
        model.qa_outputs.weight.normal_(0.0, 1.0)
    return model


@pytest.fixture(scope="session")
def uniform_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    return make_model().save(tmp_path_factory.mktemp("models") / "uniform", tokenizer=tokenizer)


@pytest.fixture(scope="session")
def pruned_ckpt(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any, tokenizer_dir: Path) -> Path:
    """A checkpoint in the layout lit_distill modules write (``lit_distill`` entry, ``model.`` prefix).

    Its heads and feed-forward neurons are pruned (per-layer head counts and FFN widths).
    """
    model = make_model(heads_per_layer=[4, 2, 3], seed=1, intermediate_per_layer=[37, 9, 20])
    path = tmp_path_factory.mktemp("ckpt") / "pruned.ckpt"
    torch.save(
        {
            "lit_distill": {
                "model_config": model.config.to_dict(),
                "tokenizer": tokenizer_info(tokenizer).to_dict(),
            },
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {
                "teacher": "runs/teacher",
                "alpha_ce": 0.7,
                "temperature": 2.0,
                "lr_schedule": "constant",
                "clip_grad_per_tensor": 1.0,
            },
            "datamodule_hyper_parameters": {"tokenizer": str(tokenizer_dir)},
        },
        path,
    )
    return path
