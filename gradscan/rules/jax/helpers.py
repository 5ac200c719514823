"""What several GS5xx rules share."""
from __future__ import annotations

from typing import Dict, Set, Tuple

import libcst as cst

from gradscan.semantics.arguments import argument_for
from gradscan.semantics.contexts import Scopes
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.sources import Traced

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


def follow_helpers(model: FileModel, scopes: Scopes, traced: Traced,
                   scope_params: Dict[int, Tuple[FunctionInfo, Set[str]]], depth: int = 3) -> None:
    """Add to `scope_params` the functions a differentiated function calls by name with traced
    arguments, with their parameters that receive them (`jax.grad(lambda p: loss(p, x))`, a
    loss calling `huber(pred - y)`), `depth` calls deep."""
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
                bound = ((p, argument_for(target, call, p)) for p in target.params)
                hot = {p for p, value in bound if value is not None and traced.traced(value, names)}
                if hot:
                    scope_params[id(target)] = (target, hot)
                    found.append((target, hot))
        if not found:
            return
        todo = found
