"""The closed vocabulary of the synthetic SQuAD data: word lists, fact templates, invented names.

Every word of the synthetic data comes from here (no borrowed text).
:mod:`lit_distill.data.synthetic` writes paragraphs and questions from these.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ONSETS = [
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea", "y"]
CODAS = ["", "", "", "n", "r", "l", "s", "k", "m"]

JOB_ADJ = ["senior", "junior", "travelling", "night", "royal", "master", "village", "harbour"]
JOB_NOUN = [
    "glass maker",
    "river pilot",
    "clock mender",
    "rope weaver",
    "bee keeper",
    "map drawer",
    "stone cutter",
    "lamp lighter",
    "salt trader",
    "bell founder",
    "baker",
    "tailor",
    "surveyor",
    "chemist",
    "carpenter",
]
ORG_KIND = [
    "Guild",
    "Trading Company",
    "Rowing Club",
    "Music School",
    "Seed Bank",
    "Weaving House",
    "Observatory",
]
INSTRUMENTS = ["lute", "bone flute", "harp", "fiddle", "bass drum", "tin whistle", "organ", "cello", "horn"]
ANIMALS = ["cat", "dog", "goat", "parrot", "horse", "tortoise", "owl", "ferret"]
PLACE_ADJ = ["old", "red", "tall", "quiet", "narrow", "busy", "white"]
PLACE_NOUN = ["mill", "tower", "bridge", "market", "library", "chapel", "tannery", "bakery"]
PLACE_NEAR = ["by the harbour", "by the river", "near the square", "near the station", "by the lake"]
UNITS = ["miles", "leagues", "kilometres"]
FILLER_ADJ = ["mild", "windy", "green", "crowded", "famous", "ancient", "peaceful"]
FILLER_NOUN = ["gardens", "markets", "bridges", "festivals", "orchards", "canals", "towers"]
FILLERS = [
    "{c} is known for its {fa} {fn}.",
    "The roads around {c} are quiet in winter.",
    "Many travellers visit {c} in the spring.",
    "Visitors often praise the {fa} {fn} of {c}.",
    "Each autumn the people of {c} hold a fair.",
]


@dataclass(frozen=True)
class Relation:
    """One kind of fact: how a paragraph states it and how a question asks it.

    ``statements`` contain ``{p}`` (the person), ``{a}`` (the answer) and maybe
    ``{x}`` (an extra slot such as the animal); ``questions`` contain ``{p}`` and
    maybe ``{x}``.
    """

    name: str
    statements: tuple[str, ...]
    questions: tuple[str, ...]


RELATIONS: tuple[Relation, ...] = (
    Relation(
        "born",
        ("{p} was born in {a}.", "{a} is the birthplace of {p}.", "{p} was born in the town of {a}."),
        ("Where was {p} born?", "What is the birthplace of {p}?", "In which town was {p} born?"),
    ),
    Relation(
        "job",
        ("{p} works as a {a}.", "By trade, {p} is a {a}.", "For many years {p} has worked as a {a}."),
        ("What does {p} do for a living?", "What is the job of {p}?", "What is the profession of {p}?"),
    ),
    Relation(
        "org",
        ("{p} founded the {a} in {x}.", "In {x}, {p} founded the {a}."),
        ("What did {p} found?", "Which organisation was founded by {p}?", "What was founded by {p}?"),
    ),
    Relation(
        "year",
        ("{p} founded the {x} in {a}.", "In {a}, {p} founded the {x}."),
        (
            "In what year did {p} found the {x}?",
            "When did {p} found the {x}?",
            "When was the {x} of {p} founded?",
        ),
    ),
    Relation(
        "teacher",
        ("{p} studied under {a}.", "As a young apprentice, {p} learned from {a}."),
        ("Who was the teacher of {p}?", "Under whom did {p} study?", "From whom did {p} learn the trade?"),
    ),
    Relation(
        "instrument",
        ("In the evenings {p} plays the {a}.", "{p} is a skilled player of the {a}."),
        ("Which instrument does {p} play?", "What instrument is played by {p}?"),
    ),
    Relation(
        "pet",
        ("{p} keeps a {x} called {a}.", "{p} owns a {x} named {a}."),
        ("What is the name of the {x} that {p} keeps?", "What is the {x} of {p} called?"),
    ),
    Relation(
        "workplace",
        ("Every morning {p} goes to work at the {a}.", "The workshop of {p} is in the {a}."),
        ("Where does {p} work?", "Where is the workshop of {p}?"),
    ),
    Relation(
        "distance",
        ("Once {p} walked {a} to reach {x}.", "To reach {x}, {p} once travelled {a} on foot."),
        ("How far did {p} walk to reach {x}?", "What distance did {p} travel to reach {x}?"),
    ),
)
RELATION_BY_NAME = {r.name: r for r in RELATIONS}
# "org" and "year" describe the same founding; a person has both or neither.
FACT_KINDS = ("born", "job", "founding", "teacher", "instrument", "pet", "workplace", "distance")


POOL_SIZES = {"first": 40, "last": 40, "city": 40, "org": 24, "pet": 24, "near": 16}


class Namer:
    """Draws capitalised names from a closed inventory of invented words.

    The inventory (pools of first names, surnames, cities, ...) is built from
    syllables by its own seed, so every split of a dataset shares it: dev
    paragraphs use known names in new combinations (new people, new facts),
    and a small model can learn each name as one token. Names are unique
    within a paragraph (``new_paragraph`` resets that).
    """

    def __init__(self, rng: random.Random, inventory_seed: int) -> None:
        self._rng = rng
        inv = random.Random(inventory_seed)
        seen: set[str] = set()
        self._pools: dict[str, list[str]] = {}
        for kind, size in POOL_SIZES.items():
            lo, hi = (2, 3) if kind in ("city", "near") else (1, 2)
            pool: list[str] = []
            while len(pool) < size:
                n = inv.randint(lo, hi)
                w = "".join(inv.choice(ONSETS) + inv.choice(VOWELS) + inv.choice(CODAS) for _ in range(n))
                if w not in seen and len(w) > 2:
                    seen.add(w)
                    pool.append(w.capitalize())
            self._pools[kind] = pool
        self._used: set[str] = set()

    def new_paragraph(self) -> None:
        self._used = set()

    def word(self, kind: str) -> str:
        pool = self._pools[kind]
        for _ in range(1000):
            w = self._rng.choice(pool)
            if w not in self._used:
                self._used.add(w)
                return w
        raise RuntimeError(f"the {kind} pool is exhausted; this should not happen")

    def person(self) -> str:
        return f"{self.word('first')} {self.word('last')}"

    def city(self) -> str:
        return self.word("city")
