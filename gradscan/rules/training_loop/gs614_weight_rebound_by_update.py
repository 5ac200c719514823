from __future__ import annotations

import re
from typing import Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.helpers import SCOPES, order
from gradscan.semantics.arguments import keyword_argument
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

_LOOPS = (cst.For, cst.While)
_GRAD_READ = re.compile(r"\b(\w+)\.grad\b")


def _reads_own_grad(value: cst.BaseExpression, name: str) -> bool:
    """`value` reads `name.grad` (also `name.grad.data`)."""
    return any(isinstance(n, cst.Attribute) and n.attr.value == "grad" and dotted(n.value) == name for n in descendants(value))


def _re_leafs(value: cst.BaseExpression) -> bool:
    """The value is made a leaf that requires grad again: `.requires_grad_()`, `requires_grad=True`, `nn.Parameter(...)`."""
    for n in descendants(value):
        if isinstance(n, cst.Attribute) and n.attr.value in ("requires_grad_", "Parameter"):
            return True
        if isinstance(n, cst.Name) and n.value == "Parameter":
            return True
        if isinstance(n, cst.Arg) and n.keyword is not None and n.keyword.value == "requires_grad":
            return True
    return False


def _grad_leaf(model: FileModel, value) -> bool:
    """A new tensor that requires grad: `torch.zeros(..., requires_grad=True)`,
    `torch.randn(...).requires_grad_()`, `nn.Parameter(...)`."""
    if not isinstance(value, cst.Call):
        return False
    if model.callee(value) in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
        return True
    if isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_":
        args = [a for a in value.args]
        return not args or (isinstance(args[0].value, cst.Name) and args[0].value.value == "True")
    flag = keyword_argument(value, "requires_grad")
    return isinstance(flag, cst.Name) and flag.value == "True" and (model.callee(value) or "").startswith("torch.")


def _loop_over_parameters(model: FileModel, name: str, node: cst.CSTNode) -> Optional[cst.For]:
    for anc in model.ancestors(node):
        if isinstance(anc, SCOPES):
            return None
        if isinstance(anc, cst.For) and any(isinstance(n, cst.Name) and n.value == name for n in descendants(anc.target)):
            it = anc.iter
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in ("parameters", "named_parameters"):
                return anc
            return None
    return None


class WeightReboundByUpdate(Rule):
    code = "GS614"
    name = "weight-rebound-by-update"
    framework = "torch"
    summary = "a hand-written update `w = w - lr * w.grad` makes a new tensor instead of changing the weight: training stops or raises"
    message = "`{name} = ... {name}.grad` makes a new tensor: {effect}; update in place (`-=`)"
    explanation = (
        "`w - lr * w.grad` is a new tensor. Rebinding a loop variable over model.parameters() to it leaves the "
        "parameter untouched; rebinding the weight itself loses the leaf: under no_grad the new w does not require "
        "grad and the next backward raises, without it the new w is not a leaf and its .grad stays None."
    )
    hint = "update in place under `torch.no_grad()`: `w -= lr * w.grad` (or `p.add_(p.grad, alpha=-lr)`), then zero the grad"
    facts = ("pt51",)
    triggers = (".grad",)
    doc = """
    ## What it does
    Flags an assignment `name = <expression of name.grad>` (`w = w - lr * w.grad`,
    `p = p.sub(lr * p.grad)`) that rebinds a weight instead of updating it, in two forms:
    the loop variable of `for p in model.parameters()` (when the new value is not used
    afterwards in the loop body), and a tensor created as a leaf that requires grad in the same
    function or script (`torch.zeros(..., requires_grad=True)`, `nn.Parameter(...)`) and updated
    inside a loop that does not re-create it.

    ## Why it breaks gradients
    Arithmetic makes a new tensor. For a loop variable, rebinding the name leaves the
    parameter the model holds unchanged: training runs and nothing learns. For a hand-made
    weight, the new tensor is no longer the leaf the loss was differentiated for: computed
    under `torch.no_grad()` it does not require grad, so the next `backward()` raises
    `element 0 of tensors does not require grad`; computed outside it, it is a non-leaf whose
    `.grad` stays None (fact pt51).

    Not flagged: in-place updates (`w -= lr * w.grad`, `p.sub_(...)`, `p.data.add_(...)`),
    a rebind that makes a leaf again (`.detach().requires_grad_()`, `requires_grad=True`,
    `nn.Parameter(...)`) or is followed by `requires_grad_()` / `retain_grad()` on the name,
    and functional updates that keep the new value under another name or use it afterwards
    (fast weights in meta-learning).

    ## Example
    ```python
    for p in model.parameters():
        p = p - lr * p.grad
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    ```

    ## References
    - PyTorch docs: "Autograd mechanics" (leaf tensors), `torch.no_grad`
    - gradscan facts: pt51
    """
    invalid = (
        """
        import torch

        def sgd(model, lr):
            with torch.no_grad():
                for p in model.parameters():
                    p = p - lr * p.grad  # error: GS614
        """,
        """
        import torch

        w = torch.zeros(3, requires_grad=True)
        x, y = torch.randn(8, 3), torch.randn(8)
        for _ in range(5):
            ((x @ w - y) ** 2).mean().backward()
            with torch.no_grad():
                w = w - 0.1 * w.grad  # error: GS614
        """,
    )
    valid = (
        """
        import torch

        def sgd(model, lr):
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad

        def fast_weights(model, lr):
            new = []
            for p in model.parameters():
                p = p - lr * p.grad
                new.append(p)
            return new

        w = torch.zeros(3, requires_grad=True)
        for _ in range(5):
            (w.sum() ** 2).backward()
            w = (w - 0.1 * w.grad).detach().requires_grad_()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if ".grad" not in (model.source or ""):
            return
        graded = set(_GRAD_READ.findall(model.source))  # names whose `.grad` the file reads
        if not graded:
            return
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if not isinstance(target, cst.Name):
                continue
            name = target.value
            if name not in graded:
                continue
            if not _reads_own_grad(node.value, name) or _re_leafs(node.value):
                continue
            loop = _loop_over_parameters(model, name, node)
            if loop is not None:
                if not self._used_after(model, loop.body, name, node):
                    yield Report(node, message=self.message.format(name=clip(name, 12), effect="the parameter never changes"))
                continue
            if self._leaf_rebound_in_loop(model, fn, name, node):
                yield Report(node, message=self.message.format(name=clip(name, 12), effect="the next backward loses it"))

    @staticmethod
    def _used_after(model: FileModel, body: cst.CSTNode, name: str, rebind: cst.Assign) -> bool:
        for n in descendants(body):
            if isinstance(n, cst.Name) and n.value == name and n is not rebind.targets[0].target:
                parent = model.parent(n)
                if isinstance(parent, cst.Attribute) and parent.attr is n:
                    continue
                if order(model, rebind, n) == -1:
                    return True
        return False

    @staticmethod
    def _leaf_rebound_in_loop(model: FileModel, fn: Optional[FunctionInfo], name: str, rebind: cst.Assign) -> bool:
        """`name` is created once in this scope as a grad leaf, before a loop that holds
        `rebind` and not the creation; every other binding of it is a rebind of the same kind,
        and nothing makes it a leaf again (`name.requires_grad_()`, `retain_grad()`)."""
        loops: List[cst.CSTNode] = []
        for anc in model.ancestors(rebind):
            if isinstance(anc, SCOPES):
                break
            if isinstance(anc, _LOOPS):
                loops.append(anc)
        if not loops:
            return False
        creation = None
        for node, owner in model.assignments:
            if owner is not fn:
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if not any(isinstance(t, cst.Name) and t.value == name for t in targets):
                if any(t is not None and any(isinstance(n, cst.Name) and n.value == name for n in descendants(t)) for t in targets):
                    return False  # unpacked or stored through: unknown
                continue
            if not isinstance(node, cst.Assign):
                return False
            if _grad_leaf(model, node.value):
                if creation is not None:
                    return False
                creation = node
            elif not (_reads_own_grad(node.value, name) and not _re_leafs(node.value)):
                return False
        if creation is None or order(model, creation, rebind) != -1:
            return False
        if any(creation is n or any(a is loop for a in model.ancestors(creation)) for loop in loops for n in [loop]):
            return False
        calls = fn.calls if fn is not None else [c for c, owner in model.calls if owner is None]
        for call in calls:
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("requires_grad_", "retain_grad") \
                    and dotted(call.func.value) == name:
                return False
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign):
                if any(dotted(t.target) == f"{name}.requires_grad" for t in node.targets):
                    return False
        return True
