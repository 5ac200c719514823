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
    Api("jax.numpy.asarray", "jx45"),
    Api("jax.numpy.array", "jx45"),
)

# flax.nnx weights: `nnx.Param` is what `nnx.grad`/`nnx.Optimizer(wrt=nnx.Param)` differentiate (jx44).
WEIGHT_FACTORIES = (
    Api("flax.nnx.Param", "jx44"),
)

# The transforms that differentiate the function they are given with respect to the arguments
# `argnums` names (default 0): those arguments are the gradient sources in its body. Their
# tracers keep a concrete value without jit (jx40).
GRAD_TRANSFORMS = (
    *(Api(name, "jx40") for name in ("jax.grad", "jax.value_and_grad", "flax.nnx.grad", "flax.nnx.value_and_grad")),
)

# The other transforms that differentiate the function they are given (jx49). The Jacobians and
# the Hessian, like GRAD_TRANSFORMS, with respect to the arguments `argnums` names (default 0, also
# their second positional argument); they are not gradients of a loss, so GS505 leaves them alone.
JACOBIAN_TRANSFORMS = (
    *(Api(name, "jx49") for name in ("jax.jacrev", "jax.jacfwd", "jax.hessian")),
)
# Transforms whose result is called with the positional arguments of the function they are given
# (`jax.grad(loss)(params, x, criterion)` runs `loss(params, x, criterion)`): a call of the result
# binds the function's parameters as a direct call would (jx40, jx49).
ARGUMENT_PRESERVING_TRANSFORMS = (
    *GRAD_TRANSFORMS,
    *JACOBIAN_TRANSFORMS,
    *(Api(name, "jx40") for name in (
        "jax.jit", "jax.vmap", "jax.pmap", "jax.checkpoint", "jax.remat", "flax.nnx.jit", "flax.nnx.vmap",
        "flax.nnx.pmap", "flax.nnx.remat",
    )),
)
# With respect to every primal they are given: after the function (`jax.vjp(f, *primals)`,
# `jax.linearize(f, *primals)`) ...
PRIMALS_AFTER_FUNCTION = (
    *(Api(name, "jx49") for name in ("jax.vjp", "jax.linearize")),
)
# ... or as one sequence, the second argument (`jax.jvp(f, primals, tangents)`,
# `check_grads(f, args, order)`).
PRIMALS_IN_SEQUENCE = (
    *(Api(name, "jx49") for name in ("jax.jvp", "jax.test_util.check_grads")),
)

# `stop_gradient`: the result is a constant for the transform (a zero gradient, jx42).
STOP_GRADIENT = (
    Api("jax.lax.stop_gradient", "jx42"),
    Api("jax.numpy.stop_gradient", "jx42"),
)

# `tree_map(f, tree, *rest)`: `f` applied to every leaf, so `tree_map(stop_gradient, params)` is a
# stop_gradient of the whole tree (jx42).
TREE_MAPS = (
    *(Api(name, "jx42") for name in ("jax.tree_util.tree_map", "jax.tree.map", "jax.tree_map")),
)

# Attributes of a traced array that are concrete metadata even under a trace (jx40), not values.
NON_CARRYING_ATTRS = (
    *(Api(name, "jx40") for name in ("shape", "dtype", "ndim", "size", "itemsize", "nbytes", "sharding", "weak_type", "aval")),
)

# Results whose gradient is zero anyway (piecewise-constant, integer or boolean: jx42), and the
# conversions to Python values (jx40): what depends on the argument only through them is not traced.
ZERO_GRAD_METHODS = (
    *(Api(name, "jx42") for name in ("argmax", "argmin", "argsort", "round", "floor", "ceil", "sign", "any", "all", "nonzero")),
    *CONVERSION_METHODS,
)
# Piecewise-constant functions whose result is still a float: JAX differentiates them and
# returns a gradient of exactly zero (jx42).
ROUNDING_FUNCTIONS = (
    *(Api(f"jax.numpy.{name}", "jx42") for name in ("round", "around", "round_", "rint", "floor", "ceil", "trunc", "fix", "sign")),
    *(Api(f"jax.lax.{name}", "jx42") for name in ("round", "floor", "ceil", "sign")),
)
# Indices (integers) of a float array: no gradient flows to the array (jx42).
INDEX_FUNCTIONS = (
    *(Api(f"{package}.{name}", "jx42") for package in ("jax.numpy", "jax.lax") for name in ("argmax", "argmin")),
)
# Comparisons give booleans: no gradient flows to either operand (jx42).
COMPARISON_FUNCTIONS = (
    *(Api(f"jax.numpy.{name}", "jx42") for name in ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal")),
    *(Api(f"jax.lax.{name}", "jx42") for name in ("gt", "ge", "lt", "le", "eq", "ne")),
)
# Functions that take a dtype: to an integer or boolean dtype, the result has no gradient (jx42).
CAST_FUNCTIONS = (
    *(Api(name, "jx42") for name in ("jax.lax.convert_element_type", "jax.numpy.asarray", "jax.numpy.array")),
)
ZERO_GRAD_FUNCTIONS = (
    *ROUNDING_FUNCTIONS, *INDEX_FUNCTIONS, *COMPARISON_FUNCTIONS,
    *(Api(f"jax.numpy.{name}", "jx42") for name in (
        "argsort", "isnan", "isfinite", "isinf", "any", "all", "shape", "size", "ndim", "zeros_like", "ones_like",
        "count_nonzero",
    )),
    Api("jax.lax.top_k", "jx42"),
)

# Discrete samplers: the parameter that shapes the draw, as (keyword, position), gets an exact
# zero gradient through it (jx41). The continuous samplers (`normal`, `gamma`, `beta`,
# `dirichlet`, `uniform` bounds) are reparameterized.
DISCRETE_SAMPLERS = {
    Api("jax.random.bernoulli", "jx41"): (("p", 1),),
    Api("jax.random.categorical", "jx41"): (("logits", 1),),
    Api("jax.random.choice", "jx41"): (("p", 4),),
    Api("jax.random.poisson", "jx41"): (("lam", 1),),
    Api("jax.random.geometric", "jx41"): (("p", 1),),
    Api("jax.random.binomial", "jx41"): (("n", 1), ("p", 2)),
    Api("jax.random.multinomial", "jx41"): (("n", 1), ("p", 2)),
}
# Functions that return the updated parameters and leave their arguments untouched (jx48).
APPLY_UPDATES = (
    *(Api(f"optax.{name}", "jx48") for name in ("apply_updates", "incremental_update", "periodic_update")),
)

# `jax.custom_vjp`: the backward returns one cotangent per differentiable input; None or an
# all-zeros cotangent gives that input's producers zero gradient (jx51).
CUSTOM_VJP = (Api("jax.custom_vjp", "jx51"),)
ZERO_COTANGENTS = (Api("jax.numpy.zeros_like", "jx51"), Api("jax.numpy.zeros", "jx51"))
# Optax's optimizers (aliases) end by scaling with -learning_rate; `optax.masked(opt, mask)` as
# the whole transformation passes the other leaves' raw gradients through, which
# `apply_updates` adds (jx52). A chain element from `COMPLEMENTS` takes care of those leaves.
OPTIMIZERS = tuple(Api(f"optax.{n}", "jx52") for n in (
    "adabelief", "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamaxw", "adamw", "adan", "amsgrad",
    "fromage", "lamb", "lars", "lion", "nadam", "nadamw", "noisy_sgd", "novograd", "optimistic_adam",
    "optimistic_gradient_descent", "polyak_sgd", "radam", "rmsprop", "rprop", "sgd", "sign_sgd", "signum", "sm3",
    "yogi",
))
MASKED = (Api("optax.masked", "jx52"),)
CHAINS = (Api("optax.chain", "jx52"), Api("optax.named_chain", "jx52"))
COMPLEMENTS = (*MASKED, *OPTIMIZERS, *(Api(f"optax.{n}", "jx52") for n in ("set_to_zero", "multi_transform", "partition")))

# Argument roles of the array API (no gradient fact: which argument is data, an index or a shape).
# Packages whose functions take their data as first argument.
ARRAY_PACKAGES = ("jax.numpy.", "jax.nn.", "jax.lax.", "jax.scipy.", "optax.", "flax.linen.", "flax.nnx.")
# Functions whose first positional argument is a shape or a count, not data.
SHAPE_FIRST = frozenset({
    "zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri",
    "tril_indices", "triu_indices", "indices", "diag_indices",
})
# Positions that hold indices, conditions or shapes: a value there selects or masks, it is not
# differentiated through.
INDEX_POSITIONS = {
    "where": (0,), "select": (0,), "take": (1,), "take_along_axis": (1,), "choose": (0,), "dynamic_slice": (1, 2),
    "dynamic_index_in_dim": (1,), "dynamic_update_slice": (2,), "dynamic_slice_in_dim": (1, 2), "one_hot": (1,),
    "cond": (0,), "switch": (0,), "bincount": (1,), "segment_sum": (1,), "segment_max": (1,), "segment_mean": (1,),
}
INDEX_KEYWORDS = frozenset({
    "axis", "axes", "dtype", "shape", "indices", "condition", "where", "num_classes", "size", "length", "keepdims",
    "segment_ids", "num_segments", "mask", "start_indices", "slice_sizes", "index", "pred",
})
# An integer (or boolean) value stays integer through these; anything else makes it a float
# (`mean`, `one_hot`, `/`, a float operand, an unknown function).
INT_KEEPING = frozenset({
    "sum", "prod", "max", "min", "amax", "amin", "abs", "cumsum", "cumprod", "clip", "where", "take", "take_along_axis",
    "reshape", "squeeze", "ravel", "flatten", "concatenate", "stack", "hstack", "vstack", "asarray", "array", "maximum",
    "minimum", "negative", "sort", "expand_dims", "transpose", "T", "count_nonzero", "nansum", "logical_and",
    "logical_or", "logical_not", "logical_xor", "any", "all", "sign", "round", "floor", "ceil", "tile", "repeat",
    "broadcast_to", "roll", "flip", "diff", "square", "argmax", "argmin",
})
# Functions with a custom gradient rule (their own derivative, not the walk's business).
CUSTOM_GRADIENT = ("custom_vjp", "custom_jvp", "custom_gradient", "defvjp", "defjvp")

# NumPy conversions of a tracer raise TracerArrayConversionError (jx39): loud, never silent.
NUMPY_CONVERSIONS = (
    *(Api(f"numpy.{name}", "jx45") for name in ("asarray", "array", "float32", "float64", "int32", "int64")),
)

# Python builtins that give a Python value (a length, a type, a string) even of a tracer (jx40).
PYTHON_VALUE_BUILTINS = (
    *(Api(name, "jx40") for name in ("len", "isinstance", "type", "str", "repr", "id", "hash", "callable", "hasattr", "range", "print")),
)


# Calls that need a concrete value and raise on a tracer inside `jax.grad`, with or without jit
# (jx45): NumPy ufuncs and functions that build a NumPy array from their argument
# (TracerArrayConversionError), `math` functions that ask for a float (ConcretizationTypeError).
# Not here: NumPy reductions that call the array's own method (`np.sum`, `np.mean`, `np.max`,
# `np.std`, `np.prod`), which work on tracers.
TRACER_CONVERSIONS = (
    *(Api(f"numpy.{name}", "jx45") for name in (
        "asarray", "array", "asanyarray", "ascontiguousarray", "float32", "float64", "float16", "log", "log1p", "log2",
        "log10", "exp", "expm1", "exp2", "sqrt", "square", "power", "abs", "absolute", "fabs", "sin", "cos", "tan",
        "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctanh", "maximum", "minimum", "clip", "where", "dot",
        "matmul", "einsum", "concatenate", "stack", "tile", "ravel", "isnan", "isfinite", "logaddexp", "sign",
        "reciprocal", "negative", "multiply", "add", "subtract", "divide", "true_divide",
    )),
    Api("numpy.linalg.norm", "jx45"),
    *(Api(f"math.{name}", "jx45") for name in (
        "log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan",
        "asin", "acos", "atan2", "floor", "ceil", "fabs", "isnan", "isfinite", "erf", "pow", "hypot",
    )),
)

# Python builtins that ask a tracer for a Python number and raise under `jax.grad` (jx45; `int`
# and `bool` do not raise there without jit, jx40).
PYTHON_NUMBER_BUILTINS = (
    Api("float", "jx45"),
    Api("complex", "jx45"),
)
