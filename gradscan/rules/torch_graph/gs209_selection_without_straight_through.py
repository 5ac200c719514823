from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, reach, site, uses_torch
from gradscan.semantics import intent
from gradscan.semantics.model import FileModel, FunctionInfo

# Index ops whose result has no gradient (pt35): the rows they select carry none back to the
# values the distances were computed from.
_SELECTORS = {"argmin", "argmax"}


class SelectionWithoutStraightThrough(GraphRule):
    code = "GS209"
    name = "selection-without-straight-through"
    summary = "rows picked by `argmin`/`argmax` of distances to an input (a VQ codebook lookup) reach the output, and the input reaches it by no other path: the encoder before it gets no gradient"
    message = "argmin selection reaches the output with no straight-through path for the input; return `z + (q - z).detach()`"
    explanation = (
        "The index from argmin/argmax has no gradient: the selected codebook rows do not depend on the input "
        "differentiably, so the encoder that produced it gets no gradient from the output."
    )
    hint = "copy the output's gradient to the input: `q = z + (q - z).detach()` (straight-through estimator)"
    facts = ("pt39",)
    triggers = ("argmin", "argmax")
    doc = """
    ## What it does
    Flags `argmin`/`argmax` (method or `torch.` function) over values computed from an input
    of the function (the distances between a latent `z` and a codebook), when the rows it
    selects reach forward's output or the loss, callers in the file pass that input a value
    computed from the weights (`self.vq(self.encoder(x))`), and no use of the input reaches
    the output by a differentiable path.

    ## Why it breaks gradients
    An index has no gradient (fact pt35), so `codebook(idx)` depends on the codebook only: the
    decoder's gradient reaches the codebook rows and stops there. The encoder that produced `z`
    gets `grad is None` from the reconstruction loss and never trains (fact pt39). A VQ-VAE
    copies the gradient across with the straight-through estimator `z + (q - z).detach()`.

    Not flagged: the straight-through form, quantizers whose input also reaches the output
    another way (a commitment term on the live `z`), codebooks updated by EMA with a
    straight-through output, quantization of raw inputs (k-means tokens of data: nothing
    upstream trains), and code outside training (inference, `no_grad`).

    ## Example
    ```python
    def forward(self, z):
        idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)
        q = self.codebook(idx)
        return q, F.mse_loss(q, z.detach())
    ```

    ## Use instead
    ```python
    def forward(self, z):
        idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)
        q = self.codebook(idx)
        loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), loss
    ```

    ## References
    - van den Oord et al., "Neural Discrete Representation Learning" (2017), the straight-through gradient
    - PyTorch docs: `torch.argmin`
    - gradscan facts: pt35, pt39
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Quantizer(nn.Module):
            def __init__(self):
                super().__init__()
                self.codebook = nn.Embedding(16, 4)

            def forward(self, z):
                idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)  # error: GS209
                q = self.codebook(idx)
                return q, F.mse_loss(q, z.detach())

        class AutoEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(8, 4)
                self.vq = Quantizer()
                self.dec = nn.Linear(4, 8)

            def forward(self, x):
                q, vq_loss = self.vq(self.enc(x))
                return self.dec(q), vq_loss
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Quantizer(nn.Module):
            def __init__(self):
                super().__init__()
                self.codebook = nn.Embedding(16, 4)

            def forward(self, z):
                idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)
                q = self.codebook(idx)
                loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
                return z + (q - z).detach(), loss

        class AutoEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(8, 4)
                self.vq = Quantizer()
                self.dec = nn.Linear(4, 8)

            def forward(self, x):
                q, vq_loss = self.vq(self.enc(x))
                return self.dec(q), vq_loss
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        for call, fn in model.calls:
            scores = self._selected_from(model, call)
            if scores is None or fn is None:
                continue
            where = site(model, call)
            if where is None:
                continue
            inputs = self._trained_inputs(model, src, scores, fn)
            if not inputs:
                continue
            trace = reach(model, call, where)
            if trace is None or not self._rows_looked_up(model, src, call, trace):
                continue  # the indices themselves are the output (a tokenizer's codes)
            if any(self._input_reaches(model, fn, name) for name in inputs):
                continue  # straight-through, or a commitment term on the live input
            yield Report(call.func.attr if isinstance(call.func, cst.Attribute) else call.func)

    @staticmethod
    def _selected_from(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
        """The scores an index is taken from: `d.argmin(...)`, `torch.argmin(d, ...)`."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SELECTORS and model.callee(call) is None:
            return func.value
        if model.callee(call) in ("torch.argmin", "torch.argmax") and call.args:
            return call.args[0].value
        return None

    @staticmethod
    def _rows_looked_up(model: FileModel, src, call: cst.Call, trace) -> bool:
        """On the way to the output the index selects rows of something with weights: a module
        called on it (`self.codebook(idx)`), a live tensor indexed by it (`self.weight[idx]`), or
        a call combining it with a live value (`F.embedding(idx, w)`, `one_hot(idx) @ codebook`)."""
        for child, parent in intent.trace_steps(model, trace.path):
            if isinstance(parent, cst.Call) and parent.func is not child:
                if src.is_module_object(parent.func) or any(src.is_live(o) for o in intent.co_operands(model, parent, child)):
                    return True
            elif isinstance(parent, cst.Subscript) and parent.value is not child and src.is_live(parent.value):
                return True
            elif isinstance(parent, cst.BinaryOperation) and any(src.is_live(o) for o in intent.co_operands(model, parent, child)):
                return True
        return False

    @staticmethod
    def _trained_inputs(model: FileModel, src, scores: cst.BaseExpression, fn: FunctionInfo) -> List[str]:
        """The function's parameters the scores derive from that callers feed from weights."""
        roots = src.roots(scores)
        params = sorted(r[len("param:"):] for r in roots if r.startswith("param:"))
        return [p for p in params if src.caller_weights(fn, p)]

    @staticmethod
    def _input_reaches(model: FileModel, fn: FunctionInfo, name: str) -> bool:
        """Does some read of the parameter reach the output (other than through the index)?
        Unsure (the walk was cut short): True, the silent side."""
        flow = model.flow
        uses, _stores = flow.name_index(fn)
        for use in uses.get(name, []):
            before = flow.incomplete
            if flow.reaches_output(use, module_level=True) is not None or flow.incomplete != before:
                return True
        return False
