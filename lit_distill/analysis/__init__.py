"""Error analysis of SQuAD predictions: categories per topic, cuts, teacher vs students.

Pure functions (:mod:`~lit_distill.analysis.categories`, :mod:`~lit_distill.analysis.cuts`,
:mod:`~lit_distill.analysis.tables`, :mod:`~lit_distill.analysis.compare`) do the counting;
:mod:`~lit_distill.commands.analyze` is the ``python -m lit_distill analyze`` command.
"""

from lit_distill.analysis.categories import CATEGORIES, Scored, categories_for, classify, score_predictions
from lit_distill.analysis.cuts import answer_length, context_length, length_bin, question_word
from lit_distill.analysis.inputs import AnalysisInputError, Dataset, Question, load_dataset, parse_dataset
from lit_distill.analysis.model import ModelAnalysis, analyze_model

__all__ = [
    "CATEGORIES",
    "AnalysisInputError",
    "Dataset",
    "ModelAnalysis",
    "Question",
    "Scored",
    "analyze_model",
    "answer_length",
    "categories_for",
    "classify",
    "context_length",
    "length_bin",
    "load_dataset",
    "parse_dataset",
    "question_word",
    "score_predictions",
]
