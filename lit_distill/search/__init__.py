"""lit_distill.search."""
