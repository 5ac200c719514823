from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, requires_grad_fixes, uses_torch
from gradscan.semantics.model import FileModel


class RequiresGradOnLoss(GraphRule):
    code = "GS206"
    name = "requires-grad-on-loss"
    summary = "`loss.requires_grad = True` (or `requires_grad_()`, `torch.tensor(loss, requires_grad=True)`) on the value that is backpropagated hides a broken graph"
    message = "requires_grad set on the loss hides a broken graph; find and remove the cut upstream"
    explanation = (
        "Backward then runs without an error, but no weight gets a gradient: the graph was already cut before "
        "the loss (a detach, .data, no_grad or .item())."
    )
    hint = "find the cut upstream (detach, .data, no_grad, .item()) and remove it instead"
    facts = ("pt12",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `loss.requires_grad = True`, `loss.requires_grad_()`,
    `loss = torch.tensor(loss, requires_grad=True)` and `Variable(loss, requires_grad=True)` on
    the value that is later `.backward()`ed (directly, or after sums and scaling). The
    re-wrap counts under a reduction or view too, `torch.tensor(batch_losses,
    requires_grad=True).mean()`: that fresh leaf is never named, so its gradient cannot be
    read and the flag only silences the error. A loss helper or a loss module's forward that
    sets the flag on (or re-wraps) the value it computed from its inputs and returns it counts
    when a caller backpropagates what it returns (`mean_losses.requires_grad = True; return
    mean_losses`, `return Variable(loss, requires_grad=True)`); a constant zero returned for an
    empty batch (`torch.zeros(1)` made a leaf) does not.

    ## Why it breaks gradients
    It is the usual "fix" for `RuntimeError: element 0 of tensors does not require grad and
    does not have a grad_fn`: the error goes away because the loss becomes a fresh leaf, and
    backward then computes the gradient of that leaf alone. No weight gets a gradient and
    nothing trains, silently (fact pt12). On a healthy loss, setting the flag raises "you can
    only change requires_grad flags of leaf variables". The real bug is upstream: a
    `detach()`, `.data`, `no_grad`, `.item()` or re-wrapped tensor (GS201 to GS205).

    Not flagged: `x.requires_grad_()` on input data for saliency maps or adversarial examples
    (the value is differentiated with respect to, not backpropagated from), a named leaf
    `w = torch.tensor(init, requires_grad=True)` that is fitted (also behind `.to(device)`,
    which may return the leaf itself), and `torch.tensor(base, requires_grad=True).add(loss)`
    (the live loss brings its own gradient).

    ## Example
    ```python
    loss = criterion(out, y)
    loss.requires_grad = True
    loss.backward()
    ```

    ## Use instead
    ```python
    loss = criterion(out, y)  # with `out` computed without detach()/no_grad
    loss.backward()
    ```

    ## References
    - PyTorch docs: "Autograd mechanics: setting requires_grad"
    - gradscan facts: pt12
    """
    invalid = (
        """
        import torch

        def train(model, x, y, crit, opt):
            out = model(x).argmax(-1).float()
            loss = crit(out, y)
            loss.requires_grad = True  # error: GS206
            loss.backward()
            opt.step()

        def train2(model, x, y, crit):
            loss = torch.tensor(crit(model(x), y).item(), requires_grad=True)  # error: GS206
            loss.backward()

        def train_epoch(model, batches, crit, opt):
            losses = []
            for x, y in batches:
                losses.append(crit(model(x), y).item())
            epoch_loss = torch.tensor(losses, requires_grad=True).mean()  # error: GS206
            epoch_loss.backward()
            opt.step()
        """,
    )
    valid = (
        """
        import torch

        def saliency(model, x, label):
            x = x.clone().requires_grad_()
            score = model(x)[0, label]
            score.backward()
            return x.grad.abs()

        def accumulate(model, batches, crit):
            total = torch.zeros(1, requires_grad=True)
            for x, y in batches:
                total = total + crit(model(x), y)
            total.backward()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        for node, _name, _stmt in requires_grad_fixes(model):
            if isinstance(node, cst.Call):
                func = node.func
                yield Report(func.attr if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" else node)
            else:
                yield Report(node)
