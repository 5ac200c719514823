"""GS6xx: PyTorch training loops whose optimizer step silently does nothing to some weights.

The rules here read the order of statements in one function (a training loop, a script, a
Lightning `training_step` with manual optimization): which call runs before which, in one
straight-line sequence of statements. Only orders that hold on every run count: a statement in
the other branch of an `if`, in a nested function (a closure run later), or earlier in a loop
body (the previous iteration) is never taken as "before" or "after". When the order cannot be
read, the rules stay silent.
"""
from gradscan.rules.training_loop import (  # noqa: F401 (importing a rule module registers its rule)
    gs601_zero_grad_between_backward_and_step,
    gs602_module_replaced_after_optimizer,
    gs603_zero_grad_every_micro_batch,
    gs604_scheduler_step_without_optimizer_step,
    gs605_optimizer_over_unused_copy,
    gs606_optimizer_misses_trained_submodule,
    gs607_reentrant_checkpoint_on_model_input,
    gs608_step_of_other_optimizer,
    gs609_training_step_returns_no_loss,
    gs610_parameters_generator_reused,
    gs611_unfrozen_after_filtered_optimizer,
    gs612_optimizer_duplicates_other_network,
    gs613_clip_after_step,
    gs614_weight_rebound_by_update,
    gs615_optimizer_never_stepped,
)
