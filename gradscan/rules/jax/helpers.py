"""What several GS5xx rules share."""
from __future__ import annotations

from typing import Optional, Set

import libcst as cst

from gradscan.semantics.contexts import Scopes, function_value
from gradscan.semantics.model import FileModel, FunctionInfo

def uses_jax(model: FileModel) -> bool:
    return model.imports.uses("jax") or model.imports.uses("flax")


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
