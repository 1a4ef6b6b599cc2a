"""lit_distill.modules."""
