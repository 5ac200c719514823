"""What several GS5xx rules share."""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.semantics.contexts import Scopes, function_value
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.facts import JAX_NON_CARRYING_ATTRS, jax_cut
from gradscan.semantics.walk import descendants, target_names

# Python-number functions a number passes through and stays a number.
NUMBER_TO_NUMBER = {"min", "max", "abs", "pow", "round", "sum", "float", "int"}
# JAX functions whose first positional argument is a shape or a count, not data.
SHAPE_FIRST = {
    "zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri",
    "tril_indices", "triu_indices", "indices", "diag_indices",
}
# JAX packages whose functions take their data as first argument.
ARRAY_PACKAGES = ("jax.numpy.", "jax.nn.", "jax.lax.", "jax.scipy.", "optax.", "flax.linen.", "flax.nnx.")


def uses_jax(model: FileModel) -> bool:
    return model.imports.uses("jax") or model.imports.uses("flax")


class Traced:
    """Which names of a function hold values computed from a given set of its parameters: the
    name sets GS503's flow-sensitive walk starts from and refines statement by statement. (Every
    other question of tracedness is the engine's: `model.sources.live(expr, "jax")` and
    `model.sources.jax_scopes()`.)"""

    def __init__(self, model: "FileModel", scopes: Scopes) -> None:
        self.model = model
        self.scopes = scopes
        self.names: Dict[int, Set[str]] = {}  # id(fn) -> traced names (its own and nested scopes)

    def traced(self, expr: cst.CSTNode, names: Set[str]) -> bool:
        model = self.model
        t = type(expr)
        if t is cst.Name:
            return expr.value in names
        if t is cst.Attribute:
            if expr.attr.value in JAX_NON_CARRYING_ATTRS:
                return False
            return self.traced(expr.value, names)
        if t is cst.Call:
            if jax_cut(model, expr):  # the walk's JAX facts (`facts.jax_cut`)
                return False
            if any(self.traced(a.value, names) for a in expr.args):
                return True
            return self.traced(expr.func, names)
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

    def names_of(self, fn: "FunctionInfo", params: Set[str]) -> Set[str]:
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
    def _within(owner: "FunctionInfo", fn: "FunctionInfo") -> bool:
        while owner is not None:
            if owner is fn:
                return True
            owner = owner.parent
        return False


# Transforms under which values are abstract: `.item()` raises there (loud), never silent.
ABSTRACT_TRANSFORMS = {
    "jax.jit", "jax.pmap", "jax.vmap", "flax.nnx.jit", "flax.nnx.pmap", "flax.nnx.vmap", "flax.linen.jit",
    "flax.linen.vmap", "jax.experimental.pjit.pjit", "jax.pjit", "equinox.filter_jit", "jax.shard_map",
    "jax.experimental.shard_map.shard_map", "flax.nnx.shard_map", "jax.make_jaxpr", "jax.eval_shape",
    "jax.lax.scan", "jax.lax.fori_loop", "jax.lax.while_loop", "jax.lax.cond", "jax.lax.switch",
    "jax.lax.map", "flax.nnx.scan", "flax.nnx.fori_loop", "flax.nnx.while_loop", "flax.nnx.cond",
    "flax.nnx.switch", "jax.checkpoint", "jax.remat", "flax.nnx.remat",
}


def is_abstract_spec(model: FileModel, expr: cst.BaseExpression) -> bool:
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


def abstract_functions(model: FileModel, scopes: Scopes) -> Set[int]:
    """Functions that run under an abstract trace: decorated with or passed to jit, pmap, vmap,
    `lax.scan` and the other control-flow primitives (their values have no concrete value)."""
    out: Set[int] = set()
    for fn in model.functions:
        if isinstance(fn.node, cst.FunctionDef) and any(is_abstract_spec(model, d.decorator) for d in fn.node.decorators):
            out.add(id(fn))
    for call, owner in model.calls:
        func = call.func
        if not (model.callee(call) in ABSTRACT_TRANSFORMS or (isinstance(func, cst.Call) and is_abstract_spec(model, func))):
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


def in_abstract(model: FileModel, fn: Optional[FunctionInfo], abstract: Set[int]) -> bool:
    while fn is not None:
        if id(fn) in abstract:
            return True
        fn = fn.parent
    return False


def site_abstract(model: FileModel, site: cst.CSTNode, abstract: Set[int]) -> bool:
    """The transform call is wrapped in jit (`jax.jit(jax.grad(f))`) or runs in a jitted function."""
    for anc in model.ancestors(site):
        if isinstance(anc, cst.Arg):
            call = model.parent(anc)
            if isinstance(call, cst.Call) and model.callee(call) in ABSTRACT_TRANSFORMS:
                return True
        if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            break
    return in_abstract(model, model.enclosing_function(site), abstract)
