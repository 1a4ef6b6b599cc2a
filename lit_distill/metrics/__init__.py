"""lit_distill.metrics."""
