from __future__ import annotations

import re
from typing import Iterator, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.helpers import (
    calls_in, chain, is_optimizer, method_name, nodes_in, owner_of, param_owners, units,
)
from gradscan.semantics.arguments import argument_for, positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted, tokens

_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue)
# Compound statements whose body runs straight after the statements before them (when it runs).
_ENTERABLE = (cst.If, cst.Else, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally)
# An `if` guarding a skipped update: zeroing the gradients there makes the step a no-op on purpose.
_SKIP_GUARD = {"nan", "isnan", "inf", "isinf", "finite", "isfinite", "overflow", "overflowed", "skip", "skipped"}
BACKWARD_METHODS = {"backward", "manual_backward"}
# Names of calls that may compute gradients again themselves (`train_step`, `closure`, `amp_backward`).
_BACKWARD_NAMES = re.compile(r"backward|closure|train_|_train|(?:^|_)step_|_step$", re.IGNORECASE)


def _receiver(call: cst.Call) -> Optional[str]:
    return dotted(call.func.value) if isinstance(call.func, cst.Attribute) else None


class ZeroGradBetweenBackwardAndStep(Rule):
    code = "GS601"
    name = "zero-grad-between-backward-and-step"
    framework = "torch"
    summary = "`zero_grad()` between `backward()` and `step()` wipes the gradients the step needed: training does nothing"
    message = "`{zero}` between backward and `{step}` wipes the gradients; move it"
    early_message = "`{step}` runs after `{zero}` and before backward: it steps nothing; move it"
    explanation = (
        "zero_grad() after backward wipes the gradients just computed: the step does not change the weights "
        "(silent no-op training). Call it before backward() or after step()."
    )
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
    was built from the parameters of `model` or of a part of it (`model.head.parameters()`:
    a module's `zero_grad()` clears every submodule; also `self.zero_grad()` in a torch
    module that owns its optimizers and does not define `zero_grad` itself), in the same
    function (or at module level, for a helper that reads the script's optimizer and does
    not bind that name itself), as `self.<optimizer>` of the same class, or handed to the class's constructor beside the model:
    `Trainer(net, SGD(net.parameters()))` with `self.model = model` and
    `self.optimizer = optimizer`). When the `zero_grad()` opens a method, the backward pass
    is looked for before its calls: a trainer's `_apply_gradients()` called right after
    `loss.backward()` is flagged when every `self._apply_gradients()` of the class follows one.
    A closure handed to `optimizer.step(closure)` (LBFGS) that calls `zero_grad()` after its
    backward pass and then returns is flagged too: the step reads the gradients right after
    calling it.
    The same clearing in the other order, `zero_grad(); step(); loss.backward()` (a step of the
    same optimizer after `zero_grad()` with no backward pass between them, and a backward pass
    after the step in its block), is flagged on the step: it reads the gradients just
    cleared, and in a loop the next `zero_grad()` clears that backward's gradients before any
    step uses them.

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
    written by hand to `.grad`) between `zero_grad()` and `step()` (a call of a function of
    this file counts when it runs one, whatever it is called; one of another module when its
    name says so: `train_step`, `closure`), `step(closure)` (the closure computes the
    gradients again), a backward pass in a branch that leaves the loop
    (`if warmup: loss.backward(); continue`), `zero_grad()` at the start of a closure or in a
    hook, an `if` that tests for a non-finite value (`isfinite`, `found_inf`, `x != x`), and a
    method that clears and steps when one of its callers ran no backward pass before it.
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

        def train_step_first(model, loader, criterion, opt):
            for x, y in loader:
                opt.zero_grad()
                opt.step()  # error: GS601
                criterion(model(x), y).backward()
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
        """
        import torch

        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer

            def _apply_gradients(self):
                self.model.zero_grad()  # error: GS601
                self.optimizer.step()

            def batch(self, x):
                self.model(x).sum().backward()
                self._apply_gradients()

        net = torch.nn.Linear(3, 1)
        trainer = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.1))
        """,
    )
    valid = (
        """
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer

            def _update(self):
                self.optimizer.step()
                self.optimizer.zero_grad()

            def batch(self, x):
                self.model(x).sum().backward()
                self._update()
        """,
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
                early = _step_before_backward(model, stmt, optimizers, fn)
                if early is not None:
                    node, step = early
                    zero = f"{receiver}.zero_grad()"
                    yield Report(node, message=self.early_message.format(step=clip(step, 30), zero=clip(zero, 30)))
                continue
            step = _step_after(model, stmt, optimizers, fn)
            if step is None:
                step = _closure_step(model, stmt, optimizers, fn)
            if step is None:
                continue
            zero = f"{receiver}.zero_grad()"
            yield Report(call, message=self.message.format(zero=clip(zero, 30), step=clip(step, 30)))


def _covers(module: str, owners: Set[str]) -> bool:
    """`module.zero_grad()` clears the parameters of every submodule: it covers an optimizer
    built from `module.parameters()` or from a part of it (`gan.generator.parameters()`)."""
    return any(o == module or o.startswith(module + ".") for o in owners)


def _optimizers_of(model: FileModel, receiver: str, call: cst.Call, fn: Optional[FunctionInfo]) -> Set[str]:
    """For `model.zero_grad()`: the optimizers built from the parameters of `model` or of one
    of its submodules in the same function (`opt = SGD(model.head.parameters())`) or, for
    `self.model` (and for `self` in a torch module class that does not define `zero_grad`
    itself), in the same class."""
    out: Set[str] = set()
    # the function's own optimizers, and those of the scopes it reads names from (a notebook's
    # module-level `opt` stepped in `def update(loss): ...`) unless it binds the name itself
    scopes = []
    scope = fn
    while True:
        scopes.append(scope)
        if scope is None:
            break
        scope = scope.parent
    for node, owner in model.assignments:
        if not isinstance(node, cst.Assign) or len(node.targets) != 1 or not any(owner is s for s in scopes):
            continue
        name = dotted(node.targets[0].target)
        if owner is not fn and (name is None or "." in name or name in fn.bindings or name in fn.params):
            continue
        if name is not None and name != receiver and is_optimizer(model, node.value) and _covers(receiver, param_owners(model, node.value, owner)):
            out.add(name)
    top = fn
    while top is not None and top.parent is not None:
        top = top.parent
    cls = top.cls if top is not None else None
    if cls is None:
        return out
    whole = receiver == "self" and cls.is_torch and not any(model.find_method(c, "zero_grad") for c in model.class_chain(cls))
    if receiver.startswith("self.") or whole:
        for owner_cls in model.class_chain(cls):
            for attr, value, _node, method in owner_cls.self_assigns:
                if is_optimizer(model, value):
                    init = owner_cls.methods.get(method)
                    if _covers(receiver, param_owners(model, value, init)):
                        out.add(f"self.{attr}")
        if not whole:
            out |= _handed_optimizers(model, cls, receiver)
    return out


def _init_parameter(cls, attr: str) -> Optional[str]:
    """`self.<attr> = <parameter>` in `__init__`: the parameter's name."""
    init = cls.methods.get("__init__")
    if init is None:
        return None
    params = {p.name.value for p in (*init.node.params.posonly_params, *init.node.params.params, *init.node.params.kwonly_params)}
    for name, value, _node, method in cls.self_assigns:
        if name == attr and method == "__init__" and isinstance(value, cst.Name) and value.value in params:
            return value.value
    return None


def _handed_optimizers(model: FileModel, cls, receiver: str) -> Set[str]:
    """`Trainer(net, torch.optim.SGD(net.parameters()))` with `self.model = model` and
    `self.optimizer = optimizer` in `__init__`: `self.optimizer` when a construction in this
    file builds it over the parameters of the module it passes for `self.model`."""
    out: Set[str] = set()
    init = cls.methods.get("__init__")
    model_param = _init_parameter(cls, receiver[len("self."):])
    if init is None or model_param is None or "." in receiver[len("self."):]:
        return out
    handed = {}
    for attr, _value, _node, _method in cls.self_assigns:
        param = _init_parameter(cls, attr)
        if param is not None and param != model_param:
            handed[attr] = param
    if not handed:
        return out
    for call, owner in model.calls:
        if not (isinstance(call.func, cst.Name) and call.func.value == cls.name):
            continue
        passed_model = dotted(argument_for(init, call, model_param)) if argument_for(init, call, model_param) is not None else None
        if passed_model is None:
            continue
        for attr, param in handed.items():
            opt = argument_for(init, call, param)
            candidates = [opt]
            if isinstance(opt, cst.Name):
                candidates = [node.value for node, o in model.assignments
                              if o is owner and isinstance(node, cst.Assign) and any(dotted(t.target) == opt.value for t in node.targets)]
            if any(is_optimizer(model, c) and passed_model in param_owners(model, c, owner) for c in candidates):
                out.add(f"self.{attr}")
    return out


def _is_step_of(call: cst.Call, optimizers: Set[str]) -> Optional[str]:
    """`opt.step(...)`, `scaler.step(opt)`, `xm.optimizer_step(opt)`: the step's text, or None."""
    name = method_name(call)
    if name == "step":
        receiver = _receiver(call)
        if receiver in optimizers:
            return f"{receiver}.step()"
        args = positional_arguments(call)
        if args and dotted(args[0]) in optimizers and receiver is not None:
            return f"{receiver}.step({dotted(args[0])})"
    elif name == "optimizer_step":
        args = positional_arguments(call)
        if args and dotted(args[0]) in optimizers:
            return f"{dotted(call.func)}({dotted(args[0])})"
    return None


def is_backward(model: FileModel, call: cst.Call) -> bool:
    name = method_name(call)
    if name in BACKWARD_METHODS and isinstance(call.func, cst.Attribute):
        return True
    return model.callee(call) == "torch.autograd.backward"


def _backward_before(model: FileModel, stmt: cst.CSTNode, optimizers: Set[str], fn: Optional[FunctionInfo], depth: int = 0) -> bool:
    """A backward pass runs before `stmt` in its straight-line sequence, with no step of these
    optimizers in between. The search climbs out of `if`/`with`/`try` bodies (the statements
    before them ran first) but not out of loops (the previous iteration). At the top of a
    method it goes on before every `self.<method>()` call of the class (a trainer's
    `_apply_gradients()` run right after `loss.backward()`): all of them must have one."""
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
        if fn is not None and owner is fn.node:
            return depth == 0 and _callers_backward_before(model, fn, optimizers)
        if isinstance(owner, cst.Else):
            owner = model.parent(owner)
        while isinstance(owner, cst.If) and isinstance(model.parent(owner), cst.If):  # elif
            owner = model.parent(owner)
        if not isinstance(owner, _ENTERABLE):
            return False
        if isinstance(owner, cst.If) and _skip_guard(owner.test):
            return False
    return False


def _skip_guard(test: cst.BaseExpression) -> bool:
    """An `if` that tests for a non-finite value or a skipped step (`not torch.isfinite(norm)`,
    `found_inf`, `scaler_overflow`): word tokens of its names, not substrings (`info`)."""
    toks = set()
    for node in nodes_in(test):
        if isinstance(node, cst.Comparison) and len(node.comparisons) == 1 \
                and isinstance(node.comparisons[0].operator, cst.NotEqual) and node.left.deep_equals(node.comparisons[0].comparator):
            return True  # `norm != norm`: a NaN test
        if isinstance(node, cst.Name):
            toks |= tokens(node.value)
        elif isinstance(node, cst.Attribute):
            toks |= tokens(node.attr.value)
        elif isinstance(node, cst.SimpleString):
            toks |= tokens(node.value.strip("'\"rbuRBU"))
    return bool(toks & _SKIP_GUARD)


def _callers_backward_before(model: FileModel, fn: FunctionInfo, optimizers: Set[str]) -> bool:
    """Every `self.<fn>()` statement in the methods of `fn`'s class follows a backward pass
    (there is at least one). Only `self.` optimizers keep their names across methods."""
    if fn.cls is None or fn.parent is not None or not all(o.startswith("self.") for o in optimizers):
        return False
    sites = 0
    for call, owner in model.calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == fn.name and dotted(func.value) == "self"):
            continue
        if owner is fn:
            return False  # recursion
        if owner is None or owner.cls is None or not any(c is fn.cls for c in model.class_chain(owner.cls)):
            continue  # `self.<name>()` of another class
        site = model.parent(call)
        if not isinstance(site, cst.Expr) or site.value is not call:
            return False
        if not _backward_before(model, site, optimizers, owner, depth=1):
            return False
        sites += 1
    return sites > 0


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
                        if positional_arguments(node) and method_name(node) == "step" and _receiver(node) in optimizers:
                            return None  # step(closure): the closure computes the gradients again
                        step = found
            if step is not None:
                return step
        if not isinstance(owner_of(model, block), cst.With):
            return None
    return None


def _step_before_backward(model: FileModel, stmt: cst.CSTNode, optimizers: Set[str], fn: Optional[FunctionInfo]) -> Optional[Tuple[cst.Call, str]]:
    """`zero_grad(); step(); loss.backward()`: a step of these optimizers follows the
    `zero_grad()` in its block (or after the `with` blocks around it) with no backward pass,
    gradient write or exit in between, and a backward pass follows the step in the step's
    block. The step then reads the gradients just cleared, and in a loop the next
    iteration's `zero_grad()` clears this backward's gradients before they are stepped: the
    weights never move. The step call and its text, or None."""
    for block, idx in chain(model, stmt):
        rest = units(block)[idx + 1:]
        for k, unit in enumerate(rest):
            if isinstance(unit, _EXITS):
                return None
            for node in nodes_in(unit):
                if isinstance(node, cst.Attribute) and node.attr.value == "grad":
                    return None  # gradients written by hand, or torch.autograd.grad
                if not isinstance(node, cst.Call):
                    continue
                if is_backward(model, node) or _may_backward(model, node, fn):
                    return None
                step = _is_step_of(node, optimizers)
                if step is None:
                    continue
                if not (isinstance(unit, cst.Expr) and unit.value is node) or node.args and method_name(node) == "step" \
                        and _receiver(node) in optimizers:
                    return None  # a step in a branch, or `step(closure)` (the closure recomputes)
                for later in rest[k + 1:]:
                    if isinstance(later, _EXITS):
                        return None
                    if any(is_backward(model, c) or runs_backward(model, c, fn) for c in calls_in(later)):
                        return node, step
                return None
        if not isinstance(owner_of(model, block), cst.With):
            return None
    return None


def _closure_step(model: FileModel, stmt: cst.CSTNode, optimizers: Set[str], fn: Optional[FunctionInfo]) -> Optional[str]:
    """A closure that clears the gradients after its backward pass and then returns: the
    `opt.step(closure)` it is handed to reads `.grad` right after calling it, so the step
    finds nothing (LBFGS re-evaluates the closure, and every evaluation ends wiped). The
    step's text, or None when the function is not such a closure or recomputes afterwards."""
    if fn is None or not isinstance(fn.node, cst.FunctionDef):
        return None
    for block, idx in chain(model, stmt):
        for unit in units(block)[idx + 1:]:
            for node in nodes_in(unit):
                if isinstance(node, cst.Call) and (is_backward(model, node) or _may_backward(model, node, fn)):
                    return None
                if isinstance(node, cst.Attribute) and node.attr.value == "grad":
                    return None
        if owner_of(model, block) is fn.node:
            break
    for call, _owner in model.calls:
        if method_name(call) != "step" or _receiver(call) not in optimizers:
            continue
        for arg in call.args:
            if (arg.keyword is None or arg.keyword.value == "closure") and isinstance(arg.value, cst.Name) \
                    and arg.value.value == fn.name and _local_function(model, cst.Call(func=arg.value), _owner) is fn:
                return f"{_receiver(call)}.step({fn.name})"
    return None


def _may_backward(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
    """A call that may run a backward pass itself: a function or method of this file that calls
    one, or a name that says so (`train_step`, `closure`, `amp_backward`)."""
    name = method_name(call)
    if name is None:
        return False
    if _local_function(model, call, fn) is not None:
        return runs_backward(model, call, fn)  # the code is here: what it does decides, not its name
    return bool(_BACKWARD_NAMES.search(name))


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
