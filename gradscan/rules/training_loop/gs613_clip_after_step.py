from __future__ import annotations

from typing import Iterator, List, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.gs601_zero_grad_between_backward_and_step import is_backward, runs_backward
from gradscan.rules.training_loop.helpers import is_optimizer, method_name, order
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted

_CLIPS = {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm"}
_INFINITE = {"inf", "float('inf')", 'float("inf")', "math.inf", "np.inf", "numpy.inf", "torch.inf"}
_EMPTY = cst.Module([])


def _is_clip(model: FileModel, call: cst.Call) -> bool:
    """`torch.nn.utils.clip_grad_norm_(...)` (any import of it) or a `.clip_grad_norm_(...)`
    method (an Accelerator, an FSDP model): clips the `.grad` the next step will apply."""
    name = method_name(call)
    if name not in _CLIPS:
        return False
    qname = model.callee(call)
    if qname is not None:
        return qname.startswith("torch.nn.utils")
    return isinstance(call.func, cst.Attribute)


def _infinite_bound(call: cst.Call) -> bool:
    """`clip_grad_norm_(params, float("inf"))`: measures the norm, clips nothing."""
    args = positional_arguments(call)
    bound = args[1] if len(args) > 1 else None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("max_norm", "clip_value"):
            bound = arg.value
    return bound is not None and _EMPTY.code_for_node(bound).replace(" ", "") in _INFINITE


def _clips_in(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo], depth: int = 0) -> bool:
    """`call` runs a function of this file that clips the gradients (`clip(model, 1.0)` with
    `def clip(m, n): clip_grad_norm_(m.parameters(), n)`), directly or one call further, and
    steps no optimizer itself: the call site is where the clip happens in the loop."""
    called = model.objects.called_function(call, fn)
    if called is None or called is fn or depth > 1:
        return False
    if any(method_name(c) == "step" for c in called.calls):
        return False
    return any((_is_clip(model, c) and not _infinite_bound(c)) or _clips_in(model, c, called, depth + 1)
               for c in called.calls)


def _optimizer_names(model: FileModel, fn: Optional[FunctionInfo]) -> Set[str]:
    """Names in `fn` that hold an optimizer: assigned one there (or on `self` in the class), or
    cleared with `.zero_grad()` and stepped (a parameter `optimizer`; a scheduler is never
    cleared)."""
    out: Set[str] = set()
    for node, owner in model.assignments:
        if owner is fn and isinstance(node, cst.Assign) and is_optimizer(model, node.value):
            out |= {dotted(t.target) for t in node.targets if dotted(t.target)}
    calls = fn.calls if fn is not None else [c for c, owner in model.calls if owner is None]
    cleared = {dotted(c.func.value) for c in calls if method_name(c) == "zero_grad" and isinstance(c.func, cst.Attribute)}
    out |= {n for n in cleared if n}
    top = fn
    while top is not None and top.parent is not None:
        top = top.parent
    if top is not None and top.cls is not None:
        for c in model.class_chain(top.cls):
            for attr, value, _node, _method in c.self_assigns:
                if is_optimizer(model, value):
                    out.add("self." + attr)
    return out


def _step_text(call: cst.Call, optimizers: Set[str]) -> Optional[str]:
    """`opt.step()` or `scaler.step(opt)` of an optimizer of `optimizers`: its text."""
    if method_name(call) != "step" or not isinstance(call.func, cst.Attribute):
        return None
    receiver = dotted(call.func.value)
    if receiver in optimizers:
        return f"{receiver}.step()"
    args = positional_arguments(call)
    if args and dotted(args[0]) in optimizers and receiver is not None:
        return f"{receiver}.step({dotted(args[0])})"
    return None


class ClipAfterStep(Rule):
    code = "GS613"
    name = "clip-after-step"
    framework = "torch"
    summary = "gradient clipping called after `optimizer.step()`: the step already applied the unclipped gradient, the clip does nothing"
    message = "`{clip}` runs after `{step}`: the step already used the unclipped gradients; clip first"
    explanation = (
        "clip_grad_norm_ rescales the .grad tensors in place. After step() the update has already been made with "
        "the raw gradients, and the next zero_grad() discards the clipped ones: the clip never limits an update."
    )
    hint = "call it between `backward()` (and `scaler.unscale_(opt)`) and `step()`"
    facts = ("pt50",)
    triggers = ("clip_grad_",)
    doc = """
    ## What it does
    Flags `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` (or an `accelerator.` /
    FSDP `clip_grad_norm_` method) that runs after an optimizer's `step()` (`opt.step()`,
    `scaler.step(opt)`) in the same straight-line sequence, when a backward pass ran before that
    step, none runs between the step and the clip, and no optimizer step follows the clip in
    the function. An optimizer is a name assigned one, or a name the function both clears
    (`zero_grad()`) and steps. A call of a function of the file that clips (`self._clip()`,
    `clip_gradients(model, 1.0)`, directly or one call further) and steps nothing itself is
    taken as the clip at its call site.

    ## Why it breaks gradients
    Clipping edits `.grad` in place; the optimizer reads `.grad` in `step()`. Called after
    the step, the clip changes gradients that have already been applied and are cleared
    before the next backward pass: every update is made with the unclipped gradient, so the
    clipping meant to keep training stable silently never happens (fact pt50).

    Not flagged: a clip before the step, a clip followed by a step (a second optimizer), a
    clip with an infinite bound (it only measures the norm), and a clip after a new backward.

    ## Example
    ```python
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    ```

    ## Use instead
    ```python
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    ```

    ## References
    - PyTorch docs: `torch.nn.utils.clip_grad_norm_`; AMP examples ("Gradient clipping")
    - gradscan facts: pt50
    """
    invalid = (
        """
        import torch

        def train(model, loader, optimizer):
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # error: GS613
        """,
    )
    valid = (
        """
        import math
        import torch

        def train(model, loader, optimizer, scaler):
            for x, y in loader:
                optimizer.zero_grad()
                scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "clip_grad_" not in (model.source or ""):
            return
        for call, fn in model.calls:
            if not (_is_clip(model, call) and not _infinite_bound(call)) and not _clips_in(model, call, fn):
                continue
            calls = fn.calls if fn is not None else [c for c, owner in model.calls if owner is None]
            optimizers = _optimizer_names(model, fn)
            steps = [(c, _step_text(c, optimizers)) for c in calls]
            steps = [(c, text) for c, text in steps if text is not None]
            if not steps or any(order(model, call, c) == -1 for c, _ in steps):
                continue  # no step here, or a step after the clip (the clip serves it)
            before = [(c, text) for c, text in steps if order(model, c, call) == -1]
            if not before:
                continue
            step, text = self._latest(model, before)
            backwards = [c for c in calls if is_backward(model, c) or runs_backward(model, c, fn)]
            if any(order(model, step, b) == -1 and order(model, b, call) == -1 for b in backwards):
                continue  # a new backward pass between the step and the clip
            if not any(order(model, b, step) == -1 for b in backwards):
                continue  # the step's gradients come from elsewhere: unknown
            name = dotted(call.func) or "clip_grad_norm_"
            yield Report(call, message=self.message.format(clip=clip(name.rsplit(".", 1)[-1], 24), step=clip(text, 28)))

    @staticmethod
    def _latest(model: FileModel, steps: List):
        best = steps[0]
        for other in steps[1:]:
            if order(model, best[0], other[0]) == -1:
                best = other
        return best
