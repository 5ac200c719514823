"""Summaries of the functions of other project files, for the project index (standard `ast`).

`summaries.py` answers, for a function of the file being checked, which parameters reach its
return with the graph kept. A call into a function another project file defines
(`from utils import to_numpy`) had no answer and "carried", so `pred = to_numpy(model(x))` was
still a live value of the graph. The project index now keeps, for each module-level function of
each project file, the parameters that provably do **not** reach its return
(`returns_cut(tree, names)`); the flow and the sources ask the index through
`ProjectIndex.function_cuts`, and the results cache records the answer.

The walk is an abstract interpretation of the body in order: each local name holds the set of
parameters its value carries, branches join, loops run twice, a `with torch.no_grad():` block
carries nothing, and the frameworks' tables say which calls and attributes carry nothing
(`.detach()`, `.item()`, `.numpy()`, `float()`, `torch.argmax`, `.shape`). Whatever it cannot
follow answers "carries" (no entry): `*args`/`**kwargs`, generators, nested functions and lambdas,
decorators other than the transparent ones, `global`/`nonlocal`, `match`.
"""
from __future__ import annotations

import ast
from typing import Dict, FrozenSet, List, Optional, Tuple

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as api_names
from gradscan.frameworks import tensorflow as tf_api
from gradscan.frameworks import torch as torch_api

CONVERSION_METHODS = api_names(torch_api.CONVERSION_METHODS, tf_api.CONVERSION_METHODS, jax_api.CONVERSION_METHODS)
CONVERSION_BUILTINS = api_names(torch_api.CONVERSION_BUILTINS)
CUT_METHODS = api_names(torch_api.NON_CARRYING_METHODS) | CONVERSION_METHODS
REWRAPS = api_names(torch_api.REWRAP_FUNCTIONS, tf_api.REWRAP_FUNCTIONS, jax_api.REWRAP_FUNCTIONS)
KEEP_GRAPH = {"torch.as_tensor", "torch.Tensor", "tensorflow.convert_to_tensor", "keras.ops.convert_to_tensor",
              "tensorflow.keras.ops.convert_to_tensor", "jax.numpy.asarray", "jax.numpy.array"}
# On the way to a conversion these keep the value (`.detach().cpu().numpy()`).
BEFORE_CONVERSION = api_names(torch_api.BEFORE_CONVERSION)
_DATA_MODULES = ("numpy.", "math.")
CUT_ATTRS = api_names(torch_api.NON_CARRYING_ATTRS, tf_api.NON_CARRYING_ATTRS)
CUT_FUNCTIONS = api_names(torch_api.NON_CARRYING_FUNCTIONS, tf_api.NON_CARRYING_FUNCTIONS, jax_api.STOP_GRADIENT,
                          jax_api.ZERO_GRAD_FUNCTIONS)
NO_GRAD = api_names(torch_api.NO_GRAD_CONTEXTS)
CUT_BUILTINS = {"bool", "len", "str", "repr", "round", "print", "isinstance", "type", "id", "hash"}
# Decorators whose wrapper returns what the function returns, computed the same way (compiled or
# traced): any other may wrap it in code the walk cannot see. (Shared with `summaries.py`.)
TRANSPARENT_DECORATORS = {
    "staticmethod", "classmethod", "tensorflow.function", "jax.jit", "torch.compile",
    "torch.jit.script", "torch.jit.unused", "functools.wraps",
}
# Words without which no function of a file can cut anything: other files are not walked.
CUT_WORDS = (".detach(", ".item(", ".numpy(", ".tolist(", "no_grad", "inference_mode", "stop_gradient")

Env = Dict[str, FrozenSet[str]]
_EMPTY: FrozenSet[str] = frozenset()


class _Unknown(Exception):
    """Something the walk does not follow: the function gets no entry (it carries)."""


def returns_cut(tree: ast.Module, names: Dict[str, str], lines: Optional[List[str]] = None) -> Dict[str, List[List[str]]]:
    """{function name: [its positional parameters, the parameters none of whose value reaches
    what it returns as a tensor of the graph, those of them it returns as NumPy/Python data]}
    for the module-level functions that cut at least one parameter."""
    out: Dict[str, List[List[str]]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        if lines is not None:  # a function whose text holds none of the words cuts nothing we record
            text = "\n".join(lines[node.lineno - 1 - len(node.decorator_list):node.end_lineno or node.lineno])
            if not any(word in text for word in CUT_WORDS):
                continue
        try:
            params, returned = _returned(node, names)
        except (_Unknown, RecursionError, MemoryError, AttributeError, TypeError, ValueError):
            continue  # a form the walk does not follow (or does not expect): no entry, it carries
        graph = {t for t in returned if not t.startswith("~")}
        cut = set(params) - graph
        if cut:
            a = node.args
            data = {t[1:] for t in returned if t.startswith("~")} & cut
            out[node.name] = [[p.arg for p in (*a.posonlyargs, *a.args)], sorted(cut), sorted(data)]
    return out


def _qualified(expr: ast.expr, names: Dict[str, str]) -> Optional[str]:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    head, *rest = reversed(parts)
    full = names.get(head, head)
    return ".".join([full, *rest])


def _returned(fn: ast.FunctionDef, names: Dict[str, str]) -> Tuple[List[str], FrozenSet[str]]:
    """The parameters, and what the function returns of them (`p`: a tensor of the graph
    computed from `p`; `~p`: NumPy/Python data computed from it)."""
    a = fn.args
    if a.vararg is not None or a.kwarg is not None:
        raise _Unknown
    params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    for d in fn.decorator_list:
        q = _qualified(d.func if isinstance(d, ast.Call) else d, names)
        if q in NO_GRAD:
            return params, _EMPTY  # `@torch.no_grad()`: nothing it returns has a graph
        if q not in TRANSPARENT_DECORATORS:
            raise _Unknown
    walk = _Walk(names)
    env: Env = {p: frozenset((p,)) for p in params}
    walk.block(fn.body, env)
    return params, frozenset(walk.returned)


class _Walk:
    def __init__(self, names: Dict[str, str]) -> None:
        self.names = names
        self.returned: set = set()
        self.no_grad = 0

    # ---- statements --------------------------------------------------------------------
    def block(self, body: List[ast.stmt], env: Env) -> None:
        for stmt in body:
            self.statement(stmt, env)

    def statement(self, s: ast.stmt, env: Env) -> None:
        t = type(s)
        if t is ast.Return:
            if s.value is not None:
                self.returned |= self.expr(s.value, env)
        elif t is ast.Assign:
            value = self.expr(s.value, env)
            for target in s.targets:
                self.bind(target, value, env)
        elif t is ast.AnnAssign:
            if s.value is not None:
                self.bind(s.target, self.expr(s.value, env), env)
        elif t is ast.AugAssign:
            self.bind(s.target, self.expr(s.value, env) | self.expr(s.target, env), env, weak=True)
        elif t is ast.Expr:
            self.expr(s.value, env)
        elif t is ast.If:
            self.expr(s.test, env)
            self.branches(env, s.body, s.orelse)
        elif t in (ast.For, ast.While):
            if t is ast.For:
                self.bind(s.target, self.expr(s.iter, env), env)
            else:
                self.expr(s.test, env)
            for _ in range(2):  # values carried round the loop
                self.branches(env, s.body, [])
            self.branches(env, s.orelse, [])
        elif t is ast.With:
            cut = False
            for item in s.items:
                value = self.expr(item.context_expr, env)
                call = item.context_expr
                if isinstance(call, ast.Call) and _qualified(call.func, self.names) in NO_GRAD:
                    cut = True
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, env)
            self.no_grad += cut
            try:
                self.block(s.body, env)
            finally:
                self.no_grad -= cut
        elif t is ast.Try:
            self.branches(env, s.body, *[h.body for h in s.handlers], s.orelse)
            self.block(s.finalbody, env)
        elif t in (ast.Pass, ast.Break, ast.Continue, ast.Import, ast.ImportFrom):
            pass
        elif t in (ast.Raise, ast.Assert, ast.Delete):
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child, env)
        else:  # nested functions and classes, global/nonlocal, match, async forms
            raise _Unknown

    def branches(self, env: Env, *bodies: List[ast.stmt]) -> None:
        """Run each body on a copy of `env`; a name afterwards holds what any of them left."""
        results = []
        for body in bodies:
            copy = dict(env)
            self.block(body, copy)
            results.append(copy)
        for result in results:
            for name, value in result.items():
                env[name] = env.get(name, _EMPTY) | value

    def bind(self, target: ast.expr, value: FrozenSet[str], env: Env, weak: bool = False) -> None:
        if self.no_grad:
            value = _EMPTY  # computed with nothing recorded
        if isinstance(target, ast.Name):
            env[target.id] = (env.get(target.id, _EMPTY) | value) if weak else value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, value, env, weak)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value, env, weak)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            base = target.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):  # `out["logits"] = h`: the container now holds h
                env[base.id] = env.get(base.id, _EMPTY) | value

    # ---- expressions -------------------------------------------------------------------
    def expr(self, e: ast.expr, env: Env) -> FrozenSet[str]:
        t = type(e)
        if t is ast.Name:
            return env.get(e.id, _EMPTY)
        if t is ast.Constant or t is ast.Compare or t is ast.JoinedStr:
            for child in ast.iter_child_nodes(e):
                if isinstance(child, ast.expr):
                    self.expr(child, env)  # walrus bindings inside
            return _EMPTY
        if t is ast.Attribute:
            inner = self.expr(e.value, env)
            return _EMPTY if e.attr in CUT_ATTRS else inner
        if t is ast.Call:
            return self.call(e, env)
        if t is ast.Subscript:
            self.expr(e.slice, env)
            return self.expr(e.value, env)
        if t is ast.UnaryOp:
            inner = self.expr(e.operand, env)
            return _EMPTY if isinstance(e.op, ast.Not) else inner
        if t is ast.NamedExpr:
            value = self.expr(e.value, env)
            self.bind(e.target, value, env)
            return value
        if t in (ast.Lambda, ast.Yield, ast.YieldFrom, ast.Await, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
            raise _Unknown  # names bound or read in a scope of its own, or a generator
        out = _EMPTY
        for child in ast.iter_child_nodes(e):
            if isinstance(child, ast.expr):
                out = out | self.expr(child, env)
        return out

    def call(self, e: ast.Call, env: Env) -> FrozenSet[str]:
        args = _EMPTY
        for a in e.args:
            args = args | self.expr(a, env)
        for k in e.keywords:
            args = args | self.expr(k.value, env)
        func = e.func
        q = _qualified(func, self.names)
        if isinstance(func, ast.Attribute):
            if func.attr in CONVERSION_METHODS and not e.args:
                return _data(self.expr(_before_conversion(func.value), env))
            receiver = self.expr(func.value, env)
            if func.attr in CUT_METHODS:
                return _EMPTY
            base = func.value
            if isinstance(base, ast.Name) and args:  # `parts.append(h)`: the container holds h
                env[base.id] = env.get(base.id, _EMPTY) | args
            if q in CUT_FUNCTIONS:
                return _EMPTY
            if q in REWRAPS:
                return _rewrapped(q, args)
            if q is not None and q.startswith(_DATA_MODULES):
                return _data(args | receiver)
            return args | receiver
        if isinstance(func, ast.Name) and func.id not in env and func.id not in self.names:
            if func.id in CONVERSION_BUILTINS:
                return _data(args)
            if func.id in CUT_BUILTINS:
                return _EMPTY
        if q in CUT_FUNCTIONS:
            return _EMPTY
        if q in REWRAPS:
            return _rewrapped(q, args)
        if q is not None and q.startswith(_DATA_MODULES):
            return _data(args)
        return args | self.expr(func, env)


def _before_conversion(expr: ast.expr) -> ast.expr:
    """`t` of `t.detach().cpu().numpy()`: the methods written on the way to a conversion."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in BEFORE_CONVERSION:
        expr = expr.func.value
    return expr


def _data(tokens: FrozenSet[str]) -> FrozenSet[str]:
    """The same values as NumPy/Python data (`~p`): a re-wrap later gives a tensor without graph."""
    return frozenset(t if t.startswith("~") else "~" + t for t in tokens)


def _rewrapped(q: str, tokens: FrozenSet[str]) -> FrozenSet[str]:
    """A tensor made from data: a new leaf. `torch.as_tensor`/`torch.Tensor` of a tensor return
    it with its graph (pt07); the others copy it without."""
    if q in KEEP_GRAPH:
        return frozenset(t for t in tokens if not t.startswith("~"))
    return _EMPTY
