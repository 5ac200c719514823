"""What several GS5xx rules share."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.contexts import function_value, Scopes
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants, target_names

# The transforms whose tracers keep a concrete value without jit (fact jx40 is about these).
GRAD_TRANSFORMS = {"jax.grad", "jax.value_and_grad", "flax.nnx.grad", "flax.nnx.value_and_grad"}
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


def is_name(expr, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


def _int_literal(expr) -> Optional[int]:
    if isinstance(expr, cst.Integer):
        return int(expr.value, 0)
    return None


def uses_jax(model: FileModel) -> bool:
    return model.imports.uses("jax") or model.imports.uses("flax")


@dataclass
class Target:
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
    value = keyword_argument(call, "argnums")
    if value is None:
        value = positional_argument(call, 1) if model.callee(call) in GRAD_TRANSFORMS else None
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
    value = keyword_argument(call, "has_aux")
    return value is not None and not is_name(value, "False")


def grad_targets(model: FileModel, scopes: Scopes) -> Dict[int, Target]:
    """Every function given to one of GRAD_TRANSFORMS, by id of its FunctionInfo."""
    out: Dict[int, Target] = {}

    def add(fn: Optional[FunctionInfo], spec: Optional[cst.Call], site: cst.CSTNode) -> None:
        if fn is None:
            return
        argnums = _argnums(model, spec)
        target = out.get(id(fn))
        if target is None:
            out[id(fn)] = Target(fn, argnums, _has_aux(spec), [site])
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


class Traced:
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
                stores.append((node.value, [n for t in node.targets for n in target_names(t.target, items=True)]))
            elif isinstance(node, cst.AugAssign):
                stores.append((node.value, target_names(node.target, items=True)))
            elif node.value is not None:
                stores.append((node.value, target_names(node.target, items=True)))
        for node in descendants(body):
            if isinstance(node, (cst.For, cst.CompFor)):
                stores.append((node.iter, target_names(node.target, items=True)))
            elif isinstance(node, cst.NamedExpr):
                stores.append((node.value, target_names(node.target, items=True)))
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                stores.append((node.item, target_names(node.asname.name, items=True)))
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


def param_names(fn: FunctionInfo) -> List[str]:
    p = fn.node.params
    return [x.name.value for x in (*p.posonly_params, *p.params)]


def differentiated_params(target: Target) -> Optional[Set[str]]:
    fn = target.fn
    params = param_names(fn)
    if fn.is_method and isinstance(fn.node, cst.FunctionDef):
        decorators = {dotted(d.decorator) for d in fn.node.decorators}
        if "staticmethod" not in decorators:
            params = params[1:]  # `jax.grad(self.loss)` differentiates the bound method's arguments
    if target.argnums is None:
        return None
    return {params[i] for i in target.argnums if i < len(params)}
