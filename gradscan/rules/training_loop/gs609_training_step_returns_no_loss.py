from __future__ import annotations

import re
from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.gs601_zero_grad_between_backward_and_step import is_backward
from gradscan.rules.training_loop.helpers import method_name, nodes_in
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.names import dotted

# Lightning's module base class, under its three package names.
_LIGHTNING_MODULE = re.compile(r"^(?:pytorch_lightning|lightning(?:\.pytorch)?)(?:\.[a-z_]+)*\.LightningModule$")
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


class TrainingStepReturnsNoLoss(Rule):
    code = "GS609"
    name = "training-step-returns-no-loss"
    framework = "torch"
    summary = "Lightning's `training_step` computes a loss but returns nothing under automatic optimization: every batch is skipped, no weight moves"
    message = "`training_step` computes `{loss}` but returns nothing: Lightning skips every batch; return it"
    explanation = (
        "With automatic optimization Lightning backpropagates only what training_step returns (a tensor or a dict's "
        "'loss'); a None return means 'skip this batch', so no backward pass or optimizer step ever runs."
    )
    hint = "end `training_step` with `return loss` (logging with `self.log` does not hand the loss to the optimizer)"
    facts = ("pt46",)
    triggers = ("training_step",)
    doc = """
    ## What it does
    Flags `training_step` of a LightningModule (a class of the file whose bases are
    Lightning's `LightningModule` or classes of the file deriving from it) that uses
    automatic optimization (nothing in the classes mentions `automatic_optimization`), has
    a `configure_optimizers`, runs no backward pass or optimizer step itself, never returns
    a value (no `return <value>` anywhere in its body), and computes a value from the
    module's weights on the way: a local it binds, a value it logs (`self.log("loss",
    loss)`), or a discarded call that returns one (`super().training_step(batch, i)`).

    ## Why it breaks gradients
    Under automatic optimization Lightning calls `training_step`, and backpropagates and
    steps on what it returns (a tensor, or the `"loss"` entry of a dict). A `None` return is
    its documented way to skip a batch: it warns once, runs no backward pass and no
    optimizer step. A step that only logs its loss therefore trains nothing: the weights
    stay at their initialisation while the progress bar shows the loss (fact pt46).

    Not flagged: a `training_step` that returns a value on some path (a `return None` that
    skips bad batches beside `return loss`), one in a class that sets or overrides
    `automatic_optimization` (manual optimization returns nothing by design), one that runs
    `manual_backward`/`backward` or steps an optimizer itself, a generator, a class with a
    base from outside the file other than `LightningModule` (what it configures is unseen),
    and a step that computes nothing from the weights.

    ## Example
    ```python
    class Classifier(L.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
    ```

    ## Use instead
    ```python
    class Classifier(L.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss
    ```

    ## References
    - Lightning docs: `LightningModule.training_step` (return value; `None` skips the batch)
    - gradscan facts: pt46
    """
    invalid = (
        """
        import lightning as L
        import torch
        import torch.nn.functional as F
        from torch import nn

        class Classifier(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(4, 2)

            def training_step(self, batch, batch_idx):  # error: GS609
                x, y = batch
                loss = F.cross_entropy(self.net(x), y)
                self.log("train_loss", loss)

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)
        """,
    )
    valid = (
        """
        import lightning as L
        import torch
        import torch.nn.functional as F
        from torch import nn

        class Classifier(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(4, 2)

            def training_step(self, batch, batch_idx):
                x, y = batch
                loss = F.cross_entropy(self.net(x), y)
                if not torch.isfinite(loss):
                    return None
                self.log("train_loss", loss)
                return loss

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        class Manual(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(4, 2)
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                opt = self.optimizers()
                loss = self.net(batch).sum()
                self.manual_backward(loss)
                opt.step()
                opt.zero_grad()

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source or ""
        if "training_step" not in source or "LightningModule" not in source:
            return
        for cls in model.class_list:
            step = cls.methods.get("training_step")
            if step is None or not cls.is_torch or not isinstance(step.node, cst.FunctionDef):
                continue
            if not _automatic_lightning_module(model, cls) or model.find_method(cls, "configure_optimizers") is None:
                continue
            loss = _unreturned_loss(model, step)
            if loss is not None:
                yield Report(step.node.name, message=self.message.format(loss=clip(loss, 30)))


def _automatic_lightning_module(model: FileModel, cls: ClassInfo) -> bool:
    """Every base along the file's chain is Lightning's `LightningModule` or a class of the
    file, one of them is `LightningModule`, and no class of the chain mentions
    `automatic_optimization` (an assignment, a property, a class attribute)."""
    lightning = False
    for c in model.class_chain(cls):
        for base in c.base_names:
            if base.startswith("<local>.") and base[len("<local>."):] in model.classes:
                continue
            if not _LIGHTNING_MODULE.match(base):
                return False  # a base the file does not show: what it configures is unknown
            lightning = True
        for node in nodes_in(c.node.body):
            if isinstance(node, cst.Name) and node.value == "automatic_optimization" or \
                    isinstance(node, cst.FunctionDef) and node.name.value == "automatic_optimization":
                return False
    return lightning


def _unreturned_loss(model: FileModel, step: FunctionInfo) -> Optional[str]:
    """The text of a value computed from the weights that `step` binds, logs or discards
    while it returns nothing; None when it returns a value, optimizes by itself, is a
    generator, or computes nothing from the weights."""
    walk = model.sources.walk
    candidates = []  # (value, how it is shown)
    for node in nodes_in(step.node.body):
        if isinstance(node, (cst.Yield, cst.Await)):
            return None
        if isinstance(node, cst.Return) and node.value is not None and not (
                isinstance(node.value, cst.Name) and node.value.value == "None"):
            return None
        if isinstance(node, cst.Call):
            name = method_name(node)
            if is_backward(model, node) or name in ("step", "optimizers"):
                return None
            if name in ("log", "log_dict") and isinstance(node.func, cst.Attribute) and dotted(node.func.value) == "self":
                logged = [a.value for a in node.args[1:2] if a.keyword is None]
                logged += [a.value for a in node.args if a.keyword is not None and a.keyword.value in ("value", "dictionary")]
                logged += [a.value for a in node.args[:1] if name == "log_dict"]
                candidates.extend((v, v) for v in logged)
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            candidates.append((node.value, node.targets[0].target))
        if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call) and method_name(node.value) not in ("log", "log_dict"):
            candidates.append((node.value, node.value))  # a discarded result: `super().training_step(batch, i)`
    logged = [c for c in candidates if c[0] is c[1] and not isinstance(c[0], cst.Call)]
    # what is logged first, then the latest binding (the loss is computed last), then a discarded call
    ordered = logged + [c for c in reversed(candidates) if c not in logged]
    for value, shown in ordered:
        if any(r.startswith("weight:") for r in walk.weight_roots(value)):
            return dotted(shown) if isinstance(shown, (cst.Name, cst.Attribute)) else model.module.code_for_node(shown)
    return None
