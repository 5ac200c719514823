from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.gs601_zero_grad_between_backward_and_step import is_backward, runs_backward
from gradscan.rules.training_loop.helpers import is_optimizer, method_name
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# What may be done to an optimizer that does not step it (nor hand it to code that might).
_PASSIVE = {"zero_grad", "param_groups", "state_dict", "load_state_dict", "add_param_group", "state", "defaults"}


class OptimizerNeverStepped(Rule):
    code = "GS615"
    name = "optimizer-never-stepped"
    framework = "torch"
    summary = "an optimizer that is cleared and backpropagated for but never stepped (nor handed to anything that could): its weights never change"
    message = "`{name}` is cleared and backpropagated for but never stepped: its weights never change"
    explanation = (
        "backward() only fills .grad; the weights change when the optimizer's step() applies them. An optimizer "
        "that is never stepped, nor passed to code that could step it, leaves every parameter it holds as it was."
    )
    hint = "call `step()` after the backward pass (or `scaler.step(optimizer)` under AMP)"
    facts = ("pt52",)
    triggers = ("zero_grad",)
    doc = """
    ## What it does
    Flags the construction of an optimizer (`opt = torch.optim.Adam(...)`, `self.opt_d = ...`)
    whose `zero_grad()` is called in a function that also runs a backward pass, when nothing in
    the file steps it (`opt.step()`, also through another object: `trainer.opt_d.step()`) and
    it is never used otherwise than through `zero_grad()`, `param_groups`, `state_dict()` and
    the like: not passed to a call (`scaler.step(opt)`, a helper, `accelerator.prepare`),
    returned, stored or put in a container. For an attribute, the class must have no base
    from outside the file (unseen code could step it).

    ## Why it breaks gradients
    `backward()` fills `.grad`; only `step()` changes the weights. A forgotten `step()` (the
    discriminator of a GAN whose loss is backpropagated every iteration) raises nothing: the
    network keeps its initialisation while the rest trains against it (fact pt52).

    Not flagged: an optimizer stepped anywhere in the file, handed to a helper, a scaler, a
    closure or a framework, returned (`configure_optimizers`), or never cleared.

    ## Example
    ```python
    self.opt_d.zero_grad()
    loss_d.backward()
    self.opt_g.zero_grad()
    ```

    ## Use instead
    ```python
    self.opt_d.zero_grad()
    loss_d.backward()
    self.opt_d.step()
    ```

    ## References
    - PyTorch docs: "How to use an optimizer" (`optimizer.step()`)
    - gradscan facts: pt52
    """
    invalid = (
        """
        import torch

        def train(model, loader):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)  # error: GS615
            for x, y in loader:
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
        """,
    )
    valid = (
        """
        import torch

        def train(model, loader, scaler):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
                scaler.step(opt)
                scaler.update()

        def train_helper(model, loader):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                apply_update(opt)

        def apply_update(opt):
            opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "zero_grad" not in (model.source or ""):
            return
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1 or not is_optimizer(model, node.value):
                continue
            name = dotted(node.targets[0].target)
            if name is None:
                continue
            uses = self._uses(model, fn, name, node)
            if uses is None:
                continue
            cleared = [call for call, owner in uses if call is not None and method_name(call) == "zero_grad"]
            if not cleared:
                continue
            if not any(self._training_update(model, call, owner) for call, owner in uses
                       if call is not None and method_name(call) == "zero_grad"):
                continue
            yield Report(node.value, message=self.message.format(name=clip(name, 20)))

    def _uses(self, model: FileModel, fn: Optional[FunctionInfo], name: str, definition: cst.Assign) -> Optional[List[Tuple[Optional[cst.Call], Optional[FunctionInfo]]]]:
        """(the method call, its function) for every use of the optimizer; None when one of
        them may step it: a `step` anywhere, or a use that hands it on."""
        attribute = name.startswith("self.")
        if attribute:
            top = fn
            while top is not None and top.parent is not None:
                top = top.parent
            cls = top.cls if top is not None else None
            if cls is None or any(not b.startswith("<local>") for c in model.class_chain(cls) for b in c.base_names
                                  if b not in ("object", "builtins.object") and not b.startswith("torch.nn")):
                return None  # a base we cannot see may step it
            attr = name.split(".", 1)[1]
            for call, _owner in model.calls:  # `trainer.opt_d.step()` from anywhere in the file
                if method_name(call) == "step" and isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Attribute) \
                        and call.func.value.attr.value == attr:
                    return None
            scopes = [m for c in model.class_chain(cls) for m in c.methods.values()]
            roots = [m.node for m in scopes]
            inside = {id(n) for r in roots for n in descendants(r)}
            for node, _owner in model.attributes:  # `trainer.opt_d` handed on from outside the class
                if node.attr.value == attr and id(node) not in inside and model.resolve(node) is None:
                    parent = model.parent(node)
                    if not (isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _PASSIVE):
                        return None
        else:
            if "." in name:
                return None
            roots = [fn.node if fn is not None else model.module]
        out: List[Tuple[Optional[cst.Call], Optional[FunctionInfo]]] = []
        target = definition.targets[0].target
        for root in roots:
            for node in descendants(root):
                if node is target or dotted(node) != name or not isinstance(node, (cst.Name, cst.Attribute)):
                    continue
                parent = model.parent(node)
                if isinstance(parent, cst.Attribute) and parent.value is node:
                    if parent.attr.value not in _PASSIVE:
                        return None  # `opt.step()`, or something we do not know
                    call = model.parent(parent)
                    out.append((call if isinstance(call, cst.Call) and call.func is parent else None, model.enclosing_function(node)))
                    continue
                if isinstance(parent, cst.AssignTarget) or (isinstance(parent, cst.Attribute) and parent.attr is node):
                    if isinstance(parent, cst.AssignTarget):
                        return None  # bound again: another optimizer under the same name
                    continue
                return None  # passed, returned, stored, compared: it may be stepped elsewhere
        return out

    @staticmethod
    def _training_update(model: FileModel, clear: cst.Call, fn: Optional[FunctionInfo]) -> bool:
        """`clear` sits in an update that runs again and again (in a loop, or in a method or a
        function called in a loop), with a backward pass and no optimizer step at all: not a
        one-off gradient check, and not another optimizer stepped in its place (GS608)."""
        calls = fn.calls if fn is not None else [c for c, owner in model.calls if owner is None]
        if not any(is_backward(model, c) or runs_backward(model, c, fn) for c in calls):
            return False
        if any(method_name(c) == "step" and isinstance(c.func, cst.Attribute) for c in calls):
            return False
        if _in_loop(model, clear):
            return True
        if fn is None:
            return False
        if fn.is_method:
            return True
        return any(isinstance(c.func, cst.Name) and c.func.value == fn.name and _in_loop(model, c) for c, _o in model.calls)


def _in_loop(model: FileModel, node: cst.CSTNode) -> bool:
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return False
        if isinstance(anc, (cst.For, cst.While)):
            return True
    return False
