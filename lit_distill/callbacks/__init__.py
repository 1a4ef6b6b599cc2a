"""lit_distill.callbacks."""
