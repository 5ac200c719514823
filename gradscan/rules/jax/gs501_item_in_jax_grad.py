from __future__ import annotations

from typing import Iterator, List, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.frameworks.jax import ARRAY_PACKAGES, SHAPE_FIRST
from gradscan.frameworks.python import NUMBER_TO_NUMBER
from gradscan.rules.jax.helpers import abstract_functions, in_abstract, site_abstract, uses_jax
from gradscan.semantics.contexts import Scopes
from gradscan.semantics.sources import contains
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.facts import JaxSources, differentiated_params
from gradscan.semantics.zero_gradient import Traced

class ItemInJaxGrad(Rule):
    code = "GS501"
    name = "item-in-jax-grad"
    framework = "jax"
    summary = "`.item()` on a value traced by `jax.grad` silently turns it into a constant: the gradient comes out wrong"
    message = "`.item()` under a gradient transform drops this term's gradient; stay in arrays"
    explanation = (
        "Without jit, `.item()` of a traced value returns a Python constant: the gradient through this term is "
        "lost silently (a wrong gradient, no error)."
    )
    hint = "stay in arrays (`x`, `jnp.sum(x)`); take `.item()` of the result outside the transform, or return it as aux"
    facts = ("jx40", "jx49")
    triggers = (".item(",)
    doc = """
    ## What it does
    Flags `x.item()` inside a function given to `jax.grad`, `jax.value_and_grad`, `nnx.grad` or
    `nnx.value_and_grad` (as an argument, a decorator, through `functools.partial`, a lambda or a
    helper it passes traced values to), when `x` depends on the differentiated arguments and the
    Python number flows into the returned loss. The other differentiating transforms count too
    (fact jx49): `jax.jacrev`, `jacfwd`, `hessian` (their `argnums`), `jax.vjp`, `jvp`,
    `linearize`, `check_grads` (every primal, data included: there a number taken of one
    argument alone is not reported, one taken of two or more is).

    ## Why it breaks gradients
    Without `jit`, `jax.grad` traces the function with tracers that still carry a concrete
    value. `x.item()` returns that value as a Python number, which JAX treats as a constant:
    for `x.item() * x` at x=2 the gradient is 2.0 instead of 4.0, `jnp.sin(x.item())` gets 0.0
    instead of cos 2, and no error or warning is raised (fact jx40). The model trains on a
    wrong gradient. `float(x)` and `x.tolist()` raise `ConcretizationTypeError` there, and under
    `jit` everything raises: those are loud, and GS504 reports them.

    Not flagged: `.item()` on the result of the transform (outside the function), in metrics
    returned as `has_aux` output or logged, on values that do not depend on the differentiated
    arguments (the batch, labels, constants), on values whose gradient is zero anyway
    (`argmax`, comparisons, integer casts, `stop_gradient`), numbers used as shapes, sizes or
    Python control flow, and functions that run under `jit`, `vmap`, `pmap` or `lax` control
    flow (`.item()` raises there: GS504).

    ## Example
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        scale = jnp.mean(pred ** 2).item()
        return jnp.mean((pred - y) ** 2) * scale

    grads = jax.grad(loss_fn)(params, x, y)
    ```

    ## Use instead
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        scale = jnp.mean(pred ** 2)
        return jnp.mean((pred - y) ** 2) * scale
    ```

    If the constant is intended, say so with `jax.lax.stop_gradient(scale)`: it works under
    `jit` too.

    ## References
    - JAX docs: "Control flow and logical operators with JIT", `jax.lax.stop_gradient`
    - gradscan facts: jx40, jx49
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            scale = jnp.mean(pred ** 2).item()  # error: GS501
            return jnp.mean((pred - y) ** 2) * scale

        grads = jax.grad(loss_fn)(params, x, y)
        """,
        """
        import jax.numpy as jnp
        from flax import nnx

        def loss_fn(model, x, y):
            logits = model(x)
            temperature = logits.std().item()  # error: GS501
            return jnp.mean((logits / temperature - y) ** 2)

        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            n = y.sum().item()
            loss = jnp.sum((pred - y) ** 2) / n
            return loss, {"mse": loss.item(), "top": jnp.argmax(pred).item()}

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
        print(loss.item(), grads["w"].mean().item())

        def scaled(params, x):
            s = jax.lax.stop_gradient(params["w"]).max().item()
            k = int(params["k"].shape[0])
            return jnp.sum(x @ params["w"]) / s + k

        jax.grad(scaled)(params, x)

        def not_transformed(params, x):
            return jnp.sum(x @ params["w"]) * params["w"].mean().item()
        """,
        """
        import jax
        import jax.numpy as jnp

        @jax.jit
        def train_step(params, x, y):
            def loss_fn(p):
                pred = x @ p["w"]
                return jnp.mean((pred - y) ** 2) * pred.mean().item()
            return jax.grad(loss_fn)(params)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        items = [(c, fn) for c, fn in model.calls
                 if fn is not None and isinstance(c.func, cst.Attribute) and c.func.attr.value == "item"]
        if not items:
            return
        scopes = model.get(Scopes)
        targets = model.get(JaxSources).targets
        if not targets:
            return
        abstract = abstract_functions(model, scopes)
        roots = set()
        primal_targets = {}  # id(fn) -> the primals of a primal transform passing two or more
        aux_elements: Set[int] = set()
        for target in targets.values():
            fn = target.fn
            if in_abstract(model, fn, abstract) or any(site_abstract(model, s, abstract) for s in target.sites):
                continue  # under jit: `.item()` raises (loud)
            if not differentiated_params(target):
                continue
            roots.add(id(fn))
            params = differentiated_params(target)
            if target.every_primal and len(params) > 1:
                primal_targets[id(fn)] = params
            if target.has_aux:
                aux_elements.update(_aux_elements(model, fn))
        if not roots:
            return
        traced = model.sources.jax_scopes()
        for call, fn in items:
            receiver = call.func.value
            if self._scope(fn, traced) is None or in_abstract(model, fn, abstract):
                continue
            if not model.sources.live(receiver, "jax"):
                continue
            if not self._of_shared_primals(model, scopes, fn, receiver, primal_targets):
                continue
            trace = model.flow.reaches_output(
                call, barrier=lambda n: id(n) in aux_elements, accept_return=lambda f: id(f) in roots)
            if trace is None or trace.sink != "return" or trace.root is None or id(trace.root) not in roots:
                continue
            if not _enters_loss(model, call, trace):
                continue
            yield Report(call.func.attr)

    @staticmethod
    def _of_shared_primals(model: FileModel, scopes: Scopes, fn: FunctionInfo, receiver, primal_targets) -> bool:
        """In a function a primal transform differentiates (`jax.vjp(f, params, x)`) every argument
        is differentiated, data included: a number taken of one argument alone may be the
        caller's data (`x.max().item()`); one taken of two or more (a prediction) is not."""
        owner = fn
        while owner is not None and id(owner) not in primal_targets:
            owner = owner.parent
        if owner is None:
            return True
        params = primal_targets[id(owner)]
        hits = 0
        for p in sorted(params):
            walk = Traced(model, scopes)
            if walk.traced(receiver, walk.names_of(owner, {p})):
                hits += 1
        return hits >= 2

    @staticmethod
    def _scope(fn: FunctionInfo, scope_params):
        while fn is not None:
            found = scope_params.get(id(fn))
            if found is not None:
                return found
            fn = fn.parent
        return None


def _aux_elements(model: FileModel, fn: FunctionInfo) -> List[int]:
    """The elements after the first of what a `has_aux` function returns: its auxiliary output."""
    values = []
    if isinstance(fn.node, cst.Lambda):
        values.append(fn.node.body)
    else:
        values.extend(r.value for r in fn.returns if r.value is not None)
    if not isinstance(fn.node, cst.Lambda):
        # `out = (loss, aux)` ... `return out`
        returned = {v.value for v in values if isinstance(v, cst.Name)}
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign) and any(
                    isinstance(t.target, cst.Name) and t.target.value in returned for t in node.targets):
                values.append(node.value)
    out = []
    for value in values:
        if isinstance(value, (cst.Tuple, cst.List)):
            out.extend(id(e) for e in value.elements[1:])
    return out


def _enters_loss(model: FileModel, start: cst.Call, trace) -> bool:
    """The Python number is part of the returned loss: returned itself, combined by arithmetic,
    or data of a JAX function. Numbers used as shapes, sizes, axes, indices or arguments of
    unknown calls are not gradient paths."""
    prev = None
    for node in trace.path:
        if prev is None:
            prev = node
            continue
        if isinstance(node, cst.BinaryOperation):
            return True
        if isinstance(node, cst.Call) and prev is not node.func:
            arg = next((a for a in node.args if a is prev or contains(model, a, prev)), None)
            if arg is None:
                prev = node
                continue
            name = model.callee(node)
            text = dotted(node.func) or ""
            if name is None and text in NUMBER_TO_NUMBER:
                prev = node
                continue
            if name and name.startswith(("math.", "numpy.")):
                prev = node
                continue
            if name and name.startswith(ARRAY_PACKAGES):
                last = name.rsplit(".", 1)[-1]
                index = node.args.index(arg) if arg.keyword is None else None
                if last in SHAPE_FIRST:
                    return last == "full" and (index == 1 or (arg.keyword is not None and arg.keyword.value == "fill_value"))
                if last == "where":
                    return index in (1, 2)
                return index == 0 or (arg.keyword is not None and arg.keyword.value in ("x", "a", "operand"))
            return False
        prev = node
    # the number itself is returned as (part of) the loss
    return bool(trace.path) and trace.sink == "return" and not any(isinstance(n, cst.Call) and n is not start for n in trace.path)
