"""Zero-gradient dependence: the flow-sensitive refinement of the walk for JAX's differentiated
functions.

The walk (`sources.Walk`) answers which sources a value derives from; a JAX cut
(`facts.jax_cut`: `stop_gradient`, rounding, argmax, comparisons, integer casts) ends its
answer. Two questions need more than that, and are answered here, statement by statement:
- `Traced`: which names of a function hold values computed from some of its parameters;
- `ZeroGradient`: does a differentiated function's returned loss depend on a differentiated
  argument ONLY through zero-gradient operations (which ones, and is the loss then a float,
  whose gradient is silently zero, or an integer, which raises), and which `stop_gradient`
  leaves a whole additive term of a live loss constant.
Helpers of the file called by name are followed with per-call summaries keyed by which
parameters are live, which carry a zero-gradient value, and which operations are allowed to
count (asking "is this op alone enough to zero the loss?" re-runs with only that op allowed).
The tables are JAX's (`gradscan.frameworks.jax`, fact jx42).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.frameworks import jax as jax_api, names
from gradscan.frameworks.python import NUMBER_TO_NUMBER
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics.contexts import Scopes
from gradscan.semantics.facts import (
    INT_DTYPES, JAX_NON_CARRYING_ATTRS, JAX_STOP_GRADIENT, Target, int_dtype, jax_cut,
)
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants, target_names

ROUNDING_FUNCTIONS = names(jax_api.ROUNDING_FUNCTIONS)  # the result is still a float
INDEX_FUNCTIONS = names(jax_api.INDEX_FUNCTIONS)
COMPARISON_FUNCTIONS = names(jax_api.COMPARISON_FUNCTIONS)
INT_CAST_FUNCTIONS = {f"jax.numpy.{t}" for t in INT_DTYPES if t not in ("int", "bool")}
CAST_FUNCTIONS = names(jax_api.CAST_FUNCTIONS)
TREE_MAPS = names(jax_api.TREE_MAPS)
ARRAY_PACKAGES, SHAPE_FIRST = jax_api.ARRAY_PACKAGES, jax_api.SHAPE_FIRST
INDEX_POSITIONS, INDEX_KEYWORDS, INT_KEEPING = jax_api.INDEX_POSITIONS, jax_api.INDEX_KEYWORDS, jax_api.INT_KEEPING
CUSTOM_GRADIENT = jax_api.CUSTOM_GRADIENT
MUTATORS = {"append", "extend", "insert", "add", "update", "appendleft"}
REDUCTIONS = {"mean", "sum", "nanmean", "nansum", "average"}


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


def _join_kind(a: Optional[str], b: Optional[str]) -> Optional[str]:
    if a is None:
        return b
    if b is None:
        return a
    return "float" if "float" in (a, b) else "int"


class State:
    """At one point of a function: the names that depend differentiably on the differentiated
    arguments (`live`), and the names that hold a value computed from them only through a
    zero-gradient operation (`dead`, with whether that value is an integer or a float)."""

    __slots__ = ("live", "dead")

    def __init__(self, live, dead) -> None:
        self.live: Set[str] = set(live)
        self.dead: Dict[str, str] = dict(dead)

    def copy(self) -> "State":
        return State(self.live, self.dead)

    def join(self, other: "State") -> "State":
        self.live |= other.live
        for k, v in other.dead.items():
            self.dead[k] = _join_kind(self.dead.get(k), v)
        return self


class ZeroGradient(Traced):
    """A flow-sensitive walk of a differentiated function (and of the helpers it calls): does
    the returned loss depend on the differentiated argument by a differentiable path, and which
    zero-gradient operations (rounding, argmax, comparisons, integer casts) does it go through."""

    def __init__(self, model: FileModel) -> None:
        super().__init__(model, model.get(Scopes))  # one per file: `model.get(ZeroGradient)`
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
        first = positional_argument(node, 0)
        name = model.callee(node)
        func = node.func
        if name is None and isinstance(func, cst.Attribute) and model.resolve(func) is None:
            method = func.attr.value
            if method == "round":
                return "float", [func.value]
            if method in ("argmax", "argmin"):
                return "int", [func.value]
            if method == "astype" and node.args and int_dtype(node.args[0].value):
                return "int", [func.value]
            return None
        if first is None:
            return None
        if name in TREE_MAPS:
            # `tree_map(stop_gradient, params)`: the op applied to every leaf of the trees mapped
            kind = self.mapped_kind(first)
            trees = [a.value for a in node.args[1:] if a.keyword is None and not a.star]
            return (kind, trees) if kind is not None and trees else None
        if name in JAX_STOP_GRADIENT:
            return "float", [first]  # a constant for the transform: a zero gradient, like round
        if name in ROUNDING_FUNCTIONS:
            return "float", [first]
        if name in INDEX_FUNCTIONS or name in INT_CAST_FUNCTIONS:
            return "int", [first]
        if name in COMPARISON_FUNCTIONS:
            return "int", [a.value for a in node.args[:2]]
        if name in CAST_FUNCTIONS:
            dtype = keyword_argument(node, "dtype") or keyword_argument(node, "new_dtype")
            if dtype is None:
                dtype = positional_argument(node, 1)
            if dtype is not None and int_dtype(dtype):
                return "int", [first]
        return None

    def mapped_kind(self, fn: cst.BaseExpression) -> Optional[str]:
        """The result kind when the function a tree map applies is a zero-gradient operation on
        its leaf: `jax.lax.stop_gradient`, `jnp.round`, `lambda p: stop_gradient(p)`, or a
        function of this file whose result depends on its first argument only through one."""
        model = self.model
        name = model.resolve(fn) if isinstance(fn, (cst.Name, cst.Attribute)) else None
        if name in JAX_STOP_GRADIENT or name in ROUNDING_FUNCTIONS:
            return "float"
        if name in INDEX_FUNCTIONS or name in INT_CAST_FUNCTIONS:
            return "int"
        if isinstance(fn, cst.Lambda):
            leaf = [p.name.value for p in fn.params.params]
            found = self.op_kind(fn.body)
            if not leaf or found is None:
                return None
            kind, inputs = found
            # the op is applied to the leaf itself: nothing else of the body reads it
            return kind if any(isinstance(i, cst.Name) and i.value == leaf[0] for i in inputs) else None
        if isinstance(fn, cst.Name) and name is None:
            helper = self.scopes.lookup(self.model.enclosing_function(fn), fn.value)
            if helper is None or self.has_custom_gradient(helper) or not helper.params:
                return None
            params = helper.params[1:] if helper.is_method else helper.params
            if not params:
                return None
            live, kind = self.summary(helper, frozenset({params[0]}), (), None)
            return kind if not live else None
        return None

    def is_cut(self, op: cst.CSTNode) -> bool:
        """`stop_gradient(x)`, or a tree map of it (`tree_map(jax.lax.stop_gradient, params)`)."""
        if not isinstance(op, cst.Call):
            return False
        name = self.model.callee(op)
        if name in JAX_STOP_GRADIENT:
            return True
        if name in TREE_MAPS and op.args:
            fn = op.args[0].value
            if isinstance(fn, cst.Lambda):
                return isinstance(fn.body, cst.Call) and self.model.callee(fn.body) in JAX_STOP_GRADIENT
            if isinstance(fn, (cst.Name, cst.Attribute)):
                resolved = self.model.resolve(fn)
                if resolved in JAX_STOP_GRADIENT:
                    return True
                if resolved is None and isinstance(fn, cst.Name):
                    helper = self.scopes.lookup(self.model.enclosing_function(fn), fn.value)
                    return helper is not None and any(
                        isinstance(n, cst.Call) and self.model.callee(n) in JAX_STOP_GRADIENT for n in descendants(helper.node))
        return False

    def _op(self, node: cst.CSTNode, st: State, allowed) -> Optional[str]:
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
                live, dead = self._bind(expr, helper, State(names, {}), None)
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
        return any(isinstance(n, cst.Name) and n.value in names for n in descendants(node))

    def _helper(self, call: cst.Call) -> Optional[FunctionInfo]:
        """The function of this file a call by name runs (not one with a custom gradient)."""
        if not isinstance(call.func, cst.Name):
            return None
        scope = self.model.enclosing_function(call)
        fn = self.scopes.lookup(scope, call.func.value)
        if fn is None:  # `init_fn, apply_fn = frozen(layer)`: the function the factory returned
            fn = self.model.objects.factory_function(call, scope)
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
                        self._custom.update(n for t in parent.targets for n in target_names(t.target, items=True))
        return self._custom

    def _bind(self, call: cst.Call, helper: FunctionInfo, st: State, allowed):
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

    def carries(self, expr: cst.CSTNode, st: State, allowed) -> Optional[str]:
        """The expression's value is computed, as data, from a zero-gradient operation on a
        live value: "int" or "float" (its dtype kind), None when not."""
        kind = self._op(expr, st, allowed)
        if kind is not None:
            return kind
        t = type(expr)
        if t is cst.Name:
            return st.dead.get(expr.value)
        if t is cst.Attribute:
            return None if expr.attr.value in JAX_NON_CARRYING_ATTRS else self.carries(expr.value, st, allowed)
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

    def _call_carries(self, call: cst.Call, st: State, allowed) -> Optional[str]:
        model = self.model
        name = model.callee(call)
        if name in JAX_STOP_GRADIENT:
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
            # a function held in a variable (`sample = dist.sample` of a cut `dist`) gives what it was taken from
            kinds = [self.carries(func, st, allowed)] if name is None and isinstance(func, cst.Name) else []
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
            return "int" if int_dtype(call.args[0].value) else "float"
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
            result = self._summarize(fn, State(live, dead), allowed, has_aux)
        finally:
            self.active.discard(key)
        self.summaries[key] = result
        return result

    def _summarize(self, fn: FunctionInfo, st: State, allowed, has_aux) -> Tuple[bool, Optional[str]]:
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
            value = self.model.single_value(fn, value.value)
        if isinstance(value, (cst.Tuple, cst.List)) and value.elements:
            return value.elements[0].value
        return None

    def _block(self, stmts, st: State, allowed, returns) -> State:
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

    def _statement(self, stmt, st: State, allowed, returns) -> State:
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
        for node in descendants(stmt):
            if isinstance(node, cst.IndentedBlock):
                out.join(self._block(list(node.body), st.copy(), allowed, returns))
        return out

    def _small(self, node, st: State, allowed, returns) -> None:
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

    def _assign(self, target, value, st: State, allowed, strong: bool) -> None:
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and len(target.elements) == len(value.elements):
            for t, v in zip(target.elements, value.elements):
                self._assign(t.value, v.value, st, allowed, strong)
            return
        live = self.traced(value, st.live)
        kind = self.carries(value, st, allowed)
        if isinstance(target, cst.Name):
            names, strong_here = [target.value], strong
        else:
            names, strong_here = target_names(target, items=True), strong and isinstance(target, (cst.Tuple, cst.List, cst.StarredElement))
        for name in names:
            if strong_here:
                st.live.discard(name)
                st.dead.pop(name, None)
            if live:
                st.live.add(name)
            if kind is not None:
                st.dead[name] = _join_kind(st.dead.get(name), kind)

    # ------------------------------------------------------------------ the question

    def zero_ops(self, target: Target, param: str) -> List[cst.CSTNode]:
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

    def aux_first(self, target: Target, param: str) -> Optional[cst.BaseExpression]:
        """With `has_aux=True` the FIRST returned element is differentiated. When that element
        only carries a zero-gradient value (an argmax accuracy) while a later element depends
        on the argument differentiably (the loss, returned second), the order is swapped: the
        returned tuple is where the fix goes."""
        fn = target.fn
        if not target.has_aux or isinstance(fn.node, cst.Lambda):
            return None
        self.summaries = {}
        returns: list = []
        self._block(fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else [fn.node.body],
                    State(frozenset({param}), {}), None, returns)
        for value, at in returns:
            if isinstance(value, cst.Name):
                value = self.model.single_value(fn, value.value)
            if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) < 2:
                continue
            first = value.elements[0].value
            if self.traced(first, at.live) or self.carries(first, at, None) is None:
                continue
            if any(self.traced(e.value, at.live) and self._reduced(fn, e.value, 0) for e in value.elements[1:]):
                return value
        return None

    def _reduced(self, fn: FunctionInfo, expr: cst.BaseExpression, depth: int) -> bool:
        """A scalar reduction (`jnp.mean(...)`, `x.sum()`, `a + 0.1 * b` of them): a loss, not
        the logits or the hidden state a has_aux output usually carries."""
        if depth > 4:
            return False
        if isinstance(expr, cst.Name):
            value = self.model.single_value(fn, expr.value)
            return value is not None and self._reduced(fn, value, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            return self._reduced(fn, expr.left, depth + 1) or self._reduced(fn, expr.right, depth + 1)
        if isinstance(expr, cst.Call):
            name = self.model.callee(expr) or dotted(expr.func) or ""
            if isinstance(expr.func, cst.Attribute) and self.model.resolve(expr.func) is None:
                name = expr.func.attr.value
            return name.rsplit(".", 1)[-1] in REDUCTIONS
        return False

    def dead_term_cuts(self, target: Target, params: Set[str]) -> List[cst.CSTNode]:
        """`stop_gradient` calls that leave a whole additive term of the returned loss constant
        while another term still depends on the arguments (`loss = actor_loss + critic_loss`,
        the actor's output cut): the loss is live, so `zero_ops` says nothing, but that term
        adds nothing to the gradient of any differentiated argument."""
        fn = target.fn
        if isinstance(fn.node, cst.Lambda) or not params:
            return []
        self.summaries = {}
        self.seen = {}
        live0 = frozenset(params)
        terms = self._dead_terms(target, live0, None)
        if not terms:
            return []
        cuts = [(key, op) for key, op in list(self.seen.items()) if self.is_cut(op)]
        found = []
        for key, op in cuts:
            if self._dead_terms(target, live0, frozenset({key})):
                found.append(op)
        return found

    def _dead_terms(self, target: Target, live0, allowed) -> List[cst.BaseExpression]:
        """The terms of the returned loss that carry a zero-gradient value and no live one,
        when some other term of the same loss is live."""
        fn = target.fn
        returns: list = []
        self._block(fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else [fn.node.body],
                    State(live0, {}), allowed, returns)
        out = []
        for value, at in returns:
            if value is None:
                continue
            loss = self._loss_value(fn, value, target.has_aux)
            if loss is None:
                continue
            terms = self._terms(fn, loss, at, 0)
            if len(terms) < 2 or not any(self.traced(t, at.live) for t in terms):
                continue
            for term in terms:
                if self.traced(term, at.live) or self._straight_through(term):
                    continue
                if self.carries(term, at, allowed) == "float":
                    out.append(term)
        return out

    def _terms(self, fn: FunctionInfo, expr: cst.BaseExpression, st: State, depth: int) -> List[cst.BaseExpression]:
        """The additive terms of a loss: `a + b - c`, through names bound once (`loss = ...`),
        unary minus and constant coefficients (`0.5 * critic_loss`)."""
        if depth > 4:
            return [expr]
        if isinstance(expr, cst.Name):
            value = self.model.single_value(fn, expr.value)
            if value is not None and isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
                return self._terms(fn, value, st, depth + 1)
            return [expr]
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            return self._terms(fn, expr.expression, st, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, (cst.Add, cst.Subtract)):
                return self._terms(fn, expr.left, st, depth + 1) + self._terms(fn, expr.right, st, depth + 1)
            if isinstance(expr.operator, (cst.Multiply, cst.Divide)):
                # a coefficient: neither live nor computed from a cut value
                for term, coeff in ((expr.right, expr.left), (expr.left, expr.right)):
                    if isinstance(expr.operator, cst.Divide) and term is expr.right:
                        continue
                    if not self.traced(coeff, st.live) and self.carries(coeff, st, None) is None:
                        return self._terms(fn, term, st, depth + 1)
        return [expr]

    def _straight_through(self, term: cst.BaseExpression) -> bool:
        """`stop_gradient(a - b)` as a term of its own: the value of `a` reported with the gradient
        of `b` (straight-through, DiCE-style corrections), a cut on purpose."""
        while isinstance(term, cst.BinaryOperation) and isinstance(term.operator, (cst.Multiply, cst.Divide)):
            term = term.right if isinstance(term.right, cst.Call) else term.left
        if isinstance(term, cst.Call) and self.model.callee(term) in JAX_STOP_GRADIENT and term.args:
            inner = term.args[0].value
            return isinstance(inner, cst.BinaryOperation) and isinstance(inner.operator, cst.Subtract)
        return False
