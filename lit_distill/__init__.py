"""lit_distill: distil BERT question-answering models with PyTorch Lightning."""

__version__ = "0.1.0"
