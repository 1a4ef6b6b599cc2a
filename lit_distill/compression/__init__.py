"""Pure functions behind the compression callbacks.

* :mod:`~lit_distill.compression.length_sampling`: LengthDrop sub-network sampling
  (per-layer sequence lengths and LayerDrop), after Kim & Cho 2021 (LAT).
* :mod:`~lit_distill.compression.inplace_kd`: the in-place distillation loss
  KL(full ‖ sub-network) on span logits.
* :mod:`~lit_distill.compression.length_config`: parsing and validating
  Drop-and-Restore length configurations given by users.
* :mod:`~lit_distill.compression.head_importance`: head importance after
  Michel et al. 2019 (accumulated |∂loss/∂gate|, normalised per layer).
* :mod:`~lit_distill.compression.head_selection`: which heads to prune, by
  importance or by a seeded random choice, never every head of a layer.
* :mod:`~lit_distill.compression.input_gates`: gates on the input of linear layers,
  the one hook behind head and neuron importance.
* :mod:`~lit_distill.compression.ffn_importance`: feed-forward neuron importance,
  in the same pass as the heads'.
* :mod:`~lit_distill.compression.structured_budget`: how many heads and neurons to
  prune for a parameter or FLOP budget, and the gradual schedule.
* :mod:`~lit_distill.compression.structured_selection`: which heads or neurons to
  prune, the least important or a seeded random choice.

Nothing here imports Lightning: the callbacks in :mod:`lit_distill.callbacks`
wire these functions into training and evaluation.
"""
