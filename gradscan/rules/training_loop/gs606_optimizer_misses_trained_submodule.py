from __future__ import annotations

from typing import Iterator, List, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import functions_within, init_methods, is_self
from gradscan.rules.training_loop.helpers import fresh_weights, is_optimizer, managed_by_class, method_name, param_owners, predicts
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted


class OptimizerMissesTrainedSubmodule(Rule):
    code = "GS606"
    name = "optimizer-misses-trained-submodule"
    framework = "torch"
    summary = "Lightning's configure_optimizers covers only some submodules while training_step also trains a new, unfrozen one: it is never updated"
    message = "configure_optimizers leaves out `{missing}`, trained by training_step: never updated; add its parameters"
    explanation = (
        "Lightning steps only the optimizers configure_optimizers returns. A submodule the loss runs through gets "
        ".grad every step, but no optimizer holds its parameters, so it keeps its random initialisation."
    )
    hint = "build the optimizer over `self.parameters()`, or add a parameter group for the left-out submodule"
    facts = ("pt41",)
    triggers = ("configure_optimizers",)
    doc = """
    ## What it does
    Flags a LightningModule (a torch module with `training_step` and `configure_optimizers`)
    whose `configure_optimizers` builds its optimizers only from some submodules
    (`Adam(self.encoder.parameters())`) while the loss of `training_step` (directly, or through
    `forward` and the methods it calls) also runs through another submodule that `__init__`
    creates with new weights (`self.decoder = nn.Sequential(nn.Linear(...), ...)`), is not
    frozen, and is not run under `torch.no_grad()`.

    ## Why it breaks gradients
    With automatic optimization, Lightning calls `step()` on the optimizers
    `configure_optimizers` returns, and nothing else. Backward fills the `.grad` of the left-out
    submodule on every step, but no optimizer holds its parameters: it keeps its random
    initialisation for the whole run, silently (fact pt41).

    Not flagged: optimizers over `self.parameters()`, a submodule frozen anywhere in the class
    (`requires_grad_(False)`, or its `parameters()` read outside `configure_optimizers`: a
    freezing loop, a second optimizer, an EMA update), synced by `load_state_dict` (a target
    network), run only under `torch.no_grad()`, with its output detached before the loss or
    arriving only as the target of a functional loss (a teacher, a fixed random target), given to `__init__` or loaded (a pretrained network kept fixed on purpose), manual
    optimization (`self.automatic_optimization = False`), and optimizers whose parameters
    cannot be read. What the class does with the network decides, not its name: a
    `self.feature_extractor` the loss trains is reported like any other.

    ## Example
    ```python
    def training_step(self, batch, batch_idx):
        return F.mse_loss(self.decoder(self.encoder(batch)), batch)

    def configure_optimizers(self):
        return torch.optim.Adam(self.encoder.parameters())
    ```

    ## Use instead
    ```python
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())
    ```

    ## References
    - Lightning docs: `LightningModule.configure_optimizers`
    - gradscan facts: pt41
    """
    invalid = (
        """
        import lightning as L
        import torch
        from torch import nn

        class AE(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(8, 2)
                self.decoder = nn.Linear(2, 8)

            def training_step(self, batch, batch_idx):
                return ((self.decoder(self.encoder(batch)) - batch) ** 2).mean()

            def configure_optimizers(self):
                return torch.optim.Adam(self.encoder.parameters())  # error: GS606
        """,
    )
    valid = (
        """
        import lightning as L
        import torch
        from torch import nn

        class Finetune(L.LightningModule):
            def __init__(self, backbone):
                super().__init__()
                self.backbone = backbone
                self.head = nn.Linear(8, 2)
                self.probe = nn.Linear(8, 2)
                self.probe.requires_grad_(False)

            def training_step(self, batch, batch_idx):
                x, y = batch
                h = self.backbone(x)
                return ((self.head(h) - y) ** 2).mean() + self.probe(h).mean()

            def configure_optimizers(self):
                return torch.optim.Adam(self.head.parameters())
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "configure_optimizers" not in (model.source or ""):
            return
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            configure = model.find_method(cls, "configure_optimizers")
            step = model.find_method(cls, "training_step")
            if configure is None or step is None:
                continue
            found = self._check_class(model, cls, configure, step)
            if found is not None:
                yield found

    def _check_class(self, model: FileModel, cls, configure, step) -> Optional[Report]:
        optimizers: List[cst.Call] = []
        owners: Set[str] = set()
        for fn in functions_within(model, configure):
            for call in fn.calls:
                if is_optimizer(model, call):
                    found = param_owners(model, call, fn)
                    if not found:
                        return None  # parameters we cannot read
                    optimizers.append(call)
                    owners |= found
                elif method_name(call) == "add_param_group" or any(is_self(a.value) for a in call.args):
                    return None
        if not optimizers or any(o == "self" or not o.startswith("self.") for o in owners):
            return None
        methods = [fn for c in model.class_chain(cls) for fn in c.methods.values()]
        for fn in methods:
            for node, _owner in [(n, o) for n, o in model.assignments if o is fn]:
                if isinstance(node, cst.Assign) and any(dotted(t.target) == "self.automatic_optimization" for t in node.targets):
                    return None  # manual optimization: the user steps what they choose
        inits = init_methods(model, cls)
        created = {}
        for c in model.class_chain(cls):
            for attr, value, _node, method in c.self_assigns:
                fn = c.methods.get(method)
                if fn in inits:
                    created.setdefault(attr, []).append(value)
        reached = self._reached(model, cls, step)
        for attr, values in created.items():
            name = "self." + attr
            if not all(fresh_weights(model, v) for v in values):
                continue
            if any(name == o or o.startswith(name + ".") or name.startswith(o + ".") for o in owners):
                continue
            # A target / EMA / teacher network is told by what the class does with it (frozen,
            # copied into, its weights read for an average), not by its name.
            if self._frozen_or_read(model, methods, name, configure):
                continue
            if not self._trained(model, reached, name):
                continue
            return Report(optimizers[0], message=self.message.format(missing=clip(name, 24)))
        return None

    @staticmethod
    def _reached(model: FileModel, cls, step) -> List:
        """training_step and the methods of the class it reaches through `self.m(...)` and `self(...)`."""
        out, todo = [], [step]
        while todo:
            fn = todo.pop()
            if fn in out:
                continue
            out.append(fn)
            for inner in functions_within(model, fn):
                for call in inner.calls:
                    if is_self(call.func):
                        target = model.find_method(cls, "forward")
                    elif isinstance(call.func, cst.Attribute) and is_self(call.func.value):
                        target = model.find_method(cls, call.func.attr.value)
                    else:
                        target = None
                    if target is not None:
                        todo.append(target)
        return out

    @staticmethod
    def _frozen_or_read(model: FileModel, methods, name: str, configure) -> bool:
        """`self.x.requires_grad_(...)`, `self.x.parameters()` outside configure_optimizers (a
        freezing loop, a second optimizer, an EMA update), `self.x.load_state_dict(...)` (a
        target network synced by copy), `self.x.weight.requires_grad = False`."""
        return managed_by_class(model, methods, name, skip=configure)

    @staticmethod
    def _trained(model: FileModel, reached, name: str) -> bool:
        """A call of `self.x(...)` (or a read of the Parameter `self.x`) in differentiable code
        training_step reaches, whose value reaches the loss with its graph (not only detached,
        as a teacher's or target network's output is)."""
        for fn in reached:
            for inner in functions_within(model, fn):
                for call in inner.calls:
                    if dotted(call.func) == name and model.context_of(call) is not None and predicts(model, call):
                        return True
        for node, fn in model.attributes:
            if fn in reached and dotted(node) == name and model.context_of(node) is not None:
                parent = model.parent(node)
                if not (isinstance(parent, cst.Attribute) and parent.value is node) and predicts(model, node):
                    return True
        return False
