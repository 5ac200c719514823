from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.common import local_class_of
from gradscan.rules.training_loop.helpers import order
from gradscan.semantics import intent
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import target_names

_CHECKPOINT = "torch.utils.checkpoint.checkpoint"


class ReentrantCheckpointOnModelInput(Rule):
    code = "GS607"
    name = "reentrant-checkpoint-on-model-input"
    framework = "torch"
    summary = "reentrant `torch.utils.checkpoint` (the default) on the model's input, which does not require grad: the weights inside get no gradient"
    message = "reentrant checkpoint on the model's input: the weights inside get no gradient; pass use_reentrant=False"
    explanation = (
        "Reentrant checkpointing (the default when use_reentrant is not given) backpropagates into the function "
        "only through inputs that require grad; the model's data input does not, so its weights get no gradient."
    )
    hint = "pass `use_reentrant=False` (or make an input require grad)"
    facts = ("pt42",)
    triggers = ("checkpoint",)
    doc = """
    ## What it does
    Flags `torch.utils.checkpoint.checkpoint(fn, x)` without `use_reentrant=False` in the
    `forward` of a model whose tensor inputs are the forward's own parameters, unchanged
    before the call (the first checkpointed block of the network, also inside a loop over
    its layers), when the model is the one a script or training function of the file
    builds and calls with its data (not a submodule of another module of the file).

    ## Why it breaks gradients
    In reentrant mode, which is still the default when `use_reentrant` is not passed (torch
    warns that it should be passed explicitly), the checkpointed function's output is
    connected to the graph only through the inputs that require grad. A model's data input
    does not: the output has no `grad_fn` from the block, backward never re-runs it, and every
    weight inside (an adapter, the first layer, and every later layer checkpointed on its
    output) keeps `.grad` None. The only signal is the warning "None of the inputs have
    requires_grad=True. Gradients will be None" (fact pt42). With `use_reentrant=False` the
    weights get their gradients.

    Not flagged: `use_reentrant=False`, an input computed before the call (an embedding's
    output carries gradient when the embedding trains), a module that another module of the
    file uses as a submodule (its input is a hidden state), and checkpoints outside `forward`.

    ## Example
    ```python
    def forward(self, x):
        for layer in self.layers:
            x = checkpoint(layer, x)
        return self.head(x)
    ```

    ## Use instead
    ```python
    def forward(self, x):
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False)
        return self.head(x)
    ```

    ## References
    - PyTorch docs: `torch.utils.checkpoint.checkpoint` (`use_reentrant`)
    - gradscan facts: pt42
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        from torch.utils.checkpoint import checkpoint

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))

            def forward(self, x):
                for layer in self.layers:
                    x = checkpoint(layer, x)  # error: GS607
                return x

        net = Net()
        net(torch.randn(2, 4)).sum().backward()
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        from torch.utils.checkpoint import checkpoint

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(10, 4)
                self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))

            def forward(self, ids, x):
                h = self.embed(ids)
                for layer in self.layers:
                    h = checkpoint(layer, h)
                    x = checkpoint(layer, x, use_reentrant=False)
                return h + x

        net = Net()
        net(torch.tensor([1]), torch.randn(1, 4)).sum().backward()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "checkpoint" not in (model.source or ""):
            return
        for call, fn in model.calls:
            if fn is None or model.callee(call) != _CHECKPOINT:
                continue
            if not self._reentrant(call):
                continue
            ctx = model.context_of(call)
            if ctx is None or ctx.kind != "forward" or ctx.framework != "torch" or fn.cls is None or fn.name != "forward":
                continue
            args = positional_arguments(call)
            if len(args) < 2 or any(a.star for a in call.args) or not _weighted(model, args[0], fn):
                continue
            if not all(self._raw_input(model, fn, arg, call) for arg in args[1:]):
                continue
            if not self._root_model(model, fn.cls):
                continue
            yield Report(call)

    @staticmethod
    def _reentrant(call: cst.Call) -> bool:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "use_reentrant":
                return dotted(arg.value) == "True"  # False, or a flag: not this
        return True

    @staticmethod
    def _raw_input(model: FileModel, fn, arg, call) -> bool:
        """`arg` is a parameter of forward that nothing re-binds before the call runs the first
        time (a re-binding by the call's own statement, as in a loop over layers, comes after)."""
        if isinstance(arg, (cst.Integer, cst.Float)) or dotted(arg) in ("None", "True", "False"):
            return True
        if not isinstance(arg, cst.Name) or arg.value not in fn.params[1:]:
            return False
        for node, owner in model.assignments:
            if owner is not fn:
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, cst.Name) and t.value == arg.value for t in targets):
                if order(model, node, call) != 0 or not intent.contains(model, node, call):
                    return False
        return True

    @staticmethod
    def _root_model(model: FileModel, cls) -> bool:
        """The class is built and run by code of the file outside every module class (a script,
        a training function), and no module class of the file holds it as a submodule."""
        outside = False
        for call, fn in model.calls:
            if local_class_of(model, call) is not cls:
                continue
            owner_cls = fn.cls if fn is not None else None
            if owner_cls is not None and owner_cls.is_torch:
                return False
            outside = True
        # a subclass's forward may hand it hidden states through super().forward(h)
        return outside and not any(c is not cls and any(b.split(".")[-1] == cls.name for b in c.base_names) for c in model.class_list)


def _weighted(model: FileModel, func, fn) -> bool:
    """The checkpointed function is a submodule or a method of the module (`self.block`,
    `layer` of `for layer in self.layers`, `self._block`): it holds the module's weights."""
    text = dotted(func)
    if text is None:
        return False
    if text.startswith("self."):
        return True
    for node in model.ancestors(func):
        if isinstance(node, cst.For) and text in target_names(node.target):
            source = node.iter
            while isinstance(source, cst.Call) and dotted(source.func) in ("enumerate", "reversed"):
                source = source.args[0].value if source.args else None
            return source is not None and (dotted(source) or "").startswith("self.")
    return False

