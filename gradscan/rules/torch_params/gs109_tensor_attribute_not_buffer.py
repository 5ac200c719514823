from __future__ import annotations

from typing import Dict, Iterator, Set

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import init_methods, is_self
from gradscan.rules.torch_params.helpers import (
    TENSOR_FACTORIES, factory_call, forward_reach, in_reach, requires_grad_set_later, requires_grad_tensor,
)
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.model import ClassInfo, FileModel
from gradscan.semantics.names import dotted

_DEVICE_SAFE_READS = {"requires_grad_", "requires_grad", "grad", "is_cuda", "to", "cuda", "type_as", "device", "dtype", "shape", "size", "numel", "dim", "ndim", "item", "tolist", "cpu", "numpy", "__len__"}
_STATE_OVERRIDES = {"_apply", "to", "cuda", "state_dict", "_save_to_state_dict", "_load_from_state_dict", "load_state_dict", "__setstate__"}


class TensorAttributeNotBuffer(Rule):
    code = "GS109"
    name = "tensor-attribute-not-buffer"
    framework = "torch"
    summary = "A plain tensor attribute read in forward is not moved by `.to()` nor saved in `state_dict` (off by default)"
    message = "tensor attribute `{attr}` is not a buffer, so .to() misses it; use self.register_buffer"
    explanation = (
        "A plain tensor attribute read in forward is left behind by model.to(device) and not saved by "
        "state_dict(); a buffer (persistent=False to keep it out of checkpoints) moves with the module."
    )
    hint = "`self.register_buffer(\"c\", torch.zeros(3))` (persistent=False to keep it out of checkpoints)"
    facts = ("pt02",)
    default_enabled = False
    triggers = ("torch",)
    doc = """
    ## What it does
    Flags `self.c = torch.zeros(...)` (any tensor factory, without `requires_grad`) assigned in
    `__init__` or a helper it calls, in a `torch.nn.Module` class, when `forward` (or a method
    it always calls) reads `self.c` as a tensor. Off by default: enable it with
    `--select GS109` or `extend-select = ["GS109"]`.

    ## Why it breaks gradients
    It does not: gradients to the other parameters are unaffected (fact pt02). It is a device
    and checkpoint bug, which is why it is off by default in a gradient checker. A plain
    tensor attribute is not a buffer: `model.to(device)` does not move it, so the first forward
    on the GPU fails with "Expected all tensors to be on the same device", and
    `state_dict()` does not save it, so a loaded model silently uses the value from
    `__init__`.

    Not flagged: `register_buffer`; `requires_grad=True` tensors (GS101); Python numbers and
    0-dim tensors such as `torch.tensor(0.5)`, which PyTorch combines with tensors on any
    device; reads that move or inspect the tensor (`self.c.to(x.device)`, `self.c.shape`);
    attributes reassigned outside `__init__`; classes that override `_apply`, `to` or the
    state-dict methods.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.mean = torch.zeros(3)

        def forward(self, x):
            return x - self.mean
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.zeros(3))

        def forward(self, x):
            return x - self.mean
    ```

    ## References
    - PyTorch docs: `Module.register_buffer`
    - gradscan facts: pt02
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)  # error: GS109

            def forward(self, x):
                return x - self.mean
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.zeros(3))
                self.eps = torch.tensor(1e-5)
                self.std = torch.ones(3)
                self.scale = 2.0

            def forward(self, x):
                return (x - self.mean) / (self.std.to(x.device) + self.eps) * self.scale
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        reach = None
        for cls in model.class_list:
            if not cls.is_torch or any(m in c.methods for c in model.class_chain(cls) for m in _STATE_OVERRIDES):
                continue
            init = init_methods(model, cls)
            candidates: Dict[str, cst.BaseExpression] = {}
            trained = requires_grad_set_later(model, cls)  # GS101's: a weight, not a buffer
            for attr, value, _node, method in cls.self_assigns:
                fn = cls.methods.get(method)
                if fn in init and attr not in trained and self._plain_tensor(model, value):
                    candidates[attr] = value
            if not candidates:
                continue
            for c in model.class_chain(cls):
                for attr, _value, _node, method in c.self_assigns:
                    if attr in candidates and c.methods.get(method) not in init:
                        candidates.pop(attr)
                for fn in c.methods.values():
                    for call in fn.calls:
                        if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("register_buffer", "register_parameter") and call.args and isinstance(call.args[0].value, cst.SimpleString):
                            candidates.pop(call.args[0].value.value[1:-1], None)
            if not candidates:
                continue
            if reach is None:
                reach = forward_reach(model)
            read = self._unsafe_reads(model, cls, set(candidates), reach)
            for attr, value in candidates.items():
                if attr in read:
                    yield Report(value, self.message.format(attr=clip(attr)))

    @staticmethod
    def _plain_tensor(model: FileModel, value) -> bool:
        if requires_grad_tensor(model, value):
            return False
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and model.callee(value) not in TENSOR_FACTORIES:
            if value.func.attr.value in ("item", "tolist", "numpy", "size", "dim", "numel", "requires_grad_", "data_ptr", "__len__"):
                return False
            value = value.func.value  # `torch.ones(n, n).triu()`
        inner = factory_call(model, value)
        if inner is None or requires_grad_tensor(model, value):
            return False
        name = model.callee(inner)
        if name in ("torch.tensor", "torch.as_tensor"):
            data = find_argument(inner, 0, "data")
            return isinstance(data, (cst.List, cst.Tuple, cst.ListComp))
        return True

    @staticmethod
    def _unsafe_reads(model: FileModel, cls: ClassInfo, attrs: Set[str], reach) -> Set[str]:
        out: Set[str] = set()
        for node, fn in model.attributes:
            if fn is None or node.attr.value not in attrs or not is_self(node.value):
                continue
            top = in_reach(model, node, reach)
            if top is None or reach[top].cls is None or cls not in list(model.class_chain(reach[top].cls)):
                continue
            parent = model.parent(node)
            if isinstance(parent, cst.AssignTarget):
                continue
            if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _DEVICE_SAFE_READS:
                continue
            if isinstance(parent, cst.Arg):
                call = model.parent(parent)
                if isinstance(call, cst.Call) and (keyword_argument(call, "device") is not None or dotted(call.func) in ("len", "isinstance", "print")):
                    continue
            out.add(node.attr.value)
        return out
