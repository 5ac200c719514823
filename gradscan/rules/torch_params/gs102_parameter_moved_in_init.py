from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.common import is_parameter_call
from gradscan.rules.torch_params.helpers import local_value
from gradscan.semantics.model import FileModel

_CONVERSIONS = {"to", "cuda", "cpu", "double", "float", "half", "bfloat16", "type"}
# Factories whose result has the default floating dtype (float32 unless the program changes
# it) when no dtype is given: `.float()` of one is a no-op and returns the parameter itself.
_DEFAULT_FLOAT_FACTORIES = {
    "torch.ones", "torch.zeros", "torch.randn", "torch.rand", "torch.empty", "torch.eye",
    "torch.linspace", "torch.logspace", "torch.Tensor", "torch.FloatTensor",
}
_DEFAULT_DTYPE_SETTERS = {"torch.set_default_dtype", "torch.set_default_tensor_type"}


class ParameterMovedInInit(Rule):
    code = "GS102"
    name = "parameter-moved-in-init"
    framework = "torch"
    summary = "`nn.Parameter(t).to(device)` is a plain tensor, not a parameter, whenever a move or cast happens"
    message = "`.{method}()` turns this nn.Parameter into a plain tensor; write nn.Parameter(t.{method}())"
    explanation = (
        "Whenever it really moves or casts, `.to()` (`.cuda()`, `.double()`, ...) of a parameter returns a "
        "non-leaf tensor: the attribute is then not a registered parameter, its .grad stays None and the "
        "optimizer never sees it."
    )
    hint = "move or cast inside: `nn.Parameter(t.to(device))`"
    fix_safety = "safe"
    facts = ("pt26",)
    triggers = ("Parameter",)
    doc = """
    ## What it does
    Flags `self.w = nn.Parameter(t).to(device)` and the same with `.cuda()`, `.cpu()`,
    `.double()`, `.float()`, `.half()`, `.bfloat16()` or `.type(...)` applied after wrapping, in
    a `torch.nn.Module` class, also when the Parameter is first bound to a local
    (`w = nn.Parameter(t); nn.init.xavier_normal_(w); self.w = w.to(dtype)`).

    ## Why it breaks gradients
    A move or cast is a differentiable operation: its result is a new, non-leaf plain `Tensor`
    computed from the parameter. Assigned to `self.w` it is not a parameter, so it is missing
    from `model.parameters()` and `state_dict()`, and its `.grad` stays None (fact pt26). When
    no conversion happens (same device, same dtype) the call returns the parameter itself, so
    the bug hides on CPU-only runs and appears only on the GPU or in another precision.

    `nn.Parameter(t.to(device))`, which converts before wrapping, is not flagged.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self, device):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3)).to(device)
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self, device):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3).to(device))
    ```

    ## References
    - PyTorch docs: `torch.nn.Parameter`, `Tensor.to`
    - gradscan facts: pt26
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, device):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(device)  # error: GS102
                self.b = nn.Parameter(torch.zeros(3)).double()  # error: GS102

            def forward(self, x):
                return x * self.w + self.b
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, device):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3).to(device))
                self.b = nn.Parameter(torch.zeros(3, dtype=torch.float64))

            def forward(self, x):
                return x * self.w + self.b
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            for _attr, value, _node, _method in cls.self_assigns:
                if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
                    continue
                method = value.func.attr.value
                inner = value.func.value
                local = None
                if isinstance(inner, cst.Name):  # `w = nn.Parameter(...); ...; self.w = w.to(dtype)`
                    local = inner
                    inner = local_value(model, model.enclosing_function(value), inner.value)
                if method not in _CONVERSIONS or inner is None or not is_parameter_call(model, inner):
                    continue
                if method == "type" and not value.args:
                    continue  # `.type()` returns the type name
                if method == "float" and self._already_float32(model, inner):
                    continue
                yield Report(value.func.attr, self.message.format(method=method), fix=None if local is not None else self._fix(model, value, inner))

    @staticmethod
    def _already_float32(model: FileModel, param: cst.Call) -> bool:
        """`nn.Parameter(torch.ones(n)).float()`: the data is float32 already, so `.float()`
        returns the parameter itself (the attribute stays registered), unless the file changes
        the default dtype."""
        data = next((a.value for a in param.args if a.keyword is None and not a.star), None)
        if not isinstance(data, cst.Call) or model.callee(data) not in _DEFAULT_FLOAT_FACTORIES:
            return False
        if any(a.keyword is not None and a.keyword.value == "dtype" for a in data.args):
            return False
        return not any(model.callee(call) in _DEFAULT_DTYPE_SETTERS for call, _fn in model.calls)

    @staticmethod
    def _fix(model: FileModel, outer: cst.Call, param: cst.Call):
        """`nn.Parameter(t, rg).to(dev)` -> `nn.Parameter(t.to(dev), rg)`."""
        args = list(param.args)
        index = next((i for i, a in enumerate(args) if a.keyword is None and not a.star), None)
        if index is None:
            index = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "data"), None)
        if index is None or any(a.star for a in args):
            return None
        data = args[index].value
        if not isinstance(data, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            data = data.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        moved = outer.with_changes(func=outer.func.with_changes(value=data))  # its spacing kept
        args[index] = args[index].with_changes(value=moved)
        replacement = param.with_changes(args=args)
        return (outer, replacement, "Convert the tensor before wrapping it in nn.Parameter")
