"""A tiny stand-in for a QA module, for testing callbacks in isolation.

``ToyQAModule`` follows the project's module contract (``forward_model``,
``model.config.num_hidden_layers``, the loss-contribution protocol in
``training_step``) with a model small enough to make gradients exact and fast.
``ToyQAModel`` honours ``length_config`` by updating only the first ``n`` tokens
in a layer (the others keep their vector, as Drop-and-Restore restores them)
and ``skip_layers`` by skipping layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lit_distill.callbacks.base import loss_contributors


@dataclass
class ToyConfig:
    num_hidden_layers: int = 3
    hidden_size: int = 8
    vocab_size: int = 20


@dataclass
class ToyOutput:
    start_logits: Tensor
    end_logits: Tensor


class ToyQAModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.num_hidden_layers)
        )
        self.head = nn.Linear(config.hidden_size, 2)
        self.calls: list[dict[str, Any]] = []

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        length_config: Sequence[int | float] | None = None,
        skip_layers: Sequence[int] | None = None,
    ) -> ToyOutput:
        self.calls.append({"length_config": length_config, "skip_layers": skip_layers})
        x = self.embed(input_ids)  # (B, L, H)
        seq = x.shape[1]
        for i, layer in enumerate(self.layers):
            if skip_layers and i in skip_layers:
                continue
            n = seq
            if length_config is not None:
                v = length_config[i]
                n = v if isinstance(v, int) else max(1, round(v * seq))
            updated = torch.tanh(layer(x[:, :n]))  # (B, n, H)
            x = torch.cat([updated, x[:, n:]], dim=1)
        logits = self.head(x)  # (B, L, 2)
        return ToyOutput(logits[..., 0], logits[..., 1])


class ToyData(Dataset[dict[str, Tensor]]):
    def __init__(self, n: int = 8, seq: int = 10, vocab: int = 20, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, vocab, (n, seq), generator=g)
        self.start = torch.randint(0, seq, (n,), generator=g)
        self.end = torch.randint(0, seq, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones_like(self.ids[i]),
            "start_positions": self.start[i],
            "end_positions": self.end[i],
        }


class ToyQAModule(pl.LightningModule):
    def __init__(self, layers: int = 3, lr: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.model = ToyQAModel(ToyConfig(num_hidden_layers=layers))
        self.lr = lr

    def forward_model(self, batch: dict[str, Tensor], **model_kwargs: Any) -> ToyOutput:
        return self.model(batch["input_ids"], batch["attention_mask"], **model_kwargs)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        out = self.forward_model(batch)
        loss = 0.5 * (
            F.cross_entropy(out.start_logits, batch["start_positions"])
            + F.cross_entropy(out.end_logits, batch["end_positions"])
        )
        for cb in loss_contributors(self.trainer):
            extra = cb.extra_loss(self.trainer, self, batch, out)
            if extra is not None:
                loss = loss + extra
                self.log(f"train/extra_{type(cb).__name__}", extra.detach())
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def toy_loader(batch_size: int = 4, **kwargs: Any) -> DataLoader[dict[str, Tensor]]:
    return DataLoader(ToyData(**kwargs), batch_size=batch_size, shuffle=False)


class GradRecorder(pl.Callback):
    """Records the gradients just before each optimiser step (optionally to a file per rank)."""

    def __init__(self, out_dir: str | None = None) -> None:
        self.grads: list[dict[str, Tensor]] = []
        self.out_dir = out_dir

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}
        self.grads.append(grads)
        if self.out_dir is not None:
            torch.save(self.grads, f"{self.out_dir}/grads_rank{trainer.global_rank}.pt")


# --------------------------------------------------------------------------------------
# A tiny module around the real QAModel, mirroring QAModule's build/save/load contract:
# the model is built in ``setup`` (after callbacks' setup) unless it exists, its config
# goes into every checkpoint, and ``on_load_checkpoint`` rebuilds the checkpoint's shape.


def tiny_encoder_config(layers: int = 2, heads: int = 4, vocab_size: int = 20) -> Any:
    from lit_distill.models.config import EncoderConfig

    return EncoderConfig(
        vocab_size=vocab_size,
        hidden_size=4 * heads,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=32,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


class TinyQAModule(ToyQAModule):
    def __init__(
        self, layers: int = 2, heads: int = 4, lr: float = 0.05, seed: int = 0, vocab_size: int = 20
    ) -> None:
        pl.LightningModule.__init__(self)
        self.layers, self.heads, self.lr, self.seed, self.vocab_size = layers, heads, lr, seed, vocab_size

    def has_model(self) -> bool:
        return hasattr(self, "model")

    def build_model(self, stage: str) -> None:
        from lit_distill.models.qa_model import QAModel

        torch.manual_seed(self.seed)
        self.model = QAModel(tiny_encoder_config(self.layers, self.heads, self.vocab_size))  # type: ignore[assignment]

    def setup(self, stage: str) -> None:
        if not self.has_model():
            self.build_model(stage)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        return None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["model_config"] = self.model.config.to_dict()  # type: ignore[attr-defined]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from lit_distill.models.config import EncoderConfig
        from lit_distill.models.qa_model import QAModel

        config = EncoderConfig.from_dict(checkpoint["model_config"])
        if not self.has_model() or self.model.config != config:
            self.model = QAModel(config)  # type: ignore[assignment]


def quiet_trainer(callbacks: list[Any], tmp_path: Any, **kwargs: Any) -> pl.Trainer:
    """A CPU trainer without logger, checkpoints, progress bar or summary (each overridable)."""
    defaults: dict[str, Any] = {
        "max_steps": 2,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
    }
    return pl.Trainer(callbacks=callbacks, **{**defaults, **kwargs})
