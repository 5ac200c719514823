"""GS5xx: JAX and Flax code whose gradients are silently wrong or never applied.

- GS501: `x.item()` on a value traced by `jax.grad` / `value_and_grad` / `nnx.grad` /
  `nnx.value_and_grad`. Without `jit` the tracer still has a concrete value, so `.item()`
  returns it as a Python constant and the gradient through that term is lost: d(x*x)/dx comes
  out 2.0 instead of 4.0 and no error is raised (fact jx40). `float(x)` and `x.tolist()` raise
  instead, and under `jit` everything raises: those are loud and not reported.
- GS502: a weight of a `flax.nnx` Module stored as a raw JAX array or as `nnx.Variable(...)`:
  `nnx.grad` and `nnx.Optimizer` differentiate and update only `nnx.Param` by default, so the
  weight never trains (fact jx44).
- GS504: `float(x)`, `math.*` or a NumPy ufunc / array constructor on a value `jax.grad`
  traces: it raises at once (fact jx45).

The family's helpers (`helpers.py`) answer its questions without importing anything: which
functions a gradient transform differentiates and with respect to which arguments
(`grad_targets`, in the engine), which values in them are traced (the engine's one walk with
JAX's facts: `model.sources.live(expr, "jax")`: derived from the differentiated arguments, not
through `stop_gradient`, shapes, comparisons or integer-valued ops; GS503 asks the engine's
statement-by-statement refinement, `semantics.zero_gradient`, whose cuts are the walk's
`facts.jax_cut`), and which
functions run under an abstract trace (`jit`, `pmap`, `vmap`, `lax` control flow), where
`.item()` raises instead.
"""
from gradscan.rules.jax import (  # noqa: F401 (importing a rule module registers its rule)
    gs501_item_in_jax_grad,
    gs502_nnx_weight_not_param,
    gs503_non_differentiable_op_in_jax_loss,
    gs504_numpy_on_jax_tracer,
    gs505_grad_of_wrong_argument,
    gs506_differentiated_argument_unused,
    gs507_update_result_discarded,
    gs508_custom_vjp_drops_cotangent,
    gs509_masked_optimizer_passes_gradients,
)
