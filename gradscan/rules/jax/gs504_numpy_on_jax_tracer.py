from __future__ import annotations

from typing import Iterator, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import jax as jax_api, names
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.jax.helpers import abstract_functions, in_abstract, site_abstract, uses_jax
from gradscan.semantics.contexts import Scopes
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.facts import JaxSources, differentiated_params

TRACER_CONVERSIONS = names(jax_api.TRACER_CONVERSIONS)
PYTHON_NUMBER_BUILTINS = names(jax_api.PYTHON_NUMBER_BUILTINS)
CONVERSION_METHODS = names(jax_api.CONVERSION_METHODS)


class NumpyOnJaxTracer(Rule):
    code = "GS504"
    name = "numpy-on-jax-tracer"
    framework = "jax"
    summary = "`float(x)`, a NumPy function (`np.log`, `np.asarray`) or `math.*` on a value `jax.grad` traces: the gradient call raises"
    message = "this converts a value traced by a gradient transform to NumPy or Python: it raises; use jax.numpy"
    explanation = (
        "Inside jax.grad the differentiated arguments are tracers: float(), math.* and NumPy's ufuncs and array "
        "constructors need a concrete array and raise ConcretizationTypeError / TracerArrayConversionError."
    )
    hint = "use the `jax.numpy` function (`jnp.log`, `jnp.asarray`), keep the value an array, or convert after the transform"
    facts = ("jx45", "jx40")
    triggers = ("grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")
    doc = """
    ## What it does
    Flags `float(x)`, `complex(x)`, `math.log(x)` (and the other `math` functions that take a
    float) and NumPy functions that turn their argument into a NumPy array (`np.log`,
    `np.exp`, `np.sqrt`, `np.abs`, `np.maximum`, `np.clip`, `np.where`, `np.dot`,
    `np.asarray`, `np.array`, `np.concatenate`, `np.linalg.norm`, ...), when `x` depends on an
    argument that `jax.grad`, `jax.value_and_grad`, `nnx.grad` or `nnx.value_and_grad`
    differentiates, inside the differentiated function or a helper it passes that value to,
    including a method called on a differentiated nnx model (`nnx.grad(lambda m: m.nll(x,
    y))(model)`: `self`, its layers and its `nnx.Param`s are traced there, its configuration
    is not).

    ## Why it breaks gradients
    The differentiated arguments are tracers. `float()` and the `math` functions ask the
    tracer for a Python number and raise `ConcretizationTypeError`; NumPy ufuncs and array
    constructors ask it for a NumPy array and raise `TracerArrayConversionError`, with or
    without `jit` (fact jx45). The gradient is never computed. The usual cause is a loss written
    with `numpy` (or `math`) where `jax.numpy` was meant, or a helper that clips or logs a
    value with `float()`.

    Not flagged: the same calls on values that do not depend on the differentiated arguments
    (the batch, labels, hyper-parameters, shapes: `float(x.shape[0])`), NumPy reductions that
    hand the work back to the array's own method and work on tracers (`np.sum`, `np.mean`,
    `np.max`, `np.std`), `int(x)` and `bool(x)` (they do not raise under `jax.grad` without
    jit), `.item()` without jit (GS501: it silently gives a constant there), code outside a
    gradient transform, and values under `stop_gradient`, argmax or comparisons (not followed).

    Under `jit` (`jax.jit(jax.grad(f))`, a jitted train step, `vmap`, `lax.scan` bodies) the
    values are abstract: `x.item()` and `x.tolist()` of a traced value raise
    `ConcretizationTypeError` too (fact jx40), and are flagged here.

    ## Example
    ```python
    def bce(w, x, y):
        p = jax.nn.sigmoid(x @ w)
        return -jnp.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    grads = jax.grad(bce)(w, x, y)  # TracerArrayConversionError
    ```

    ## Use instead
    ```python
    def bce(w, x, y):
        p = jax.nn.sigmoid(x @ w)
        return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
    ```

    ## References
    - JAX docs: "Common gotchas" (`TracerArrayConversionError`, `ConcretizationTypeError`)
    - gradscan facts: jx45
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp
        import numpy as np

        def bce(w, x, y):
            p = jax.nn.sigmoid(x @ w)
            return -jnp.mean(y * np.log(p) + (1 - y) * np.log(1 - p))  # error: GS504

        grads = jax.grad(bce)(w, x, y)
        """,
        """
        import jax
        import jax.numpy as jnp

        def clipped(residual, delta=1.0):
            r = float(jnp.abs(residual).mean())  # error: GS504
            return jnp.mean(residual ** 2) if r < delta else jnp.mean(jnp.abs(residual))

        def loss_fn(params, x, y):
            return clipped(x @ params["w"] - y)

        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        """,
    )
    valid = (
        """
        import math
        import jax
        import jax.numpy as jnp
        import numpy as np

        def loss_fn(params, x, y, lr):
            pred = x @ params["w"]
            n = float(x.shape[0])
            weights = np.asarray(y > 0, dtype=np.float32)
            scale = math.sqrt(lr)
            return np.sum((pred - y) ** 2 * weights) / n * scale + np.mean(pred)

        grads = jax.grad(loss_fn)(params, x, y, 0.1)
        print(float(loss_fn(params, x, y, 0.1)), np.asarray(grads["w"]))

        def not_transformed(w, x):
            return float(np.log(x @ w).sum())
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        targets = model.get(JaxSources).targets
        if not targets:
            return
        candidates = [(c, fn) for c, fn in model.calls if fn is not None and c.args and self._converts(model, c)]
        methods = [(c, fn) for c, fn in model.calls if fn is not None and not c.args and isinstance(c.func, cst.Attribute)
                   and c.func.attr.value in CONVERSION_METHODS]
        if not candidates and not methods:
            return
        scopes = model.get(Scopes)
        jitted: Set[int] = set()  # differentiated functions traced abstractly (`jax.jit(jax.grad(f))`)
        abstract = abstract_functions(model, scopes) if methods else set()
        for target in targets.values():
            if differentiated_params(target) and methods and any(site_abstract(model, s, abstract) for s in target.sites):
                jitted.add(id(target.fn))
        traced = model.sources.jax_scopes()
        if not traced:
            return
        # `.item()` raises only where the value is abstract; without jit it is GS501's silent constant
        methods = [(c, fn) for c, fn in methods
                   if in_abstract(model, fn, abstract) or _within(fn, jitted)]
        for call, fn in candidates + methods:
            if _scope(fn, traced) is None:
                continue
            # (a nested function's own parameters are concrete, a callback's argument:
            # `jax.pure_callback(lambda p: np.sin(p), ...)`; the walk binds only traced ones)
            if not call.args:  # `x.item()`: the receiver is the value converted
                if model.sources.live(call.func.value, "jax"):  # type: ignore[union-attr]
                    yield Report(call.func.attr, f"`.{call.func.attr.value}()` of a value traced under jit raises "  # type: ignore[union-attr]
                                                 f"ConcretizationTypeError; keep it an array")
                continue
            if any(a.keyword is None and not a.star and model.sources.live(a.value, "jax") for a in call.args):
                yield Report(call.func, self._message(model, call))

    @staticmethod
    def _converts(model: FileModel, call: cst.Call) -> bool:
        name = model.callee(call)
        if name in TRACER_CONVERSIONS:
            return True
        return name is None and isinstance(call.func, cst.Name) and call.func.value in PYTHON_NUMBER_BUILTINS

    @staticmethod
    def _message(model: FileModel, call: cst.Call) -> str:
        name = model.callee(call)
        if name is None:
            what = f"`{call.func.value}()`"  # type: ignore[union-attr]
            return f"{what} of a value jax.grad traces raises ConcretizationTypeError; keep it an array"
        short = name.replace("numpy.", "np.", 1)
        if name.startswith("math."):
            return f"`{clip(short, 24)}` of a value jax.grad traces raises ConcretizationTypeError; use jax.numpy"
        return f"`{clip(short, 24)}` of a value jax.grad traces raises TracerArrayConversionError; use jax.numpy"


def _scope(fn: Optional[FunctionInfo], scope_params) -> Optional[Tuple[FunctionInfo, Set[str]]]:
    while fn is not None:
        found = scope_params.get(id(fn))
        if found is not None:
            return found
        fn = fn.parent
    return None


def _within(fn: Optional[FunctionInfo], ids: Set[int]) -> bool:
    while fn is not None:
        if id(fn) in ids:
            return True
        fn = fn.parent
    return False
