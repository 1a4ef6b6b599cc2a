"""lit_distill.data: SQuAD reading and validation, features, synthetic data, the DataModule."""

from lit_distill.data.synthetic import generate_squad_json, make_synthetic_dataset, train_wordpiece_tokenizer

__all__ = ["generate_squad_json", "make_synthetic_dataset", "train_wordpiece_tokenizer"]
