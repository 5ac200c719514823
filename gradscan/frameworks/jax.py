"""JAX (0.10.2)."""
from gradscan.frameworks import Api

# A traced value turned into a Python value inside `jax.grad` (jx40: `.item()` silently
# becomes a constant; `.tolist()` and `float()` raise at once).
CONVERSION_METHODS = (
    Api("item", "jx40"),
    Api("tolist", "jx40"),
)

# Calls that build an array from Python or NumPy data.
REWRAP_FUNCTIONS = (
    Api("jax.numpy.asarray", "jx39"),
    Api("jax.numpy.array", "jx39"),
)

# flax.nnx weights: `nnx.Param` is what `nnx.grad`/`nnx.Optimizer(wrt=nnx.Param)` differentiate (jx44).
WEIGHT_FACTORIES = (
    Api("flax.nnx.Param", "jx44"),
)
