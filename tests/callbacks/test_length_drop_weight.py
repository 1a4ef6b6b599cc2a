"""LengthDrop's sub-network loss weight: LAT's equal weights by default, a linear share of the gradient otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from toy_qa import GradRecorder, ToyQAModule, toy_loader
from toy_qa import quiet_trainer as _trainer

from lit_distill.callbacks.length_drop import LengthDrop


def _grads(tmp_path: Path, callback: LengthDrop | None) -> tuple[dict[str, torch.Tensor], ToyQAModule]:
    recorder, module = GradRecorder(), ToyQAModule(seed=1)
    _trainer([c for c in (callback, recorder) if c is not None], tmp_path, max_steps=1).fit(
        module, toy_loader()
    )
    return recorder.grads[0], module


@pytest.mark.parametrize("backward", ["per_subnetwork", "joint"])
def test_weight_scales_the_sub_networks_share_of_the_gradient(tmp_path: Path, backward: Any) -> None:
    assert LengthDrop().subnetwork_weight == 1.0  # LAT: the full loss and each KL term weigh the same
    plain, _ = _grads(tmp_path, None)

    def run(weight: float) -> dict[str, torch.Tensor]:
        cb = LengthDrop(seed=4, loss_scale="sum", backward=backward, subnetwork_weight=weight)
        return _grads(tmp_path, cb)[0]

    full, half = run(1.0), run(0.5)
    assert any(not torch.allclose(full[k], plain[k]) for k in plain)
    for name in plain:  # same seed, same sub-networks: the weight scales their part of the gradient
        torch.testing.assert_close(
            half[name], plain[name] + 0.5 * (full[name] - plain[name]), rtol=1e-5, atol=1e-7
        )


def test_weight_zero_runs_no_sub_network(tmp_path: Path) -> None:
    plain, _ = _grads(tmp_path, None)
    grads, module = _grads(tmp_path, LengthDrop(seed=4, loss_scale="sum", subnetwork_weight=0.0))
    assert [c["length_config"] for c in module.model.calls] == [None]  # the full pass only
    for name in plain:
        torch.testing.assert_close(grads[name], plain[name])


@pytest.mark.parametrize("weight", [-0.5, float("nan"), "1"])
def test_a_bad_weight_names_itself(weight: Any) -> None:
    with pytest.raises(ValueError, match=r"LengthDrop: subnetwork_weight must be a finite number >= 0, got"):
        LengthDrop(subnetwork_weight=weight)
