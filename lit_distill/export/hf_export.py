"""``export --to hf``: a directory that ``AutoModelForQuestionAnswering`` loads (and transformers 4's ``pipeline``).

A model with one head count in every layer and no length configuration becomes a
standard ``BertForQuestionAnswering`` / ``DistilBertForQuestionAnswering``
checkpoint (no custom code). Anything else (pruned heads, pruned feed-forward neurons
(per-layer FFN widths), a default length configuration) uses transformers' custom-model
mechanism: ``config.json`` carries an ``auto_map`` and the directory carries the
encoder's source, copied from this package (``lit_distill/models/{config,length,encoder}.py``
and the argument checks they use, ``lit_distill/checks.py``; imports made relative),
loaded with ``trust_remote_code=True``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from lit_distill import checks as checks_module
from lit_distill.file_modes import apply_umask
from lit_distill.models import config as config_module
from lit_distill.models import encoder as encoder_module
from lit_distill.models import length as length_module
from lit_distill.models.convert import hf_config_from_encoder, state_dict_to_hf
from lit_distill.models.qa_model import QAModel

__all__ = ["needs_custom_code", "save_hf"]

REMOTE_DIR = Path(__file__).parent / "remote"
MODELING_FILE = "modeling_lit_distill.py"
# Copied package module -> file name in the exported directory.
COPIED_MODULES = {
    "lit_distill.checks": ("lit_distill_checks", checks_module),
    "lit_distill.models.config": ("lit_distill_config", config_module),
    "lit_distill.models.length": ("lit_distill_length", length_module),
    "lit_distill.models.encoder": ("lit_distill_encoder", encoder_module),
}


def needs_custom_code(model: QAModel, length_config: Sequence[int | float] | None) -> bool:
    """True when plain transformers cannot represent the model at its size.

    Pruned heads, per-layer FFN widths (plain BERT would need them zero-padded back to
    ``intermediate_size``, which is exact but loses the speed-up) or a length configuration.
    """
    config = model.config
    return (
        length_config is not None
        or any(h != config.num_attention_heads for h in config.layer_heads)
        or any(w != config.intermediate_size for w in config.layer_intermediate_sizes)
    )


def _relative_source(module: Any) -> str:
    """A package module's source with its ``lit_distill.models`` imports made relative."""
    text = Path(module.__file__).read_text(encoding="utf-8")
    for absolute, (local, _) in COPIED_MODULES.items():
        text = re.sub(
            rf"^from {re.escape(absolute)} import", f"from .{local} import", text, flags=re.MULTILINE
        )
    if re.search(r"^\s*(from|import) lit_distill", text, flags=re.MULTILINE):
        raise RuntimeError(f"{module.__name__} imports other lit_distill modules; update COPIED_MODULES")
    return text


def _save_standard(model: QAModel, directory: Path) -> None:
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    config_dict = hf_config_from_encoder(model.config)
    hf_config = AutoConfig.for_model(**config_dict)
    hf_model = AutoModelForQuestionAnswering.from_config(hf_config)
    state = {k: v.detach().clone() for k, v in state_dict_to_hf(model.state_dict(), model.config).items()}
    missing, unexpected = hf_model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("position_ids") for k in missing):
        raise RuntimeError(
            f"conversion to {type(hf_model).__name__} failed: missing {missing}, unexpected {unexpected}"
        )
    hf_model.save_pretrained(str(directory))


def _save_custom(model: QAModel, length_config: Sequence[int | float] | None, directory: Path) -> None:
    for local, module in COPIED_MODULES.values():
        (directory / f"{local}.py").write_text(_relative_source(module), encoding="utf-8")
    (directory / MODELING_FILE).write_text(
        (REMOTE_DIR / MODELING_FILE).read_text(encoding="utf-8"), encoding="utf-8"
    )
    stem = MODELING_FILE.removesuffix(".py")
    config = {
        "model_type": "lit_distill_qa",
        "architectures": ["LitDistillForQuestionAnswering"],
        "auto_map": {
            "AutoConfig": f"{stem}.LitDistillQAConfig",
            "AutoModelForQuestionAnswering": f"{stem}.LitDistillForQuestionAnswering",
        },
        "encoder": {**model.config.to_dict(), "source": None},
        "length_config": None if length_config is None else list(length_config),
        "torch_dtype": "float32",
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})


def save_hf(
    model: QAModel, tokenizer: Any, directory: Path, length_config: Sequence[int | float] | None
) -> bool:
    """Write the Hugging Face directory; returns True when it needs ``trust_remote_code=True``.

    The directory and its files get the umask's permissions (safetensors writes ``0o600``).
    """
    custom = needs_custom_code(model, length_config)
    with torch.no_grad():
        if custom:
            _save_custom(model, length_config, directory)
        else:
            _save_standard(model, directory)
    tokenizer.save_pretrained(str(directory))
    apply_umask(directory)
    return custom
