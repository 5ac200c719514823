from __future__ import annotations

from typing import Dict, Iterator, List, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.helpers import method_name
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted

# Learning-rate schedules: they change `param_groups[i]["lr"]` and nothing else.
_SCHEDULER_PREFIXES = ("torch.optim.lr_scheduler.", "transformers.optimization.get_", "transformers.get_")
# What an optimizer is otherwise asked that neither steps it nor hands it to code that may.
_IDLE_USES = {"zero_grad", "param_groups", "state_dict", "load_state_dict", "state", "defaults"}


def _is_scheduler(model: FileModel, value) -> Optional[cst.Call]:
    """The scheduler constructor an assigned value is (`StepLR(opt, ...)`, one side of
    `StepLR(opt) if args.scheduler else None`)."""
    sides = [value.body, value.orelse] if isinstance(value, cst.IfExp) else [value]
    for side in sides:
        if isinstance(side, cst.Call):
            qname = model.callee(side) or ""
            if qname.startswith(_SCHEDULER_PREFIXES) and ("lr_scheduler" in qname or "schedule" in qname):
                return side
    return None


def _optimizer_of(call: cst.Call) -> Optional[str]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "optimizer":
            return dotted(arg.value)
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return dotted(call.args[0].value)
    return None


def _is_step_of(call: cst.Call, name: str) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value == "step" and dotted(call.func.value) == name


def _hands_over(call: cst.Call, name: str) -> bool:
    """`scaler.step(opt)`, `train(model, opt)`, `accelerator.prepare(opt)`: code that may step it."""
    return any(dotted(arg.value) == name for arg in call.args)


class SchedulerStepWithoutOptimizerStep(Rule):
    code = "GS604"
    name = "scheduler-step-without-optimizer-step"
    framework = "torch"
    summary = "a learning-rate scheduler stepped where the optimizer is not (`if sched: sched.step() else: opt.step()`): the weights never change"
    message = "`{sched}.step()` runs where `{opt}.step()` does not: the weights never change; step the optimizer"
    explanation = (
        "An lr_scheduler's step() only changes the learning rate in the optimizer's param groups; the weights move "
        "only in optimizer.step(). On this path backward fills .grad and nothing applies it."
    )
    hint = "call `optimizer.step()` on every training step, then `scheduler.step()`"
    facts = ("pt44",)
    triggers = ("lr_scheduler", "schedule")
    doc = """
    ## What it does
    Flags `scheduler.step()`, where `scheduler` is a learning-rate scheduler built over an
    optimizer (`torch.optim.lr_scheduler.StepLR(optimizer, ...)`, `OneCycleLR`, transformers'
    `get_linear_schedule_with_warmup(optimizer, ...)`), in a function that backpropagates, when
    the optimizer is not stepped on that path: either `optimizer.step()` sits only in the other
    branch of the same `if` (`if scheduler: scheduler.step() else: optimizer.step()`), or the
    function never steps the optimizer at all (nor hands it to code that may, such as
    `scaler.step(optimizer)` or `train(model, optimizer)`).

    ## Why it breaks gradients
    A scheduler's `step()` sets a new learning rate in the optimizer's parameter groups and does
    nothing else. The weights change only in `optimizer.step()`. Where the scheduler is stepped
    instead of the optimizer, backward fills every `.grad`, the learning rate decays on
    schedule, and the weights never change; the loss stays flat with no error, only a warning
    that the scheduler was stepped before the optimizer (fact pt44).

    Not flagged: the scheduler stepped after (or besides) the optimizer on the same path, an
    optimizer stepped in code the function hands it to, an optimizer stepped outside the `if`,
    and functions that do not backpropagate (an epoch-end hook stepping only the scheduler).

    ## Example
    ```python
    loss.backward()
    if scheduler:
        scheduler.step()
    else:
        optimizer.step()
    ```

    ## Use instead
    ```python
    loss.backward()
    optimizer.step()
    if scheduler:
        scheduler.step()
    ```

    ## References
    - PyTorch docs: `torch.optim` ("How to adjust learning rate")
    - gradscan facts: pt44
    """
    invalid = (
        """
        import torch

        def fit(model, loader, lr, use_schedule):
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10) if use_schedule else None
            for x, y in loader:
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                if sched is not None:
                    sched.step()  # error: GS604
                else:
                    opt.step()
        """,
        """
        import torch
        from torch.optim.lr_scheduler import ExponentialLR

        def fit(model, loader):
            opt = torch.optim.Adam(model.parameters())
            decay = ExponentialLR(opt, gamma=0.99)
            for x, y in loader:
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                decay.step()  # error: GS604
        """,
    )
    valid = (
        """
        import torch

        def fit(model, loader, scaler):
            opt = torch.optim.Adam(model.parameters())
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
            for x, y in loader:
                opt.zero_grad()
                scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
                scaler.step(opt)
                scaler.update()
                if sched is not None:
                    sched.step()

        def fit2(model, loader, warmup):
            opt = torch.optim.Adam(model.parameters())
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
            for i, (x, y) in enumerate(loader):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                opt.step()
                if i > warmup:
                    sched.step()
                else:
                    opt.param_groups[0]["lr"] *= 1.1
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source or ""
        if "schedule" not in source or "step" not in source:
            return
        by_scope: Dict[int, List[cst.Call]] = {}
        scopes = {}
        for call, fn in model.calls:
            by_scope.setdefault(id(fn), []).append(call)
            scopes[id(fn)] = fn
        schedulers: Dict[int, Dict[str, str]] = {}
        members: Dict[int, Dict[str, str]] = {}  # `self.sched = StepLR(self.opt)`: seen by every method
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            ctor = _is_scheduler(model, node.value)
            name = dotted(node.targets[0].target)
            opt = _optimizer_of(ctor) if ctor is not None else None
            if not (name and opt):
                continue
            cls = getattr(fn, "cls", None)
            if name.startswith("self.") and cls is not None:
                members.setdefault(id(cls), {})[name] = opt
            else:
                schedulers.setdefault(id(fn), {})[name] = opt
        for key, calls in by_scope.items():
            fn = scopes[key]
            cls = getattr(fn, "cls", None)
            table = dict(members.get(id(cls), {}) if cls is not None else {})
            table.update(schedulers.get(key, {}))
            if not table or not any(method_name(c) == "backward" for c in calls):
                continue  # not a training step: an epoch-end hook may step only the schedule
            for call in calls:
                if method_name(call) != "step" or not isinstance(call.func, cst.Attribute):
                    continue
                sched = dotted(call.func.value)
                opt = table.get(sched or "")
                if opt is None:
                    continue
                if self._skipped(model, call, opt, calls, fn):
                    yield Report(call, message=self.message.format(sched=clip(sched, 20), opt=clip(opt, 20)))

    @staticmethod
    def _skipped(model: FileModel, sched_call: cst.Call, opt: str, calls: List[cst.Call], fn) -> bool:
        steps = [c for c in calls if _is_step_of(c, opt) or _hands_over(c, opt) and not _is_scheduler(model, c)]
        if not steps:
            # never stepped here: only when nothing else can reach the optimizer either
            return _optimizer_is_local(model, opt, fn) and not _escapes(model, opt, fn)
        sched_anc = {id(a) for a in model.ancestors(sched_call)}
        for anc in model.ancestors(sched_call):
            if isinstance(anc, cst.If) and anc.orelse is not None:
                in_body = id(anc.body) in sched_anc
                other = anc.orelse if in_body else anc.body
                if not in_body and id(anc.orelse) not in sched_anc:
                    continue
                mine = anc.body if in_body else anc.orelse
                inside_other = [s for s in steps if id(other) in {id(a) for a in model.ancestors(s)}]
                inside_mine = [s for s in steps if id(mine) in {id(a) for a in model.ancestors(s)}]
                # every step of the optimizer sits in the other branch of this `if`
                return bool(inside_other) and not inside_mine and len(inside_other) == len(steps)
        return False


def _optimizer_is_local(model: FileModel, opt: str, fn) -> bool:
    """`opt` is a plain name assigned in this scope (not a parameter, not an attribute)."""
    if "." in opt:
        return False
    return any(owner is fn and isinstance(node, cst.Assign) and any(dotted(t.target) == opt for t in node.targets)
               for node, owner in model.assignments)


def _escapes(model: FileModel, opt: str, fn) -> bool:
    """The optimizer is read here other than by a scheduler constructor or an idle use
    (`zero_grad()`, `param_groups`), or is read by a nested function (a closure may step it)."""
    for call, owner in model.calls:
        if owner is not fn and owner is not None and _nested_in(owner, fn):
            if any(dotted(arg.value) == opt for arg in call.args) or (isinstance(call.func, cst.Attribute) and dotted(call.func.value) == opt):
                return True
        if owner is not fn:
            continue
        if isinstance(call.func, cst.Attribute) and dotted(call.func.value) == opt and call.func.attr.value not in _IDLE_USES:
            return True
        if _hands_over(call, opt) and _is_scheduler(model, call) is None:
            return True
    for node, owner in model.assignments:  # stored, returned through a name, aliased
        if owner is fn and isinstance(node, cst.Assign) and dotted(node.value) == opt:
            return True
    for ret in (fn.returns if fn is not None else []):
        if ret.value is not None and opt in {dotted(n) for n in _names(ret.value)}:
            return True
    return False


def _names(expr) -> Iterator[cst.BaseExpression]:
    yield expr
    if isinstance(expr, (cst.Tuple, cst.List)):
        for el in expr.elements:
            yield from _names(el.value)


def _nested_in(inner, outer) -> bool:
    parent = getattr(inner, "parent", None)
    while parent is not None:
        if parent is outer:
            return True
        parent = getattr(parent, "parent", None)
    return False
