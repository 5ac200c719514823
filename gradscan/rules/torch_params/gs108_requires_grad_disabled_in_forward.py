from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.common import (
    CONTAINER, PARAMS, PROJECT, functions_within, is_false, is_parameter_call, module_ctor,
)
from gradscan.rules.torch_params.helpers import forward_reach, in_reach, root_method, rooted_at_self
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.names import dotted

_PARAM_ITERATORS = {"parameters", "named_parameters"}


class RequiresGradDisabledInForward(Rule):
    code = "GS108"
    name = "requires-grad-disabled-in-forward"
    framework = "torch"
    summary = "`requires_grad_(False)` on parameters inside `forward` freezes them for good"
    message = "requires_grad disabled in forward freezes these parameters for good; freeze outside forward"
    explanation = (
        "The flag outlives the call: from the first forward on these weights get no gradient and stop training. "
        "To skip gradients for this computation only, use torch.no_grad() or .detach()."
    )
    hint = "freeze once outside forward, or compute under `torch.no_grad()` / with `.detach()`"
    facts = ("pt16",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `p.requires_grad_(False)` and `p.requires_grad = False` on the module's parameters
    (a loop over `self.<sub>.parameters()`, `self.<param>`, `self.<sub>.weight`, or
    `self.<sub>.requires_grad_(False)` on a submodule) inside `forward`/`__call__` or a method
    or function that forward always calls.

    ## Why it breaks gradients
    `requires_grad` is a property of the parameter, not of one computation: set in forward it
    stays off after the call returns (fact pt16). From the first forward on, those weights are
    left out of the graph, their `.grad` stays None and the optimizer never updates them again,
    silently. The author usually wanted "no gradient through this term", which is
    `torch.no_grad()` or `.detach()`.

    Not flagged: the same statements in `__init__`, in freeze helpers and training scripts
    outside forward, in a forward that turns `requires_grad` back on afterwards (the
    "disable, compute, re-enable" pattern of GAN training), in conditionally called helpers,
    and on tensors that are not parameters of the module.

    ## Example
    ```python
    class Net(nn.Module):
        def forward(self, x):
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            return self.head(self.encoder(x))
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def forward(self, x):
            with torch.no_grad():
                features = self.encoder(x)
            return self.head(features)
    ```

    ## References
    - PyTorch docs: `Tensor.requires_grad_`, "Locally disabling gradient computation"
    - gradscan facts: pt16
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(3, 3)
                self.head = nn.Linear(3, 1)

            def forward(self, x):
                for p in self.encoder.parameters():
                    p.requires_grad_(False)  # error: GS108
                self.head.bias.requires_grad = False  # error: GS108
                return self.head(self.encoder(x))
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(3, 3)
                self.head = nn.Linear(3, 1)
                for p in self.encoder.parameters():
                    p.requires_grad_(False)

            def forward(self, x):
                x = x.detach()
                x.requires_grad = False
                return self.head(self.encoder(x))

        def freeze(model):
            for p in model.parameters():
                p.requires_grad = False
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        from gradscan.semantics.contexts import in_eval_branch

        reach = None
        for node, target, fn_owner in self._disables(model):
            if reach is None:
                reach = forward_reach(model)
            fn = in_reach(model, node, reach)
            if fn is None or in_eval_branch(model, node):
                continue
            cls = reach[fn].cls
            if cls is None or not self._is_parameter(model, cls, target, node, isinstance(node, cst.Call)):
                continue
            if self._restored(model, fn):
                continue
            yield Report(node)

    @staticmethod
    def _disables(model: FileModel):
        for call, owner in model.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" and owner is not None:
                flag = find_argument(call, 0, "requires_grad")
                if flag is not None and is_false(flag):
                    yield call, func.value, owner
        for node, owner in model.assignments:
            if isinstance(node, cst.Assign) and is_false(node.value) and owner is not None:
                for t in node.targets:
                    if isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad":
                        yield node, t.target.value, owner

    @staticmethod
    def _is_parameter(model: FileModel, cls: ClassInfo, target, node, module_ok: bool) -> bool:
        if isinstance(target, cst.Name):
            return _bound_to_self_parameters(model, target.value, node)
        if not rooted_at_self(target):
            return False
        text = dotted(target)
        parts = text.split(".")
        if len(parts) >= 3 and parts[-1] in ("weight", "bias"):
            return True
        if len(parts) == 1:
            return module_ok
        if len(parts) == 2:
            for c in model.class_chain(cls):
                for attr, value, _n, _m in c.self_assigns:
                    if attr != parts[1]:
                        continue
                    if is_parameter_call(model, value):
                        return True
                    ctor = module_ctor(model, value)
                    if module_ok and ctor is not None and ctor[1] in (PARAMS, PROJECT, CONTAINER):
                        return True
        return False

    @staticmethod
    def _restored(model: FileModel, fn: FunctionInfo) -> bool:
        """The same forward turns requires_grad back on (disable, compute, re-enable)."""
        for inner in functions_within(model, fn):
            for call in inner.calls:
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
                    flag = find_argument(call, 0, "requires_grad")
                    if flag is None or not is_false(flag):
                        return True
        for node, owner in model.assignments:
            if root_method(owner) is not fn and owner is not fn:
                continue
            if isinstance(node, cst.Assign) and not is_false(node.value):
                if any(isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad" for t in node.targets):
                    return True
        return False


def _bound_to_self_parameters(model: FileModel, name: str, node) -> bool:
    """`name` is the loop variable of `for name in self.<sub>.parameters()` (or `named_parameters`)."""
    for anc in model.ancestors(node):
        loops = []
        if isinstance(anc, cst.For):
            loops.append((anc.target, anc.iter))
        elif isinstance(anc, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            comp = anc.for_in
            while comp is not None:
                loops.append((comp.target, comp.iter))
                comp = comp.inner_for_in
        for target, it in loops:
            bound = target.value == name if isinstance(target, cst.Name) else (
                isinstance(target, cst.Tuple) and len(target.elements) == 2 and isinstance(target.elements[1].value, cst.Name) and target.elements[1].value.value == name
            )
            if not bound:
                continue
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _PARAM_ITERATORS and rooted_at_self(it.func.value):
                return (it.func.attr.value == "parameters") == isinstance(target, cst.Name)
            return False
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
    return False
