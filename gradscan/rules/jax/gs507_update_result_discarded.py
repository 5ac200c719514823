from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.frameworks import jax as jax_api, names as api_names
from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.jax.helpers import uses_jax
from gradscan.semantics.arguments import positional_argument, positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants, mentions_name

# Pure functions that return the updated parameters and change nothing in place.
APPLY_UPDATES = api_names(jax_api.APPLY_UPDATES)
TREE_MAPS = api_names(jax_api.TREE_MAPS)


class UpdateResultDiscarded(Rule):
    code = "GS507"
    name = "update-result-discarded"
    framework = "jax"
    summary = "The new parameters `optax.apply_updates` (or a `tree_map` SGD step, or an nnx update inside plain `jax.jit`) returns are dropped: the weights never change"
    message = "the updated parameters are discarded; JAX arrays are immutable, so the weights never change"
    explanation = (
        "optax.apply_updates(params, updates) and jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads) "
        "return new arrays; they do not change `params`. Dropping the result, or returning the old `params` after "
        "computing the new ones, keeps the model where it started while the loop runs without error."
    )
    hint = "assign the result back (`params = optax.apply_updates(params, updates)`) and return it"
    facts = ("jx48",)
    triggers = ("apply_updates", "tree_map", "tree.map", "apply_gradients", "split", "jit")
    doc = """
    ## What it does
    Flags `optax.apply_updates(...)` (and `optax.incremental_update`, `optax.periodic_update`)
    or a Flax `TrainState`'s `state.apply_gradients(grads=...)` used as a bare statement, a `tree_map` whose function subtracts or adds a gradient-like
    term (`lambda p, g: p - lr * g`) used as a bare statement, and a function that assigns such
    an update to a new name (`new_params = optax.apply_updates(params, updates)`,
    `new_state = state.apply_gradients(grads=grads)`) but returns its own unchanged argument (or
    a local bound once: a `fori_loop`/`scan` step's unpacked carry `params, opt_state = carry`)
    and never returns, stores or passes on the new name as a whole. In Flax NNX's functional API,
    `graphdef, state = nnx.split(model)` with `state` trained by a step that takes and returns it
    (`state = train_step(graphdef, state, batch)`), never written back (`nnx.update`,
    `nnx.merge`) nor handed on, while `model` is read after the last step: the finding is on
    that read. In Flax NNX's stateful API, a function compiled with plain `jax.jit` (or
    `jax.pmap`, as a decorator, `partial(jax.jit, ...)` or `step = jax.jit(train_step)`) that
    updates one of its own arguments in place as a bare statement (`optimizer.update(model,
    grads)`, `metrics.update(loss=loss)`, `nnx.update(model, state)`) and returns neither that
    argument nor an `nnx.state`/`nnx.split` of anything: the finding is on the `jax.jit`.

    ## Why it breaks gradients
    JAX arrays are immutable and these functions are pure: they return the updated tree and
    leave their input as it was (fact jx48); `nnx.split` copies the module's arrays out, so a
    trained State changes the module only through `nnx.update(model, state)`; plain `jax.jit`
    flattens its nnx arguments and traces copies, so an in-place update inside it changes the
    copies and is dropped when the trace ends (only `nnx.jit` carries it back to the caller's
    objects). The gradient is computed and the optimizer state
    advances, but the weights the next step uses are the old ones, so the loss stays where it
    started. Nothing raises.

    Not flagged: TensorFlow/Keras optimizers' `apply_gradients(zip(grads, variables))` (in
    place; they take the pairs positionally or as `grads_and_vars=`), a file's own
    `apply_gradients` that returns nothing (it updates in place), a result assigned back or returned, stored in an attribute or a container,
    or given to another call (`state.replace(params=new_params)`); `tree_map` calls whose
    function is not an arithmetic update (printing, `block_until_ready`); in-place nnx updates
    under `nnx.jit` or outside any jit, or in a jitted step that returns the objects or their
    `nnx.state` for the caller to keep.

    ## Example
    ```python
    def update(params, opt_state, batch):
        grads = jax.grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        optax.apply_updates(params, updates)
        return params, opt_state
    ```

    ## Use instead
    ```python
        params = optax.apply_updates(params, updates)
        return params, opt_state
    ```

    ## References
    - Optax docs: `optax.apply_updates`; JAX docs: "JAX arrays are immutable" (sharp bits)
    - gradscan facts: jx48
    """
    invalid = (
        """
        import jax
        import optax

        def update(params, opt_state, batch, optimizer, loss_fn):
            grads = jax.grad(loss_fn)(params, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            optax.apply_updates(params, updates)  # error: GS507
            return params, opt_state
        """,
        """
        import jax

        def sgd(params, grads, lr=0.1):
            new_params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)  # error: GS507
            return params
        """,
    )
    valid = (
        """
        import jax
        import optax

        def update(params, opt_state, batch, optimizer, loss_fn):
            grads = jax.grad(loss_fn)(params, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            return new_params, opt_state

        def log_shapes(params):
            jax.tree_util.tree_map(lambda p: print(p.shape), params)
            return params
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_jax(model):
            return
        in_place = _in_place_apply(model)
        for call, owner in model.calls:
            if not (self._is_update(model, call) or (not in_place and _state_update(call))):
                continue
            parent = model.parent(call)
            if isinstance(parent, cst.Expr):
                yield Report(call, f"the result of `{clip(model.callee(call) or dotted(call.func) or '', 30)}` is discarded: "
                                   "the parameters it updates never change")
                continue
            if owner is None or not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
                continue
            target = parent.targets[0].target
            source = self._source_param(model, call)
            if not isinstance(target, cst.Name) or source is None or source == target.value \
                    or not _bound_once(owner, source):
                continue
            if self._stale_return(model, owner, source, target.value):
                yield Report(call, f"`{clip(target.value, 20)}` holds the update but the function returns the old "
                                   f"`{clip(source, 20)}`: the parameters never change")
        for site, fn, stmt in _jit_in_place(model):
            yield Report(site, f"`{clip(stmt, 30)}` mutates nnx objects inside plain `jax.jit`: only traced copies change; "
                               "use `nnx.jit`")
        for fn in model.functions:
            found = _unmerged_split(model, fn)
            if found is not None:
                read, module, state = found
                yield Report(read, f"`{clip(module, 20)}` keeps its old weights: the `{clip(state, 20)}` trained out of "
                                   f"`nnx.split` never goes back (`nnx.update`)")

    @staticmethod
    def _is_update(model: FileModel, call: cst.Call) -> bool:
        name = model.callee(call)
        if name in APPLY_UPDATES:
            return True
        if name not in TREE_MAPS:
            return False
        fn = positional_argument(call, 0)
        if not isinstance(fn, cst.Lambda) or len(fn.params.params) < 2 or len(positional_arguments(call)) < 3:
            return False
        body = fn.body
        return (isinstance(body, cst.BinaryOperation) and isinstance(body.operator, (cst.Subtract, cst.Add))
                and isinstance(body.left, cst.Name) and body.left.value == fn.params.params[0].name.value)

    @staticmethod
    def _source_param(model: FileModel, call: cst.Call) -> Optional[str]:
        """The tree the update starts from: `apply_updates(params, ...)`, `tree_map(f, params, grads)`,
        the state `state.apply_gradients(grads=...)` is called on."""
        if _state_update(call):
            receiver = call.func.value
            return receiver.value if isinstance(receiver, cst.Name) else None
        index = 1 if model.callee(call) in TREE_MAPS else 0
        value = positional_argument(call, index)
        return value.value if isinstance(value, cst.Name) else None

    @staticmethod
    def _stale_return(model: FileModel, owner: FunctionInfo, source: str, new: str) -> bool:
        """The function returns `source` unchanged and never hands `new` on as a whole."""
        if len(owner.bindings.get(source, [])) > 1:  # `params` rebound somewhere in the function
            return False
        returns_source = False
        for ret in owner.returns:
            for element in _returned(ret):
                if isinstance(element, cst.Name) and element.value == new:
                    return False
                if isinstance(element, cst.Name) and element.value == source:
                    returns_source = True
        if not returns_source:
            return False
        for node in descendants(owner.node.body):
            if isinstance(node, cst.Assign) and mentions_name(node.value, new):
                if any(not isinstance(t.target, (cst.Name, cst.Tuple)) for t in node.targets):
                    return False  # stored: `self.params = new`, `state["params"] = new`
                if isinstance(node.value, (cst.Name, cst.Tuple, cst.List, cst.Dict)):
                    return False  # renamed or packed into a container
            if isinstance(node, cst.Arg) and node.keyword is not None and mentions_name(node.value, new):
                return False  # `state.replace(params=new)`
            if isinstance(node, (cst.Yield, cst.Global, cst.Nonlocal)):
                return False
            if isinstance(node, (cst.Lambda, cst.FunctionDef)) and node is not owner.node and mentions_name(node, new):
                return False  # a closure hands it on
            if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name) and node.target.value == source:
                return False
        return True


NNX_SPLIT = "flax.nnx.split"
NNX_WRITE_BACK = {"flax.nnx.update", "flax.nnx.merge"}


def _unmerged_split(model: FileModel, fn: FunctionInfo):
    """Flax NNX's functional API: `graphdef, state = nnx.split(model)`, then `state` is trained by
    a step that takes and returns it (`state = train_step(graphdef, state, x, y)`), but nothing
    writes it back (`nnx.update(model, state)`, `nnx.merge(graphdef, state)`) and the state is not
    handed on, while `model` is read after the last step: that `model` has its old weights (the
    split copies the arrays out; a step returns new ones). (read, module name, state name) or None."""
    if not isinstance(fn.node, cst.FunctionDef):
        return None
    body = list(descendants(fn.node.body))
    order = {id(n): i for i, n in enumerate(body)}
    if any(isinstance(n, cst.Call) and model.callee(n) in NNX_WRITE_BACK for n in body):
        return None
    for node in body:
        if not (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)
                and model.callee(node.value) == NNX_SPLIT and len(node.targets) == 1):
            continue
        module = positional_argument(node.value, 0)
        target = node.targets[0].target
        if not isinstance(module, cst.Name) or not isinstance(target, (cst.Tuple, cst.List)):
            continue
        names = [e.value.value for e in target.elements if isinstance(e.value, cst.Name)]
        for state in names[1:]:
            steps = [n for n in body if isinstance(n, cst.Assign) and order[id(n)] > order[id(node)]
                     and _binds(n, state) and isinstance(n.value, cst.Call)
                     and any(mentions_name(a.value, state) for a in n.value.args)]
            if not steps:
                continue
            inside = {id(d) for st in (node, *steps) for d in descendants(st)}
            reads = [n for n in body if isinstance(n, cst.Name) and n.value == state and id(n) not in inside
                     and order[id(n)] > order[id(node)]]
            if reads:
                continue  # handed on: returned, stored, saved or merged by the caller
            last = max(order[id(st)] for st in steps)
            later = [n for n in body if isinstance(n, cst.Name) and n.value == module.value and order[id(n)] > last
                     and id(n) not in inside]
            if later and not any(_binds(n, module.value) for n in body if isinstance(n, cst.Assign)
                                 and order[id(n)] > order[id(node)]):
                return later[0], module.value, state
    return None


def _binds(assign: cst.Assign, name: str) -> bool:
    for t in assign.targets:
        elements = t.target.elements if isinstance(t.target, (cst.Tuple, cst.List)) else [t.target]
        for e in elements:
            e = e.value if isinstance(e, cst.BaseElement) else e
            if isinstance(e, cst.Name) and e.value == name:
                return True
    return False


def _bound_once(owner: FunctionInfo, name: str) -> bool:
    """`name` holds one value in the function: a parameter, or a local bound once (a loop body's
    `params, opt_state = carry` in a `fori_loop`/`scan` step), so returning it returns the tree
    the update started from."""
    return name in owner.params or len(owner.bindings.get(name, [])) == 1


def _state_update(call: cst.Call) -> bool:
    """`state.apply_gradients(grads=g)`: Flax's `TrainState` method (and its subclasses'), called
    with its keyword-only `grads` and nothing positional. It returns a new state and leaves its
    receiver as it was (a frozen dataclass). TensorFlow/Keras optimizers' in-place
    `apply_gradients(grads_and_vars)` takes the pairs positionally or as `grads_and_vars=`."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "apply_gradients" or not call.args:
        return False
    return all(a.keyword is not None and not a.star for a in call.args) and any(
        a.keyword.value == "grads" for a in call.args)


def _in_place_apply(model: FileModel) -> bool:
    """The file defines its own `apply_gradients` that returns nothing (it updates its object in
    place): a bare call of it is right. One that returns (`return self.replace(...)`, a TrainState
    subclass) keeps the pure contract."""
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef) and fn.name == "apply_gradients":
            if not any(getattr(r, "value", None) is not None for r in fn.returns):
                return True
    return False


def _returned(ret) -> List[cst.BaseExpression]:
    """The returned values, nested tuples flattened (a `scan` step returns `(carry, out)` with
    the carry itself a tuple)."""
    value = getattr(ret, "value", None)
    if value is None:
        return []
    out: List[cst.BaseExpression] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (cst.Tuple, cst.List)):
            stack.extend(reversed([e.value for e in v.elements]))
        else:
            out.append(v)
    return out


# Plain JAX compilers: they flatten their arguments and trace copies, so an in-place change to an
# nnx object inside them never reaches the caller's object (jx48). `nnx.jit` carries it back.
PLAIN_JITS = {"jax.jit", "jax.pmap", "jax.pjit", "jax.experimental.pjit.pjit"}
NNX_STATE_OUT = {"flax.nnx.state", "flax.nnx.split", "flax.nnx.split_state"}


def _plain_jit(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`jax.jit`, `jax.jit(...)` as a decorator factory, `partial(jax.jit, ...)`."""
    if model.resolve(expr) in PLAIN_JITS:
        return True
    if isinstance(expr, cst.Call):
        name = model.callee(expr)
        if name in PLAIN_JITS:
            return True
        first = positional_argument(expr, 0)
        return name == "functools.partial" and first is not None and model.resolve(first) in PLAIN_JITS
    return False


def _jit_in_place(model: FileModel):
    """Flax NNX's stateful API under plain `jax.jit`: the compiled function calls, as a bare
    statement, `optimizer.update(model, grads)` / `metrics.update(...)` on one of its own
    parameters or `nnx.update(param, state)`, and returns neither that parameter nor an
    `nnx.state`/`nnx.split` of anything: the change stays on the traced copies (flax 0.12). Yields
    (where `jax.jit` is applied, the function, the statement's text)."""
    if not any((model.callee(c) or "").startswith("flax.nnx.") for c, _ in model.calls):
        return
    sites = {}
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if _plain_jit(model, d.decorator):
                    sites[id(fn)] = (d.decorator, fn)
    by_name = {fn.name: fn for fn in model.functions if fn.parent is None and isinstance(fn.node, cst.FunctionDef)}
    for call, _owner in model.calls:
        if model.callee(call) in PLAIN_JITS:
            first = positional_argument(call, 0)
            fn = by_name.get(first.value) if isinstance(first, cst.Name) else None
            if fn is not None and id(fn) not in sites:
                sites[id(fn)] = (call, fn)
    for site, fn in sites.values():
        stmt = _in_place_statement(model, fn)
        if stmt is not None:
            yield site, fn, stmt


def _in_place_statement(model: FileModel, fn: FunctionInfo) -> Optional[str]:
    params = set(fn.params)
    found = None
    for node in descendants(fn.node.body):
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        if isinstance(node, cst.Call) and model.callee(node) in NNX_STATE_OUT:
            return None  # the state is handed out for the caller to write back
        if found is None and isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
            call = node.value
            func = call.func
            if model.callee(call) == "flax.nnx.update":
                target = positional_argument(call, 0)
                if isinstance(target, cst.Name) and target.value in params:
                    found = (target.value, f"nnx.update({target.value}, ...)")
            elif (isinstance(func, cst.Attribute) and func.attr.value == "update" and isinstance(func.value, cst.Name)
                    and func.value.value in params and model.resolve(func) is None):
                found = (func.value.value, f"{func.value.value}.update(...)")
    if found is None:
        return None
    for ret in fn.returns:
        if any(mentions_name(v, found[0]) for v in _returned(ret)):
            return None  # handed back to the caller, who may keep it
    return found[1]
