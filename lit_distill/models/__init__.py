"""lit_distill.models: the project's BERT-family QA encoder, its conversion, surgery and FLOPs."""

from lit_distill.models.config import EncoderConfig
from lit_distill.models.loading import load_tokenizer
from lit_distill.models.qa_model import QAModel, QAOutput

__all__ = ["EncoderConfig", "QAModel", "QAOutput", "load_tokenizer"]
