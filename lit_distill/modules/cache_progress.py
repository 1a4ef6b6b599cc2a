"""Progress of the pass that fills the teacher-logit cache: a bar on a terminal, plain lines in a log.

The pass runs the teacher over every training feature before the first step (minutes on a
CPU for a few thousand features). On a terminal it shows a tqdm bar, as Lightning's progress
bar does; when the output goes to a file (``nohup``, a cluster job) it prints a plain line at
every tenth of the work instead (no carriage returns in the log), like
:class:`~lit_distill.callbacks.plain_progress.PlainProgress`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm.auto import tqdm

from lit_distill.callbacks.plain_progress import format_duration

__all__ = ["cache_progress", "progress_line"]


def progress_line(done: int, total: int, elapsed_s: float) -> str:
    """``teacher logits: 430/4273 features (10 %), 38.2 features/s, ETA 0:01:41``."""
    rate = done / elapsed_s if elapsed_s > 0 else float("nan")
    eta = (total - done) / rate if rate > 0 else float("nan")
    share = 100 * done // max(total, 1)
    return (
        f"teacher logits: {done}/{total} features ({share} %), {rate:.1f} features/s, "
        f"ETA {format_duration(eta)}"
    )


@contextmanager
def cache_progress(
    total: int, *, bar: bool, enabled: bool = True, stream: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """A callback ``advance(n)`` for ``n`` more features done, showing the progress.

    Args:
        total: features to compute.
        bar: a tqdm bar (a terminal) rather than plain lines (a log file).
        enabled: ``False`` shows nothing (other DDP ranks).
        stream: where it goes (default standard error for the bar, standard output for lines).
    """
    if not enabled or total <= 0:
        yield lambda n: None
        return
    if bar:
        with tqdm(
            total=total, desc="teacher logits", unit="feature", dynamic_ncols=True, file=stream or sys.stderr
        ) as progress_bar:
            yield progress_bar.update
        return
    out = stream or sys.stdout
    start = time.perf_counter()
    state = {"done": 0, "shown": 0}

    def advance(n: int) -> None:
        state["done"] += n
        tenth = 10 * state["done"] // total
        if tenth > state["shown"]:
            state["shown"] = tenth
            print(progress_line(state["done"], total, time.perf_counter() - start), file=out, flush=True)

    yield advance
