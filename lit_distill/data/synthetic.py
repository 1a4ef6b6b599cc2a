"""Deterministic synthetic SQuAD-2.0-format data and an offline WordPiece tokenizer.

The generator invents people with made-up names (built from syllables) and
writes short biographies about them: where they were born, what they do, what
they founded and when, who taught them, which instrument they play, what their
pet is called, where they work and how far they travelled. Questions ask for
one of these facts in one of several phrasings. Unanswerable questions ask for
a fact the paragraph does not state: mostly a kind of fact nobody in the
paragraph has, sometimes a fact another person has (asked about a person of the
paragraph who lacks it, or about someone absent, so the model must match names).

Every word comes from :mod:`lit_distill.data.synthetic_words` (no borrowed text); the tokenizer is
trained by :mod:`lit_distill.data.wordpiece`. The same ``seed`` always
gives byte-identical JSON files and the same tokenizer.

Example:
    >>> from lit_distill.data.synthetic import make_synthetic_dataset
    >>> paths = make_synthetic_dataset("data/synthetic", n_train=2000, n_dev=400, seed=0)
    >>> sorted(paths)
    ['dev', 'search', 'tokenizer', 'train']
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_distill.data.synthetic_words import (
    ANIMALS,
    FACT_KINDS,
    FILLER_ADJ,
    FILLER_NOUN,
    FILLERS,
    INSTRUMENTS,
    JOB_ADJ,
    JOB_NOUN,
    ORG_KIND,
    PLACE_ADJ,
    PLACE_NEAR,
    PLACE_NOUN,
    RELATION_BY_NAME,
    RELATIONS,
    UNITS,
    Namer,
)
from lit_distill.data.wordpiece import train_wordpiece_tokenizer
from lit_distill.user_errors import UserInputError

__all__ = [
    "SPLIT_FILES",
    "TOKENIZER_DIRNAME",
    "generate_squad_json",
    "make_synthetic_dataset",
]

SPLIT_FILES: dict[str, str] = {"train": "train.json", "dev": "dev.json", "search": "search.json"}
TOKENIZER_DIRNAME = "tokenizer"


@dataclass
class _Fact:
    relation: str
    answer: str
    extra: str = ""


def _person_facts(rng: random.Random, namer: Namer, n_facts: int) -> dict[str, _Fact | tuple[_Fact, _Fact]]:
    kinds = rng.sample(FACT_KINDS, n_facts)
    facts: dict[str, _Fact | tuple[_Fact, _Fact]] = {}
    for kind in kinds:
        if kind == "born":
            facts[kind] = _Fact("born", namer.city())
        elif kind == "job":
            job = rng.choice(JOB_NOUN)
            facts[kind] = _Fact("job", f"{rng.choice(JOB_ADJ)} {job}" if rng.random() < 0.6 else job)
        elif kind == "founding":
            org = f"{namer.word('org')} {rng.choice(ORG_KIND)}"
            year = str(rng.randint(1200, 1999))
            facts[kind] = (_Fact("org", org, year), _Fact("year", year, org))
        elif kind == "teacher":
            title = rng.choice(["", "", "Master ", "Old "])
            facts[kind] = _Fact("teacher", title + namer.person())
        elif kind == "instrument":
            facts[kind] = _Fact("instrument", rng.choice(INSTRUMENTS))
        elif kind == "pet":
            facts[kind] = _Fact("pet", namer.word("pet"), rng.choice(ANIMALS))
        elif kind == "workplace":
            place = f"{rng.choice(PLACE_ADJ)} {rng.choice(PLACE_NOUN)}"
            where = rng.random()
            if where < 0.4:  # five words
                place += f" {rng.choice(PLACE_NEAR)}"
            elif where < 0.7:  # four words
                place += f" near {namer.word('near')}"
            facts[kind] = _Fact("workplace", place)
        else:
            facts[kind] = _Fact("distance", f"{rng.randint(2, 900)} {rng.choice(UNITS)}", namer.city())
    return facts


def _render(template: str, person: str, fact: _Fact) -> tuple[str, int]:
    """Fill ``template``; returns the sentence and the character offset of the answer."""
    marked = template.format(p=person, a="\x00", x=fact.extra)
    start = marked.index("\x00")
    sentence = marked.replace("\x00", fact.answer)
    return sentence[0].upper() + sentence[1:], start


def _paragraph(
    rng: random.Random, namer: Namer, long: bool, qid_prefix: str, unanswerable_fraction: float
) -> dict[str, Any]:
    namer.new_paragraph()
    n_people = rng.randint(3, 4) if long else rng.randint(1, 2)
    people = [namer.person() for _ in range(n_people)]
    facts_by_person = {p: _person_facts(rng, namer, rng.randint(2, 4)) for p in people}

    # Sentences: (text, answer span start within the text or -1, fact key)
    pieces: list[tuple[str, dict[tuple[str, str], int]]] = []
    for person, facts in facts_by_person.items():
        for kind, fact in facts.items():
            if isinstance(fact, tuple):  # founding: one sentence answers "org" and "year"
                org_fact, year_fact = fact
                template_i = rng.randrange(len(RELATION_BY_NAME["org"].statements))
                text, org_start = _render(RELATION_BY_NAME["org"].statements[template_i], person, org_fact)
                _, year_start = _render(RELATION_BY_NAME["year"].statements[template_i], person, year_fact)
                pieces.append((text, {(person, "org"): org_start, (person, "year"): year_start}))
            else:
                text, start = _render(rng.choice(RELATION_BY_NAME[fact.relation].statements), person, fact)
                pieces.append((text, {(person, kind): start}))
    n_fillers = rng.randint(4, 8) if long else rng.randint(0, 2)
    for _ in range(n_fillers):
        filler = rng.choice(FILLERS).format(
            c=namer.city(), fa=rng.choice(FILLER_ADJ), fn=rng.choice(FILLER_NOUN)
        )
        pieces.append((filler, {}))
    rng.shuffle(pieces)

    context_parts: list[str] = []
    answer_starts: dict[tuple[str, str], int] = {}
    offset = 0
    for text, starts in pieces:
        for key, start in starts.items():
            answer_starts[key] = offset + start
        context_parts.append(text)
        offset += len(text) + 1
    context = " ".join(context_parts)

    answerable: list[tuple[str, str, _Fact]] = []
    for person, facts in facts_by_person.items():
        for fact in facts.values():
            for f in fact if isinstance(fact, tuple) else (fact,):
                answerable.append((person, f.relation, f))
    qas: list[dict[str, Any]] = []
    n_questions = rng.randint(3, 6) if not long else rng.randint(5, 8)
    rng.shuffle(answerable)
    for q_i in range(n_questions):
        qid = f"{qid_prefix}q{q_i}"
        if rng.random() < unanswerable_fraction:
            qas.append(_unanswerable(rng, namer, facts_by_person, qid))
            continue
        person, relation, fact = answerable[q_i % len(answerable)]
        question = rng.choice(RELATION_BY_NAME[relation].questions).format(p=person, x=fact.extra)
        start = answer_starts[(person, relation)]
        if context[start : start + len(fact.answer)] != fact.answer:  # pragma: no cover - generator bug guard
            raise RuntimeError(f"synthetic generator misplaced an answer for {qid}")
        answer = {"text": fact.answer, "answer_start": start}
        qas.append({"id": qid, "question": question, "answers": [answer], "is_impossible": False})
    return {"context": context, "qas": qas}


def _unanswerable(
    rng: random.Random,
    namer: Namer,
    facts_by_person: dict[str, dict[str, _Fact | tuple[_Fact, _Fact]]],
    qid: str,
) -> dict[str, Any]:
    """A question the paragraph cannot answer.

    Mostly (70 %) a kind of fact nobody in the paragraph has, asked about one of
    its people; otherwise a fact some person has, asked about another person of
    the paragraph who lacks it or about someone absent (the model must match names).
    """
    people = list(facts_by_person)
    present_relations = set().union(
        *(_relations_of(f) for facts in facts_by_person.values() for f in facts.values())
    )
    absent = [r for r in RELATIONS if r.name not in present_relations]
    if absent and rng.random() < 0.7:
        relation = rng.choice(absent)
        extra = {
            "org": rng.choice(["1500", "1720", "1888"]),
            "year": f"{namer.word('org')} {rng.choice(ORG_KIND)}",
        }
        extra.update({"pet": rng.choice(ANIMALS), "distance": namer.city()})
        question = rng.choice(relation.questions).format(p=rng.choice(people), x=extra.get(relation.name, ""))
        return {"id": qid, "question": question, "answers": [], "is_impossible": True}
    present: list[tuple[str, _Fact]] = []
    for person, facts in facts_by_person.items():
        for fact in facts.values():
            for f in fact if isinstance(fact, tuple) else (fact,):
                present.append((person, f))
    asked_person, fact = rng.choice(present)
    lacking = [
        p
        for p in people
        if p != asked_person
        and all(fact.relation not in _relations_of(v) for v in facts_by_person[p].values())
    ]
    person = rng.choice(lacking) if lacking and rng.random() < 0.6 else namer.person()
    question = rng.choice(RELATION_BY_NAME[fact.relation].questions).format(p=person, x=fact.extra)
    return {"id": qid, "question": question, "answers": [], "is_impossible": True}


def _relations_of(fact: _Fact | tuple[_Fact, _Fact]) -> set[str]:
    return {f.relation for f in (fact if isinstance(fact, tuple) else (fact,))}


def generate_squad_json(
    n_questions: int,
    seed: int = 0,
    long_fraction: float = 0.15,
    id_prefix: str = "syn",
    unanswerable_fraction: float = 0.35,
    inventory_seed: int | None = None,
) -> dict[str, Any]:
    """Generate a SQuAD-2.0-format dataset (the dict ``json.load`` would return).

    Args:
        n_questions: Number of questions to generate (exactly this many).
        seed: Random seed; the same seed gives the same data.
        long_fraction: Share of paragraphs with several people and filler
            sentences (usually longer than 128 tokens, so doc stride is used).
        id_prefix: Prefix of the question ids (keeps splits' ids distinct).
        unanswerable_fraction: Expected share of unanswerable questions.
        inventory_seed: Seed of the closed name inventory (first names, surnames,
            cities, ...); splits that share it use the same names in new
            combinations. ``None`` uses ``seed``.

    Returns:
        ``{"version": "v2.0", "data": [{"title", "paragraphs": [{"context", "qas"}]}]}``.

    Raises:
        UserInputError: If ``n_questions`` < 1 or a fraction is outside [0, 1].
    """
    if n_questions < 1:
        raise UserInputError(f"n_questions must be >= 1, got {n_questions}")
    for name, value in (("long_fraction", long_fraction), ("unanswerable_fraction", unanswerable_fraction)):
        if not 0.0 <= value <= 1.0:
            raise UserInputError(f"{name} must be in [0, 1], got {value}")
    rng = random.Random(seed)
    namer = Namer(rng, seed if inventory_seed is None else inventory_seed)
    articles: list[dict[str, Any]] = []
    remaining = n_questions
    a_i = 0
    while remaining > 0:
        title = f"The {namer.word('city')} chronicles"
        paragraphs = []
        for p_i in range(rng.randint(2, 4)):
            long = rng.random() < long_fraction
            para = _paragraph(rng, namer, long, f"{id_prefix}-a{a_i}p{p_i}", unanswerable_fraction)
            para["qas"] = para["qas"][:remaining]
            remaining -= len(para["qas"])
            paragraphs.append(para)
            if remaining <= 0:
                break
        articles.append({"title": title, "paragraphs": paragraphs})
        a_i += 1
    return {"version": "v2.0", "data": articles}


def _texts(datasets: Iterable[dict[str, Any]]) -> Iterable[str]:
    for ds in datasets:
        for article in ds["data"]:
            yield article["title"]
            for para in article["paragraphs"]:
                yield para["context"]
                for qa in para["qas"]:
                    yield qa["question"]


def make_synthetic_dataset(
    out_dir: str | Path,
    n_train: int = 3000,
    n_dev: int = 500,
    n_search: int = 300,
    seed: int = 0,
    vocab_size: int = 1500,
    long_fraction: float = 0.15,
    unanswerable_fraction: float = 0.35,
) -> dict[str, Path]:
    """Write ``train.json``, ``dev.json``, ``search.json`` and a ``tokenizer/`` directory.

    The three splits use different seeds derived from ``seed`` but share one
    closed inventory of invented names: ``dev`` and ``search`` hold new people
    (known first names and surnames in new combinations) with new facts, so they
    measure generalisation to unseen paragraphs, and the length search never
    sees the reported dev split.

    Args:
        out_dir: Folder to write into (created).
        n_train: Questions in the training split.
        n_dev: Questions in the dev split.
        n_search: Questions in the held-out search split.
        seed: Base seed.
        vocab_size: WordPiece vocabulary size of the tokenizer.
        long_fraction: Share of long paragraphs (several people, over 128 tokens).
        unanswerable_fraction: Expected share of unanswerable questions.

    Returns:
        Paths by name: ``train``, ``dev``, ``search`` (JSON files), ``tokenizer`` (directory).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {"train": n_train, "dev": n_dev, "search": n_search}
    datasets = {
        split: generate_squad_json(
            n,
            seed=seed * 1000 + offset,
            long_fraction=long_fraction,
            id_prefix=f"{split}{seed}",
            unanswerable_fraction=unanswerable_fraction,
            inventory_seed=seed,
        )
        for offset, (split, n) in enumerate(sizes.items())
    }
    paths: dict[str, Path] = {}
    for split, data in datasets.items():
        path = out / SPLIT_FILES[split]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        paths[split] = path
    paths["tokenizer"] = train_wordpiece_tokenizer(
        _texts(datasets.values()), out / TOKENIZER_DIRNAME, vocab_size=vocab_size
    )
    return paths
