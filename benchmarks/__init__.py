"""The benchmark scripts that the docs cite as evidence, run from the repository root.

Each is ``python -m benchmarks.NAME [options]`` (``--help`` lists them; every one's ``--help``
runs in CI, tests/benchmarks/test_help.py) and prints its numbers with the machine's
conditions; docs/ name the command beside each result. :mod:`benchmarks.harness` is their
shared set-up (random QA features in a small data module, the common options) and
:mod:`benchmarks.tensor_memory` the allocator-independent tensor-memory probe. They are not
part of the installed package; a baseline some of them compare against (LAT's evolutionary
search) is a reference re-implementation beside its tests, in tests/reference/.
"""
