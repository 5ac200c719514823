from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics.model import FileModel

# Methods that return a new tensor computed from the receiver (a non-leaf when it requires grad).
_COMPUTING_METHODS = {
    "to", "cuda", "float", "double", "half", "view", "reshape", "t", "mul", "add", "div",
    "sub", "exp", "log", "abs", "clamp", "expand", "repeat", "transpose", "permute", "squeeze",
    "unsqueeze", "contiguous", "type",
}


class NonLeafWeight(Rule):
    code = "GS110"
    name = "non-leaf-weight"
    framework = "torch"
    summary = "A weight computed from a `requires_grad=True` tensor (`torch.rand(..., requires_grad=True) * 0.01`) is not a leaf: optimizers refuse it and its `.grad` stays None"
    message = "`{name}` is not a leaf (computed from a requires_grad tensor): {effect}"
    explanation = (
        "Only leaf tensors get .grad: `torch.rand(5, 2, requires_grad=True) * 0.01` is the result of a multiplication, so "
        "optimizers raise `can't optimize a non-leaf Tensor` and `.grad` is None after backward."
    )
    hint = "create the leaf after the arithmetic: `(torch.rand(5, 2) * 0.01).requires_grad_()`"
    facts = ("pt43",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags a name bound to arithmetic on (or a copy of) a tensor created with
    `requires_grad=True` (`w = torch.rand(5, 2, requires_grad=True) * 0.01`, `...cuda()`,
    `.view(...)`) when that name is then given to an optimizer or its `.grad` is read; also
    when a function of the file returns such a value (`W1 = init_weight(4, 8)`, reported at
    its `return`), when the weights reach the optimizer in a list
    (`params = [W1, b1]; SGD(params)`) and when a function of the file builds the optimizer
    from the parameter they are passed to (`fit([w, b])` with `SGD(params)` inside `fit`).

    ## Why it breaks gradients
    Autograd fills `.grad` only on leaf tensors. The product of a leaf with a number is a new,
    non-leaf tensor: `torch.optim.SGD([w])` raises `ValueError: can't optimize a non-leaf
    Tensor`, and a hand-written update `w -= lr * w.grad` finds `w.grad` None (with a warning)
    because the gradient went to the hidden leaf the multiplication consumed, which nothing
    keeps (fact pt43). The scaling or the move to the GPU was meant to happen before the
    tensor became a weight.

    ## Example
    ```python
    w = torch.rand(5, 2, requires_grad=True) * 0.01
    opt = torch.optim.SGD([w], lr=0.1)
    ```

    ## Use instead
    ```python
    w = (torch.rand(5, 2) * 0.01).requires_grad_()
    opt = torch.optim.SGD([w], lr=0.1)
    ```

    ## References
    - PyTorch docs: `torch.Tensor.is_leaf`, `torch.Tensor.grad`
    - gradscan facts: pt43
    """
    invalid = (
        """
        import torch

        w = torch.rand(5, 2, requires_grad=True) * 0.01  # error: GS110
        b = torch.zeros(2, requires_grad=True)
        opt = torch.optim.SGD([w, b], lr=0.1)
        """,
        """
        import torch

        def fit(x, y, lr=0.1):
            w = torch.randn(3, 1, requires_grad=True).cuda()  # error: GS110
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
        """,
    )
    valid = (
        """
        import torch

        w = (torch.rand(5, 2) * 0.01).requires_grad_()
        scale = torch.ones(2, requires_grad=True)
        scaled = scale * 2
        opt = torch.optim.SGD([w, scale], lr=0.1)
        print(scaled.sum())
        """,
        """
        import torch

        w = torch.rand(5, 2, requires_grad=True)
        w2 = w * 0.01
        opt = torch.optim.SGD([w], lr=0.1)
        loss = w2.sum()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        reported = set()
        for node, fn in model.assignments:
            if not (isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)):
                continue
            name = node.targets[0].target.value
            if _computed_from_leaf_factory(model, node.value):
                effect = _misuse(model, fn, name, node)
                if effect is not None:
                    yield Report(node.value, self.message.format(name=name, effect=effect))
                continue
            # `W1 = init_weight(4, 8)` where every return of the file's `init_weight` is such a
            # value: the helper's return is the line to change, reported once
            returns = _helper_returns(model, node.value)
            if not returns or id(returns[0]) in reported:
                continue
            effect = _misuse(model, fn, name, node)
            if effect is not None:
                reported.add(id(returns[0]))
                for ret in returns:
                    yield Report(ret.value, self.message.format(name=name, effect=effect))


def _computed_from_leaf_factory(model: FileModel, value: cst.BaseExpression) -> bool:
    """`factory(..., requires_grad=True) * c`, `factory(..., requires_grad=True).cuda()`: a value
    computed from a tensor created as a leaf that requires grad (the value itself is not it)."""
    if isinstance(value, cst.BinaryOperation):
        return _leaf_factory(model, value.left) or _leaf_factory(model, value.right) \
            or _computed_from_leaf_factory(model, value.left) or _computed_from_leaf_factory(model, value.right)
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _COMPUTING_METHODS:
        inner = value.func.value
        return _leaf_factory(model, inner) or _computed_from_leaf_factory(model, inner)
    return False


def _helper_returns(model: FileModel, value: cst.BaseExpression):
    """The returns of the file's function `value` calls (`init_weight(4, 8)`) when every one
    returns a value computed from a requires-grad factory; else None."""
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name)) or model.resolve(value.func) is not None:
        return None
    target = model.module_functions.get(value.func.value)
    if target is None or not target.returns:
        return None
    out = []
    for ret in target.returns:
        if not isinstance(ret, cst.Return) or ret.value is None or model.enclosing_function(ret) is not target:
            return None
        if not _computed_from_leaf_factory(model, ret.value):
            return None
        out.append(ret)
    return out


def _leaf_factory(model: FileModel, expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call) or not (model.callee(expr) or "").startswith("torch."):
        return False
    return any(a.keyword is not None and a.keyword.value == "requires_grad" and isinstance(a.value, cst.Name)
               and a.value.value == "True" for a in expr.args)


def _misuse(model: FileModel, fn, name: str, stmt: cst.CSTNode, depth: int = 0) -> Optional[str]:
    """How the non-leaf is used as a weight later in the same scope: handed to an optimizer
    (it raises), or its `.grad` read (None)."""
    statement = model.enclosing_statement(stmt)
    uses = list(model.flow.later_uses(fn, name, statement))
    if fn is None:  # a module-level weight read as a global by the script's functions
        for f in model.functions:
            loads, stores = model.flow.name_index(f)
            if name not in f.params and not stores.get(name):
                uses.extend(loads.get(name, []))
    for use in uses:
        parent = model.parent(use)
        if isinstance(parent, cst.Attribute) and parent.value is use and parent.attr.value == "grad":
            return "its .grad stays None"
        for anc in model.ancestors(use):
            if isinstance(anc, cst.Call):
                if (model.callee(anc) or "").startswith("torch.optim."):
                    return "the optimizer raises"
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                break
        if _optimized_by_helper(model, use):
            return "the optimizer raises"
        if depth == 0 and isinstance(parent, cst.Element):
            # `params = [W1, b1]` then `SGD(params)`: the list is what the optimizer gets
            holder = model.parent(parent)
            assign = model.parent(holder) if isinstance(holder, (cst.List, cst.Tuple)) else None
            if isinstance(assign, cst.Assign) and assign.value is holder and len(assign.targets) == 1 \
                    and isinstance(assign.targets[0].target, cst.Name):
                effect = _misuse(model, fn, assign.targets[0].target.value, assign, depth=1)
                if effect == "the optimizer raises":
                    return effect
    return None



def _optimized_by_helper(model: FileModel, use: cst.CSTNode) -> bool:
    """`fit([w, b])` or `fit(w)` where the file's function `fit` hands that parameter to a
    `torch.optim` optimizer (the weights reach the optimizer one call away)."""
    node = use
    parent = model.parent(node)
    if isinstance(parent, cst.Element):  # the weight inside a list or tuple literal argument
        node = model.parent(parent)
        if not isinstance(node, (cst.List, cst.Tuple)):
            return False
        parent = model.parent(node)
    if not isinstance(parent, cst.Arg) or parent.value is not node:
        return False
    call = model.parent(parent)
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)) or model.resolve(call.func) is not None:
        return False
    target = model.module_functions.get(call.func.value)
    if target is None:
        return False
    if parent.keyword is not None:
        param = parent.keyword.value
    elif parent.star:
        return False
    else:
        position = [a for a in call.args if a.keyword is None].index(parent)
        positional = [x.name.value for x in (*target.node.params.posonly_params, *target.node.params.params)]
        if position >= len(positional):
            return False
        param = positional[position]
    if param not in target.params:
        return False
    loads, stores = model.flow.name_index(target)
    if stores.get(param):  # rebound inside the helper: not the caller's value any more
        return False
    for load in loads.get(param, []):
        for anc in model.ancestors(load):
            if isinstance(anc, cst.Call) and (model.callee(anc) or "").startswith("torch.optim."):
                return True
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                break
    return False
