"""lit_distill.data."""
