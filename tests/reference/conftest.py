"""The reference re-implementations are tested on the replicate tests' tiny encoder and SQuAD split."""

from tests.replicate.conftest import tiny_encoder, tiny_squad

__all__ = ["tiny_encoder", "tiny_squad"]
