"""Gates on the input of linear layers, the one hook behind head and neuron importance.

Heads are gated on the input of each layer's attention output projection, feed-forward
neurons on the input of its second feed-forward linear layer; both multiply that input
by a tensor of ones that requires grad, so the forward pass and every other gradient
stay exactly as they are, and ``∂L/∂gate`` is what the importance estimators read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from torch import Tensor, nn

__all__ = ["GateInput", "gated_inputs"]

GateInput = Callable[[int, Tensor], tuple[Tensor, Tensor]]
"""``(layer, input) -> (gated input, gate)``; the gate is a leaf tensor of ones requiring grad."""


@contextmanager
def gated_inputs(projections: Sequence[nn.Module], gate_input: GateInput) -> Iterator[list[Tensor | None]]:
    """Replace the first input of every projection by ``gate_input``'s gated copy.

    The yielded list holds each layer's gate of the latest forward pass (None for a
    layer that did not run). The hooks are removed when the context ends.
    """
    gates: list[Tensor | None] = [None] * len(projections)

    def hook_for(layer: int) -> Callable[[nn.Module, tuple[Tensor, ...]], tuple[Tensor, ...]]:
        def hook(_: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            gated, gates[layer] = gate_input(layer, args[0])
            return (gated, *args[1:])

        return hook

    handles = [p.register_forward_pre_hook(hook_for(i)) for i, p in enumerate(projections)]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()
