"""lit_distill: distil BERT question-answering models with PyTorch Lightning.

``lit_distill.QuestionAnswerer`` (answers from an exported model) is imported on first use,
so that ``import lit_distill`` stays light (the search imports no torch).
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["QuestionAnswerer", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "QuestionAnswerer":
        from lit_distill.inference import QuestionAnswerer

        return QuestionAnswerer
    raise AttributeError(f"module 'lit_distill' has no attribute {name!r}")
