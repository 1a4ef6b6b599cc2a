"""Which teacher layers a student is made of: the default choices and the one check (torch-free).

A layer map is a list of teacher layer indices, one per student layer, in order
(DistilBERT took ``[0, 2, 4, 7, 9, 11]`` of BERT-base). Two rules pick one:

* :func:`every_other_layer`: the student default (``student_layers`` unset):
  ``[0, 2, 4, ...]``, half the teacher's depth rounded up.
* :func:`spread_layers`: ``n`` layers spread evenly with the first and the last
  included, for a searched depth (the search expression ``layers(n, total)``).

:func:`check_layer_map` is the one validation of a map, run where the student is
built (:func:`lit_distill.models.surgery.select_layers`). The module imports no
torch, so the search process can use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lit_distill.checks import is_int
from lit_distill.user_errors import UserInputError

__all__ = ["MAX_LAYERS", "check_layer_map", "every_other_layer", "spread_layers"]

MAX_LAYERS = 10_000
"""``spread_layers(n, total)`` needs ``total`` ≤ this (the search bounds every expression)."""


def every_other_layer(teacher_layers: int) -> list[int]:
    """The default student: teacher layers ``0, 2, 4, ...`` (``[0, 2, 4, 6, 8, 10]`` of 12).

    Args:
        teacher_layers: the teacher's depth (> 0).
    """
    return list(range(0, teacher_layers, 2))


def spread_layers(n: float, total: float) -> list[int]:
    """``n`` evenly spread indices in ``range(total)``, first and last included (``[0]`` for n = 1).

    ``spread_layers(6, 12)`` is ``[0, 2, 4, 7, 9, 11]``, DistilBERT's choice.

    Raises:
        UserInputError: Unless 1 ≤ n ≤ total ≤ :data:`MAX_LAYERS` are integers.
    """
    if n != int(n) or total != int(total) or not 1 <= n <= total <= MAX_LAYERS:
        raise UserInputError(
            f"layers(n, total) needs integers 1 <= n <= total <= {MAX_LAYERS}, got n={n}, total={total}"
        )
    n, total = int(n), int(total)
    if n == 1:
        return [0]
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


def check_layer_map(
    layers: Sequence[int], teacher_layers: int, parameter: str = "student_layers"
) -> list[int]:
    """Validate a list of teacher layer indices to copy into a student; returns it as a list.

    Args:
        layers: the teacher layer of each student layer.
        teacher_layers: the teacher's depth.
        parameter: the name the error messages give the list.

    Raises:
        UserInputError: for an empty list, a repeated index or an index the teacher lacks.
    """
    if not isinstance(layers, (list, tuple)) or not layers:
        raise UserInputError(f"{parameter} must be a non-empty list of teacher layer indices, got {layers!r}")
    for layer in layers:
        if not is_int(layer) or not 0 <= layer < teacher_layers:
            raise UserInputError(
                f"{parameter}={list(layers)} references teacher layer {layer!r}, but the teacher has "
                f"{teacher_layers} layers (allowed are 0..{teacher_layers - 1})"
            )
    if len(set(layers)) != len(layers):
        raise UserInputError(
            f"{parameter}: repeated layer indices in {list(layers)}; give each teacher layer at most once"
        )
    return list(layers)
