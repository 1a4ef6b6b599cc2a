"""lit_distill.models."""
