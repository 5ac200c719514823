from __future__ import annotations

import weakref
from typing import Iterator, List, Optional

import libcst as cst

from gradscan.frameworks import names
from gradscan.frameworks import torch as torch_api
from gradscan.rules.base import Report, Rule
from gradscan.semantics.model import FileModel, FunctionInfo

REWRAPS = names(torch_api.REWRAP_FUNCTIONS) - {"torch.nn.Parameter"}
# Reductions and casts that keep "data stays data": `torch.tensor(losses).mean()`.
_KEEPS = {"mean", "sum", "float", "double", "to", "cpu", "cuda", "squeeze", "reshape", "view", "clone", "abs", "sqrt", "exp", "log"}


class BackwardOfData(Rule):
    code = "GS208"
    name = "backward-of-data"
    framework = "torch"
    summary = "`.backward()` of a tensor built from data (`torch.tensor(losses)`): it raises, the graph was cut where the values were taken out"
    message = "`.backward()` of a tensor built from data raises; combine the loss tensors themselves"
    explanation = (
        "A tensor rebuilt from Python numbers or NumPy has no graph: `.backward()` raises 'element 0 of tensors "
        "does not require grad'. torch.stack(losses) keeps the graph."
    )
    hint = "combine the loss tensors themselves: torch.stack(losses).mean()"
    facts = ("pt37",)
    triggers = ("backward",)
    doc = """
    ## What it does
    Flags `torch.tensor(...)` / `torch.as_tensor(...)` / `torch.from_numpy(...)` whose result,
    through reductions and arithmetic with numbers only, is the tensor `.backward()` is called
    on: a loss rebuilt from a list of floats (`losses.append(loss.item())` then
    `torch.tensor(losses).mean().backward()`). A name bound several times in the function is
    followed to the binding that reaches the backward: the last one before it, in a block
    around it (one of several loops that each build their own `loss`); a binding inside a
    branch or outside a loop around the backward is not followed.

    ## Why it breaks gradients
    A tensor made by `torch.tensor(...)` is a new leaf with no history: the values were taken
    out of the graph (by `.item()`, `.tolist()`, `.numpy()`) before they were put back.
    `.backward()` on it raises `RuntimeError: element 0 of tensors does not require grad and
    does not have a grad_fn` (fact pt37). Making it pass with `requires_grad=True` hides the cut
    (GS206): no weight would get a gradient.

    ## Example
    ```python
    losses = [criterion(model(x), y).item() for x, y in batches]
    loss = torch.tensor(losses).mean()
    loss.backward()
    ```

    ## Use instead
    ```python
    losses = [criterion(model(x), y) for x, y in batches]
    loss = torch.stack(losses).mean()
    loss.backward()
    ```

    ## References
    - PyTorch docs: `torch.tensor` ("always copies data ... constructs a leaf")
    """
    invalid = (
        """
        import torch

        def train_step(model, batches, criterion, opt):
            losses = []
            for x, y in batches:
                losses.append(criterion(model(x), y).item())
            loss = torch.tensor(losses).mean()  # error: GS208
            opt.zero_grad()
            loss.backward()
            opt.step()
        """,
    )
    valid = (
        """
        import torch

        def train_step(model, batches, criterion, opt):
            losses = [criterion(model(x), y) for x, y in batches]
            loss = torch.stack(losses).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            history = torch.tensor([l.item() for l in losses]).mean()
        """,
        """
        import torch

        def step(model, x, y, opt):
            weights = torch.tensor([1.0, 2.0])
            loss = (weights * (model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, fn in model.calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "backward"):
                continue
            sites: List[cst.Call] = []
            if _only_data(model, func.value, fn, sites, 0) and sites:
                yield from (Report(s) for s in sites)


def _only_data(model: FileModel, expr: cst.BaseExpression, fn: Optional[FunctionInfo], sites: List[cst.Call], depth: int) -> bool:
    """The value is built only from `torch.tensor(...)`-like calls and numbers (collected in
    `sites`); False as soon as any part is something else or cannot be told."""
    if depth > 8:
        return False
    t = type(expr)
    if t in (cst.Integer, cst.Float):
        return True
    if t is cst.BinaryOperation:
        return _only_data(model, expr.left, fn, sites, depth + 1) and _only_data(model, expr.right, fn, sites, depth + 1)
    if t is cst.UnaryOperation:
        return _only_data(model, expr.expression, fn, sites, depth + 1)
    if t is cst.Call:
        if model.callee(expr) in REWRAPS:
            if any(a.keyword is not None and a.keyword.value == "requires_grad" for a in expr.args):
                return False  # GS206's case: the requires_grad hack
            if any(model.sources.walk.is_live(a.value) for a in expr.args):
                return False  # GS204's case: a graph tensor re-wrapped (`torch.tensor([l1, l2])`)
            sites.append(expr)
            return True
        func = expr.func
        if isinstance(func, cst.Name) and func.value in ("len", "float", "int") and model.callee(expr) is None:
            return True  # a Python number: `torch.tensor(losses).sum() / len(losses)`
        if isinstance(func, cst.Attribute) and func.attr.value in _KEEPS:
            return _only_data(model, func.value, fn, sites, depth + 1)
        return False
    if t is cst.Name:
        value = _single_value(model, expr, fn) or _reaching_value(model, expr, fn)
        return value is not None and _only_data(model, value, fn, sites, depth + 1)
    return False


def _single_value(model: FileModel, name: cst.Name, fn: Optional[FunctionInfo]) -> Optional[cst.BaseExpression]:
    """The one value assigned to `name` in its function (or at module level): None when the name
    is assigned more than once, augmented, a parameter, or bound any other way."""
    values = []
    for node, owner in model.assignments:
        if owner is not fn:
            continue
        if isinstance(node, cst.Assign):
            if any(isinstance(t.target, cst.Name) and t.target.value == name.value for t in node.targets):
                values.append(node.value)
            elif any(isinstance(t.target, (cst.Tuple, cst.List)) for t in node.targets):
                if any(isinstance(e.value, cst.Name) and e.value.value == name.value for t in node.targets
                       if isinstance(t.target, (cst.Tuple, cst.List)) for e in t.target.elements):
                    return None
        elif isinstance(node.target, cst.Name) and node.target.value == name.value:
            return None  # `loss += ...`, `loss: T = ...`
    if fn is not None and name.value in fn.params:
        return None
    return values[0] if len(values) == 1 else None


# Source-order position of every node, per file model (built once, on the first name it is asked for).
_INDEX: "weakref.WeakKeyDictionary[FileModel, dict]" = weakref.WeakKeyDictionary()


def _reaching_value(model: FileModel, name: cst.Name, fn: Optional[FunctionInfo]) -> Optional[cst.BaseExpression]:
    """The value of the last `name = ...` before this use, when that assignment sits in a block
    around the use (so it runs on every path to it) and nothing rebinds `name` in between: one
    of several loops that each build their own `loss`."""
    if fn is not None and name.value in fn.params:
        return None
    index = _INDEX.get(model)
    if index is None:
        index = _INDEX[model] = {id(n): i for i, n in enumerate(model.nodes)}
    at = index.get(id(name))
    if at is None:
        return None
    last = None
    for node, owner in model.assignments:
        if owner is not fn:
            continue
        pos = index.get(id(node))
        if pos is None or pos >= at:
            continue
        if isinstance(node, cst.Assign):
            if any(isinstance(t.target, cst.Name) and t.target.value == name.value for t in node.targets):
                if last is None or pos > last[0]:
                    last = (pos, node)
            elif any(isinstance(t.target, (cst.Tuple, cst.List)) and any(
                    isinstance(e.value, cst.Name) and e.value.value == name.value for e in t.target.elements)
                    for t in node.targets):
                return None
        elif isinstance(getattr(node, "target", None), cst.Name) and node.target.value == name.value:
            return None  # `loss += ...` somewhere before: keep out
    if last is None:
        return None
    stmt = model.parent(last[1])
    block = model.parent(stmt) if stmt is not None else None
    if block is None or not any(anc is block for anc in model.ancestors(name)):
        return None
    # no loop around the use that the assignment is outside of could bring another value in
    for anc in model.ancestors(name):
        if anc is block:
            break
        if isinstance(anc, (cst.For, cst.While)):
            return None
    return last[1].value
