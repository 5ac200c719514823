from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.helpers import SCOPES, chain, is_optimizer, method_name, order, units
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Module methods that return a one-shot generator of the module's parameters.
_ONE_SHOT = {"parameters", "named_parameters"}
# Lazy wrappers: a generator passed through them is still one generator, drained once.
_LAZY_BUILTINS = {"filter", "map", "iter", "zip", "enumerate", "reversed"}
_LAZY_QUALIFIED = {"itertools.chain", "itertools.islice", "itertools.compress", "itertools.filterfalse"}
# Builtins that iterate their argument to the end (or until they have an answer) at once.
_CONSUMING_BUILTINS = {"list", "tuple", "set", "frozenset", "sorted", "sum", "any", "all", "max", "min", "dict"}
# Statements after which the rest of a block does not run.
_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue)
# Expressions that evaluate only one of their parts, or some of them.
_PARTIAL = (cst.IfExp, cst.BooleanOperation)


def _builtin(model: FileModel, call: cst.Call, names) -> bool:
    """A call of the builtin `name` (not a function or class of the file that shadows it)."""
    func = call.func
    return (isinstance(func, cst.Name) and func.value in names and model.callee(call) is None
            and func.value not in model.module_functions and func.value not in model.classes)


def _one_shot(model: FileModel, expr, depth: int = 0) -> Optional[cst.Call]:
    """The `m.parameters()` / `m.named_parameters()` call that `expr` is a lazy view of:
    the call itself, `filter(f, ...)`, `map(...)`, `itertools.chain(...)` of it, or a
    generator expression over it. None for anything that holds its items (a list, a dict)."""
    if depth > 4:
        return None
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _ONE_SHOT:
            return expr
        if _builtin(model, expr, _LAZY_BUILTINS) or model.callee(expr) in _LAZY_QUALIFIED:
            for arg in expr.args:
                found = _one_shot(model, arg.value, depth + 1)
                if found is not None:
                    return found
        return None
    if isinstance(expr, cst.GeneratorExp):
        return _one_shot(model, expr.for_in.iter, depth + 1)
    return None


def _consumer(model: FileModel, call: cst.Call) -> bool:
    """A call that iterates what it is given right away: `list`, `sum`, ... an optimizer,
    `add_param_group`, `torch.nn.utils.clip_grad_norm_` and the other `torch.nn.utils` helpers."""
    if _builtin(model, call, _CONSUMING_BUILTINS) or is_optimizer(model, call):
        return True
    if method_name(call) == "add_param_group" and isinstance(call.func, cst.Attribute):
        return True
    qname = model.callee(call) or ""
    return qname.startswith("torch.nn.utils.") and not qname.startswith("torch.nn.utils.rnn")


def _consumed_at(model: FileModel, node: cst.CSTNode, depth: int = 0) -> bool:
    """The value of `node` is iterated where it stands: a `for` loop's or an eager
    comprehension's iterable, or an argument (also inside a list, tuple or dict literal, or
    as the iterable of a generator expression so passed) of a call that iterates it."""
    if depth > 6:
        return False
    parent = model.parent(node)
    if isinstance(parent, cst.For) and parent.iter is node:
        return True
    if isinstance(parent, cst.CompFor) and parent.iter is node:
        comp = model.parent(parent)
        while isinstance(comp, cst.CompFor):  # a nested `for` clause
            comp = model.parent(comp)
        if isinstance(comp, (cst.ListComp, cst.SetComp, cst.DictComp)):
            return True
        return isinstance(comp, cst.GeneratorExp) and _consumed_at(model, comp, depth + 1)
    if isinstance(parent, (cst.Element, cst.StarredElement, cst.DictElement)):
        container = model.parent(parent)
        if isinstance(parent, cst.DictElement) and parent.value is not node:
            return False
        return isinstance(container, (cst.List, cst.Tuple, cst.Dict)) and _consumed_at(model, container, depth + 1)
    if isinstance(parent, cst.Arg) and parent.value is node:
        call = model.parent(parent)
        return isinstance(call, cst.Call) and call.func is not node and _consumer(model, call)
    return False


def _in_loop_after(model: FileModel, read: cst.CSTNode, definition: cst.CSTNode) -> bool:
    """`read` sits in a loop body that does not also re-run `definition`: every pass after the
    first finds the generator empty."""
    for anc in model.ancestors(read):
        if isinstance(anc, SCOPES):
            return False
        if isinstance(anc, (cst.For, cst.While)) and anc.body is not None:
            if isinstance(anc, cst.For) and _contains(model, anc.iter, read):
                continue  # the loop's own iterable is evaluated once
            if not _contains(model, anc, definition):
                return True
    return False


def _contains(model: FileModel, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    return inner is outer or any(anc is outer for anc in model.ancestors(inner))


def _partial_between(model: FileModel, node: cst.CSTNode, stmt: cst.CSTNode) -> bool:
    """An `a if c else b`, `a or b` or lambda between `node` and its statement: it may not run."""
    for anc in model.ancestors(node):
        if anc is stmt:
            return False
        if isinstance(anc, _PARTIAL) or isinstance(anc, cst.Lambda):
            return True
    return False


def _exits_after(model: FileModel, read: cst.CSTNode, common: cst.CSTNode) -> bool:
    """Between `read` and the end of its blocks inside `common`, a return, raise, break or
    continue: what follows in `common` need not run after it."""
    for block, idx in chain(model, read):
        if block is common:
            return False
        if any(isinstance(u, _EXITS) for u in units(block)[idx:]):
            return True
    return False


def _both_run(model: FileModel, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """`first` runs, then `second` does, on one path through the function."""
    where = order(model, first, second)
    if where is None:
        return False
    if where == 0:
        stmt = model.enclosing_statement(first)
        if stmt is None or stmt is not model.enclosing_statement(second):
            return False  # branches of one `if`
        return not (_partial_between(model, first, stmt) or _partial_between(model, second, stmt))
    if where > 0:
        first, second = second, first
    common = _common_block(model, first, second)
    return common is not None and not _exits_after(model, first, common)


def _common_block(model: FileModel, a: cst.CSTNode, b: cst.CSTNode) -> Optional[cst.CSTNode]:
    blocks_b = {id(block) for block, _ in chain(model, b)}
    for block, _ in chain(model, a):
        if id(block) in blocks_b:
            return block
    return None


class ParametersGeneratorReused(Rule):
    code = "GS610"
    name = "parameters-generator-reused"
    framework = "torch"
    summary = "`params = model.parameters()` (a one-shot generator) read twice: the second reader, often the optimizer, gets no parameters"
    message = "`{name}` (a one-shot `{source}`) is read again once drained: it yields nothing; use list(...)"
    explanation = (
        "`parameters()` and `named_parameters()` return generators. The first loop, sum or optimizer that reads one "
        "drains it: a later optimizer or param group built from the same name holds no parameters (or raises on an "
        "empty list), and a clip in a later iteration clips nothing."
    )
    hint = "materialise it once: `params = list(model.parameters())`"
    facts = ("pt47",)
    triggers = ("parameters(",)
    doc = """
    ## What it does
    Flags a name bound once to a one-shot generator of parameters (`model.parameters()`,
    `model.named_parameters()`, or `filter(...)` / `map(...)` / `itertools.chain(...)` / a
    generator expression over one) that two readers iterate one after the other: a `for` loop,
    a list, set or dict comprehension, `list`/`sum`/`any`/`max`/..., an optimizer, a param group,
    `add_param_group`, `torch.nn.utils.clip_grad_norm_` and the other `torch.nn.utils` helpers.
    One reader in a loop body that does not also rebuild the generator counts as two.
    The finding is on the assignment, where the fix goes.

    ## Why it breaks gradients
    A generator yields its items once. The first reader (often a parameter count for a log
    line) drains it; the next one sees an empty sequence. An optimizer built from it raises
    `ValueError: optimizer got an empty parameter list`; a second param group built from it is
    silently empty, so the parameters meant for it (the biases and norms of a no-weight-decay
    group) are in no optimizer and never change; a clip inside the loop clips only the first
    step (fact pt47).

    Not flagged: a list (`list(model.parameters())`, a dict of named parameters), a
    generator rebuilt where it is read, reads in the two branches of one `if`, a first read
    followed by `return`/`raise`, and reads in nested functions.

    ## Example
    ```python
    named = model.named_parameters()
    groups = [
        {"params": [p for n, p in named if "bias" not in n], "weight_decay": 0.01},
        {"params": [p for n, p in named if "bias" in n], "weight_decay": 0.0},
    ]
    ```

    ## Use instead
    ```python
    named = list(model.named_parameters())
    ```

    ## References
    - Python docs: "Generator expressions" and iterators (an exhausted iterator stays exhausted)
    - PyTorch docs: `torch.nn.Module.parameters`, `torch.optim` ("Per-parameter options")
    - gradscan facts: pt47
    """
    invalid = (
        """
        import torch

        def build(model):
            named = model.named_parameters()  # error: GS610
            decay = [p for n, p in named if "bias" not in n]
            no_decay = [p for n, p in named if "bias" in n]
            return torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}])
        """,
        """
        import torch

        model = torch.nn.Linear(3, 1)
        params = filter(lambda p: p.requires_grad, model.parameters())  # error: GS610
        print(sum(p.numel() for p in params))
        opt = torch.optim.SGD(params, lr=0.1)
        """,
    )
    valid = (
        """
        import torch

        def build(model, verbose):
            params = list(model.parameters())
            print(sum(p.numel() for p in params))
            named = model.named_parameters()
            if verbose:
                return torch.optim.SGD([p for _, p in named], lr=0.1)
            return torch.optim.Adam(p for _, p in named)

        def count(model):
            params = model.parameters()
            return sum(p.numel() for p in params)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if not isinstance(target, cst.Name):
                continue
            source = _one_shot(model, node.value)
            if source is None:
                continue
            scope = fn.node if fn is not None else model.module
            reads = self._reads(model, scope, target.value, node)
            if reads is None:
                continue
            if self._drained_twice(model, reads, node):
                what = (dotted(source.func) or "parameters") + "()"
                yield Report(node.value, message=self.message.format(name=clip(target.value, 16), source=clip(what, 32)))

    @staticmethod
    def _reads(model: FileModel, scope: cst.CSTNode, name: str, definition: cst.Assign) -> Optional[List[cst.Name]]:
        """The loads of `name` in `scope` after its one binding, or None when it is bound more
        than once, declared global/nonlocal, or read in a nested scope (when is unknown)."""
        reads: List[cst.Name] = []
        own = definition.targets[0].target
        body = scope.body if isinstance(scope, (cst.FunctionDef,)) else scope
        for sub in descendants(body):
            if isinstance(sub, SCOPES) and sub is not scope:
                if any(isinstance(n, cst.Name) and n.value == name for n in descendants(sub)):
                    return None
                continue
            if isinstance(sub, (cst.Global, cst.Nonlocal)):
                if any(n.name.value == name for n in sub.names):
                    return None
            if not isinstance(sub, cst.Name) or sub.value != name or sub is own:
                continue
            parent = model.parent(sub)
            if isinstance(parent, cst.Attribute) and parent.attr is sub:
                continue
            if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.AsName,
                                   cst.NamedExpr, cst.CompFor, cst.Param)):
                if getattr(parent, "iter", None) is not sub and getattr(parent, "value", None) is not sub:
                    return None  # another binding of the name
            if isinstance(parent, (cst.Element, cst.Tuple, cst.List)) and isinstance(model.parent(parent), (cst.AssignTarget, cst.For, cst.CompFor)):
                return None  # bound by unpacking
            reads.append(sub)
        return reads

    @staticmethod
    def _drained_twice(model: FileModel, reads: List[cst.Name], definition: cst.Assign) -> bool:
        consuming = [r for r in reads if _consumed_at(model, r) and order(model, definition, r) == -1]
        for r in consuming:
            if _in_loop_after(model, r, definition):
                return True
        for i, first in enumerate(consuming):
            for second in consuming[i + 1:]:
                if _both_run(model, first, second):
                    return True
        return False
