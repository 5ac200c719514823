from __future__ import annotations

from typing import Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.helpers import calls_in, is_optimizer, method_name
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Methods of a module that return the module itself (the copy keeps its identity through them).
_SELF_RETURNING = {"train", "eval", "to", "cuda", "cpu", "float", "double", "half", "bfloat16", "requires_grad_", "type"}


def _deepcopy_under(model: FileModel, expr) -> Optional[cst.Call]:
    """The `copy.deepcopy(...)` call `expr` is, through `.train()` / `.to(device)` chains."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SELF_RETURNING:
        expr = expr.func.value
    if isinstance(expr, cst.Call) and model.callee(expr) == "copy.deepcopy":
        return expr
    return None


def _param_receivers(call: cst.Call) -> List[cst.Call]:
    """Every `X.parameters()` / `X.named_parameters()` call in an optimizer's arguments."""
    return [inner for arg in call.args for inner in calls_in(arg.value)
            if method_name(inner) in ("parameters", "named_parameters") and isinstance(inner.func, cst.Attribute)]


class OptimizerOverUnusedCopy(Rule):
    code = "GS605"
    name = "optimizer-over-unused-copy"
    framework = "torch"
    summary = "an optimizer built over the parameters of a deep copy of the model that nothing runs: it steps weights no loss reaches"
    message = "optimizer `{opt}` holds the parameters of `{copy}`, a deep copy nothing runs; use the trained model"
    explanation = (
        "copy.deepcopy makes new parameter objects. The loss is computed with the original model, so the copy's "
        "parameters get no .grad and the optimizer steps nothing, while the original is never updated."
    )
    hint = "build the optimizer over the parameters of the model the loss is computed with"
    facts = ("pt40",)
    triggers = ("deepcopy",)
    doc = """
    ## What it does
    Flags an optimizer built over the parameters of a `copy.deepcopy(...)` of a model
    (`torch.optim.SGD(copy.deepcopy(model).parameters())`, or a local name assigned the copy,
    also through `.train()` / `.to(device)`) when the function uses the copy for nothing else:
    it is not called, returned, stored, or handed to other code.

    ## Why it breaks gradients
    `copy.deepcopy` of a module creates new parameter objects. An optimizer holds the objects it
    was given: the copy's. Nothing computes a loss with the copy, so its parameters never get
    a `.grad` and `step()` skips them; the model the loop does run gets its gradients filled
    and is never updated. Training runs, the loss does not move, and nothing warns (fact pt40).

    Not flagged: a copy that is run, returned or stored (a teacher or EMA network, a student
    trained on its own, a snapshot of the best model), and optimizers over the original model
    beside a copy.

    ## Example
    ```python
    def make_optimizer(model, lr):
        trainable = copy.deepcopy(model).train()
        return torch.optim.SGD(trainable.parameters(), lr=lr)
    ```

    ## Use instead
    ```python
    def make_optimizer(model, lr):
        model.train()
        return torch.optim.SGD(model.parameters(), lr=lr)
    ```

    ## References
    - Python docs: `copy.deepcopy`
    - PyTorch docs: `torch.optim` ("Constructing it")
    - gradscan facts: pt40
    """
    invalid = (
        """
        import copy
        import torch

        def make_optimizer(model, lr):
            trainable = copy.deepcopy(model).train()
            return torch.optim.SGD(trainable.parameters(), lr=lr)  # error: GS605
        """,
        """
        from copy import deepcopy
        import torch

        def fit(net, batches):
            opt = torch.optim.Adam(deepcopy(net).parameters())  # error: GS605
            for x, y in batches:
                opt.zero_grad()
                torch.nn.functional.mse_loss(net(x), y).backward()
                opt.step()
        """,
    )
    valid = (
        """
        import copy
        import torch

        def distill(student, batches):
            teacher = copy.deepcopy(student).requires_grad_(False)
            opt = torch.optim.SGD(student.parameters(), lr=0.1)
            return teacher, opt

        def fresh_copy(model):
            clone = copy.deepcopy(model)
            opt = torch.optim.SGD(clone.parameters(), lr=0.1)
            return clone, opt

        def finetune_copy(model, batches):
            tuned = copy.deepcopy(model)
            opt = torch.optim.SGD(tuned.parameters(), lr=0.1)
            for x, y in batches:
                opt.zero_grad()
                torch.nn.functional.mse_loss(tuned(x), y).backward()
                opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "deepcopy" not in (model.source or ""):
            return
        for call, fn in model.calls:
            if not is_optimizer(model, call):
                continue
            for receiver in _param_receivers(call):
                owner = receiver.func.value
                if _deepcopy_under(model, owner) is not None:
                    yield Report(call, message=self.message.format(opt=clip(_opt_name(model, call), 20), copy="copy.deepcopy(...)"))
                    break
                if isinstance(owner, cst.Name) and self._unused_copy(model, fn, owner.value, receiver):
                    yield Report(call, message=self.message.format(opt=clip(_opt_name(model, call), 20), copy=owner.value))
                    break

    @staticmethod
    def _unused_copy(model: FileModel, fn, name: str, receiver: cst.Call) -> bool:
        """`name` is assigned only a deep copy in `fn`, and read nowhere but in `receiver`."""
        copies = 0
        for node, owner in model.assignments:
            if owner is not fn:
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, cst.Name) and t.value == name for t in targets):
                if not isinstance(node, cst.Assign) or len(node.targets) != 1 or _deepcopy_under(model, node.value) is None:
                    return False
                copies += 1
        if copies != 1 or (fn is not None and name in fn.params):
            return False
        root = fn.node if fn is not None else model.module
        allowed = {id(receiver.func.value)}
        for node in descendants(root):
            if isinstance(node, cst.Name) and node.value == name and id(node) not in allowed:
                parent = model.parent(node)
                if isinstance(parent, cst.AssignTarget):
                    continue  # the copy's own assignment
                if isinstance(parent, (cst.Attribute,)) and parent.value is node and parent.attr.value in ("parameters", "named_parameters"):
                    return False  # its parameters read elsewhere too: unknown who runs them
                return False  # run, returned, stored or handed over: it may well be trained
        return True


def _opt_name(model: FileModel, call: cst.Call) -> str:
    parent = model.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted(parent.targets[0].target) or method_name(call) or "optimizer"
    return method_name(call) or "optimizer"
