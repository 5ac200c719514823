from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.frameworks.python import NUMBER_TO_NUMBER
from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import PYTHON_CONVERSIONS, GraphRule, first_arg, reach, site, uses_torch
from gradscan.semantics import intent
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted

# Calls that make a tensor from a Python number: the number's value lands in the graph.
NUMBER_TO_TENSOR = {
    "torch.tensor", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor", "torch.full", "torch.full_like",
    "torch.scalar_tensor", "torch.mul", "torch.add", "torch.sub", "torch.div", "torch.pow",
    "torch.exp", "torch.log", "torch.clamp", "torch.where",
}


class PythonNumberInGraph(GraphRule):
    code = "GS205"
    name = "python-number-in-graph"
    summary = "`.item()`, `.tolist()`, `float(t)`, `int(t)` or `math.*` on a graph tensor whose Python value flows back into the output"
    message = "a Python number from a graph tensor reaches the output: no gradient; stay in tensors"
    explanation = (
        "`.item()`, float() or math.* turn a tensor into a Python number: the weights behind it get no gradient "
        "through the value that flows back into the output."
    )
    hint = "stay in tensors: `torch.exp(t)` instead of `math.exp(t)`, `t` instead of `torch.tensor(t.item())`"
    facts = ("pt14", "pt28")
    triggers = (".item()", ".tolist()", " float(", "(float(", "[float(", " int(", "(int(", "[int(", "math.", "from math")
    doc = """
    ## What it does
    Flags `.item()`, `.tolist()`, `float(t)`, `int(t)` and `math.*(t)` applied to a tensor
    computed from the weights (or to a parameter) in a differentiable context, when the Python
    number flows back into a tensor that reaches forward's return value or the loss
    (`torch.tensor(x.item())`, `scale = math.exp(self.log_scale)` then `out * scale`),
    also in a helper or in the forward of a module holding no weights (a Dice or IoU loss
    module) whose callers pass it the model's output.

    ## Why it breaks gradients
    A Python number has no graph. `math.exp(self.log_scale)` returns a float, so
    `self.log_scale` gets `grad is None` while the rest of the model trains (fact pt28);
    `.item()`, `.tolist()` and `float(t)` cut the same way (pt14; only `float(t)` warns).

    Not flagged: `.item()` for logging, metrics and progress bars, numbers used as shapes,
    sizes and indices, and numbers from configuration.

    ## Example
    ```python
    def forward(self, x):
        scale = math.exp(self.log_scale)
        return self.fc(x) * scale
    ```

    ## Use instead
    ```python
    def forward(self, x):
        scale = torch.exp(self.log_scale)
        return self.fc(x) * scale
    ```

    ## References
    - PyTorch docs: `Tensor.item`, `Tensor.tolist`
    - gradscan facts: pt14, pt28
    """
    invalid = (
        """
        import math
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 1)
                self.g = nn.Linear(3, 1)
                self.log_scale = nn.Parameter(torch.tensor(0.0))

            def forward(self, x):
                scale = math.exp(self.log_scale)  # error: GS205
                gate = torch.tensor(self.g(x).mean().item())  # error: GS205
                return self.fc(x) * scale * gate
        """,
    )
    valid = (
        """
        import math
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.fc = nn.Linear(dim, dim)
                self.scale = 1 / math.sqrt(dim)

            def forward(self, x):
                h = self.fc(x)
                n = int(h.shape[0])
                k = int(h.abs().sum().item())
                print(h.mean().item())
                return h[:n].view(n, -1) * self.scale + torch.zeros(k)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        for call, fn in model.calls:
            receiver = self._converted(model, call)
            if receiver is None:
                continue
            where = site(model, call)
            if where is None or not (src.is_live(receiver) or src.fed_from_weights(receiver, helpers_only=True)):
                continue
            trace = reach(model, call, where)
            if trace is None or not self._back_into_tensor(model, src, call, trace):
                continue
            if intent.intentional_cut(model, call, receiver, trace):
                continue
            yield Report(call.func.attr if isinstance(call.func, cst.Attribute) else call.func)

    @staticmethod
    def _converted(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value not in PYTHON_CONVERSIONS and not (isinstance(func.value, cst.Name) and func.value.value == "math"):
            return None
        if isinstance(func, cst.Attribute) and func.attr.value in PYTHON_CONVERSIONS and not call.args:
            return func.value
        if isinstance(func, cst.Name) and func.value in ("float", "int") and model.resolve(func) is None and len(call.args) == 1:
            return call.args[0].value
        name = model.callee(call)
        if name and name.startswith("math.") and call.args:
            return call.args[0].value
        return None

    @staticmethod
    def _back_into_tensor(model: FileModel, src, start: cst.CSTNode, trace: Trace) -> bool:
        """The Python number becomes part of a tensor again: arithmetic with a live tensor or
        a tensor factory taking it as data. Numbers used as sizes, shapes, indices or
        hyperparameters of a call are not gradient paths."""
        for child, parent in intent.trace_steps(model, trace.path):
            if isinstance(parent, cst.BinaryOperation):
                other = parent.right if intent.contains(model, parent.left, child) else parent.left
                if src.is_live(other):
                    return True
                continue
            if isinstance(parent, cst.UnaryOperation):
                continue
            if isinstance(parent, cst.Call):
                name = model.callee(parent)
                text = dotted(parent.func) or ""
                if name in NUMBER_TO_TENSOR:
                    first = first_arg(parent)
                    if first is not None and intent.contains(model, first, child):
                        return True
                    return False
                if (name or "").startswith(("math.", "numpy.")) or (name is None and text in NUMBER_TO_NUMBER):
                    continue  # still a Python (or NumPy) number
                if name is None and text in ("zip", "enumerate", "list", "tuple", "sorted", "reversed"):
                    continue  # Python values iterated: `for a, b in zip(values, values[1:])`
                return False
            if isinstance(parent, (cst.Element, cst.List, cst.Tuple, cst.IfExp)):
                continue
        return False
