"""How questions are grouped: topic, question word, answer length, context length.

* **topic**: the article title.
* **question word**: the first word of the question (lower-cased, split on anything but
  letters and apostrophes) that is one of *what, which, who, whom, whose, when, where, why,
  how*: *whom* and *whose* count as *who*; *how* directly followed by *many* is *how many*;
  *where*, *how* (also *how much*, *how long*, …) and questions without such a word are
  *other*. Scanning past the first word catches "In what year …" and "The Normans came
  from which country?".
* **answer length**: normalised tokens (official normalisation) of the first gold answer
  that normalises to something; unanswerable questions form the group ``no answer``.
* **context length**: whitespace-separated words of the paragraph.

Lengths fall in bins given by their inclusive upper edges: edges ``(1, 2, 3, 5, 10)`` give
``1``, ``2``, ``3``, ``4-5``, ``6-10``, ``11+``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from lit_distill.metrics.squad import normalize_answer
from lit_distill.user_errors import UserInputError

__all__ = [
    "DEFAULT_ANSWER_EDGES",
    "DEFAULT_CONTEXT_EDGES",
    "NO_ANSWER",
    "QUESTION_WORDS",
    "answer_length",
    "bin_labels",
    "context_length",
    "length_bin",
    "question_word",
]

QUESTION_WORDS = ("what", "who", "when", "how many", "which", "why", "other")
DEFAULT_ANSWER_EDGES = (1, 2, 3, 5, 10)
DEFAULT_CONTEXT_EDGES = (100, 150, 200, 300)
NO_ANSWER = "no answer"

_WORD = re.compile(r"[a-z']+")
_WH = {
    "what": "what",
    "which": "which",
    "who": "who",
    "whom": "who",
    "whose": "who",
    "when": "when",
    "why": "why",
    "where": "other",
    "how": "other",
}


def question_word(question: str) -> str:
    """The question-word group of a question (rule in the module docstring)."""
    words = _WORD.findall(question.lower())
    for i, word in enumerate(words):
        if word in _WH:
            if word == "how" and i + 1 < len(words) and words[i + 1] == "many":
                return "how many"
            return _WH[word]
    return "other"


def answer_length(answers: Sequence[str]) -> int | None:
    """Normalised tokens of the first gold answer that normalises to something; None if none."""
    for text in answers:
        tokens = normalize_answer(text).split()
        if tokens:
            return len(tokens)
    return None


def context_length(context: str) -> int:
    """Whitespace-separated words of a paragraph."""
    return len(context.split())


def check_edges(edges: Sequence[int], name: str) -> tuple[int, ...]:
    """Validate bin edges: positive, strictly increasing integers.

    Raises:
        UserInputError: Naming ``name`` and the bad value.
    """
    values = tuple(edges)
    if not values or any(e < 1 for e in values) or any(b <= a for a, b in itertools.pairwise(values)):
        raise UserInputError(f"{name} must be strictly increasing positive integers, got {list(values)}")
    return values


def bin_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the bins with these inclusive upper edges (lowest bin starts at 1)."""
    labels, low = [], 1
    for edge in edges:
        labels.append(str(edge) if low == edge else f"{low}-{edge}")
        low = edge + 1
    labels.append(f"{low}+")
    return labels


def length_bin(length: int | None, edges: Sequence[int]) -> str:
    """The label of the bin holding ``length`` (``no answer`` for None; 0 falls in the first bin)."""
    if length is None:
        return NO_ANSWER
    labels = bin_labels(edges)
    for edge, label in zip(edges, labels[:-1], strict=True):
        if length <= edge:
            return label
    return labels[-1]
