"""SigOpt-Lite on the project's numpy 2 / torch stack: the one place that bridges its pins.

``pip install 'sigopt[lite]'`` would install sigoptlite 0.1.2 and libsigopt 1.0.0 (SigOpt's
optimiser), whose metadata pins ``numpy<2`` (sigoptlite), ``numpy<1.23``, ``jsonschema<4``
and ``qmcpy==1.2`` (libsigopt 1.0.0): pip would downgrade numpy under torch, and numpy 1.22
has no wheel for Python 3.11 or newer at all. The project therefore installs the three
packages of :data:`LITE_PACKAGES` with ``pip install --no-deps`` on top of its own stack (the
README's line, run by ``.ci/run``), and this module makes up for what numpy 2 removed that
they call:

* ``numpy.product`` (removed in numpy 2.0; an alias of ``numpy.prod``): libsigopt 1.0.0's
  ``compute/probabilistic_failures.py`` multiplies the probabilities of success with it
  whenever the experiment has a ``strategy: constraint`` metric, and in the
  epsilon-constraint phase of a 2-objective search (late in the budget, thresholds or not);
  sigoptlite 0.1.2's ``validators.py`` counts conditional values with it.

Everything else they use works unchanged under numpy 2 and jsonschema 4, as the tests of
every SigOpt feature the spec language uses show (``tests/search/test_sigopt_lite_compat.py``):
qmcpy 1.2 imports ``numpy.core.numeric`` (a DeprecationWarning under numpy 2, silenced for that
import only). Delete the alias when libsigopt releases a version without the ``numpy<1.23`` pin
(the test of the alias then fails and says so).
"""

from __future__ import annotations

import warnings
from typing import Any

from lit_distill.search.spec_reader import SearchSpecError

#: What ``pip install --no-deps`` adds for ``backend: {type: sigopt, driver: lite}`` (exact
#: versions: the alias below is checked against these; README and ``.ci/run`` repeat them).
LITE_PACKAGES: tuple[str, ...] = ("sigoptlite==0.1.2", "libsigopt==1.0.0", "qmcpy==1.2")

#: The install line a missing package names.
LITE_INSTALL = "pip install 'lit_distill[sigopt]' && pip install --no-deps " + " ".join(LITE_PACKAGES)


def apply_numpy_aliases() -> None:
    """Give numpy 2 back ``numpy.product`` (= ``numpy.prod``) for libsigopt 1.0.0; idempotent."""
    import numpy

    if "product" not in vars(numpy):  # numpy >= 2.0 removed it (its __getattr__ raises)
        numpy.product = numpy.prod  # type: ignore[attr-defined]


def lite_connection() -> Any:
    """A fresh ``sigopt.Connection(driver="lite")``: SigOpt's optimiser in this process.

    Each connection holds at most one experiment, in memory.

    Raises:
        SearchSpecError: If ``sigopt`` or SigOpt-Lite is not installed (names the install line).
    """
    try:
        import sigopt
    except ImportError:
        raise SearchSpecError(
            f"backend sigopt (driver lite) needs the sigopt client: {LITE_INSTALL}"
        ) from None
    apply_numpy_aliases()
    try:
        with warnings.catch_warnings():
            # qmcpy 1.2 (pinned by libsigopt 1.0.0) imports numpy.core.numeric
            warnings.filterwarnings("ignore", message=r"numpy\.core", category=DeprecationWarning)
            import libsigopt.aux.samplers  # noqa: F401  (imports qmcpy)
            import sigoptlite  # noqa: F401  (sigopt imports it lazily; import it here, warnings filtered)
    except ImportError as err:
        raise SearchSpecError(
            f"backend sigopt (driver lite) needs SigOpt-Lite ({err.name} is missing): {LITE_INSTALL}"
        ) from None
    return sigopt.Connection(driver="lite")
