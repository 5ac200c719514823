from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, reach, site, uses_torch
from gradscan.semantics import intent
from gradscan.semantics.model import FileModel


class DataInForward(GraphRule):
    code = "GS202"
    name = "data-in-forward"
    summary = "`.data` read of a graph tensor on the way to the output or the loss: a silent cut"
    message = "`.data` value reaches the output: the weights before it get no gradient; use the tensor"
    explanation = "`.data` returns the tensor without its graph, silently: nothing that computed it gets a gradient."
    hint = "use the tensor itself; for a deliberate cut write `.detach()` where it shows"
    facts = ("pt06",)
    triggers = (".data",)
    doc = """
    ## What it does
    Flags reads of `.data` on a value computed from the weights (`self.l1(x).data`,
    `self.weight.data`) in a differentiable context, when the value reaches what forward
    returns or the value `.backward()` is called on.

    ## Why it breaks gradients
    `.data` is the pre-0.4 way to get the raw tensor: it has no `grad_fn` and autograd does not
    track it, so `self.l1(x).data` and `F.linear(h, self.w.data)` silently leave `l1.weight.grad`
    and `w.grad` as None (fact pt06). There is no warning, and unlike `.detach()` in-place
    changes to it are not even checked by the version counter.

    Not flagged: `.data` in `torch.no_grad()` blocks, in weight initialisation, EMA and
    optimizer-like updates (`p.data.mul_(...)`, `p.data.copy_(...)`), writes to `.data`, and
    values only logged or stored.

    ## Example
    ```python
    def forward(self, h):
        return F.linear(h, self.weight.data, self.bias)
    ```

    ## Use instead
    ```python
    def forward(self, h):
        return F.linear(h, self.weight, self.bias)
    ```

    ## References
    - PyTorch docs: "Tensor.data" (legacy), `Tensor.detach`
    - gradscan facts: pt06
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.w = nn.Parameter(torch.randn(1, 3))

            def forward(self, x):
                h = self.l1(x).data  # error: GS202
                return F.linear(h, self.w.data)  # error: GS202
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l1.weight.data.normal_(0, 0.02)

            def forward(self, x):
                with torch.no_grad():
                    self.l1.weight.data.clamp_(-1, 1)
                return self.l1(x)

        def ema_update(ema, model, decay=0.999):
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.data.mul_(decay).add_(p.data, alpha=1 - decay)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        for attr, fn in model.attributes:
            if attr.attr.value != "data" or self._written(model, attr):
                continue
            receiver = attr.value
            where = site(model, attr)
            if where is None or not src.is_live(receiver):
                continue
            if self._rewrapped(model, attr) or self._fixed_by_gs206(model, attr) or self._after_backward(model, attr, receiver):
                continue
            trace = reach(model, attr, where)
            if trace is None or intent.intentional_cut(model, attr, receiver, trace):
                continue
            yield Report(attr.attr)

    @staticmethod
    def _written(model: FileModel, attr: cst.Attribute) -> bool:
        parent = model.parent(attr)
        if isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is attr):
            return True
        if isinstance(parent, cst.Subscript):
            gp = model.parent(parent)
            if isinstance(gp, cst.AssignTarget) or (isinstance(gp, cst.AugAssign) and gp.target is parent):
                return True
        if isinstance(parent, cst.Attribute) and parent.value is attr:
            method = parent.attr.value
            if method.endswith("_") and not method.startswith("_"):
                return True  # p.data.mul_(...), p.data.copy_(...)
        return False
