from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.frameworks import jax as jax_api, names
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.facts import JaxSources, differentiated_params, param_names
from gradscan.semantics.walk import descendants

# Wrappers whose result is called with the wrapped function's arguments (`jax.jit(jax.grad(f))`).
PRESERVING = names(jax_api.ARGUMENT_PRESERVING_TRANSFORMS)
# A body that only reads these builtins may reach a parameter without naming it.
INTROSPECTION = {"locals", "vars", "eval", "exec"}


class DifferentiatedArgumentUnused(Rule):
    code = "GS506"
    name = "differentiated-argument-unused"
    framework = "jax"
    summary = "A function `jax.grad` differentiates never reads the argument it differentiates: the gradient is all zeros"
    message = "the loss never reads the argument it is differentiated with respect to; its gradient is all zeros"
    explanation = (
        "jax.grad(f) differentiates f with respect to the arguments argnums names. When f computes its value from "
        "another variable (an outer `params`, `state.params`, the initial variables) instead of that argument, the "
        "output does not depend on the argument and JAX returns zeros: training silently does nothing."
    )
    hint = "use the function's own argument (`apply_fn({'params': params}, x)`), not the outer value it was called with"
    facts = ("jx47", "jx49")
    triggers = ("grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")
    doc = """
    ## What it does
    Flags a function given to `jax.grad`, `jax.value_and_grad`, `nnx.grad` or
    `nnx.value_and_grad` (called at once, bound to a name, or used as a decorator) that never
    reads a parameter the transform differentiates (`argnums`, 0 by default), or reads it only
    into local names nothing reads afterwards (`pred = apply(params, x)` beside a loss written
    from the labels alone; reported on that assignment). Otherwise the finding is on
    the place where the body reads the very value the caller passes for that parameter
    (`state.params` in `jax.value_and_grad(loss_fn)(state.params)`, a module-level `params`),
    else on the parameter itself. The Jacobians and the Hessian (`jax.jacrev`, `jacfwd`,
    `hessian`) count the same way (fact jx49); a primal transform (`jax.vjp`, `jvp`,
    `linearize`, `check_grads`), which differentiates every argument it passes, data included,
    is flagged only when its function reads none of them. A function that does read the
    parameter but also reads, from outside, the very value the caller passes for it (`fit =
    mse(apply(params, x))` beside `l2(p)`, called as `jax.grad(objective)(params)`, through
    `jax.jit`/`vmap` wrappers too) is flagged on that outer read: what it computes from there
    carries no gradient.

    ## Why it breaks gradients
    The gradient is taken with respect to the argument, not with respect to whatever the body
    closes over. A loss written `def loss_fn(params): pred = state.apply_fn({"params":
    state.params}, x)` does not depend on `params`, so `jax.grad` returns a tree of zeros
    (fact jx47) and the optimizer never moves the weights. No error is raised.

    Not flagged: parameters whose name starts with `_` (unused on purpose), functions with
    `*args` / `**kwargs` or that reach their arguments through `locals()` / `vars()`, and
    transforms whose `argnums` is not a literal.

    ## Example
    ```python
    @jax.jit
    def train_step(state, x, y):
        def loss_fn(params):
            pred = state.apply_fn({"params": state.params}, x)
            return jnp.mean((pred - y) ** 2)

        grads = jax.grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads)
    ```

    ## Use instead
    ```python
    def loss_fn(params):
        pred = state.apply_fn({"params": params}, x)
        return jnp.mean((pred - y) ** 2)
    ```

    ## References
    - JAX docs: `jax.grad`; JAX FAQ, "jit changes the behavior of my function" (global state)
    - gradscan facts: jx47, jx49
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp

        def train_step(state, x, y):
            def loss_fn(params):
                pred = state.apply_fn({"params": state.params}, x)  # error: GS506
                return jnp.mean((pred - y) ** 2)

            grads = jax.grad(loss_fn)(state.params)
            return state.apply_gradients(grads=grads)
        """,
        """
        import jax
        import jax.numpy as jnp

        params = {"w": jnp.ones(3)}

        def loss(p, x, y):
            return jnp.mean((x @ params["w"] - y) ** 2)  # error: GS506

        dloss = jax.grad(loss)
        g = dloss(params, jnp.ones((2, 3)), jnp.zeros(2))
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp

        def train_step(state, x, y):
            def loss_fn(params):
                pred = state.apply_fn({"params": params}, x)
                return jnp.mean((pred - y) ** 2)

            grads = jax.grad(loss_fn)(state.params)
            return state.apply_gradients(grads=grads)

        def penalty(x, _unused_key):
            return jnp.sum(x ** 2)

        g = jax.grad(penalty, argnums=0)(jnp.ones(3), None)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        for target in model.get(JaxSources).targets.values():
            fn = target.fn
            if not isinstance(fn.node, (cst.FunctionDef, cst.Lambda)):
                continue
            p = fn.node.params
            if isinstance(p.star_arg, cst.Param) or p.star_kwarg is not None:
                continue
            differentiated = differentiated_params(target)
            if not differentiated:
                continue
            body = fn.node.body
            read = _names_read(body)
            if read & INTROSPECTION or not _has_computation(body):
                continue
            dead = _dead_stores(body)
            live = _names_read(body, skip_within=dead) if dead else read
            if target.every_primal and differentiated & live:
                # a primal transform (`jax.vjp`) passes every argument, so an unread one may be
                # data the signature asks for; only a function that reads none is differentiated for nothing
                continue
            for name in sorted(differentiated):
                if name in live and not target.every_primal and not name.startswith("_"):
                    # read, but so is the very value the caller passes for it, from outside: the
                    # terms built from that outer read carry no gradient (`mse(apply(params, x)) + l2(p)`)
                    node = self._closure_read(model, target, fn, name, body)
                    if node is not None:
                        yield Report(node, f"`{clip(fn.name, 16)}` reads the outer `{clip(dotted(node) or '', 16)}` passed as "
                                           f"`{clip(name, 16)}`, the differentiated argument: it carries no gradient")
                    continue
                if name in live or name.startswith("_"):
                    continue
                if name in read:
                    # read only into values nothing reads (`p = predict(params, x)` beside a loss
                    # written from the labels): the output does not depend on it either
                    store = next(a for a in dead if name in _names_read(a.value))
                    unused = ", ".join(sorted(_target_names(store) or ()))
                    yield Report(store, f"`{clip(fn.name, 20)}` reads `{clip(name, 20)}` only into `{clip(unused, 20)}`, "
                                        f"which nothing uses: its gradient is all zeros")
                    continue
                node = self._closure_read(model, target, fn, name, body) or self._param_node(fn, name)
                if node is None:
                    continue
                yield Report(node, f"`{clip(fn.name, 20)}` never reads `{clip(name, 20)}`, the argument it is "
                                   f"differentiated with respect to: the gradient is all zeros")

    @staticmethod
    def _param_node(fn: FunctionInfo, name: str) -> Optional[cst.CSTNode]:
        for param in (*fn.node.params.posonly_params, *fn.node.params.params):
            if param.name.value == name:
                return param
        return None

    @classmethod
    def _closure_read(cls, model: FileModel, target, fn: FunctionInfo, name: str, body) -> Optional[cst.CSTNode]:
        """The first place the body reads, from outside, the value the caller passes for `name`."""
        params = param_names(fn)
        if fn.is_method and isinstance(fn.node, cst.FunctionDef) and "staticmethod" not in fn.decorators:
            params = params[1:]
        if name not in params:
            return None
        index = params.index(name)
        local = set(fn.bindings) | set(fn.params)
        if fn.is_method:  # `self.model` read in the method is the `self.model` a sibling method passes
            local -= {"self", "cls"}
        for call in cls._calls(model, target):
            value = keyword_argument(call, name) or positional_argument(call, index)
            text = dotted(value) if value is not None else None
            if text is None or text.split(".")[0] in local:
                continue
            for node in descendants(body):
                if isinstance(node, (cst.Name, cst.Attribute)) and dotted(node) == text:
                    parent = model.parent(node)
                    if isinstance(parent, cst.Attribute) and parent.attr is node:
                        continue
                    if isinstance(parent, (cst.Arg, cst.Param)) and (parent.keyword if isinstance(parent, cst.Arg) else parent.name) is node:
                        continue  # `f(alpha=alpha_)`: a keyword's name, not a read
                    return node
        return None

    @staticmethod
    def _calls(model: FileModel, target) -> List[cst.Call]:
        """The calls of the transformed function: `jax.grad(f)(...)` and `g(...)` after `g = jax.grad(f)`."""
        out: List[cst.Call] = []
        for site in target.sites:
            parent = model.parent(site)
            # through wrappers that keep the arguments: `jax.jit(jax.grad(f))`, `jax.vmap(jax.grad(f), ...)`
            while isinstance(parent, cst.Arg) and parent.keyword is None:
                wrapper = model.parent(parent)
                if not (isinstance(wrapper, cst.Call) and model.callee(wrapper) in PRESERVING
                        and positional_argument(wrapper, 0) is site):
                    break
                site, parent = wrapper, model.parent(wrapper)
            if isinstance(parent, cst.Call) and parent.func is site:
                out.append(parent)
            elif (isinstance(parent, cst.Assign) and len(parent.targets) == 1
                  and isinstance(parent.targets[0].target, cst.Name)):
                bound = parent.targets[0].target.value
                out.extend(c for c, _owner in model.calls if isinstance(c.func, cst.Name) and c.func.value == bound)
        return out


def _names_read(body, skip_within=()) -> set:
    """The variable names the body mentions: not attribute names (`state.params`) nor keywords
    (`f(params=...)`), nor anything inside the statements `skip_within`."""
    skip = set()
    for stmt in skip_within:
        skip.update(id(n) for n in descendants(stmt))
    for n in descendants(body):
        if isinstance(n, cst.Attribute):
            skip.add(id(n.attr))
        elif isinstance(n, cst.Arg) and n.keyword is not None:
            skip.add(id(n.keyword))
    return {n.value for n in descendants(body) if isinstance(n, cst.Name) and id(n) not in skip}


def _target_names(assign: cst.Assign) -> Optional[set]:
    """The plain names an assignment binds (`p = ...`, `a, b = ...`); None when it also stores
    into an attribute, a subscript or a starred target (the value is kept somewhere)."""
    out = set()
    for t in assign.targets:
        elements = t.target.elements if isinstance(t.target, (cst.Tuple, cst.List)) else [t.target]
        for e in elements:
            if isinstance(e, cst.BaseElement):
                e = e.value
            if not isinstance(e, cst.Name):
                return None
            out.add(e.value)
    return out


def _dead_stores(body) -> List[cst.Assign]:
    """Assignments to plain names that nothing reads (no load of any of their names outside
    other dead stores' values), to a fixed point: a chain `h = f(params)`, `p = g(h)` with `p`
    unused is dead as a whole. A name read anywhere else (a nested function, a loop's next turn,
    its own augmented assignment) keeps the store live."""
    if not isinstance(body, cst.BaseSuite):
        return []
    assigns = [(a, _target_names(a)) for a in descendants(body) if isinstance(a, cst.Assign)]
    assigns = [(a, names) for a, names in assigns if names]
    if not assigns:
        return []
    target_ids: set = set()
    for a, _ in assigns:
        for t in a.targets:
            target_ids.add(id(t.target))
            target_ids.update(id(n) for n in descendants(t.target))
    skip = set()
    for n in descendants(body):
        if isinstance(n, cst.Attribute):
            skip.add(id(n.attr))
        elif isinstance(n, cst.Arg) and n.keyword is not None:
            skip.add(id(n.keyword))
    loads = [n for n in descendants(body) if isinstance(n, cst.Name) and id(n) not in skip and id(n) not in target_ids]
    inside = {id(a): {id(n) for n in descendants(a.value)} for a, _ in assigns}
    dead: List[cst.Assign] = []
    changed = True
    while changed:
        changed = False
        dead_ids = set().union(*(inside[id(a)] for a in dead)) if dead else set()
        for a, bound in assigns:
            if any(a is d for d in dead):
                continue
            if not any(n.value in bound and id(n) not in dead_ids for n in loads):
                dead.append(a)
                changed = True
                break
    return dead


def _has_computation(body) -> bool:
    """False for a stub (`...`, `pass`, `raise`, a constant): nothing to differentiate."""
    if isinstance(body, cst.BaseExpression):
        return not isinstance(body, (cst.BaseNumber, cst.BaseString, cst.Ellipsis, cst.Name))
    return any(isinstance(n, (cst.Call, cst.BinaryOperation, cst.Subscript, cst.Attribute)) for n in descendants(body))
