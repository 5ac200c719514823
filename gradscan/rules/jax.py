"""GS5xx: JAX and Flax code whose gradients are silently wrong or never applied.

- GS501: `x.item()` on a value traced by `jax.grad` / `value_and_grad` / `nnx.grad` /
  `nnx.value_and_grad`. Without `jit` the tracer still has a concrete value, so `.item()`
  returns it as a Python constant and the gradient through that term is lost: d(x*x)/dx comes
  out 2.0 instead of 4.0 and no error is raised (fact jx40). `float(x)` and `x.tolist()` raise
  instead, and under `jit` everything raises: those are loud and not reported.
- GS502: a weight of a `flax.nnx` Module stored as a raw JAX array or as `nnx.Variable(...)`:
  `nnx.grad` and `nnx.Optimizer` differentiate and update only `nnx.Param` by default, so the
  weight never trains (fact jx44).

The helpers answer the questions of the family without importing anything: which functions a
gradient transform differentiates and with respect to which arguments (`_GradTargets`), which
values in them are traced (`_Traced`: derived from the differentiated arguments, not through
`stop_gradient`, shapes, comparisons or integer-valued ops), and which functions run under an
abstract trace (`jit`, `pmap`, `vmap`, `lax` control flow), where `.item()` raises instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics import classes as kinds
from gradscan.semantics.contexts import function_value, Scopes
from gradscan.semantics.flow import tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted

# The transforms whose tracers keep a concrete value without jit (fact jx40 is about these).
GRAD_TRANSFORMS = {"jax.grad", "jax.value_and_grad", "flax.nnx.grad", "flax.nnx.value_and_grad"}
# Transforms under which values are abstract: `.item()` raises there (loud), never silent.
ABSTRACT_TRANSFORMS = {
    "jax.jit", "jax.pmap", "jax.vmap", "flax.nnx.jit", "flax.nnx.pmap", "flax.nnx.vmap", "flax.linen.jit",
    "flax.linen.vmap", "jax.experimental.pjit.pjit", "jax.pjit", "equinox.filter_jit", "jax.shard_map",
    "jax.experimental.shard_map.shard_map", "flax.nnx.shard_map", "jax.make_jaxpr", "jax.eval_shape",
    "jax.lax.scan", "jax.lax.fori_loop", "jax.lax.while_loop", "jax.lax.cond", "jax.lax.switch",
    "jax.lax.map", "flax.nnx.scan", "flax.nnx.fori_loop", "flax.nnx.while_loop", "flax.nnx.cond",
    "flax.nnx.switch", "jax.checkpoint", "jax.remat", "flax.nnx.remat",
}
STOP_GRADIENT = {"jax.lax.stop_gradient", "jax.numpy.stop_gradient"}
# Reading these gives metadata (concrete even under a trace), not a traced value.
META_ATTRS = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "sharding", "weak_type", "aval"}
# Results with a zero gradient anyway: `.item()` on them loses nothing.
ZERO_GRAD_METHODS = {"argmax", "argmin", "argsort", "round", "floor", "ceil", "sign", "any", "all", "nonzero", "item", "tolist"}
ZERO_GRAD_FUNCTIONS = {
    "jax.numpy.argmax", "jax.numpy.argmin", "jax.numpy.argsort", "jax.numpy.round", "jax.numpy.floor",
    "jax.numpy.ceil", "jax.numpy.sign", "jax.numpy.rint", "jax.numpy.trunc", "jax.numpy.isnan",
    "jax.numpy.isfinite", "jax.numpy.isinf", "jax.numpy.any", "jax.numpy.all", "jax.numpy.shape",
    "jax.numpy.size", "jax.numpy.ndim", "jax.numpy.zeros_like", "jax.numpy.ones_like", "jax.numpy.count_nonzero",
    "jax.numpy.equal", "jax.numpy.not_equal", "jax.numpy.greater", "jax.numpy.less", "jax.lax.top_k",
}
# NumPy conversions of a tracer raise TracerArrayConversionError (fact jx39): loud, not GS501.
LOUD_NUMPY = {"numpy.asarray", "numpy.array", "numpy.float32", "numpy.float64", "numpy.int32", "numpy.int64"}
INT_DTYPES = {"int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "bool_"}
NON_TRACING_BUILTINS = {"len", "isinstance", "type", "str", "repr", "id", "hash", "callable", "hasattr", "range", "print"}
# Python-number functions a number passes through and stays a number.
NUMBER_TO_NUMBER = {"min", "max", "abs", "pow", "round", "sum", "float", "int"}
# JAX functions whose first positional argument is a shape or a count, not data.
SHAPE_FIRST = {
    "zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri",
    "tril_indices", "triu_indices", "indices", "diag_indices",
}
# JAX packages whose functions take their data as first argument.
ARRAY_PACKAGES = ("jax.numpy.", "jax.nn.", "jax.lax.", "jax.scipy.", "optax.", "flax.linen.", "flax.nnx.")


def _is_name(expr, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


def _kwarg(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _int_literal(expr) -> Optional[int]:
    if isinstance(expr, cst.Integer):
        return int(expr.value, 0)
    return None


def _uses_jax(model: FileModel) -> bool:
    return model.imports.uses("jax") or model.imports.uses("flax")


# ============================================================================ GS501


@dataclass
class _Target:
    """A function a gradient transform differentiates."""

    fn: FunctionInfo
    argnums: Optional[Set[int]] = field(default_factory=lambda: {0})  # None: cannot be told
    has_aux: bool = False
    sites: List[cst.CSTNode] = field(default_factory=list)  # the transform calls / decorators


def _argnums(model: FileModel, call: Optional[cst.Call]) -> Optional[Set[int]]:
    """`argnums=1`, `argnums=(0, 2)`, `argnums=nnx.DiffState(0, ...)`; {0} by default; None when
    it is not a literal."""
    if call is None:
        return {0}
    value = _kwarg(call, "argnums")
    if value is None:
        positional = [a for a in call.args[1:] if a.keyword is None and not a.star]
        value = positional[0].value if positional and model.callee(call) in GRAD_TRANSFORMS else None
    if value is None:
        return {0}
    if isinstance(value, cst.Call) and (model.callee(value) or "").endswith("DiffState") and value.args:
        value = value.args[0].value
    n = _int_literal(value)
    if n is not None:
        return {n}
    if isinstance(value, (cst.Tuple, cst.List)):
        out = set()
        for e in value.elements:
            n = _int_literal(e.value)
            if n is None:
                return None
            out.add(n)
        return out
    return None


def _has_aux(call: Optional[cst.Call]) -> bool:
    if call is None:
        return False
    value = _kwarg(call, "has_aux")
    return value is not None and not _is_name(value, "False")


def _grad_targets(model: FileModel, scopes: Scopes) -> Dict[int, _Target]:
    """Every function given to one of GRAD_TRANSFORMS, by id of its FunctionInfo."""
    out: Dict[int, _Target] = {}

    def add(fn: Optional[FunctionInfo], spec: Optional[cst.Call], site: cst.CSTNode) -> None:
        if fn is None:
            return
        argnums = _argnums(model, spec)
        target = out.get(id(fn))
        if target is None:
            out[id(fn)] = _Target(fn, argnums, _has_aux(spec), [site])
            return
        target.sites.append(site)
        target.has_aux = target.has_aux or _has_aux(spec)
        target.argnums = None if target.argnums is None or argnums is None else target.argnums | argnums

    def partial_of_grad(expr) -> bool:
        return (isinstance(expr, cst.Call) and model.callee(expr) == "functools.partial" and bool(expr.args)
                and model.resolve(expr.args[0].value) in GRAD_TRANSFORMS)

    for call, owner in model.calls:
        if partial_of_grad(call):
            parent = model.parent(call)
            if isinstance(parent, cst.Decorator):  # @partial(jax.grad, argnums=1)
                add(model.function_of.get(model.parent(parent)), call, call)
            continue
        if partial_of_grad(call.func) and call.args:  # partial(jax.grad, argnums=1)(f)
            add(function_value(model, owner, call.args[0].value, scopes), call.func, call)
            continue
        if model.callee(call) not in GRAD_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator):
            add(model.function_of.get(model.parent(parent)), call, call)
        elif call.args and call.args[0].keyword is None and not call.args[0].star:
            add(function_value(model, owner, call.args[0].value, scopes), call, call)
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef):
            for d in fn.node.decorators:
                if model.resolve(d.decorator) in GRAD_TRANSFORMS:
                    add(fn, None, d)
    return out


def _is_abstract_spec(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`jax.jit`, `jax.jit(...)` used as a decorator factory, `partial(jax.jit, ...)`."""
    if model.resolve(expr) in ABSTRACT_TRANSFORMS:
        return True
    if isinstance(expr, cst.Call):
        name = model.callee(expr)
        if name in ABSTRACT_TRANSFORMS:
            return True
        if name == "functools.partial" and expr.args and model.resolve(expr.args[0].value) in ABSTRACT_TRANSFORMS:
            return True
    return False


def _abstract_functions(model: FileModel, scopes: Scopes) -> Set[int]:
    """Functions that run under an abstract trace: decorated with or passed to jit, pmap, vmap,
    `lax.scan` and the other control-flow primitives (their values have no concrete value)."""
    out: Set[int] = set()
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef) and any(_is_abstract_spec(model, d.decorator) for d in fn.node.decorators):
            out.add(id(fn))
    for call, owner in model.calls:
        func = call.func
        if not (model.callee(call) in ABSTRACT_TRANSFORMS or (isinstance(func, cst.Call) and _is_abstract_spec(model, func))):
            continue
        for arg in call.args:
            if arg.keyword is None and not arg.star:
                target = function_value(model, owner, arg.value, scopes)
                if target is not None:
                    out.add(id(target))
    # what a jitted function calls runs under the same trace
    by_id = {id(fn): fn for fn in model.functions}
    todo = [by_id[i] for i in out if i in by_id]
    while todo:
        fn = todo.pop()
        for call in scopes.calls_within(fn):
            if isinstance(call.func, cst.Name):
                target = scopes.lookup(model.enclosing_function(call), call.func.value)
                if target is not None and id(target) not in out:
                    out.add(id(target))
                    todo.append(target)
    return out


def _in_abstract(model: FileModel, fn: Optional[FunctionInfo], abstract: Set[int]) -> bool:
    while fn is not None:
        if id(fn) in abstract:
            return True
        fn = fn.parent
    return False


def _site_abstract(model: FileModel, site: cst.CSTNode, abstract: Set[int]) -> bool:
    """The transform call is wrapped in jit (`jax.jit(jax.grad(f))`) or runs in a jitted function."""
    for anc in model.ancestors(site):
        if isinstance(anc, cst.Arg):
            call = model.parent(anc)
            if isinstance(call, cst.Call) and model.callee(call) in ABSTRACT_TRANSFORMS:
                return True
        if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            break
    return _in_abstract(model, model.enclosing_function(site), abstract)


class _Traced:
    """Which names, in a function differentiated by a gradient transform and in the helpers it
    passes traced values to, hold values that depend on the differentiated arguments."""

    def __init__(self, model: FileModel, scopes: Scopes) -> None:
        self.model = model
        self.scopes = scopes
        self.names: Dict[int, Set[str]] = {}  # id(fn) -> traced names (its own and nested scopes)

    def traced(self, expr: cst.CSTNode, names: Set[str]) -> bool:
        model = self.model
        t = type(expr)
        if t is cst.Name:
            return expr.value in names
        if t is cst.Attribute:
            if expr.attr.value in META_ATTRS:
                return False
            return self.traced(expr.value, names)
        if t is cst.Call:
            func = expr.func
            name = model.callee(expr)
            if name in STOP_GRADIENT or name in ZERO_GRAD_FUNCTIONS or name in LOUD_NUMPY:
                return False
            if isinstance(func, cst.Name) and func.value in NON_TRACING_BUILTINS and name is None:
                return False
            if isinstance(func, cst.Attribute):
                method = func.attr.value
                if method in ZERO_GRAD_METHODS:
                    return False
                if method == "astype" and expr.args and self._int_dtype(expr.args[0].value):
                    return False
            if any(self.traced(a.value, names) for a in expr.args):
                return True
            return self.traced(func, names)
        if t is cst.Subscript:
            return self.traced(expr.value, names)
        if t in (cst.Comparison, cst.Lambda, cst.SimpleString, cst.FormattedString, cst.Integer, cst.Float):
            return False
        if t is cst.UnaryOperation and isinstance(expr.operator, cst.Not):
            return False
        if t is cst.IfExp:
            return self.traced(expr.body, names) or self.traced(expr.orelse, names)
        if t is cst.Arg:
            return self.traced(expr.value, names)
        return any(self.traced(c, names) for c in expr.children)

    def _int_dtype(self, expr) -> bool:
        text = dotted(expr) or ""
        if isinstance(expr, cst.SimpleString):
            text = expr.value.strip("'\"")
        return text.rsplit(".", 1)[-1] in INT_DTYPES

    def names_of(self, fn: FunctionInfo, params: Set[str]) -> Set[str]:
        """The traced names of `fn` (with its nested functions) given its traced parameters."""
        key = id(fn)
        if key in self.names:
            return self.names[key]
        names = set(params)
        self.names[key] = names
        body = fn.node.body
        stores: List[Tuple[cst.BaseExpression, List[str]]] = []

        model = self.model
        for node, owner in model.assignments:
            if owner is None or not self._within(owner, fn):
                continue
            if isinstance(node, cst.Assign):
                stores.append((node.value, [n for t in node.targets for n in _target_names(t.target)]))
            elif isinstance(node, cst.AugAssign):
                stores.append((node.value, _target_names(node.target)))
            elif node.value is not None:
                stores.append((node.value, _target_names(node.target)))
        for node in _iter_nodes(body):
            if isinstance(node, (cst.For, cst.CompFor)):
                stores.append((node.iter, _target_names(node.target)))
            elif isinstance(node, cst.NamedExpr):
                stores.append((node.value, _target_names(node.target)))
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                stores.append((node.item, _target_names(node.asname.name)))
        for _ in range(4):  # to a fixed point (loops carry values backwards)
            before = len(names)
            for value, targets in stores:
                if targets and not set(targets) <= names and self.traced(value, names):
                    names.update(targets)
            if len(names) == before:
                break
        return names

    @staticmethod
    def _within(owner: FunctionInfo, fn: FunctionInfo) -> bool:
        while owner is not None:
            if owner is fn:
                return True
            owner = owner.parent
        return False


def _iter_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(c for c in n.children if isinstance(c, cst.CSTNode))


def _target_names(target) -> List[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
        return [target.value.value]
    return []


def _param_names(fn: FunctionInfo) -> List[str]:
    p = fn.node.params
    return [x.name.value for x in (*p.posonly_params, *p.params)]


def _differentiated_params(target: _Target) -> Optional[Set[str]]:
    fn = target.fn
    params = _param_names(fn)
    if fn.is_method and isinstance(fn.node, cst.FunctionDef):
        decorators = {dotted(d.decorator) for d in fn.node.decorators}
        if "staticmethod" not in decorators:
            params = params[1:]  # `jax.grad(self.loss)` differentiates the bound method's arguments
    if target.argnums is None:
        return None
    return {params[i] for i in target.argnums if i < len(params)}


class ItemInJaxGrad(Rule):
    code = "GS501"
    name = "item-in-jax-grad"
    framework = "jax"
    summary = "`.item()` on a value traced by `jax.grad` silently turns it into a constant: the gradient comes out wrong"
    message = (
        "`.item()` on a value traced by a gradient transform returns a Python constant without jit: "
        "the gradient through this term is silently lost (wrong gradient, no error)"
    )
    hint = "stay in arrays (`x`, `jnp.sum(x)`); take `.item()` of the result outside the transform, or return it as aux"
    facts = ("jx40",)
    triggers = (".item(",)
    doc = """
    ## What it does
    Flags `x.item()` inside a function given to `jax.grad`, `jax.value_and_grad`, `nnx.grad` or
    `nnx.value_and_grad` (as an argument, a decorator, through `functools.partial`, a lambda or a
    helper it passes traced values to), when `x` depends on the differentiated arguments and the
    Python number flows into the returned loss.

    ## Why it breaks gradients
    Without `jit`, `jax.grad` traces the function with tracers that still carry a concrete
    value. `x.item()` returns that value as a Python number, which JAX treats as a constant:
    for `x.item() * x` at x=2 the gradient is 2.0 instead of 4.0, `jnp.sin(x.item())` gets 0.0
    instead of cos 2, and no error or warning is raised (fact jx40). The model trains on a
    wrong gradient. `float(x)` and `x.tolist()` raise `ConcretizationTypeError` there, and under
    `jit` everything raises, so those are loud and not reported.

    Not flagged: `.item()` on the result of the transform (outside the function), in metrics
    returned as `has_aux` output or logged, on values that do not depend on the differentiated
    arguments (the batch, labels, constants), on values whose gradient is zero anyway
    (`argmax`, comparisons, integer casts, `stop_gradient`), numbers used as shapes, sizes or
    Python control flow, and functions that run under `jit`, `vmap`, `pmap` or `lax` control
    flow (`.item()` raises there).

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
    - gradscan facts: jx40
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
        if not _uses_jax(model):
            return
        items = [(c, fn) for c, fn in model.calls
                 if fn is not None and isinstance(c.func, cst.Attribute) and c.func.attr.value == "item"]
        if not items:
            return
        scopes = Scopes(model)
        targets = _grad_targets(model, scopes)
        if not targets:
            return
        abstract = _abstract_functions(model, scopes)
        traced = _Traced(model, scopes)
        roots = set()
        scope_params: Dict[int, Tuple[FunctionInfo, Set[str]]] = {}
        aux_elements: Set[int] = set()
        for target in targets.values():
            fn = target.fn
            if _in_abstract(model, fn, abstract) or any(_site_abstract(model, s, abstract) for s in target.sites):
                continue  # under jit: `.item()` raises (loud)
            params = _differentiated_params(target)
            if not params:
                continue
            roots.add(id(fn))
            scope_params[id(fn)] = (fn, params)
            if target.has_aux:
                aux_elements.update(_aux_elements(model, fn))
        if not roots:
            return
        self._add_helpers(model, scopes, traced, scope_params, abstract)
        for call, fn in items:
            receiver = call.func.value
            scope = self._scope(fn, scope_params)
            if scope is None:
                continue
            owner, params = scope
            if _in_abstract(model, fn, abstract):
                continue
            names = traced.names_of(owner, params)
            if not traced.traced(receiver, names):
                continue
            trace = model.flow.reaches_output(
                call, barrier=lambda n: id(n) in aux_elements, accept_return=lambda f: id(f) in roots)
            if trace is None or trace.sink != "return" or trace.root is None or id(trace.root) not in roots:
                continue
            if not _enters_loss(model, call, trace):
                continue
            yield Report(call.func.attr)

    @staticmethod
    def _scope(fn: FunctionInfo, scope_params):
        while fn is not None:
            found = scope_params.get(id(fn))
            if found is not None:
                return found
            fn = fn.parent
        return None

    @staticmethod
    def _add_helpers(model: FileModel, scopes: Scopes, traced: _Traced, scope_params, abstract, depth: int = 3) -> None:
        """Functions a differentiated function calls with traced arguments: their matching
        parameters are traced too (`jax.grad(lambda p: loss(p, x))`)."""
        todo = list(scope_params.values())
        for _ in range(depth):
            found = []
            for fn, params in todo:
                names = traced.names_of(fn, params)
                for call in scopes.calls_within(fn):
                    func = call.func
                    if not isinstance(func, cst.Name):
                        continue
                    owner = model.enclosing_function(call)
                    target = scopes.lookup(owner, func.value)
                    if target is None or id(target) in scope_params or not isinstance(target.node, cst.FunctionDef):
                        continue
                    positional = _param_names(target)
                    kw = {x.name.value for x in (*target.node.params.params, *target.node.params.kwonly_params)}
                    hot = set()
                    for i, arg in enumerate(call.args):
                        if arg.star:
                            break
                        if not traced.traced(arg.value, names):
                            continue
                        if arg.keyword is None and i < len(positional):
                            hot.add(positional[i])
                        elif arg.keyword is not None and arg.keyword.value in kw:
                            hot.add(arg.keyword.value)
                    if hot:
                        scope_params[id(target)] = (target, hot)
                        found.append((target, hot))
            if not found:
                return
            todo = found


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
            arg = next((a for a in node.args if a is prev or _holds(model, a, prev)), None)
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


def _holds(model: FileModel, arg: cst.Arg, node: cst.CSTNode) -> bool:
    for anc in model.ancestors(node):
        if anc is arg:
            return True
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            return False
    return False


# ============================================================================ GS502

NNX_VARIABLE = {"flax.nnx.Variable", "flax.nnx.variablelib.Variable", "flax.nnx.variables.Variable"}
# jax.random samplers used to initialise weights.
RANDOM_INITS = {
    "normal", "uniform", "truncated_normal", "orthogonal", "multivariate_normal", "laplace", "logistic",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform", "variance_scaling",
}
INITIALIZER_PACKAGES = ("jax.nn.initializers.", "flax.nnx.initializers.", "flax.linen.initializers.", "flax.nnx.nn.initializers.")
# Array methods that keep a weight a weight.
KEEPING_METHODS = {"astype", "reshape", "T", "transpose", "squeeze"}
# Names (split into word tokens) of attributes or classes that hold fixed random values on
# purpose: random Fourier features, fixed projections, noise, masks, buffers.
FIXED_TOKENS = {
    "fourier", "rff", "random", "rand", "fixed", "frozen", "freeze", "const", "constant", "noise", "mask",
    "buffer", "seed", "key", "keys", "rng", "rngs", "sketch", "hash", "hashing", "basis", "static", "untrained",
    "nontrainable", "non", "ema", "target", "teacher", "running", "stat", "stats", "cache", "cached",
}


def _key_like(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`rngs.params()`, `rngs()`, `rngs.default()`, `key`, `rng`, `init_key`, `jax.random.key(0)`,
    `jax.random.split(key)[0]`."""
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Call):
        name = model.callee(expr) or ""
        if name in ("jax.random.PRNGKey", "jax.random.key", "jax.random.split", "jax.random.fold_in"):
            return True
        func = expr.func
        if isinstance(func, cst.Attribute) and "rngs" in (dotted(func.value) or "").split("."):
            return True
        if isinstance(func, cst.Name) and func.value == "rngs":
            return True
        return False
    text = dotted(expr)
    return text is not None and bool(tokens(text.rsplit(".", 1)[-1]) & {"key", "rng", "prng"})


def _weight_built(model: FileModel, expr: cst.BaseExpression, fn: Optional[FunctionInfo], depth: int = 0) -> bool:
    """The value is built like a weight: a random initializer, an initializer called with a
    key, anything drawn from `rngs.params()`, scaled or cast."""
    if depth > 4:
        return False
    if isinstance(expr, cst.BinaryOperation):
        return _weight_built(model, expr.left, fn, depth + 1) or _weight_built(model, expr.right, fn, depth + 1)
    if isinstance(expr, cst.Name) and fn is not None:
        value = _local_value(model, fn, expr.value)
        return value is not None and _weight_built(model, value, fn, depth + 1)
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value in KEEPING_METHODS and model.resolve(func) is None:
        return _weight_built(model, func.value, fn, depth + 1)
    name = model.callee(expr) or ""
    if name in ("jax.numpy.asarray", "jax.numpy.array") and expr.args:
        return _weight_built(model, expr.args[0].value, fn, depth + 1)
    if name.startswith("jax.random."):
        return name.rsplit(".", 1)[-1] in RANDOM_INITS
    if name.startswith(INITIALIZER_PACKAGES):
        return bool(expr.args) and _key_like(model, expr.args[0].value)  # initializers.zeros(key, shape)
    if isinstance(func, cst.Call):  # nnx.initializers.lecun_normal()(key, shape)
        inner = model.callee(func) or ""
        if inner.startswith(INITIALIZER_PACKAGES):
            return True
    if expr.args and expr.args[0].keyword is None and _key_like(model, expr.args[0].value):
        # kernel_init(rngs.params(), shape), self.init_fn(key, shape)
        last = (dotted(func) or "").rsplit(".", 1)[-1]
        if tokens(last) & {"init", "initializer", "initialiser"}:
            return True
    return any(a.keyword is None and _is_params_stream(a.value) for a in expr.args)


def _is_params_stream(expr) -> bool:
    """`rngs.params()`: the stream meant for parameters."""
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "params" and (dotted(expr.func.value) or "").endswith("rngs")


def _local_value(model: FileModel, fn: FunctionInfo, name: str) -> Optional[cst.BaseExpression]:
    """The value of the only assignment of `name` in `fn`."""
    found = None
    for node, owner in model.assignments:
        if owner is not fn:
            continue
        if isinstance(node, cst.Assign) and any(_is_name(t.target, name) for t in node.targets):
            if found is not None:
                return None
            found = node.value
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and _is_name(node.target, name):
            return None
    return found


class NnxWeightNotParam(Rule):
    code = "GS502"
    name = "nnx-weight-not-param"
    framework = "jax"
    summary = "A weight of a flax.nnx Module stored as a raw array or `nnx.Variable` is never trained: use `nnx.Param`"
    message = (
        "this weight of an nnx.Module is not an nnx.Param: nnx.grad and nnx.Optimizer differentiate and update "
        "only nnx.Param by default, so it never trains"
    )
    hint = "wrap it in `nnx.Param(...)`"
    facts = ("jx44",)
    triggers = ("nnx",)
    doc = """
    ## What it does
    Flags an attribute of a `flax.nnx` Module assigned in `__init__` a value built like a
    weight (`jax.random.normal/uniform/truncated_normal(...)`, an `nnx.initializers` /
    `jax.nn.initializers` initializer called with a key, anything drawn from `rngs.params()`),
    either as a raw JAX array or wrapped in `nnx.Variable(...)`, when `__call__` (or a method
    it calls) reads it and no method writes it.

    ## Why it breaks gradients
    NNX keeps raw arrays on a Module and `nnx.Variable` is a valid state container, but
    `nnx.grad`, `nnx.value_and_grad` and `nnx.Optimizer` select `nnx.Param` by default: the
    gradient state has an entry for the `nnx.Param` only, so the raw array and the
    `nnx.Variable` get no gradient and are never updated, silently (fact jx44). The model
    trains with that weight frozen at its random initial value.

    Not flagged: `nnx.Param` and its subclasses (`nnx.LoRAParam`), state meant to stay out of
    the gradient (`nnx.BatchStat`, `nnx.Cache`, `nnx.Intermediate` and other `nnx.Variable`
    subclasses), counters (`nnx.Variable(0)`), constants and buffers (`jnp.zeros` masks,
    positional tables, `jnp.sqrt(d)` scales), `nnx.Rngs`, values a method updates (EMA
    codebooks), arrays `__call__` never reads, attributes and classes named for fixed random
    values (random Fourier features, fixed projections, noise), files that select
    `nnx.Variable` for differentiation (`nnx.DiffState`, `wrt=`), and Linen modules (their
    `self.param` is correct).

    ## Example
    ```python
    class Scale(nnx.Module):
        def __init__(self, dim, rngs: nnx.Rngs):
            self.linear = nnx.Linear(dim, dim, rngs=rngs)
            self.gamma = jax.random.normal(rngs.params(), (dim,))

        def __call__(self, x):
            return self.linear(x) * self.gamma
    ```

    ## Use instead
    ```python
    class Scale(nnx.Module):
        def __init__(self, dim, rngs: nnx.Rngs):
            self.linear = nnx.Linear(dim, dim, rngs=rngs)
            self.gamma = nnx.Param(jax.random.normal(rngs.params(), (dim,)))

        def __call__(self, x):
            return self.linear(x) * self.gamma
    ```

    ## References
    - Flax docs: "Flax basics" (NNX), `nnx.Param`, `nnx.Variable`, filters and `nnx.DiffState`
    - gradscan facts: jx44
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp
        from flax import nnx

        class Scale(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.linear = nnx.Linear(dim, dim, rngs=rngs)
                self.gamma = jax.random.normal(rngs.params(), (dim,))  # error: GS502
                init = nnx.initializers.lecun_normal()
                self.w = nnx.Variable(init(rngs.params(), (dim, dim)))  # error: GS502

            def __call__(self, x):
                return self.linear(x) @ self.w * self.gamma
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp
        from flax import nnx
        import flax.linen as nn

        class Block(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.w = nnx.Param(jax.random.normal(rngs.params(), (dim, dim)))
                self.mean = nnx.BatchStat(jnp.zeros(dim))
                self.count = nnx.Variable(jnp.array(0))
                self.mask = jnp.tril(jnp.ones((dim, dim)))
                self.scale = jnp.sqrt(dim)
                self.rngs = rngs
                self.unused = jax.random.normal(rngs.params(), (dim,))

            def __call__(self, x):
                self.count.value += 1
                return (x @ self.w) * self.mask[0] / self.scale - self.mean

        class FourierFeatures(nnx.Module):
            def __init__(self, dim, rngs: nnx.Rngs):
                self.B = jax.random.normal(rngs.params(), (2, dim)) * 10.0

            def __call__(self, x):
                return jnp.sin(x @ self.B)

        class Dense(nn.Module):
            @nn.compact
            def __call__(self, x):
                w = self.param("w", nn.initializers.lecun_normal(), (x.shape[-1], 3))
                return x @ w
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        classes = [c for c in model.class_list if c.kind == kinds.FLAX_NNX]
        if not classes:
            return
        variable_grads = None
        for cls in classes:
            init = cls.methods.get("__init__")
            if init is None or tokens(cls.name) & FIXED_TOKENS:
                continue
            for attr, value, node, method in cls.self_assigns:
                if method != "__init__" or tokens(attr) & FIXED_TOKENS:
                    continue
                wrapped = isinstance(value, cst.Call) and model.callee(value) in NNX_VARIABLE
                inner = value.args[0].value if wrapped and value.args else value
                if wrapped and not value.args:
                    continue
                if not _weight_built(model, inner, init):
                    continue
                if not self._read_in_call(model, cls, attr) or self._written(model, cls, attr):
                    continue
                if wrapped:
                    if variable_grads is None:
                        variable_grads = _selects_variables(model)
                    if variable_grads:
                        continue
                yield Report(value, self._message(attr, wrapped))

    @staticmethod
    def _message(attr: str, wrapped: bool) -> str:
        if wrapped:
            return (f"`self.{attr}` is built like a weight but wrapped in nnx.Variable, not nnx.Param: nnx.grad and "
                    f"nnx.Optimizer select only nnx.Param by default, so it never trains; use nnx.Param(...)")
        return (f"`self.{attr}` is a raw JAX array built like a weight: nnx.grad and nnx.Optimizer see only nnx.Param, "
                f"so it gets no gradient and never trains; wrap it in nnx.Param(...)")

    @staticmethod
    def _methods(model: FileModel, cls):
        for c in model.class_chain(cls):
            yield from c.methods.values()
        for other in model.class_list:  # subclasses in the same file
            if other is not cls and f"<local>.{cls.name}" in other.base_names:
                yield from other.methods.values()

    @classmethod
    def _read_in_call(cls_, model: FileModel, cls, attr: str) -> bool:
        """`self.<attr>` is read in a method with a differentiable context (`__call__` and what
        it calls)."""
        methods = {id(m) for m in cls_._methods(model, cls) if m.name != "__init__" and m.context is not None}
        for node, fn in model.attributes:
            if fn is None or node.attr.value != attr or not _is_name(node.value, "self"):
                continue
            top = fn
            while top.parent is not None:
                top = top.parent
            if id(top) in methods and not _store_target(model, node):
                return True
        return False

    @classmethod
    def _written(cls_, model: FileModel, cls, attr: str) -> bool:
        """A method other than `__init__` assigns the attribute or its `.value` (state)."""
        methods = {id(m) for m in cls_._methods(model, cls) if m.name != "__init__"}
        for node, fn in model.attributes:
            if fn is None or node.attr.value != attr or not _is_name(node.value, "self"):
                continue
            top = fn
            while top.parent is not None:
                top = top.parent
            if id(top) not in methods:
                continue
            if _store_target(model, node):
                return True
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) and parent.value is node:
                if parent.attr.value == "value" and _store_target(model, parent):
                    return True
                call = model.parent(parent)
                if isinstance(call, cst.Call) and call.func is parent and parent.attr.value in ("update", "set_value", "replace", "assign"):
                    return True
        return False


def _store_target(model: FileModel, node: cst.CSTNode) -> bool:
    """The node is (inside) the target of an assignment: `self.x = ...`, `self.x[i] = ...`,
    `self.x += ...`."""
    child = node
    for anc in model.ancestors(node):
        if isinstance(anc, cst.AssignTarget):
            return True
        if isinstance(anc, (cst.AugAssign, cst.AnnAssign)):
            return child is anc.target
        if isinstance(anc, cst.Subscript) and child is anc.value:
            child = anc
            continue
        return False
    return False


def _selects_variables(model: FileModel) -> bool:
    """The file differentiates or optimizes more than `nnx.Param`: `nnx.DiffState(0, filter)` or
    `wrt=<filter>` other than `nnx.Param`."""
    for call, _fn in model.calls:
        name = model.callee(call) or ""
        if name.endswith("DiffState"):
            return True
        wrt = _kwarg(call, "wrt")
        if wrt is not None and model.resolve(wrt) != "flax.nnx.Param":
            return True
    return False


# ============================================================================ GS503

# Piecewise-constant functions: JAX gives them a gradient of exactly zero (fact jx42).
ROUNDING_FUNCTIONS = {  # the result is still a float
    "jax.numpy.round", "jax.numpy.around", "jax.numpy.round_", "jax.numpy.rint", "jax.numpy.floor", "jax.numpy.ceil",
    "jax.numpy.trunc", "jax.numpy.fix", "jax.numpy.sign", "jax.lax.round", "jax.lax.floor", "jax.lax.ceil", "jax.lax.sign",
}
INDEX_FUNCTIONS = {"jax.numpy.argmax", "jax.numpy.argmin", "jax.lax.argmax", "jax.lax.argmin"}
COMPARISON_FUNCTIONS = {
    "jax.numpy.greater", "jax.numpy.greater_equal", "jax.numpy.less", "jax.numpy.less_equal", "jax.numpy.equal",
    "jax.numpy.not_equal", "jax.lax.gt", "jax.lax.ge", "jax.lax.lt", "jax.lax.le", "jax.lax.eq", "jax.lax.ne",
}
INT_CAST_FUNCTIONS = {f"jax.numpy.{t}" for t in INT_DTYPES if t not in ("int", "bool")}
CAST_FUNCTIONS = {"jax.lax.convert_element_type", "jax.numpy.asarray", "jax.numpy.array"}
# An integer (or boolean) value stays integer through these; anything else makes it a float
# (`mean`, `one_hot`, `/`, a float operand, an unknown function).
INT_KEEPING = {
    "sum", "prod", "max", "min", "amax", "amin", "abs", "cumsum", "cumprod", "clip", "where", "take", "take_along_axis",
    "reshape", "squeeze", "ravel", "flatten", "concatenate", "stack", "hstack", "vstack", "asarray", "array", "maximum",
    "minimum", "negative", "sort", "expand_dims", "transpose", "T", "count_nonzero", "nansum", "logical_and",
    "logical_or", "logical_not", "logical_xor", "any", "all", "sign", "round", "floor", "ceil", "tile", "repeat",
    "broadcast_to", "roll", "flip", "diff", "square", "argmax", "argmin",
}
# Positions of JAX functions that hold indices, conditions or shapes, not data: a value there
# selects or masks, it is not differentiated through.
INDEX_POSITIONS = {
    "where": (0,), "select": (0,), "take": (1,), "take_along_axis": (1,), "choose": (0,), "dynamic_slice": (1, 2),
    "dynamic_index_in_dim": (1,), "dynamic_update_slice": (2,), "dynamic_slice_in_dim": (1, 2), "one_hot": (1,),
    "cond": (0,), "switch": (0,), "bincount": (1,), "segment_sum": (1,), "segment_max": (1,), "segment_mean": (1,),
}
INDEX_KEYWORDS = {
    "axis", "axes", "dtype", "shape", "indices", "condition", "where", "num_classes", "size", "length", "keepdims",
    "segment_ids", "num_segments", "mask", "start_indices", "slice_sizes", "index", "pred",
}
MUTATORS = {"append", "extend", "insert", "add", "update", "appendleft"}
CUSTOM_GRADIENT = ("custom_vjp", "custom_jvp", "custom_gradient", "defvjp", "defjvp")


def _join_kind(a: Optional[str], b: Optional[str]) -> Optional[str]:
    if a is None:
        return b
    if b is None:
        return a
    return "float" if "float" in (a, b) else "int"


class _State:
    """At one point of a function: the names that depend differentiably on the differentiated
    arguments (`live`), and the names that hold a value computed from them only through a
    zero-gradient operation (`dead`, with whether that value is an integer or a float)."""

    __slots__ = ("live", "dead")

    def __init__(self, live, dead) -> None:
        self.live: Set[str] = set(live)
        self.dead: Dict[str, str] = dict(dead)

    def copy(self) -> "_State":
        return _State(self.live, self.dead)

    def join(self, other: "_State") -> "_State":
        self.live |= other.live
        for k, v in other.dead.items():
            self.dead[k] = _join_kind(self.dead.get(k), v)
        return self


class _ZeroGrad(_Traced):
    """A flow-sensitive walk of a differentiated function (and of the helpers it calls): does
    the returned loss depend on the differentiated argument by a differentiable path, and which
    zero-gradient operations (rounding, argmax, comparisons, integer casts) does it go through."""

    def __init__(self, model: FileModel, scopes: Scopes) -> None:
        super().__init__(model, scopes)
        self.summaries: Dict[tuple, Tuple[bool, Optional[str]]] = {}
        self.active: Set[tuple] = set()
        self.seen: Dict[int, cst.CSTNode] = {}
        self._custom: Optional[Set[str]] = None

    # ------------------------------------------------------------------ the operations

    def op_kind(self, node: cst.CSTNode) -> Optional[Tuple[str, List[cst.BaseExpression]]]:
        """A zero-gradient operation: its result kind and the expressions it is applied to."""
        model = self.model
        if isinstance(node, cst.Comparison):
            if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in node.comparisons):
                return None
            return "int", [node.left, *(c.comparator for c in node.comparisons)]
        if not isinstance(node, cst.Call):
            return None
        first = node.args[0].value if node.args and node.args[0].keyword is None and not node.args[0].star else None
        name = model.callee(node)
        func = node.func
        if name is None and isinstance(func, cst.Attribute) and model.resolve(func) is None:
            method = func.attr.value
            if method == "round":
                return "float", [func.value]
            if method in ("argmax", "argmin"):
                return "int", [func.value]
            if method == "astype" and node.args and self._int_dtype(node.args[0].value):
                return "int", [func.value]
            return None
        if first is None:
            return None
        if name in ROUNDING_FUNCTIONS:
            return "float", [first]
        if name in INDEX_FUNCTIONS or name in INT_CAST_FUNCTIONS:
            return "int", [first]
        if name in COMPARISON_FUNCTIONS:
            return "int", [a.value for a in node.args[:2]]
        if name in CAST_FUNCTIONS:
            dtype = _kwarg(node, "dtype") or _kwarg(node, "new_dtype")
            if dtype is None and len(node.args) > 1 and node.args[1].keyword is None:
                dtype = node.args[1].value
            if dtype is not None and self._int_dtype(dtype):
                return "int", [first]
        return None

    def _op(self, node: cst.CSTNode, st: _State, allowed) -> Optional[str]:
        found = self.op_kind(node)
        if found is None:
            return None
        kind, inputs = found
        if not any(self.traced(i, st.live) for i in inputs):
            return None
        if allowed is None:
            self.seen.setdefault(id(node), node)
            return kind
        return kind if id(node) in allowed else None

    # ------------------------------------------------------------------ differentiable dependence

    def traced(self, expr: cst.CSTNode, names: Set[str]) -> bool:
        if self.op_kind(expr) is not None:
            return False  # its gradient is zero
        if isinstance(expr, cst.Call):
            helper = self._helper(expr)
            if helper is not None:
                live, dead = self._bind(expr, helper, _State(names, {}), None)
                return self.summary(helper, live, dead, None)[0]
            for a in expr.args:
                if self._function_reads(a.value, names):
                    return True  # `lax.scan(step, ...)`, `tree_map(lambda p: p * w, ...)`
        return super().traced(expr, names)

    def _function_reads(self, expr, names: Set[str]) -> bool:
        node = None
        if isinstance(expr, cst.Lambda):
            node = expr
        elif isinstance(expr, cst.Name):
            fn = self.scopes.lookup(self.model.enclosing_function(expr), expr.value)
            node = fn.node if fn is not None else None
        if node is None:
            return False
        return any(isinstance(n, cst.Name) and n.value in names for n in _iter_nodes(node))

    def _helper(self, call: cst.Call) -> Optional[FunctionInfo]:
        """The function of this file a call by name runs (not one with a custom gradient)."""
        if not isinstance(call.func, cst.Name):
            return None
        fn = self.scopes.lookup(self.model.enclosing_function(call), call.func.value)
        if fn is None or self.has_custom_gradient(fn):
            return None
        return fn

    def has_custom_gradient(self, fn: FunctionInfo) -> bool:
        """`@jax.custom_vjp`, `@partial(jax.custom_jvp, nondiff_argnums=...)`, `f.defvjp(...)`."""
        if fn.name in self.custom_gradient():
            return True
        if not isinstance(fn.node, cst.FunctionDef):
            return False
        for d in fn.node.decorators:
            expr = d.decorator
            texts = [dotted(expr), dotted(expr.func) if isinstance(expr, cst.Call) else None]
            if isinstance(expr, cst.Call) and expr.args:
                texts.append(dotted(expr.args[0].value))
            if any(c in (t or "") for t in texts for c in CUSTOM_GRADIENT):
                return True
        return False

    def custom_gradient(self) -> Set[str]:
        """Names given a custom gradient: `f.defvjp(...)`, `f = jax.custom_vjp(g)` (both names)."""
        if self._custom is None:
            self._custom = set()
            for call, _fn in self.model.calls:
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value in ("defvjp", "defjvp", "defjvps"):
                    if isinstance(func.value, cst.Name):
                        self._custom.add(func.value.value)
                elif "custom_" in (dotted(func) or "") and any(c in (self.model.callee(call) or "") for c in CUSTOM_GRADIENT):
                    for a in call.args:
                        if isinstance(a.value, cst.Name):
                            self._custom.add(a.value.value)
                    parent = self.model.parent(call)
                    if isinstance(parent, cst.Assign):
                        self._custom.update(n for t in parent.targets for n in _target_names(t.target))
        return self._custom

    def _bind(self, call: cst.Call, helper: FunctionInfo, st: _State, allowed):
        """The helper's parameters that receive live and dead values (with, for a nested
        helper, the names of the enclosing scope it reads)."""
        node = helper.node
        positional = [x.name.value for x in (*node.params.posonly_params, *node.params.params)]
        keywords = {x.name.value for x in (*node.params.params, *node.params.kwonly_params)}
        live: Set[str] = set()
        dead: Dict[str, str] = {}
        for i, arg in enumerate(call.args):
            if arg.star:
                break
            if arg.keyword is None and i < len(positional):
                param = positional[i]
            elif arg.keyword is not None and arg.keyword.value in keywords:
                param = arg.keyword.value
            else:
                continue
            if self.traced(arg.value, st.live):
                live.add(param)
            kind = self.carries(arg.value, st, allowed)
            if kind is not None:
                dead[param] = kind
        if helper.parent is not None:  # a closure sees the enclosing scope's values
            own = set(helper.params)
            live |= {n for n in st.live if n not in own}
            for k, v in st.dead.items():
                if k not in own:
                    dead.setdefault(k, v)
        return frozenset(live), tuple(sorted(dead.items()))

    # ------------------------------------------------------------------ zero-gradient values

    def carries(self, expr: cst.CSTNode, st: _State, allowed) -> Optional[str]:
        """The expression's value is computed, as data, from a zero-gradient operation on a
        live value: "int" or "float" (its dtype kind), None when not."""
        kind = self._op(expr, st, allowed)
        if kind is not None:
            return kind
        t = type(expr)
        if t is cst.Name:
            return st.dead.get(expr.value)
        if t is cst.Attribute:
            return None if expr.attr.value in META_ATTRS else self.carries(expr.value, st, allowed)
        if t is cst.Subscript:
            return self.carries(expr.value, st, allowed)  # an index selects, it is not data
        if t is cst.Call:
            return self._call_carries(expr, st, allowed)
        if t is cst.BinaryOperation:
            left = self.carries(expr.left, st, allowed)
            right = self.carries(expr.right, st, allowed)
            if left is None and right is None:
                return None
            if isinstance(expr.operator, cst.Divide):
                return "float"
            other = expr.right if left is not None else expr.left
            if left is not None and right is not None:
                return _join_kind(left, right)
            if isinstance(other, cst.Integer) or (isinstance(other, cst.UnaryOperation) and isinstance(other.expression, cst.Integer)):
                return left or right
            return "float"
        if t is cst.Comparison:
            operands = [expr.left, *(c.comparator for c in expr.comparisons)]
            return "int" if any(self.carries(o, st, allowed) for o in operands) else None
        if t is cst.UnaryOperation:
            return None if isinstance(expr.operator, cst.Not) else self.carries(expr.expression, st, allowed)
        if t is cst.IfExp:
            return _join_kind(self.carries(expr.body, st, allowed), self.carries(expr.orelse, st, allowed))
        if t in (cst.Lambda, cst.SimpleString, cst.FormattedString, cst.ConcatenatedString, cst.Integer, cst.Float):
            return None
        kind = None
        for c in expr.children:
            if isinstance(c, cst.BaseExpression) or isinstance(c, (cst.Element, cst.DictElement, cst.StarredElement)):
                kind = _join_kind(kind, self.carries(c, st, allowed))
        return kind

    def _call_carries(self, call: cst.Call, st: _State, allowed) -> Optional[str]:
        model = self.model
        name = model.callee(call)
        if name in STOP_GRADIENT:
            return None
        helper = self._helper(call)
        if helper is not None:
            live, dead = self._bind(call, helper, st, allowed)
            return self.summary(helper, live, dead, allowed)[1]
        func = call.func
        if name is None and isinstance(func, cst.Attribute) and model.resolve(func) is None:
            method = func.attr.value
            kinds = [self.carries(func.value, st, allowed)]
            kinds += [self.carries(a.value, st, allowed) for a in call.args
                      if a.keyword is None or a.keyword.value not in INDEX_KEYWORDS]
        else:
            last = (name or dotted(func) or "").rsplit(".", 1)[-1]
            method = last
            skip = INDEX_POSITIONS.get(last, ()) if name and name.startswith(ARRAY_PACKAGES) else ()
            if name and name.startswith(ARRAY_PACKAGES) and last in SHAPE_FIRST:
                skip = (0,)
            kinds = []
            for i, a in enumerate(call.args):
                if a.keyword is not None and a.keyword.value in INDEX_KEYWORDS:
                    continue
                if a.keyword is None and i in skip:
                    continue
                kinds.append(self.carries(a.value, st, allowed))
        kind = None
        for k in kinds:
            kind = _join_kind(kind, k)
        if kind is None:
            return None
        if method == "astype" and call.args:
            return "int" if self._int_dtype(call.args[0].value) else "float"
        if any(isinstance(a.value, cst.Float) for a in call.args):
            return "float"
        return kind if method in INT_KEEPING or (name is None and dotted(func) in NUMBER_TO_NUMBER - {"float"}) else "float"

    # ------------------------------------------------------------------ a flow-sensitive walk

    def summary(self, fn: FunctionInfo, live, dead, allowed, has_aux: Optional[bool] = None) -> Tuple[bool, Optional[str]]:
        """(does the return value depend on a live value, the kind of zero-gradient value it
        carries). `has_aux` is given for a differentiated function: its loss is then the first
        element of what it returns (None if that cannot be told)."""
        key = (id(fn), live, dead, allowed, has_aux)
        if key in self.summaries:
            return self.summaries[key]
        if key in self.active or len(self.active) > 6:
            return True, None  # recursion: assume a differentiable path
        self.active.add(key)
        try:
            result = self._summarize(fn, _State(live, dead), allowed, has_aux)
        finally:
            self.active.discard(key)
        self.summaries[key] = result
        return result

    def _summarize(self, fn: FunctionInfo, st: _State, allowed, has_aux) -> Tuple[bool, Optional[str]]:
        if isinstance(fn.node, cst.Lambda):
            returns = [(fn.node.body, st)]
        else:
            returns = []
            self._block(fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else [fn.node.body], st, allowed, returns)
        live, kind = False, None
        for value, at in returns:
            if value is None:
                continue
            if has_aux is not None:
                value = self._loss_value(fn, value, has_aux)
                if value is None:
                    return True, None  # cannot tell the loss: assume it is differentiable
            live = live or self.traced(value, at.live)
            kind = _join_kind(kind, self.carries(value, at, allowed))
        return live, kind

    def _loss_value(self, fn: FunctionInfo, value, has_aux: bool):
        if not has_aux:
            return None if isinstance(value, (cst.Tuple, cst.List)) else value  # a tuple without has_aux raises
        if isinstance(value, cst.Name):
            value = _local_value(self.model, fn, value.value)
        if isinstance(value, (cst.Tuple, cst.List)) and value.elements:
            return value.elements[0].value
        return None

    def _block(self, stmts, st: _State, allowed, returns) -> _State:
        for stmt in stmts:
            st = self._statement(stmt, st, allowed, returns)
        return st

    def _body(self, node) -> list:
        body = getattr(node, "body", None)
        if isinstance(body, cst.IndentedBlock):
            return list(body.body)
        if isinstance(body, cst.SimpleStatementSuite):
            return [body]
        return []

    def _statement(self, stmt, st: _State, allowed, returns) -> _State:
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in stmt.body:
                self._small(small, st, allowed, returns)
            return st
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return st
        if isinstance(stmt, cst.If):
            a = self._block(self._body(stmt), st.copy(), allowed, returns)
            orelse = stmt.orelse
            if isinstance(orelse, cst.If):
                b = self._statement(orelse, st.copy(), allowed, returns)
            elif isinstance(orelse, cst.Else):
                b = self._block(self._body(orelse), st.copy(), allowed, returns)
            else:
                b = st
            return a.join(b)
        if isinstance(stmt, (cst.For, cst.While)):
            out = st.copy()
            for _ in range(2):  # loop-carried values
                inner = out.copy()
                if isinstance(stmt, cst.For):
                    self._assign(stmt.target, stmt.iter, inner, allowed, strong=True)
                out.join(self._block(self._body(stmt), inner, allowed, returns))
            if stmt.orelse is not None:
                out = self._block(self._body(stmt.orelse), out, allowed, returns)
            return out
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    self._assign(item.asname.name, item.item, st, allowed, strong=True)
            return self._block(self._body(stmt), st, allowed, returns)
        if isinstance(stmt, cst.Try):
            out = self._block(self._body(stmt), st.copy(), allowed, returns)
            for handler in stmt.handlers:
                out.join(self._block(self._body(handler), st.copy(), allowed, returns))
            if stmt.orelse is not None:
                out = self._block(self._body(stmt.orelse), out, allowed, returns)
            if stmt.finalbody is not None:
                out = self._block(self._body(stmt.finalbody), out, allowed, returns)
            return out
        # match and other compound statements: their blocks, joined
        out = st.copy()
        for node in _iter_nodes(stmt):
            if isinstance(node, cst.IndentedBlock):
                out.join(self._block(list(node.body), st.copy(), allowed, returns))
        return out

    def _small(self, node, st: _State, allowed, returns) -> None:
        if isinstance(node, cst.Assign):
            for t in node.targets:
                self._assign(t.target, node.value, st, allowed, strong=len(node.targets) == 1)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            self._assign(node.target, node.value, st, allowed, strong=True)
        elif isinstance(node, cst.AugAssign):
            self._assign(node.target, node.value, st, allowed, strong=False)
        elif isinstance(node, cst.Return):
            returns.append((node.value, st.copy()))
        elif isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
            func = node.value.func
            if isinstance(func, cst.Attribute) and func.attr.value in MUTATORS and isinstance(func.value, cst.Name):
                for a in node.value.args:
                    self._assign(func.value, a.value, st, allowed, strong=False)  # `losses.append(term)`

    def _assign(self, target, value, st: _State, allowed, strong: bool) -> None:
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and len(target.elements) == len(value.elements):
            for t, v in zip(target.elements, value.elements):
                self._assign(t.value, v.value, st, allowed, strong)
            return
        live = self.traced(value, st.live)
        kind = self.carries(value, st, allowed)
        if isinstance(target, cst.Name):
            names, strong_here = [target.value], strong
        else:
            names, strong_here = _target_names(target), strong and isinstance(target, (cst.Tuple, cst.List, cst.StarredElement))
        for name in names:
            if strong_here:
                st.live.discard(name)
                st.dead.pop(name, None)
            if live:
                st.live.add(name)
            if kind is not None:
                st.dead[name] = _join_kind(st.dead.get(name), kind)

    # ------------------------------------------------------------------ the question

    def zero_ops(self, target: _Target, param: str) -> List[cst.CSTNode]:
        """The zero-gradient operations on the only path from `param` to the returned loss."""
        self.summaries = {}
        self.seen = {}
        live0 = frozenset({param})
        live, kind = self.summary(target.fn, live0, (), None, target.has_aux)
        if live or kind != "float":
            return []  # a differentiable path exists, or the loss is an integer (grad raises)
        found = []
        for key, op in list(self.seen.items()):
            if self.summary(target.fn, live0, (), frozenset({key}), target.has_aux)[1] is not None:
                found.append(op)
        return found


class NonDifferentiableOpInJaxLoss(Rule):
    code = "GS503"
    name = "non-differentiable-op-in-jax-loss"
    framework = "jax"
    summary = "`round`/`floor`/`sign`/`argmax`, a comparison or an integer cast on the only path from a `jax.grad` argument to the loss: the gradient is silently zero"
    message = (
        "this operation has a zero gradient and it is the only path from the differentiated argument to the "
        "returned loss: jax.grad silently returns zeros for it"
    )
    hint = "use a differentiable relaxation (softmax, sigmoid) or the straight-through estimator `x + jax.lax.stop_gradient(jnp.round(x) - x)`"
    facts = ("jx42",)
    # a gradient transform: `jax.grad`, `value_and_grad`, `nnx.grad`, `J.grad(`, or `grad` imported by name
    triggers = ("jax.grad", "value_and_grad", "nnx.grad", ".grad(", "import grad", ", grad\n", ", grad)", ", grad as", " grad,\n", "(grad,")
    doc = """
    ## What it does
    Flags `jnp.round`/`rint`/`floor`/`ceil`/`trunc`/`sign` (and `x.round()`, the `jax.lax`
    forms), `jnp.argmax`/`argmin`, comparisons (`x > 0`, `jnp.greater`) and casts to an
    integer or boolean dtype (`x.astype(jnp.int32)`, `lax.convert_element_type`) applied to a
    value computed from an argument that `jax.grad`, `jax.value_and_grad`, `nnx.grad` or
    `nnx.value_and_grad` differentiates, when the result flows as data into the returned loss
    (the first output with `has_aux=True`) and the loss depends on that argument through no
    other, differentiable, path. Helpers called by name are followed, values are tracked
    statement by statement (`pred = jnp.round(pred)` replaces `pred`).

    ## Why it breaks gradients
    These operations are piecewise constant. JAX differentiates them anyway and returns a
    gradient of exactly zero: no error, no `None`, no warning (fact jx42; TensorFlow returns
    `None` and PyTorch raises for some of them). When they are the only path to the loss,
    `jax.grad` returns zeros for every parameter before them and the optimizer never moves
    them. A loss that is itself an integer (a `jnp.sum` of booleans) raises instead and is
    not reported.

    Not flagged: the same operations used as indices, masks or conditions
    (`jnp.take_along_axis(logp, jnp.argmax(...))`, `jnp.where(x > 0, a, b)`, `x[mask]`,
    `one_hot(argmax(q)) * q`), a term through them beside a differentiable path of the same
    argument (`mse + 0.1 * jnp.round(pred).mean()`: the gradient is partial, not zero; the rule
    cannot tell which leaves of a parameter pytree only reach the loss through the term),
    metrics returned as `has_aux` output, values of arguments that are not differentiated
    (labels, batch, keys, `argnums`), the straight-through estimator
    `x + lax.stop_gradient(jnp.round(x) - x)`, anything under `stop_gradient`, shapes, sizes
    and counts, functions with a custom gradient (`jax.custom_vjp`, `custom_jvp`), and code
    that no gradient transform differentiates (`jit` alone, Flax `__call__` methods, whose
    transform is not visible).

    ## Example
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        q = jnp.round(pred)
        return jnp.mean((q - y) ** 2)

    grads = jax.grad(loss_fn)(params, x, y)  # all zeros
    ```

    ## Use instead
    ```python
    def loss_fn(params, x, y):
        pred = x @ params["w"]
        q = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)  # straight-through
        return jnp.mean((q - y) ** 2)
    ```

    For a class decision, train on the logits (`optax.softmax_cross_entropy`) and keep
    `argmax` for metrics.

    ## References
    - JAX docs: "Automatic differentiation", `jax.lax.stop_gradient`
    - Bengio, Léonard, Courville 2013, "Estimating or propagating gradients through stochastic neurons" (straight-through)
    - gradscan facts: jx42
    """
    invalid = (
        """
        import jax
        import jax.numpy as jnp
        import optax

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            q = jnp.round(pred)  # error: GS503
            return jnp.mean((q - y) ** 2)

        grads = jax.grad(loss_fn)(params, x, y)

        def cls_loss(params, x, labels):
            logits = x @ params["w"]
            hard = jax.nn.one_hot(jnp.argmax(logits, -1), 10)  # error: GS503
            return optax.l2_loss(hard, jax.nn.one_hot(labels, 10)).mean()

        loss, grads = jax.value_and_grad(cls_loss)(params, x, labels)
        """,
        """
        import jax
        import jax.numpy as jnp

        @jax.jit
        def train_step(params, x, y):
            def loss_fn(p):
                fired = (x @ p["w"] > 0).astype(jnp.float32)  # error: GS503
                return jnp.mean((fired - y) ** 2)
            return jax.grad(loss_fn)(params)
        """,
    )
    valid = (
        """
        import jax
        import jax.numpy as jnp
        import optax

        def loss_fn(params, x, y):
            pred = x @ params["w"]
            q = pred + jax.lax.stop_gradient(jnp.round(pred) - pred)
            return jnp.mean((q - y) ** 2)

        def ce_loss(params, x, labels):
            logits = x @ params["w"]
            logp = jax.nn.log_softmax(logits)
            greedy = jnp.take_along_axis(logp, jnp.argmax(logits, -1)[:, None], -1)
            relu = jnp.where(logits > 0, logits, 0.0)
            loss = -jnp.mean(greedy) + 0.1 * jnp.mean(relu) + 0.01 * jnp.round(logits).mean()
            acc = jnp.mean(jnp.argmax(logits, -1) == labels)
            return loss, {"acc": acc, "n": labels.shape[0]}

        (loss, aux), grads = jax.value_and_grad(ce_loss, has_aux=True)(params, x, labels)

        def weighted(params, x, y):
            mask = (y > 0).astype(jnp.float32)
            n = jnp.sum(mask).astype(jnp.int32)
            return jnp.sum((x @ params["w"] - y) ** 2 * mask) / n

        jax.grad(weighted)(params, x, y)

        @jax.jit
        def predict(params, x):
            return jnp.argmax(x @ params["w"], -1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not _uses_jax(model):
            return
        scopes = Scopes(model)
        targets = _grad_targets(model, scopes)
        if not targets:
            return
        zg = _ZeroGrad(model, scopes)
        reported: Set[int] = set()
        for target in targets.values():
            fn = target.fn
            if zg.has_custom_gradient(fn):
                continue
            params = _differentiated_params(target)
            for param in sorted(params or ()):
                for op in zg.zero_ops(target, param):
                    if id(op) not in reported:
                        reported.add(id(op))
                        yield Report(op.func if isinstance(op, cst.Call) else op)
