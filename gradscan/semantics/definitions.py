"""Definitions: where each plain name is bound, per scope, and which bindings reach a use.

One index and one reaching question for every analysis (the torch sources, the distributions'
walk): `model.get(Definitions).reaching(use)`. Built once per file from the lists the model's
walk collected (a libcst visitor would cost more than the parse).

A binding records the statement, the value (None for an annotation without one), how it binds
(`kind`: "name" for `x = v`, `x: T = v`, `x += v`; "item" for `x[i] = v`, which stores into x;
"append" for `x.append(v)` and its kin; "block" for `for x in v:` and `with v as x:`, whose uses
sit inside the binding statement; "walrus") and, for a tuple target whose value is not a tuple
of the same length, the target's position (`mu, sigma = net(x).chunk(2)`: mu is element 0).
"""
from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Tuple

import libcst as cst

from gradscan.semantics.budget import tick

if TYPE_CHECKING:
    from gradscan.semantics.model import FileModel, FunctionInfo

_MUTATORS = ("append", "extend", "insert", "add", "update")
_CONDITIONAL = (cst.If, cst.Else, cst.For, cst.While, cst.Try, cst.ExceptHandler, cst.Finally, cst.IfExp)


class Binding(NamedTuple):
    order: int  # preorder position of the defining statement
    stmt: cst.CSTNode
    value: Optional[cst.BaseExpression]
    block: bool  # the uses it binds sit inside `stmt` (`for x in ...:`, `with ... as x:`)
    kind: str  # name, item, append, block, walrus
    index: Optional[int]  # the position of a tuple target whose value was not split
    scope: Optional["FunctionInfo"]


class Definitions:
    def __init__(self, model: "FileModel") -> None:
        self.model = model
        self._defs: Optional[Dict[int, Dict[str, List[Binding]]]] = None
        self._sorted: Dict[Tuple[int, str], Tuple[List[Binding], List[int]]] = {}

    def in_scope(self, fn: Optional["FunctionInfo"], name: str) -> List[Binding]:
        """The bindings of `name` directly in `fn` (None: the module), in source order."""
        return self._sorted_defs(fn, name)[0]

    def reaching(self, use: cst.Name, fn: Optional["FunctionInfo"] = None) -> Tuple[List[Binding], str]:
        """The bindings that can reach `use`, latest first, and where they were found: `local`
        (in its function), `param` (a parameter of it or of an enclosing function, no binding),
        `outer` (an enclosing function's or the module's bindings, any order) or `none`.
        A statement holding the use (`x = x.detach()`) does not define what it reads, unless it
        is a block binding whose body holds the use; a use inside a loop with only later
        bindings takes them all (loop-carried)."""
        model = self.model
        fn = fn if fn is not None else model.enclosing_function(use)
        order = model.flow.order
        here = order(use)
        scope = fn
        level = 0
        while True:
            tick()
            defs, orders = self._sorted_defs(scope, use.value)
            if level == 0:
                holders = {id(a) for a in model.ancestors(use)}
                before = (defs[i] for i in range(bisect_left(orders, here) - 1, -1, -1)
                          if defs[i].block or id(defs[i].stmt) not in holders)
                found = self._latest_that_run(before, use)
                if found:
                    return found, "local"
                if defs and any(isinstance(a, (cst.For, cst.While)) for a in model.ancestors(use)):
                    return list(reversed(defs)), "local"
                if scope is not None and use.value in scope.params:
                    return [], "param"
            else:
                if scope is not None and use.value in scope.params:
                    return [], "param"
                if defs:
                    return list(reversed(defs)), "outer"
            if scope is None:
                return [], "none"
            scope = scope.parent
            level += 1

    def parameter_of(self, use: cst.Name, fn: Optional["FunctionInfo"] = None) -> Optional["FunctionInfo"]:
        """The function whose parameter `use` reads (its own or an enclosing one's), when no
        binding reaches the use first; None otherwise."""
        fn = fn if fn is not None else self.model.enclosing_function(use)
        _defs, kind = self.reaching(use, fn)
        if kind != "param":
            return None
        while fn is not None and use.value not in fn.params:
            fn = fn.parent
        return fn

    def _latest_that_run(self, before, use: cst.Name) -> List[Binding]:
        """Walking back from the latest binding before `use`, up to the first one that runs
        whenever the use runs (not under an `if`, loop or `try` the use is outside of):
        `h = self.fc(x); h = h > 0` reaches with the second only."""
        use_anc = {id(a) for a in self.model.ancestors(use)}
        out = []
        for d in before:
            tick()
            out.append(d)
            if d.block:
                continue  # a loop variable: the loop may not run
            conditional = False
            for anc in self.model.ancestors(d.stmt):
                if isinstance(anc, _CONDITIONAL) and id(anc) not in use_anc:
                    conditional = True
                    break
                if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                    break
            if not conditional:
                break
        return out

    # ---- the index ---------------------------------------------------------------------
    def _sorted_defs(self, fn: Optional["FunctionInfo"], name: str) -> Tuple[List[Binding], List[int]]:
        """A name's bindings in `fn` sorted by order, with the orders alone for bisection: a
        use asks for the bindings before it in O(log n), not by scanning them all."""
        key = (id(fn) if fn is not None else 0, name)
        got = self._sorted.get(key)
        if got is None:
            if self._defs is None:
                self._build()
            defs = sorted(self._defs.get(key[0], {}).get(name, []), key=lambda d: d.order)
            got = self._sorted[key] = (defs, [d.order for d in defs])
        return got

    def _build(self) -> None:
        model = self.model
        self._defs = {}
        for node, fn in model.assignments:
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    self._add(fn, t.target, node.value, node)
            elif node.value is not None:  # AnnAssign, AugAssign
                self._add(fn, node.target, node.value, node)
        for node, fn in model.calls:
            func = node.func
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.attr.value in _MUTATORS and node.args:
                stmt = model.enclosing_statement(node)
                self._put(fn, func.value.value, Binding(model.flow.order(stmt), stmt, node.args[-1].value, False, "append", None, fn))
        for node, fn in model.block_bindings:
            if isinstance(node, cst.For):
                self._add(fn, node.target, node.iter, node, kind="block")
            elif isinstance(node, cst.WithItem):
                if node.asname is not None:
                    self._add(fn, node.asname.name, node.item, model.parent(node), kind="block")
            elif isinstance(node, cst.NamedExpr):
                stmt = model.enclosing_statement(node)
                self._add(fn, node.target, node.value, stmt or node, kind="walrus")

    def _put(self, fn, name: str, binding: Binding) -> None:
        self._defs.setdefault(id(fn) if fn is not None else 0, {}).setdefault(name, []).append(binding)

    def _add(self, fn, target, value, stmt, kind: str = "name", index: Optional[int] = None, positions: bool = True) -> None:
        order = self.model.flow.order(stmt)
        block = kind == "block"
        if isinstance(target, cst.Name):
            self._put(fn, target.value, Binding(order, stmt, value, block, kind, index, fn))
        elif isinstance(target, (cst.Tuple, cst.List)):
            values = None
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements) \
                    and not any(isinstance(e, cst.StarredElement) for e in value.elements):
                values = [e.value for e in value.elements]
            starred = False
            for i, e in enumerate(target.elements):
                starred = starred or isinstance(e, cst.StarredElement)
                position = i if positions and not values and not starred else None
                self._add(fn, e.value, values[i] if values else value, stmt, kind, position, positions=False)
        elif isinstance(target, cst.StarredElement):
            self._add(fn, target.value, value, stmt, kind)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            self._put(fn, target.value.value, Binding(order, stmt, value, block, "item", None, fn))
