from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.common import is_parameter_call, is_true
from gradscan.rules.torch_params.helpers import requires_grad_tensor
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import FileModel


class BufferRequiresGrad(Rule):
    code = "GS104"
    name = "buffer-requires-grad"
    framework = "torch"
    summary = "A buffer registered with `requires_grad=True` gets gradients but the optimizer never updates it"
    message = "buffer with requires_grad=True is never updated; use nn.Parameter, or drop requires_grad"
    explanation = (
        "Buffers are not in model.parameters(): backward fills this buffer's .grad, but the optimizer never "
        "updates it."
    )
    hint = "a trainable weight is `self.b = nn.Parameter(t)`; a constant buffer needs no requires_grad"
    facts = ("pt24",)
    triggers = ("register_buffer", "Buffer")
    doc = """
    ## What it does
    Flags `register_buffer(name, t)` and `nn.Buffer(t)` where `t` requires gradients: a tensor
    factory with `requires_grad=True`, one with `.requires_grad_()` applied, or an
    `nn.Parameter` (directly or through a local variable of the same function).

    ## Why it breaks gradients
    Buffers are state, not weights: they are saved in `state_dict()` and moved by `.to()`, but
    `model.parameters()` does not yield them. A buffer that requires grad receives a `.grad`
    from backward, yet an optimizer built from `model.parameters()` never updates it (fact
    pt24): the value the author meant to learn stays at its initial value, silently. Either it
    is a weight (use `nn.Parameter`), or a constant (drop `requires_grad`, which also saves the
    wasted gradient computation).

    Buffers without `requires_grad`, and `nn.Parameter(..., requires_grad=False)`, are not
    flagged.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(3, requires_grad=True))
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
    ```

    ## References
    - PyTorch docs: `Module.register_buffer`, `torch.nn.Buffer`
    - gradscan facts: pt24
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("a", torch.ones(3, requires_grad=True))  # error: GS104
                self.register_buffer("b", torch.zeros(3).requires_grad_())  # error: GS104
                init = nn.Parameter(torch.randn(3))
                self.register_buffer("c", init)  # error: GS104
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("a", torch.ones(3))
                self.register_buffer("b", nn.Parameter(torch.zeros(3), requires_grad=False))
                self.c = nn.Parameter(torch.randn(3))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, owner in model.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "register_buffer":
                tensor = find_argument(call, 1, "tensor")
            elif model.callee(call) == "torch.nn.Buffer":
                tensor = find_argument(call, 0, "data")
            else:
                continue
            if tensor is None:
                continue
            value = tensor if not isinstance(tensor, cst.Name) else model.single_value(owner, tensor.value)
            if value is None:
                continue
            if requires_grad_tensor(model, value):
                yield Report(tensor)
            elif is_parameter_call(model, value):
                flag = find_argument(value, 1, "requires_grad")
                if flag is None or is_true(flag):
                    yield Report(tensor)
