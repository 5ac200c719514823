"""GS1xx: PyTorch weights that are never registered, never used, or recreated on every call."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics.model import FileModel

TENSOR_FACTORIES = {
    "torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.full", "torch.tensor",
    "torch.Tensor", "torch.FloatTensor", "torch.DoubleTensor", "torch.arange", "torch.linspace", "torch.eye",
    "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like", "torch.empty_like",
    "torch.full_like", "torch.normal", "torch.randint", "torch.logspace", "torch.as_tensor", "torch.from_numpy",
}


def _kwarg(call: cst.Call, name: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _is_true(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def is_tensor_factory(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`torch.zeros(...)`, possibly followed by `.clone()`, `.to(...)`, `.float()`."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("clone", "to", "float", "double", "cuda", "contiguous"):
        expr = expr.func.value
    return isinstance(expr, cst.Call) and model.callee(expr) in TENSOR_FACTORIES


class TensorAttributeRequiresGrad(Rule):
    code = "GS101"
    name = "tensor-attribute-requires-grad"
    framework = "torch"
    summary = "A `requires_grad=True` tensor stored on a module is not a parameter: the optimizer never sees it"
    message = "tensor with requires_grad=True assigned to a module attribute is not registered as a parameter; wrap it in nn.Parameter(...)"
    hint = "use `self.w = nn.Parameter(torch.randn(...))`"
    facts = ("pt01",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `self.x = torch.randn(..., requires_grad=True)` (or any tensor factory, or
    `.requires_grad_()` on one) inside a `torch.nn.Module` class.

    ## Why it breaks gradients
    A plain tensor attribute is not registered: it is missing from `model.parameters()`,
    `state_dict()` and `model.to(device)`. Backward does fill its `.grad`, but an optimizer built
    from `model.parameters()` never updates it, so the weight keeps its initial value while the
    loss moves. If it is the module's only weight the optimizer raises "optimizer got an empty
    parameter list" (fact pt01).

    ## Example
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.randn(3, requires_grad=True)
    ```

    ## Use instead
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3))
    ```

    ## References
    - PyTorch docs: `torch.nn.Parameter`, `Module.register_parameter`
    - gradscan facts: pt01
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)  # error: GS101
                self.b = torch.zeros(3).requires_grad_()  # error: GS101

            def forward(self, x):
                return x * self.w + self.b
        """,
    )
    valid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3))
                self.register_buffer("c", torch.zeros(3))

        class NotAModule:
            def __init__(self):
                self.w = torch.randn(3, requires_grad=True)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            for attr, value, node, method in cls.self_assigns:
                if self._requires_grad_tensor(model, value):
                    yield Report(value)

    @staticmethod
    def _requires_grad_tensor(model: FileModel, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_":
            flag = value.args[0].value if value.args else None
            return (flag is None or _is_true(flag)) and is_tensor_factory(model, value.func.value)
        if is_tensor_factory(model, value):
            inner = value
            while isinstance(inner, cst.Call) and model.callee(inner) not in TENSOR_FACTORIES:
                inner = inner.func.value
            return _is_true(_kwarg(inner, "requires_grad"))
        return False


class RequireGradTypo(Rule):
    code = "GS107"
    name = "require-grad-typo"
    framework = "torch"
    summary = "`.require_grad = ...` is a typo for `requires_grad`: the freeze never happens"
    message = "`require_grad` is a typo for `requires_grad`: this creates a new attribute and the tensor's gradient setting is unchanged"
    hint = "write `requires_grad`"
    facts = ()
    triggers = ("require_grad",)
    doc = """
    ## What it does
    Flags assignments to an attribute named `require_grad` (without the `s`).

    ## Why it breaks gradients
    Tensors and parameters accept arbitrary new attributes, so `p.require_grad = False` raises
    nothing: it stores a new, meaningless attribute. `p.requires_grad` stays True and the layer
    you meant to freeze keeps training (or the one you meant to unfreeze stays frozen). Proved
    by the project's oracle test for GS107.

    ## Example
    ```python
    for p in model.encoder.parameters():
        p.require_grad = False
    ```

    ## Use instead
    ```python
    for p in model.encoder.parameters():
        p.requires_grad = False
    ```

    ## References
    - TorchFix TOR002 (the same check, before TorchFix was archived)
    - PyTorch docs: `Tensor.requires_grad`
    """
    invalid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.require_grad = False  # error: GS107
        """,
    )
    valid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.requires_grad = False
            flags = {"require_grad": False}
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, _fn in model.assignments:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                if isinstance(target, cst.Attribute) and target.attr.value == "require_grad":
                    yield Report(target.attr)
