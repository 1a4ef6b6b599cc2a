"""LightningModules: the shared ``QAModule`` and the teacher and student modules.

Short class names work in YAML and on the command line
(``--model Teacher``, ``--model DistilBertStudent``, ``--model TinyBertStudent``).
"""

from lit_distill.modules.distilbert import DistilBertStudent
from lit_distill.modules.qa_module import QAModule
from lit_distill.modules.student import StudentModule
from lit_distill.modules.teacher import Teacher
from lit_distill.modules.tinybert import TinyBertStudent

__all__ = ["DistilBertStudent", "QAModule", "StudentModule", "Teacher", "TinyBertStudent"]
