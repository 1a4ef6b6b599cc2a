"""Answers from an exported model: :class:`QuestionAnswerer` (Python), ``answer``, ``predict`` and ``serve``.

Importing this package loads no model; ``serve`` needs the ``serve`` extra
(``pip install -e ".[serve]"``: LitServe, FastAPI, uvicorn).
"""

from lit_distill.inference.answerer import Answer, QuestionAnswerer

__all__ = ["Answer", "QuestionAnswerer"]
