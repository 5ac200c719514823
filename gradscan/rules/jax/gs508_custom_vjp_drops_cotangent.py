from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import jax as jax_api, names as api_names
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.model import FileModel, FunctionInfo

CUSTOM_VJP = api_names(jax_api.CUSTOM_VJP)
# A cotangent that is all zeros whatever flows back.
ZERO_COTANGENTS = api_names(jax_api.ZERO_COTANGENTS)


class CustomVjpDropsCotangent(Rule):
    code = "GS508"
    name = "custom-vjp-drops-cotangent"
    framework = "jax"
    summary = "A `jax.custom_vjp` backward returns `None` (or zeros) for an input that a call gives a value carrying gradient: everything before that input gets zero gradient"
    message = "the custom backward returns no cotangent for an input with gradient: what made it gets zeros"
    explanation = (
        "A jax.custom_vjp backward returns one cotangent per differentiable input; None means zero. When a call "
        "passes that input a value computed from the differentiated parameters (the previous layer's activations), "
        "the chain rule stops there and every weight before it gets an all-zero gradient, silently."
    )
    hint = "return the input's cotangent too (for `x @ w`: `g @ w.T`), or mark a true constant with `nondiff_argnums`"
    facts = ("jx51",)
    triggers = ("custom_vjp",)
    doc = """
    ## What it does
    Flags, in the backward function given to `f.defvjp(fwd, bwd)` of a `@jax.custom_vjp`
    function `f` (also `@partial(jax.custom_vjp, nondiff_argnums=...)`), a returned cotangent
    that is `None` or an array of zeros (`jnp.zeros_like(x)`), when some call of `f` in the file
    passes that input a value that carries gradient from an argument a gradient transform
    differentiates (the hidden activations of a previous layer, a value computed from the
    parameters). The finding is on the returned `None`.

    ## Why it breaks gradients
    The backward of a `custom_vjp` function replaces JAX's own chain rule for it: it returns one
    cotangent per differentiable input, and `None` stands for zero (fact jx51). A layer written
    as a custom op that returns only its weight's cotangent ("the input is data anyway") is right
    for the first layer, but in a stack the next layer's input is the previous layer's output:
    its cotangent is dropped, so every earlier weight gets an all-zero gradient. No error is
    raised.

    Not flagged: `None` for inputs that every call gives plain numbers, data or other values that
    carry no gradient (clip bounds, masks, labels, the first layer's input), arguments listed in
    `nondiff_argnums`, `custom_jvp` rules, and backward functions the file does not define.

    ## Example
    ```python
    @jax.custom_vjp
    def dense(w, x):
        return x @ w

    def dense_fwd(w, x):
        return x @ w, (w, x)

    def dense_bwd(res, g):
        w, x = res
        return x.T @ g, None

    dense.defvjp(dense_fwd, dense_bwd)

    def mlp(params, x):
        return dense(params["w2"], jnp.tanh(dense(params["w1"], x)))
    ```

    ## Use instead
    ```python
    def dense_bwd(res, g):
        w, x = res
        return x.T @ g, g @ w.T
    ```

    ## References
    - JAX docs: "Custom derivative rules for JAX-transformable Python functions" (`jax.custom_vjp`, `None` cotangents)
    - jax-ml/jax#17496 (a custom matrix-vector VJP that leaves out the vector: the first layer's gradient is zero)
    - gradscan facts: jx51
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp

        @jax.custom_vjp
        def dense(w, x):
            return x @ w

        def dense_fwd(w, x):
            return x @ w, (w, x)

        def dense_bwd(res, g):
            w, x = res
            return x.T @ g, None  # error: GS508

        dense.defvjp(dense_fwd, dense_bwd)

        def loss(params, x):
            h = jnp.tanh(dense(params["w1"], x))
            return jnp.sum(dense(params["w2"], h))

        grads = jax.grad(loss)
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp

        @jax.custom_vjp
        def clip_gradient(lo, hi, x):
            return x

        def clip_fwd(lo, hi, x):
            return x, (lo, hi)

        def clip_bwd(res, g):
            lo, hi = res
            return None, None, jnp.clip(g, lo, hi)

        clip_gradient.defvjp(clip_fwd, clip_bwd)

        def loss(w, x):
            return jnp.sum(clip_gradient(-1.0, 1.0, jnp.tanh(x @ w)))

        grads = jax.grad(loss)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        customs = _custom_vjp_functions(model)
        if not customs:
            return
        calls: Dict[str, List[Tuple[cst.Call, Optional[FunctionInfo]]]] = {}
        for call, owner in model.calls:
            if isinstance(call.func, cst.Name) and call.func.value in customs:
                calls.setdefault(call.func.value, []).append((call, owner))
        for name, (fn, nondiff) in customs.items():
            rules = _defvjp(model, name)
            if rules is None:
                continue
            fwd, bwd = rules
            diff_params = [i for i in range(len(fn.params)) if i not in nondiff]
            inside = {id(fwd.node), id(bwd.node), id(fn.node)}
            reported: Set[int] = set()
            for ret in bwd.returns:
                value = getattr(ret, "value", None)
                if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) != len(diff_params):
                    continue
                for j, element in enumerate(value.elements):
                    cot = element.value
                    if not _zero_cotangent(model, cot) or id(cot) in reported:
                        continue
                    index = diff_params[j]
                    param = fn.params[index]
                    for call, owner in calls.get(name, []):
                        if owner is not None and _within(owner, inside):
                            continue
                        arg = keyword_argument(call, param)
                        if arg is None:
                            arg = positional_argument(call, index)
                        if arg is not None and model.sources.live(arg, "jax"):
                            reported.add(id(cot))
                            yield Report(cot, f"`{clip(bwd.name, 16)}` returns None for `{clip(param, 16)}`, but a call passes it a "
                                              f"value with gradient: earlier weights get zeros")
                            break


def _within(fn: FunctionInfo, nodes: Set[int]) -> bool:
    while fn is not None:
        if id(fn.node) in nodes:
            return True
        fn = fn.parent
    return False


def _zero_cotangent(model: FileModel, expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Name) and expr.value == "None":
        return True
    return isinstance(expr, cst.Call) and model.callee(expr) in ZERO_COTANGENTS


def _int_set(expr: Optional[cst.BaseExpression]) -> Optional[Set[int]]:
    if expr is None:
        return set()
    if isinstance(expr, cst.Integer):
        return {int(expr.value)}
    if isinstance(expr, (cst.Tuple, cst.List)):
        out = set()
        for e in expr.elements:
            if not isinstance(e.value, cst.Integer):
                return None
            out.add(int(e.value.value))
        return out
    return None


def _custom_vjp_functions(model: FileModel) -> Dict[str, Tuple[FunctionInfo, Set[int]]]:
    """Module-level functions decorated `@jax.custom_vjp`, `@jax.custom_vjp(nondiff_argnums=...)`
    or `@partial(jax.custom_vjp, nondiff_argnums=...)`, with their nondiff positions."""
    out: Dict[str, Tuple[FunctionInfo, Set[int]]] = {}
    for fn in model.functions:
        if not isinstance(fn.node, cst.FunctionDef):
            continue
        for d in fn.node.decorators:
            dec = d.decorator
            nondiff: Optional[Set[int]] = None
            if model.resolve(dec) in CUSTOM_VJP:
                nondiff = set()
            elif isinstance(dec, cst.Call):
                callee = model.callee(dec)
                if callee in CUSTOM_VJP:
                    nondiff = _int_set(keyword_argument(dec, "nondiff_argnums"))
                elif callee == "functools.partial" and dec.args and model.resolve(dec.args[0].value) in CUSTOM_VJP:
                    nondiff = _int_set(keyword_argument(dec, "nondiff_argnums"))
            p = fn.node.params
            if nondiff is not None and not isinstance(p.star_arg, cst.Param) and p.star_kwarg is None:
                out[fn.name] = (fn, nondiff)  # positions are only known without *args
    return out


def _defvjp(model: FileModel, name: str) -> Optional[Tuple[FunctionInfo, FunctionInfo]]:
    """`name.defvjp(fwd, bwd)` with both functions defined in the file."""
    for call, owner in model.calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "defvjp" and isinstance(func.value, cst.Name)
                and func.value.value == name):
            continue
        fwd, bwd = positional_argument(call, 0), positional_argument(call, 1)
        if not (isinstance(fwd, cst.Name) and isinstance(bwd, cst.Name)):
            return None
        found = {}
        for fn in model.functions:
            if fn.name in (fwd.value, bwd.value) and isinstance(fn.node, cst.FunctionDef):
                found.setdefault(fn.name, fn)
        if fwd.value in found and bwd.value in found:
            return found[fwd.value], found[bwd.value]
        return None
    return None
