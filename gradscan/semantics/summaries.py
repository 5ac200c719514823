"""Per-function summaries: which parameters of a project function reach its return value.

The flow asks this at every call to a function of the file: `dice(model(x), y)` carries
`model(x)` only if `dice` returns something computed from its first parameter with the graph
kept. A helper that detaches its argument, converts it to NumPy and wraps the result in a new
tensor, or only logs it, returns a value with no path back to the caller's weights: treating the
call as carrying its arguments (what every unknown call does) made such a helper look like a
live path and hid the cut elsewhere.

A summary is computed once per (function, parameter) on first use, by the same walk as every
other flow question, kept inside the function: a parameter's uses are followed through its
expressions and local assignments until they reach a `return`. Anything the walk cannot see
through answers "carries" (the old, silent side): `*args`/`**kwargs`, generators, parameters read
by nested functions or lambdas, decorators other than the transparent ones below, and walks
past their step budget. A `@torch.no_grad()` function carries none of its parameters.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple

import libcst as cst

from gradscan.semantics.arguments import argument_position
from gradscan.semantics.contexts import has_no_grad_decorator
from gradscan.semantics.walk import descendants

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

# Decorators whose wrapper returns what the function returns, computed the same way (compiled
# or traced): any other may wrap it in code the walk cannot see.
TRANSPARENT_DECORATORS = {
    "staticmethod", "classmethod", "tensorflow.function", "jax.jit", "torch.compile",
    "torch.jit.script", "torch.jit.unused", "functools.wraps",
}
STEP_BUDGET = 2_000  # statements one summary may follow; past it the parameter "carries"


class Summaries:
    """`model.get(Summaries).carries(fn, name)`: does parameter `name` of `fn` reach its return?"""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._memo: Dict[Tuple[int, str], bool] = {}

    def carries(self, fn: "FunctionInfo", name: str) -> bool:
        key = (id(fn), name)
        got = self._memo.get(key)
        if got is None:
            self._memo[key] = True  # recursion (a helper calling itself) assumes the old answer
            got = self._memo[key] = self._compute(fn, name)
        return got

    def carries_argument(self, fn: "FunctionInfo", call: cst.Call, arg: cst.Arg) -> bool:
        """Does the value `call` passes as `arg` reach `fn`'s return (True when unknown)?"""
        name = parameter_for(fn, call, arg)
        return True if name is None else self.carries(fn, name)

    def _compute(self, fn: "FunctionInfo", name: str) -> bool:
        if isinstance(fn.node, cst.FunctionDef) and has_no_grad_decorator(self.model, fn):
            return False  # `@torch.no_grad()`: what it returns has no graph back to its inputs
        if not self._summarisable(fn, name):
            return True
        flow = self.model.flow
        uses = flow.name_index(fn)[0].get(name, [])
        todo = list(uses)
        seen = set()
        steps = 0
        while todo:
            use = todo.pop()
            if id(use) in seen:
                continue
            seen.add(id(use))
            steps += 1
            if steps > STEP_BUDGET:
                return True
            end, path, names, conv = flow._climb(use)
            if end == "return":
                if conv is None:
                    return True
                continue  # NumPy/Python data, or wrapped again as a new tensor: no graph back
            if end == "assign" and conv is None:
                stmt = self.model.enclosing_statement(path[-1] if path else use)
                for target in names:
                    todo.extend(flow.later_uses(fn, target, stmt))
        return False

    def _summarisable(self, fn: "FunctionInfo", name: str) -> bool:
        node = fn.node
        if not isinstance(node, cst.FunctionDef) or name not in fn.params:
            return False
        params = node.params
        if not isinstance(params.star_arg, (cst.MaybeSentinel, type(None))) and isinstance(params.star_arg, cst.Param):
            return False
        if params.star_kwarg is not None:
            return False
        for decorator in node.decorators:
            d = decorator.decorator
            d = d.func if isinstance(d, cst.Call) else d  # `@tf.function(jit_compile=True)`
            name_of = d.value if isinstance(d, cst.Name) and d.value in ("staticmethod", "classmethod") else self.model.resolve(d)
            if name_of not in TRANSPARENT_DECORATORS:
                return False
        for inner in descendants(node.body):
            t = type(inner)
            if t in (cst.Yield, cst.Await):
                return False
            if t in (cst.FunctionDef, cst.Lambda) and any(
                    type(n) is cst.Name and n.value == name for n in descendants(inner)):
                return False  # a closure reads it: where that value goes is not followed here
            if t is cst.Call and type(inner.func) is cst.Name and inner.func.value in ("locals", "vars", "eval", "exec"):
                return False
        return True


def parameter_for(fn: "FunctionInfo", call: cst.Call, arg: cst.Arg) -> Optional[str]:
    """The parameter of `fn` that `call` binds to `arg` (by keyword or by position, `self` skipped
    for a method called through an object); None when it cannot be told."""
    if arg.star:
        return None
    if arg.keyword is not None:
        return arg.keyword.value if arg.keyword.value in fn.params else None
    position = argument_position(call, arg)
    if position is None or not isinstance(fn.node, cst.FunctionDef):
        return None
    p = fn.node.params
    names = [x.name.value for x in (*p.posonly_params, *p.params)]
    if fn.cls is not None and fn.parent is None and names and names[0] in ("self", "cls") and not _is_static(fn):
        names = names[1:]
    return names[position] if position < len(names) else None


def _is_static(fn: "FunctionInfo") -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in fn.node.decorators)
