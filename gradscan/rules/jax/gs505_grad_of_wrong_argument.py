from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set

import libcst as cst

from gradscan.frameworks import jax as jax_api, names as api_names
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics.arguments import argument_for, positional_argument
from gradscan.semantics.contexts import Scopes, function_value
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.facts import GRAD_TRANSFORMS, Target, argnums_of, differentiated_params
from gradscan.semantics.walk import descendants, mentions_name

VALUE_AND_GRAD = {"jax.value_and_grad", "flax.nnx.value_and_grad"}
APPLY_UPDATES = {"optax.apply_updates"}




class GradOfWrongArgument(Rule):
    code = "GS505"
    name = "grad-of-wrong-argument"
    framework = "jax"
    summary = "The gradient `jax.grad` returns updates an argument it does not differentiate (`argnums` defaults to 0)"
    message = "this gradient is taken with respect to another argument than the one it updates; set argnums"
    explanation = (
        "jax.grad differentiates the arguments `argnums` names, 0 by default: for `loss(x, w)` it returns d loss / d x. "
        "Subtracting that from `w` trains nothing meaningful (or fails on a shape)."
    )
    hint = "pass `argnums=` the position of what you update (`jax.grad(loss, argnums=1)`), or put the weights first"
    facts = ("jx46",)
    triggers = ("grad",)
    doc = """
    ## What it does
    Flags a `jax.grad` / `jax.value_and_grad` (or `nnx.grad`, `nnx.value_and_grad`) whose
    gradient is used to update a value passed at a position the transform does not
    differentiate: `g = jax.grad(loss)(x, w)` then `w = w - lr * g` (or `w -= lr * g`,
    `optax.apply_updates(w, updates)` with `updates` from `tx.update(g, ...)`,
    `jax.tree_util.tree_map(lambda p, d: p - lr * d, w, g)`, assigned or returned), where `w`
    is not among the arguments `argnums` names. The transform may be bound to a name first
    (`grad_loss = jax.grad(loss)`) or to an attribute in a method (`self.grad_fn =
    jax.grad(self.loss)`, whose `argnums` do not count `self`) and called elsewhere, wrapped in
    `jax.jit`, `jax.vmap` or `jax.pmap` (`jax.vmap(jax.grad(loss), in_axes=(0, None))`), and
    the loss may be a `functools.partial` that binds keywords only (`partial(loss, weight=0.5)`:
    the positions are unchanged). The updated value may be an attribute (`self.w`), and the
    gradient may pass through local values computed from it first (`clipped = clip(g)`,
    `g = jax.lax.pmean(g, "batch")`).

    ## Why it breaks gradients
    `argnums` defaults to 0: `jax.grad(loss)` for `loss(x, w, y)` returns the gradient with
    respect to the data `x`, not the weights (fact jx46). When `x` and `w` have the same shape
    nothing fails: the update subtracts d loss / d x from the weights, and the model follows a
    direction that has nothing to do with its own gradient.

    Not flagged: an update of the differentiated argument itself (adversarial examples update
    the input on purpose with `argnums=0`), a value passed both at a differentiated and at
    another position, transforms whose `argnums` is not a literal, a `partial` that binds
    positional arguments (it shifts the positions `argnums` counts), and gradients whose use
    cannot be followed (a `tree_map` through a named function, other files).

    ## Example
    ```python
    def loss(x, w, y):
        return (jnp.dot(x, w) - y) ** 2

    grad_loss = jax.grad(loss)
    for x, y in zip(xs, ys):
        w = w - lr * grad_loss(x, w, y)
    ```

    ## Use instead
    ```python
    grad_loss = jax.grad(loss, argnums=1)
    ```

    ## References
    - JAX docs: `jax.grad` (`argnums`), "Automatic differentiation" tutorial
    - gradscan facts: jx46
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp

        def loss(x, w, y):
            return (jnp.dot(x, w) - y) ** 2

        grad_loss = jax.grad(loss)  # error: GS505

        def epoch(w, xs, ys, lr):
            for x, y in zip(xs, ys):
                g = grad_loss(x, w, y)
                w = w - lr * g
            return w
        """,
        """
        import jax
        import optax

        def mse(batch, params):
            return ((batch["x"] @ params["w"] - batch["y"]) ** 2).mean()

        def step(params, opt_state, batch, tx):
            loss, grads = jax.value_and_grad(mse)(batch, params)  # error: GS505
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return params, opt_state
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp

        def loss(x, w, y):
            return (jnp.dot(x, w) - y) ** 2

        grad_w = jax.grad(loss, argnums=1)
        grad_x = jax.grad(loss)

        def epoch(w, xs, ys, lr):
            for x, y in zip(xs, ys):
                w = w - lr * grad_w(x, w, y)
                x_adv = x + 0.1 * jnp.sign(grad_x(x, w, y))
                x = x - 0.01 * grad_x(x, w, y)
            return w
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        scopes = model.get(Scopes)
        bound = self._bound_transforms(model)
        reported: Set[int] = set()
        for call, owner in model.calls:
            spec = self._transform_of(model, call, bound)
            if spec is None or id(spec) in reported:
                continue
            fn = _differentiated_function(model, spec, scopes)
            if fn is None or not isinstance(fn.node, (cst.FunctionDef, cst.Lambda)):
                continue
            argnums = argnums_of(model, spec)
            if argnums is None:
                continue
            differentiated = differentiated_params(Target(fn, argnums))
            if not differentiated:
                continue
            grad_name = self._gradient_name(model, call, spec)
            if grad_name is None:
                continue
            passed: Dict[str, List[str]] = {}  # argument name -> parameters it is passed to
            for param in fn.params:
                value = argument_for(fn, call, param)
                key = _value_key(value)
                if key is not None:
                    passed.setdefault(key, []).append(param)
            if grad_name == "":
                stmt = next(a for a in model.ancestors(call) if isinstance(a, (cst.Assign, cst.AugAssign)))
                updated_names = [_update_target(stmt, call)]
            else:
                updated_names = self._updated_names(model, owner, grad_name)
            for updated in updated_names:
                params = passed.get(updated, [])
                if params and not set(params) & differentiated:
                    reported.add(id(spec))
                    wanted = ", ".join(sorted(differentiated))
                    yield Report(spec, f"gradient w.r.t. `{clip(wanted, 20)}` updates `{clip(updated, 20)}` "
                                       f"(argument `{clip(params[0], 20)}`), which it does not differentiate; set argnums")
                    break

    @staticmethod
    def _bound_transforms(model: FileModel) -> Dict[str, cst.Call]:
        """Names assigned exactly once in the file, to a gradient transform of a function."""
        seen: Dict[str, Optional[cst.Call]] = {}
        for node, owner in model.assignments:
            targets = []
            if isinstance(node, cst.Assign):
                targets = [t.target for t in node.targets]
            elif isinstance(node, (cst.AnnAssign, cst.AugAssign)):
                targets = [node.target]
            for t in targets:
                key = _bound_key(t, owner)  # a name, or `self.grad_fn = jax.grad(self.loss)` in a method
                if not isinstance(t, cst.Name):
                    for n in descendants(t):
                        if isinstance(n, cst.Name):
                            seen[n.value] = None
                if key is None:
                    continue
                value = getattr(node, "value", None)
                if isinstance(node, cst.Assign) and isinstance(value, cst.Call):
                    value = _unjit(model, value)
                ok = (isinstance(node, cst.Assign) and isinstance(value, cst.Call)
                      and model.callee(value) in GRAD_TRANSFORMS and bool(value.args) and value.args[0].keyword is None)
                seen[key] = value if ok and key not in seen else None
        return {k: v for k, v in seen.items() if v is not None}

    @staticmethod
    def _transform_of(model: FileModel, call: cst.Call, bound) -> Optional[cst.Call]:
        """`jax.grad(f)(...)` or `g(...)` for a name bound to `jax.grad(f)`: the transform call."""
        func = call.func
        if isinstance(func, cst.Call):
            func = _unjit(model, func)
        if isinstance(func, cst.Call) and model.callee(func) in GRAD_TRANSFORMS and func.args and func.args[0].keyword is None:
            return func
        if _self_attribute(func):
            return bound.get(_bound_key(func, model.enclosing_function(call)))
        if isinstance(func, cst.Name) and model.resolve(func) is None:
            fn = model.enclosing_function(call)
            while fn is not None:  # a parameter of that name is some other function
                if func.value in fn.params:
                    return None
                fn = fn.parent
            return bound.get(func.value)
        return None

    @staticmethod
    def _gradient_name(model: FileModel, call: cst.Call, spec: cst.Call) -> Optional[str]:
        """The name the gradient is assigned to: `g = grad_fn(...)`, `v, g = value_and_grad(f)(...)`;
        the call itself when it sits in an update (`w - lr * grad_fn(...)`) is named by ''."""
        parent = model.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target = parent.targets[0].target
            if model.callee(spec) in VALUE_AND_GRAD:
                if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                    last = target.elements[1].value
                    return last.value if isinstance(last, cst.Name) else None
                return None
            return target.value if isinstance(target, cst.Name) else None
        if model.callee(spec) in VALUE_AND_GRAD:
            return None
        # used in place: the statement's own update, `w = w - lr * grad_fn(x, w)`
        for anc in model.ancestors(call):
            if isinstance(anc, (cst.Assign, cst.AugAssign)):
                return "" if _update_target(anc, call) is not None else None
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.FunctionDef, cst.Lambda)):
                return None
        return None

    @staticmethod
    def _updated_names(model: FileModel, owner: Optional[FunctionInfo], grad_name: str) -> List[str]:
        """Names updated with the gradient in the same function: `w = w - ... g ...`,
        `w -= ... g ...`, `w = optax.apply_updates(w, u)` with `u` from `tx.update(g, ...)`."""
        assigns = [n for n, o in model.assignments if o is owner]
        # bound once, apart from rebindings computed from itself (`g = jax.lax.pmean(g, "dev")`)
        count = sum(1 for n in assigns if isinstance(n, cst.Assign) and not mentions_name(n.value, grad_name)
                    for t in n.targets for x in descendants(t.target) if isinstance(x, cst.Name) and x.value == grad_name)
        if count != 1:
            return []
        updates = {grad_name}
        derived = _derived_names(assigns, grad_name)
        for node in assigns:  # `updates, state = tx.update(g, state, params)`
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
                first = positional_argument(node.value, 0)
                func = node.value.func
                if (isinstance(first, cst.Name) and first.value == grad_name and isinstance(func, cst.Attribute)
                        and func.attr.value == "update" and len(node.targets) == 1):
                    target = node.targets[0].target
                    if isinstance(target, cst.Tuple) and target.elements and isinstance(target.elements[0].value, cst.Name):
                        updates.add(target.elements[0].value.value)
        out = []
        for ret in owner.returns if owner is not None and isinstance(owner.node, cst.FunctionDef) else ():
            # `return w - lr * g`, `return optax.apply_updates(w, u)`, `return tree_map(..., w, g)`
            # (alone or in a tuple): the update is what the step returns
            values = ret.value.elements if isinstance(ret.value, cst.Tuple) else [ret.value] if ret.value else []
            for v in values:
                v = getattr(v, "value", v)
                if (isinstance(v, cst.BinaryOperation) and isinstance(v.operator, cst.Subtract)
                        and isinstance(v.left, cst.Name) and mentions_name(v.right, grad_name)):
                    out.append(v.left.value)
                elif isinstance(v, cst.Call):
                    name = _tree_update(model, v, updates)
                    if name is not None:
                        out.append(name)
        for node in assigns:
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
                name = _tree_update(model, node.value, updates)
                if name is not None:
                    out.append(name)
                    continue
            if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.SubtractAssign):
                key = _value_key(node.target)
                if key is not None and _mentions_any(node.value, derived):
                    out.append(key)
            elif isinstance(node, cst.Assign) and len(node.targets) == 1 and _value_key(node.targets[0].target) is not None:
                name = _value_key(node.targets[0].target)
                value = node.value
                # `w = w - lr * g`, `self.w = self.w - lr * clipped.mean(0)` (`clipped` computed from `g`)
                if (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Subtract)
                        and _value_key(value.left) == name and _mentions_any(value.right, derived)):
                    out.append(name)
                elif isinstance(value, cst.Call) and model.callee(value) in APPLY_UPDATES and len(value.args) >= 2:
                    first, second = value.args[0].value, value.args[1].value
                    if isinstance(first, cst.Name) and first.value == name and isinstance(second, cst.Name) and second.value in updates:
                        out.append(name)
        return out


TREE_MAPS = api_names(jax_api.TREE_MAPS)


def _self_attribute(expr) -> bool:
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"


def _bound_key(expr, owner: Optional[FunctionInfo]) -> Optional[str]:
    """How a transform bound to `expr` is looked up: by name, or by class and attribute for
    `self.grad_fn` (two classes may keep different transforms under the same attribute)."""
    if _self_attribute(expr):
        cls = owner.cls if owner is not None else None
        return f"{cls.name}@{id(cls)}.{dotted(expr)}" if cls is not None else None
    return _value_key(expr)


def _value_key(expr) -> Optional[str]:
    """A value the rule can follow by its text: a name, or an attribute of `self` (`self.w`)."""
    if isinstance(expr, cst.Name):
        return expr.value
    if _self_attribute(expr):
        return dotted(expr)
    return None


def _mentions_any(expr, names: Set[str]) -> bool:
    return any(mentions_name(expr, n) for n in names)


def _derived_names(assigns, grad_name: str) -> Set[str]:
    """`grad_name` and the local names computed from it in the same function, bound once
    (`clipped = clip(g)`, `step = lr * clipped.mean(0)`): the gradient flows on through them."""
    derived = {grad_name}
    binds: Dict[str, int] = {}
    for node in assigns:
        for t in getattr(node, "targets", ()):
            if isinstance(t.target, cst.Name):
                binds[t.target.value] = binds.get(t.target.value, 0) + 1
    changed = True
    while changed:
        changed = False
        for node in assigns:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
                continue
            name = node.targets[0].target.value
            if name in derived or binds.get(name) != 1:
                continue
            if _mentions_any(node.value, derived):
                derived.add(name)
                changed = True
    return derived


def _tree_update(model: FileModel, call: cst.Call, updates: Set[str]) -> Optional[str]:
    """The pytree a call updates with a gradient named in `updates`: `optax.apply_updates(w, u)`,
    `tree_map(lambda p, g: p - lr * g, w, grads)`; None otherwise."""
    name = model.callee(call)
    args = [a.value for a in call.args if a.keyword is None and not a.star]
    if name in APPLY_UPDATES and len(args) >= 2:
        first, second = args[0], args[1]
        if _value_key(first) is not None and isinstance(second, cst.Name) and second.value in updates:
            return _value_key(first)
        return None
    if name not in TREE_MAPS or len(args) != 3 or not isinstance(args[0], cst.Lambda):
        return None
    fn, tree, grads = args
    params = [p.name.value for p in fn.params.params]
    body = fn.body
    if (len(params) == 2 and _value_key(tree) is not None and isinstance(grads, cst.Name) and grads.value in updates
            and isinstance(body, cst.BinaryOperation) and isinstance(body.operator, cst.Subtract)
            and isinstance(body.left, cst.Name) and body.left.value == params[0] and mentions_name(body.right, params[1])):
        return _value_key(tree)
    return None


# Wrappers that compile or map a function and keep its signature: `jax.jit(jax.grad(f))` and
# `jax.vmap(jax.grad(f), in_axes=...)` differentiate the same arguments as `jax.grad(f)`.
JIT_WRAPPERS = {"jax.jit", "flax.nnx.jit", "equinox.filter_jit", "jax.vmap", "jax.pmap"}


def _unjit(model: FileModel, call: cst.Call) -> cst.Call:
    """`jax.jit(jax.grad(f))`: the inner transform call; else `call` itself."""
    while model.callee(call) in JIT_WRAPPERS and call.args and call.args[0].keyword is None \
            and isinstance(call.args[0].value, cst.Call):
        call = call.args[0].value
    return call


def _differentiated_function(model: FileModel, spec: cst.Call, scopes: Scopes) -> Optional[FunctionInfo]:
    """The function `spec` differentiates: `jax.grad(f)`, `jax.grad(partial(f, k=v))`, or a name
    bound once to `partial(f, k=v)` in an enclosing scope. A partial that binds positional
    arguments shifts the positions argnums counts: not followed."""
    scope = model.enclosing_function(spec)
    expr = spec.args[0].value
    if isinstance(expr, cst.Name) and scopes.lookup(scope, expr.value) is None:
        bound = [n.value for n, o in model.assignments
                 if isinstance(n, cst.Assign) and len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name)
                 and n.targets[0].target.value == expr.value and _encloses(o, scope)]
        if len(bound) == 1:
            expr = bound[0]
    if isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial":
        if not expr.args or any(a.keyword is None for a in expr.args[1:]) or any(a.star for a in expr.args):
            return None
    return function_value(model, scope, expr, scopes)


def _encloses(owner: Optional[FunctionInfo], scope: Optional[FunctionInfo]) -> bool:
    while scope is not None:
        if scope is owner:
            return True
        scope = scope.parent
    return owner is None


def _update_target(stmt, call: cst.Call) -> Optional[str]:
    """`w = w - lr * <call>` / `w -= lr * <call>`: the name `w` updated with the call's value."""
    if isinstance(stmt, cst.AugAssign):
        if isinstance(stmt.operator, cst.SubtractAssign) and isinstance(stmt.target, cst.Name):
            return stmt.target.value
        return None
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0].target, cst.Name):
        return None
    name = stmt.targets[0].target.value
    value = stmt.value
    if (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Subtract)
            and isinstance(value.left, cst.Name) and value.left.value == name
            and any(n is call for n in descendants(value.right))):
        return name
    return None
