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

import sys
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import libcst as cst

from gradscan.semantics.arguments import argument_position
from gradscan.semantics.contexts import called_function, has_no_grad_decorator
from gradscan.semantics.index_summaries import TRANSPARENT_DECORATORS
from gradscan.semantics.walk import descendants

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

# Packages no project defines: their functions are not looked up in the project index.
LIBRARIES = {"torch", "tensorflow", "jax", "numpy", "keras", "tf_keras", "flax", "optax", "scipy", "pyro",
             "tensorflow_probability", "transformers", "lightning", "pytorch_lightning", "einops", "__future__",
             *getattr(sys, "stdlib_module_names", ("math", "random", "os", "sys"))}
_UNSET = object()
STEP_BUDGET = 2_000  # statements one summary may follow; past it the parameter "carries"


# What a parameter's value becomes in what its function returns.
GRAPH = "graph"  # the value itself or something computed from it, graph kept
DATA = "data"  # only as NumPy/Python data (`t.detach().cpu().numpy()`): a re-wrap later loses the graph
NONE = "none"  # nothing of it (detached, an index, metadata, not returned)


class Summaries:
    """`model.get(Summaries).effect(fn, name)`: what parameter `name` of `fn` becomes in its
    return (GRAPH, DATA or NONE); `carries(fn, name)`: is it GRAPH? `outside_effect(call, arg)`:
    the same for a function of another project file (the project index's summary)."""

    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._memo: Dict[Tuple[int, str], str] = {}
        self._outside: Dict[str, object] = {}  # qualified name -> the index's entry, asked once
        self._converted: Dict[int, Optional[cst.BaseExpression]] = {}  # id(call) -> its converted argument

    def effect(self, fn: "FunctionInfo", name: str) -> str:
        key = (id(fn), name)
        got = self._memo.get(key)
        if got is None:
            self._memo[key] = GRAPH  # recursion (a helper calling itself) assumes the old answer
            got = self._memo[key] = self._compute(fn, name)
        return got

    def carries(self, fn: "FunctionInfo", name: str) -> bool:
        return self.effect(fn, name) == GRAPH

    def argument_effect(self, fn: "FunctionInfo", call: cst.Call, arg: cst.Arg) -> str:
        """What the value `call` passes as `arg` becomes in `fn`'s return (GRAPH when unknown)."""
        name = parameter_for(fn, call, arg)
        return GRAPH if name is None else self.effect(fn, name)

    def carries_argument(self, fn: "FunctionInfo", call: cst.Call, arg: cst.Arg) -> bool:
        return self.argument_effect(fn, call, arg) == GRAPH

    def outside_effect(self, call: cst.Call, arg: cst.Arg) -> str:
        """What `arg` becomes in the return of the function of another project file that `call`
        runs (`index_summaries`); GRAPH when unknown."""
        project = self.model.project
        qname = self.model.callee(call)
        if project is None or qname is None or arg.star or not hasattr(project, "function_cuts"):
            return GRAPH
        entry = self._outside.get(qname, _UNSET)
        if entry is _UNSET:
            library = qname.partition(".")[0] in LIBRARIES
            entry = self._outside[qname] = None if library else project.function_cuts(qname)
        if not entry:
            return GRAPH
        params, cut, data = entry
        if arg.keyword is not None:
            name = arg.keyword.value
        else:
            position = argument_position(call, arg)
            if position is None or position >= len(params):
                return GRAPH
            name = params[position]
        return DATA if name in data else NONE if name in cut else GRAPH

    def carries_outside(self, call: cst.Call, arg: cst.Arg) -> bool:
        return self.outside_effect(call, arg) == GRAPH

    def converted_argument(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        """The argument a call of a project function (`to_numpy(h)`) returns only as NumPy/Python
        data, when none of its arguments reaches the return as a tensor of the graph: the call
        is a conversion, like `h.detach().cpu().numpy()` written inline."""
        if not call.args:
            return None
        key = id(call)
        if key in self._converted:
            return self._converted[key]
        found = self._converted[key] = self._converted_argument(call)
        return found

    def _converted_argument(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        fn = called_function(self.model, self.model.enclosing_function(call), call)
        if fn is None and self.model.callee(call) is None:
            return None
        found = None
        for arg in call.args:
            effect = self.argument_effect(fn, call, arg) if fn is not None else self.outside_effect(call, arg)
            if effect == GRAPH:
                return None
            if effect == DATA and found is None:
                found = arg.value
        return found

    def _compute(self, fn: "FunctionInfo", name: str) -> str:
        if isinstance(fn.node, cst.FunctionDef) and has_no_grad_decorator(self.model, fn):
            return NONE  # `@torch.no_grad()`: what it returns has no graph back to its inputs
        if not self._summarisable(fn, name):
            return GRAPH
        flow = self.model.flow
        uses = flow.name_index(fn)[0].get(name, [])
        todo = [(use, None) for use in uses]
        seen = set()
        steps = 0
        converted = False
        while todo:
            use, before = todo.pop()
            if (id(use), before is None) in seen:
                continue
            seen.add((id(use), before is None))
            steps += 1
            if steps > STEP_BUDGET:
                return GRAPH
            end, path, names, conv = flow._climb(use, conv=before)
            if end == "return":
                if conv is None:
                    return GRAPH
                # NumPy/Python data: the caller may wrap it again; wrapped here already, a new leaf
                converted = converted or not conv.rewrapped
                continue
            if end == "assign" and (conv is None or not conv.rewrapped):
                stmt = self.model.enclosing_statement(path[-1] if path else use)
                for target in names:
                    todo.extend((later, conv) for later in flow.later_uses(fn, target, stmt))
        return DATA if converted else NONE

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
