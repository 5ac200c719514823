"""GS6xx: PyTorch training loops whose optimizer step silently does nothing to some weights.

The rules here read the order of statements in one function (a training loop, a script, a
Lightning `training_step` with manual optimization): which call runs before which, in one
straight-line sequence of statements. Only orders that hold on every run count: a statement in
the other branch of an `if`, in a nested function (a closure run later), or earlier in a loop
body (the previous iteration) is never taken as "before" or "after". When the order cannot be
read, the rules stay silent.
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.rules.common import (
    CONTAINER, PARAMS, PROJECT, class_owns_parameters, is_parameter_call, local_class_of, module_ctor,
)
from gradscan.semantics.intent import FROZEN_TOKENS, tokens
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import children

_BLOCKS = (cst.IndentedBlock, cst.Module, cst.SimpleStatementSuite)
_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LOOPS = (cst.For, cst.While)
_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue)
# Compound statements whose body runs straight after the statements before them (when it runs).
_ENTERABLE = (cst.If, cst.Else, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally)
# An `if` guarding a skipped update: zeroing the gradients there makes the step a no-op on purpose.
_SKIP_GUARD = re.compile(r"nan|inf|finite|overflow|skip|found_inf", re.IGNORECASE)
BACKWARD_METHODS = {"backward", "manual_backward"}
# Names of calls that may compute gradients again themselves (`train_step`, `closure`, `amp_backward`).
_BACKWARD_NAMES = re.compile(r"backward|closure|train_|_train|(?:^|_)step_|_step$", re.IGNORECASE)
_MOVE_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "type", "to_empty"}


# ---- statement order -----------------------------------------------------------------------

def units(block: cst.CSTNode) -> List[cst.CSTNode]:
    """The statements of a block in execution order, with `a(); b()` on one line split in two."""
    out: List[cst.CSTNode] = []
    for stmt in block.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.extend(stmt.body)
        else:
            out.append(stmt)
    return out


def _unit_in(block: cst.CSTNode, child: cst.CSTNode, small: Optional[cst.CSTNode]) -> Optional[int]:
    target = small if isinstance(child, cst.SimpleStatementLine) or isinstance(block, cst.SimpleStatementSuite) else child
    for i, unit in enumerate(units(block)):
        if unit is target:
            return i
    return None


def chain(model: FileModel, node: cst.CSTNode) -> List[Tuple[cst.CSTNode, int]]:
    """(block, index of the statement holding `node`) from the innermost block out to the body
    of `node`'s function (or the module), in that order."""
    out: List[Tuple[cst.CSTNode, int]] = []
    child = node
    small = node if isinstance(node, cst.BaseSmallStatement) else None
    for anc in model.ancestors(node):
        if isinstance(anc, _BLOCKS):
            idx = _unit_in(anc, child, small)
            if idx is None:
                return out
            out.append((anc, idx))
            small = None
        elif isinstance(anc, cst.BaseSmallStatement) and small is None:
            small = anc
        if isinstance(anc, _SCOPES):
            return out
        child = anc
    return out


def owner_of(model: FileModel, block: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The compound statement a block is the body of (an `else:` block gives its `Else`)."""
    return model.parent(block)


def order(model: FileModel, a: cst.CSTNode, b: cst.CSTNode) -> Optional[int]:
    """-1 when `a`'s statement runs before `b`'s in their common block, 1 after, 0 when they sit
    in the same statement (or in branches of one `if`), None when they are in different scopes."""
    ca, cb = chain(model, a), chain(model, b)
    if not ca or not cb or ca[-1][0] is not cb[-1][0]:
        return None
    blocks_b = {id(block): idx for block, idx in cb}
    for block, idx in ca:
        other = blocks_b.get(id(block))
        if other is not None:
            return (idx > other) - (idx < other)
    return None


def in_loop_between(model: FileModel, block: cst.CSTNode) -> bool:
    """`block` is (inside) a loop body of its function."""
    for anc in [block, *model.ancestors(block)]:
        if isinstance(anc, _LOOPS):
            return True
        if isinstance(anc, _SCOPES):
            return False
    return False


def following(model: FileModel, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The statements that may run after `node`'s statement in its function: the rest of each
    enclosing block, and the whole body of each enclosing loop (the next iteration)."""
    for block, idx in chain(model, node):
        body = units(block)
        yield from body[idx + 1:]
        if isinstance(owner_of(model, block), _LOOPS):
            yield from body[: idx + 1]


def nodes_in(unit: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node of a statement that runs with it: not the bodies of nested functions, lambdas and classes."""
    todo = [unit]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        todo.extend(reversed(children(node)))


def calls_in(unit: cst.CSTNode) -> Iterator[cst.Call]:
    for node in nodes_in(unit):
        if isinstance(node, cst.Call):
            yield node


def _method(call: cst.Call) -> Optional[str]:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def _receiver(call: cst.Call) -> Optional[str]:
    return dotted(call.func.value) if isinstance(call.func, cst.Attribute) else None


def _positional(call: cst.Call) -> List[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


# ==== GS601 ==================================================================================

class ZeroGradBetweenBackwardAndStep(Rule):
    code = "GS601"
    name = "zero-grad-between-backward-and-step"
    framework = "torch"
    summary = "`zero_grad()` between `backward()` and `step()` wipes the gradients the step needed: training does nothing"
    message = "`{zero}` runs after the backward pass and before `{step}`: it wipes the gradients backward just computed, so the step does not change the weights (silent no-op training); call zero_grad() before backward() or after step()"
    hint = "order the loop as `zero_grad(); loss.backward(); step()` (or `backward(); step(); zero_grad()`)"
    facts = ("pt34",)
    triggers = ("zero_grad",)
    doc = """
    ## What it does
    Flags `optimizer.zero_grad()` when, in the same sequence of statements, a backward pass
    runs before it (`loss.backward()`, `scaler.scale(loss).backward()`,
    `accelerator.backward(loss)`, Lightning's `self.manual_backward(loss)`) and a step of the
    same optimizer follows it (`optimizer.step()`, `scaler.step(optimizer)`) with no backward
    pass in between. `model.zero_grad()` is flagged the same way when the optimizer stepped
    was built from `model.parameters()` (in the same function, or as `self.<optimizer>` of the
    same class).

    ## Why it breaks gradients
    `zero_grad()` resets every `.grad` of the optimizer's parameters (to None by default) and
    `step()` updates parameters from their `.grad`. In between the backward pass and the
    step, it throws away the gradients that were just computed: the step finds no gradient,
    the weights stay exactly as they were, and the loss curve is flat or noisy but nothing
    crashes (fact pt34: weights unchanged, `.grad` None after `zero_grad`).

    Not flagged: the usual orders (`zero_grad(); backward(); step()` and
    `backward(); step(); zero_grad()`), gradient accumulation
    (`backward(); if ...: step(); zero_grad()`), the `zero_grad()` of another optimizer than
    the one stepped (GAN generator and discriminator optimizers), `zero_grad()` in one branch
    of an `if` and `step()` in another, an `if` that zeroes the gradients to skip an update
    on NaN or overflow, a second backward pass (or a helper that runs one, or gradients
    written by hand to `.grad`) between `zero_grad()` and `step()`, `step(closure)` (the
    closure computes the gradients again), a backward pass in a branch that leaves the loop
    (`if warmup: loss.backward(); continue`), and `zero_grad()` in a closure or a hook.
    The receiver is compared as text (`opt`, `self.optimizer`): an optimizer reached through a
    subscript or a call (`optimizers[0].zero_grad()`) is not checked, nor a backward pass run
    by a function of another module.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## References
    - PyTorch docs: `torch.optim.Optimizer.zero_grad`, "How to use an optimizer"
    - gradscan facts: pt34
    """
    invalid = (
        """
        import torch

        def train(model, loader, criterion):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.zero_grad()  # error: GS601
                optimizer.step()

        def train_amp(model, opt, scaler, loader):
            for x in loader:
                with torch.autocast("cuda"):
                    loss = model(x).mean()
                scaler.scale(loss).backward()
                opt.zero_grad(set_to_none=True)  # error: GS601
                scaler.step(opt)
                scaler.update()

        def train_model_zero(model, loader):
            opt = torch.optim.Adam(model.parameters())
            for x in loader:
                model(x).sum().backward()
                model.zero_grad()  # error: GS601
                opt.step()
        """,
        """
        import pytorch_lightning as pl

        class GAN(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                opt_g, opt_d = self.optimizers()
                loss = self.generator_loss(batch)
                self.manual_backward(loss)
                opt_g.zero_grad()  # error: GS601
                opt_g.step()
        """,
    )
    valid = (
        """
        import torch

        def train(model, loader, criterion, opt, accum=4):
            for i, (x, y) in enumerate(loader):
                opt.zero_grad()
                criterion(model(x), y).backward()
                opt.step()
            for i, (x, y) in enumerate(loader):
                (criterion(model(x), y) / accum).backward()
                if (i + 1) % accum == 0:
                    opt.step()
                    opt.zero_grad()

        def gan_step(g, d, opt_g, opt_d, real, z):
            d_loss = d(real).mean() - d(g(z)).mean()
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            g_loss = -d(g(z)).mean()
            g_loss.backward()
            opt_g.step()

        def skip_bad_updates(model, opt, loss):
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if not torch.isfinite(norm):
                opt.zero_grad()
            opt.step()

        def lbfgs(model, x, y, opt):
            def closure():
                opt.zero_grad()
                loss = ((model(x) - y) ** 2).mean()
                loss.backward()
                return loss
            closure().backward()
            opt.zero_grad()
            opt.step(closure)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source
        if source and "backward" not in source:
            return
        for call, fn in model.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value != "zero_grad":
                continue
            stmt = model.parent(call)
            if not isinstance(stmt, cst.Expr) or stmt.value is not call:
                continue
            receiver = dotted(func.value)
            if receiver is None:
                continue
            optimizers = {receiver} | _optimizers_of(model, receiver, call, fn)
            if not _backward_before(model, stmt, optimizers, fn):
                continue
            step = _step_after(model, stmt, optimizers, fn)
            if step is None:
                continue
            zero = f"{receiver}.zero_grad()"
            yield Report(call, message=self.message.format(zero=zero, step=step))


def _optimizers_of(model: FileModel, receiver: str, call: cst.Call, fn: Optional[FunctionInfo]) -> Set[str]:
    """For `model.zero_grad()`: the optimizers built from `model.parameters()` in the same
    function (`opt = SGD(model.parameters())`) or, for `self.model`, in the same class."""
    out: Set[str] = set()
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        name = dotted(node.targets[0].target)
        if name is not None and name != receiver and _is_optimizer(model, node.value) and receiver in param_owners(model, node.value, fn):
            out.add(name)
    if receiver.startswith("self.") and fn is not None and fn.cls is not None:
        for cls in model.class_chain(fn.cls):
            for attr, value, _node, method in cls.self_assigns:
                if _is_optimizer(model, value):
                    init = cls.methods.get(method)
                    if receiver in param_owners(model, value, init):
                        out.add(f"self.{attr}")
    return out


def _is_step_of(call: cst.Call, optimizers: Set[str]) -> Optional[str]:
    """`opt.step(...)`, `scaler.step(opt)`, `xm.optimizer_step(opt)`: the step's text, or None."""
    name = _method(call)
    if name == "step":
        receiver = _receiver(call)
        if receiver in optimizers:
            return f"{receiver}.step()"
        args = _positional(call)
        if args and dotted(args[0]) in optimizers and receiver is not None:
            return f"{receiver}.step({dotted(args[0])})"
    elif name == "optimizer_step":
        args = _positional(call)
        if args and dotted(args[0]) in optimizers:
            return f"{dotted(call.func)}({dotted(args[0])})"
    return None


def is_backward(model: FileModel, call: cst.Call) -> bool:
    name = _method(call)
    if name in BACKWARD_METHODS and isinstance(call.func, cst.Attribute):
        return True
    return model.callee(call) == "torch.autograd.backward"


def _backward_before(model: FileModel, stmt: cst.CSTNode, optimizers: Set[str], fn: Optional[FunctionInfo]) -> bool:
    """A backward pass runs before `stmt` in its straight-line sequence, with no step of these
    optimizers in between. The search climbs out of `if`/`with`/`try` bodies (the statements
    before them ran first) but not out of loops (the previous iteration) or functions."""
    for block, idx in chain(model, stmt):
        for unit in reversed(units(block)[:idx]):
            for call in calls_in(unit):
                if _is_step_of(call, optimizers):
                    return False
            if not isinstance(unit, cst.BaseSmallStatement) and any(isinstance(n, _EXITS) for n in nodes_in(unit)):
                continue  # `if warmup: loss.backward(); continue`: its backward need not reach here
            for call in calls_in(unit):
                if is_backward(model, call) or runs_backward(model, call, fn):
                    return True
        owner = owner_of(model, block)
        if isinstance(owner, cst.Else):
            owner = model.parent(owner)
        while isinstance(owner, cst.If) and isinstance(model.parent(owner), cst.If):  # elif
            owner = model.parent(owner)
        if not isinstance(owner, _ENTERABLE):
            return False
        if isinstance(owner, cst.If) and _SKIP_GUARD.search(model.module.code_for_node(owner.test)):
            return False
    return False


def _step_after(model: FileModel, stmt: cst.CSTNode, optimizers: Set[str], fn: Optional[FunctionInfo]) -> Optional[str]:
    """The step of these optimizers that follows `stmt` in its block (or after the `with`
    blocks around it), with no backward pass, gradient write or exit in between."""
    for block, idx in chain(model, stmt):
        for unit in units(block)[idx + 1:]:
            if isinstance(unit, _EXITS):
                return None
            step = None
            for node in nodes_in(unit):
                if isinstance(node, cst.Attribute) and node.attr.value == "grad":
                    return None  # gradients written by hand, or torch.autograd.grad
                if isinstance(node, cst.Call):
                    if is_backward(model, node) or _may_backward(model, node, fn):
                        return None
                    found = _is_step_of(node, optimizers)
                    if found is not None and step is None:
                        if _positional(node) and _method(node) == "step" and _receiver(node) in optimizers:
                            return None  # step(closure): the closure computes the gradients again
                        step = found
            if step is not None:
                return step
        if not isinstance(owner_of(model, block), cst.With):
            return None
    return None


def _may_backward(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
    """A call that may run a backward pass itself: a function or method of this file that calls
    one, or a name that says so (`train_step`, `closure`, `amp_backward`)."""
    name = _method(call)
    if name is None:
        return False
    if _BACKWARD_NAMES.search(name):
        return True
    return runs_backward(model, call, fn)


def runs_backward(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
    """`helper(...)` or `self.helper(...)` calls a function of this file that runs a backward pass."""
    target = _local_function(model, call, fn)
    return target is not None and any(is_backward(model, c) for c in target.calls)


def _local_function(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    func = call.func
    if isinstance(func, cst.Name):
        scope = fn
        while scope is not None:  # a function nested in this one (or in an enclosing one)
            for other in model.functions:
                if other.parent is scope and other.name == func.value:
                    return other
            scope = scope.parent
        return model.module_functions.get(func.value)
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        method = fn
        while method is not None and method.parent is not None:
            method = method.parent
        if method is not None and method.cls is not None:
            return model.find_method(method.cls, func.attr.value)
    return None


# ==== GS602 ==================================================================================

# Optimizer classes outside torch.optim, by qualified name prefix.
_OPTIMIZER_PREFIXES = (
    "torch.optim.", "bitsandbytes.optim.", "apex.optimizers.", "torch_optimizer.", "timm.optim.",
    "transformers.optimization.", "deepspeed.ops.adam.", "deepspeed.ops.lamb.",
)
_OPTIMIZER_EXTRA = {"transformers.AdamW", "transformers.Adafactor"}


def _is_optimizer(model: FileModel, value) -> bool:
    """`torch.optim.Adam(...)` and friends (an optimizer class, resolved through the imports)."""
    if not isinstance(value, cst.Call):
        return False
    name = _method(value)
    if name is None or not name[:1].isupper() or name == "Optimizer":
        return False
    qname = model.callee(value)
    if qname is None:
        return False
    if qname in _OPTIMIZER_EXTRA:
        return True
    return qname.startswith(_OPTIMIZER_PREFIXES) and "lr_scheduler" not in qname and "swa_utils" not in qname


def _params_arg(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "params":
            return arg.value
    args = _positional(call)
    return args[0] if args else None


def param_owners(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> Set[str]:
    """The `m` of every `m.parameters()` / `m.named_parameters()` an optimizer is built from,
    in its argument or in a local name the argument is (`params = model.parameters()`)."""
    arg = _params_arg(call)
    if arg is None:
        return set()
    exprs = [arg]
    if isinstance(arg, cst.Name):
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign) and any(dotted(t.target) == arg.value for t in node.targets):
                exprs.append(node.value)
    out: Set[str] = set()
    for expr in exprs:
        for inner in calls_in(expr):
            if _method(inner) in ("parameters", "named_parameters") and isinstance(inner.func, cst.Attribute):
                owner = dotted(inner.func.value)
                if owner is not None:
                    out.add(owner)
    return out


class ModuleReplacedAfterOptimizer(Rule):
    code = "GS602"
    name = "module-replaced-after-optimizer"
    framework = "torch"
    summary = "a submodule or Parameter assigned after the optimizer was built from `model.parameters()`: the optimizer never updates it"
    message = "`{target}` is replaced after the optimizer `{opt}` was built from `{owner}.parameters()`: the new weights are not in the optimizer, so they get .grad but are never updated (silent); build the optimizer after the replacement, or add them with `{opt}.add_param_group(...)`"
    hint = "replace layers before building the optimizer, or re-create it (or `add_param_group`) afterwards"
    facts = ("pt15",)
    triggers = ("parameters(",)
    doc = """
    ## What it does
    Flags an assignment of a new module with weights (`nn.Linear(...)`, `nn.Sequential` of
    such, a module class of the project that creates parameters) or of an `nn.Parameter` to an
    attribute of a model, when earlier in the same function an optimizer was built from that
    model's `parameters()` (`opt = torch.optim.Adam(model.parameters())`) and no optimizer is
    built again (nor `add_param_group` called) afterwards.

    ## Why it breaks gradients
    An optimizer holds the parameter objects it was given, not the model. The new layer's
    parameters are fresh objects that were never handed to it: backward fills their `.grad`,
    and `step()` never touches them, so the new layer keeps its random initialization while
    the rest of the network trains around it, silently (fact pt15). The old layer's
    parameters are still in the optimizer and still being "updated", uselessly.

    Not flagged: the replacement before the optimizer is built (the normal fine-tuning order),
    an optimizer re-created or `add_param_group` called after the replacement,
    `model.to(device)` / `.cuda()` / `.double()` after the optimizer (they convert the
    parameters in place and keep their identity, fact pt15), assignments of values that hold
    no trainable weights (`model.training = False`, `nn.ReLU()`, tensors, numbers), new layers
    frozen with `requires_grad_(False)`, an optimizer built from another model's parameters,
    optimizers built and layers replaced in the same loop iteration, a target / EMA / teacher
    network attached to the model (`model.target_net = ...`, kept out of the optimizer on
    purpose), and the model name re-bound in between (`model, opt = fabric.setup(model, opt)`).
    A module's `__init__` that builds `self.optimizer` from `self.parameters()` and then adds a
    layer is flagged: the layer added last is not in that optimizer.

    ## Example
    ```python
    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.fc = nn.Linear(model.fc.in_features, 10)
    ```

    ## Use instead
    ```python
    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## References
    - PyTorch docs: `torch.optim` ("Constructing it", `Optimizer.add_param_group`)
    - gradscan facts: pt15
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        def finetune(model, loader, num_classes):
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            model.fc = nn.Linear(512, num_classes)  # error: GS602
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        from torch import nn, optim

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        model.scale = nn.Parameter(torch.ones(1))  # error: GS602
        train(model, optimizer)
        """,
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 4)
                self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
                self.head = nn.Linear(4, 1)  # error: GS602
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        def finetune(model, loader, num_classes, device):
            model.fc = nn.Linear(512, num_classes)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            model.to(device)
            model.training = False
            model.act = nn.ReLU()
            return opt

        def grow(model, teacher):
            opt = torch.optim.SGD(teacher.parameters(), lr=0.1)
            model.head = nn.Linear(8, 2)
            opt2 = torch.optim.SGD(model.parameters(), lr=0.1)
            return opt, opt2

        def add_head(model):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.head = nn.Linear(8, 2)
            opt.add_param_group({"params": model.head.parameters()})
            return opt

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 4)
                self.head = nn.Linear(4, 1)
                self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source or "optim"
        if "optim" not in source and "Adam" not in source:
            return
        reported: Set[int] = set()
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            built = _optimizer_value(model, node.value)
            if built is None:
                continue
            bound = dotted(node.targets[0].target)
            if bound is None:
                continue
            owners = param_owners(model, built, fn)
            if not owners:
                continue
            for target, asg in _replacements(model, fn, owners, node):
                if id(asg) in reported:
                    continue
                owner = next(o for o in sorted(owners, key=len, reverse=True) if target.startswith(o + "."))
                if not self._missed(model, fn, node, asg, bound, owner, target):
                    continue
                reported.add(id(asg))
                yield Report(asg.targets[0].target, message=self.message.format(target=target, opt=bound, owner=owner))

    @staticmethod
    def _missed(model: FileModel, fn, opt_node, asg, bound: str, owner: str, target: str) -> bool:
        if order(model, opt_node, asg) != -1:
            return False  # built after the replacement, or in another branch
        common = _common_block(model, opt_node, asg)
        if common is None or in_loop_between(model, common):
            return False  # an optimizer built again in every iteration of the loop
        if any(tokens(part) & FROZEN_TOKENS for part in target[len(owner) + 1:].split(".")):
            return False  # a target / EMA / teacher network kept out of the optimizer on purpose
        root = owner.split(".")[0]
        for node, owner_fn in model.assignments:  # the model itself re-bound in between
            if owner_fn is fn and isinstance(node, cst.Assign) and any(root in _bound_names(t.target) for t in node.targets):
                if order(model, opt_node, node) == -1 and order(model, node, asg) == -1:
                    return False
        used = "." in bound  # an optimizer kept on an object outlives the function
        for unit in following(model, asg):
            for node in nodes_in(unit):
                if isinstance(node, cst.Call):
                    name = _method(node) or ""
                    if _is_optimizer(model, node) or "optim" in name.lower() or name == "add_param_group":
                        return False  # built again, or the new parameters are added
                    if name == "requires_grad_" and dotted(node.func.value) is not None and (dotted(node.func.value) + ".").startswith(target + "."):
                        return False  # the new layer is frozen
                elif isinstance(node, cst.Name) and node.value == bound:
                    used = True
                elif isinstance(node, cst.Attribute) and dotted(node) == bound:
                    used = True
        return used


def _bound_names(target) -> Set[str]:
    """The plain names an assignment target binds (`model`, `model, opt`)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for el in target.elements for n in _bound_names(el.value)}
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    return set()


def _optimizer_value(model: FileModel, value) -> Optional[cst.Call]:
    """The optimizer built by an assigned value: `Adam(...)`, or one side of
    `Adam(...) if optimizer is None else optimizer`."""
    if isinstance(value, cst.IfExp):
        for side in (value.body, value.orelse):
            if _is_optimizer(model, side):
                return side
        return None
    return value if _is_optimizer(model, value) else None


def _common_block(model: FileModel, a, b) -> Optional[cst.CSTNode]:
    ca, cb = chain(model, a), chain(model, b)
    ids = {id(block) for block, _ in cb}
    for block, _ in ca:
        if id(block) in ids:
            return block
    return None


def _replacements(model: FileModel, fn, owners: Set[str], opt_node) -> Iterator[Tuple[str, cst.Assign]]:
    """Assignments in `fn` of a new module with weights (or a Parameter) to an attribute under one of `owners`."""
    for node, owner in model.assignments:
        if owner is not fn or node is opt_node or not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        target_node = node.targets[0].target
        if not isinstance(target_node, cst.Attribute):
            continue
        target = dotted(target_node)
        if target is None or not any(target.startswith(o + ".") for o in owners):
            continue
        if _holds_new_weights(model, node.value, target):
            yield target, node


def _holds_new_weights(model: FileModel, value, target: str) -> bool:
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _MOVE_METHODS | {"requires_grad_"}:
        if value.func.attr.value == "requires_grad_":
            return False  # a new frozen layer: nothing to update
        value = value.func.value
    if not isinstance(value, cst.Call):
        return False
    if is_parameter_call(model, value):
        flag = None
        for arg in value.args:
            if arg.keyword is not None and arg.keyword.value == "requires_grad":
                flag = arg.value
        positional = _positional(value)
        if flag is None and len(positional) > 1:
            flag = positional[1]
        return not (isinstance(flag, cst.Name) and flag.value == "False")
    ctor = module_ctor(model, value)
    if ctor is None:
        return False
    if ctor[1] == PARAMS:
        return True
    if ctor[1] == CONTAINER:
        # `nn.Sequential(model.fc, nn.Dropout())` wraps the old layer: its parameters keep their identity
        return any(_holds_new_weights(model, arg.value, target) for arg in value.args)
    if ctor[1] == PROJECT:
        local = local_class_of(model, value)
        if local is not None:
            return class_owns_parameters(model, local)
        # a class of another file: unknown whether a wrapper of the old layer adds weights
        return not any(dotted(arg.value) == target for arg in value.args)
    return False
