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
from gradscan.semantics.contexts import _function_value, _Scopes
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


def _grad_targets(model: FileModel, scopes: _Scopes) -> Dict[int, _Target]:
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
            add(_function_value(model, owner, call.args[0].value, scopes), call.func, call)
            continue
        if model.callee(call) not in GRAD_TRANSFORMS:
            continue
        parent = model.parent(call)
        if isinstance(parent, cst.Decorator):
            add(model.function_of.get(model.parent(parent)), call, call)
        elif call.args and call.args[0].keyword is None and not call.args[0].star:
            add(_function_value(model, owner, call.args[0].value, scopes), call, call)
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


def _abstract_functions(model: FileModel, scopes: _Scopes) -> Set[int]:
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
                target = _function_value(model, owner, arg.value, scopes)
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

    def __init__(self, model: FileModel, scopes: _Scopes) -> None:
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
        scopes = _Scopes(model)
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
    def _add_helpers(model: FileModel, scopes: _Scopes, traced: _Traced, scope_params, abstract, depth: int = 3) -> None:
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
