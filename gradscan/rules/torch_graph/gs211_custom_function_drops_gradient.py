from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, uses_torch
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import ClassInfo, FileModel
from gradscan.semantics.walk import descendants

_FUNCTION_BASES = {"torch.autograd.Function", "torch.autograd.function.Function"}


class CustomFunctionDropsGradient(GraphRule):
    code = "GS211"
    name = "custom-function-drops-gradient"
    summary = "A custom `autograd.Function` whose `backward` returns None for an input that `.apply(...)` is given a weight (or a value computed from the weights) for: it never gets a gradient"
    message = "`{cls}.backward` returns None for `{arg}`, given `{value}` by `.apply`: no gradient"
    explanation = (
        "Autograd gives each input of a custom Function exactly the gradient its backward returns at that position; "
        "None means no gradient, so a weight passed there (a learnable scale, a step size) keeps .grad None and never "
        "trains, and a value computed from earlier layers cuts them off."
    )
    hint = "return the gradient for that input from backward (e.g. `(grad_out * sign(w)).sum(...)` for a scale), or apply the weight outside the Function"
    facts = ("pt72",)
    triggers = ("Function",)
    doc = """
    ## What it does
    Flags the `None` a custom `torch.autograd.Function`'s `backward` returns at the position of
    a `forward` input, when a call `Cls.apply(...)` of the file (directly, or through an alias
    `quantize = Cls.apply`) passes that position a trainable parameter (`self.scale`, an
    `nn.Parameter`) or a value computed from the weights.

    ## Why it breaks gradients
    `backward` returns one gradient per `forward` input, and autograd hands each input exactly
    that value. `None` is the documented way to say "this input needs no gradient" (an
    integer, a flag, a mask). Returned for a learnable step size, scale or threshold, it makes
    the parameter's `.grad` stay None: the optimizer skips it and it keeps its initial value,
    without an error (fact pt72). Returned for an activation, it cuts every layer before the
    Function off the loss.

    Not flagged: `None` at the position of a Python number, a flag, a buffer, data (the
    clipping bound of a straight-through estimator) or a parameter created with
    `requires_grad=False`, and a backward that reads `ctx.needs_input_grad` (it decides input
    by input which gradients it supports, as the kernels of quantized inference layers do).

    ## Example
    ```python
    class ScaledSign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, scale):
            ctx.save_for_backward(w)
            return torch.sign(w) * scale

        @staticmethod
        def backward(ctx, grad_out):
            (w,) = ctx.saved_tensors
            return grad_out * (w.abs() <= 1).float(), None

    w_q = ScaledSign.apply(self.weight, self.scale)  # self.scale = nn.Parameter(...)
    ```

    ## Use instead
    ```python
        @staticmethod
        def backward(ctx, grad_out):
            w, scale = ctx.saved_tensors
            grad_scale = (grad_out * torch.sign(w)).sum(dim=1, keepdim=True)
            return grad_out * (w.abs() <= 1).float(), grad_scale
    ```

    ## References
    - PyTorch docs: "Extending torch.autograd" (`Function.backward` returns one gradient per input, None when not needed)
    - gradscan facts: pt72
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class ScaledRound(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, step):
                return torch.round(x / step) * step

            @staticmethod
            def backward(ctx, grad):
                return grad, None  # error: GS211

        class Quant(nn.Module):
            def __init__(self):
                super().__init__()
                self.step = nn.Parameter(torch.tensor(0.1))

            def forward(self, x):
                return ScaledRound.apply(x, self.step)
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class RoundSTE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, bits):
                scale = 2 ** bits - 1
                return torch.round(x * scale) / scale

            @staticmethod
            def backward(ctx, grad):
                return grad, None

        class Quant(nn.Module):
            def __init__(self, bits=4):
                super().__init__()
                self.bits = bits
                self.scale = nn.Parameter(torch.tensor(1.0))

            def forward(self, x):
                return RoundSTE.apply(x, self.bits) * self.scale
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        functions = _custom_functions(model)
        if not functions:
            return
        aliases = _apply_aliases(model, functions)
        reported = set()
        for call, scope in model.calls:
            info = _applied(model, call, functions, aliases)
            if info is None:
                continue
            inputs, nones = functions[info.name]
            positional = [a for a in call.args if a.keyword is None and not a.star]
            if len(positional) != len(call.args):
                continue
            for index, none_nodes in nones.items():
                if index >= len(positional):
                    continue
                value = positional[index].value
                if _frozen_parameter(model, value, scope) or not _trainable(model, value):
                    continue
                for node in none_nodes:
                    if id(node) in reported:
                        continue
                    reported.add(id(node))
                    text = model.module.code_for_node(value)
                    yield Report(node, self.message.format(cls=info.name, arg=inputs[index], value=" ".join(text.split())[:28]))


def _custom_functions(model: FileModel) -> Dict[str, Tuple[List[str], Dict[int, List[cst.CSTNode]]]]:
    """The file's `autograd.Function` subclasses: their forward's inputs (after `ctx`) and, per
    input position, the literal `None`s backward returns there."""
    out = {}
    for info in model.class_list:
        if not any(base in _FUNCTION_BASES for base in info.base_names):
            continue
        forward = info.methods.get("forward")
        backward = info.methods.get("backward")
        if forward is None or backward is None:
            continue
        params = forward.params
        # forward(ctx, *inputs), whatever the context is called; with a `setup_context` method
        # (the newer style) forward takes the inputs alone
        inputs = params if "setup_context" in info.methods else params[1:]
        if _reads_needs_input_grad(backward):
            continue  # backward decides per input which gradients it computes: its Nones are chosen
        nones: Dict[int, List[cst.CSTNode]] = {}
        for ret in backward.returns:
            if not isinstance(ret, cst.Return) or model.enclosing_function(ret) is not backward:
                continue
            value = ret.value
            if isinstance(value, cst.Tuple):
                elements = [e.value for e in value.elements]
            else:
                continue  # a single gradient for several inputs raises at once
            if any(isinstance(e, cst.StarredElement) for e in value.elements) or len(elements) != len(inputs):
                continue
            for i, element in enumerate(elements):
                if isinstance(element, cst.Name) and element.value == "None":
                    nones.setdefault(i, []).append(element)
        if nones:
            out[info.name] = (inputs, nones)
    return out


def _apply_aliases(model: FileModel, functions) -> Dict[str, str]:
    """`quantize = ScaledSign.apply` (module level or a class attribute): alias -> class."""
    aliases = {}
    for node, fn in model.assignments:
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            value = node.value
            if isinstance(value, cst.Attribute) and value.attr.value == "apply" and isinstance(value.value, cst.Name) \
                    and value.value.value in functions:
                aliases[node.targets[0].target.value] = value.value.value
    return aliases


def _applied(model: FileModel, call: cst.Call, functions, aliases) -> Optional[ClassInfo]:
    func = call.func
    name = None
    if isinstance(func, cst.Attribute) and func.attr.value == "apply" and isinstance(func.value, cst.Name):
        name = func.value.value
    elif isinstance(func, cst.Name) and func.value in aliases:
        name = aliases[func.value]
    if name is None or name not in functions:
        return None
    return model.classes.get(name)


def _reads_needs_input_grad(backward) -> bool:
    return any(isinstance(n, cst.Attribute) and n.attr.value == "needs_input_grad" for n in descendants(backward.node.body))


def _frozen_parameter(model: FileModel, value: cst.BaseExpression, scope) -> bool:
    """`self.w` stored as `nn.Parameter(..., requires_grad=False)`: it needs no gradient."""
    if not (isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name) and value.value.value == "self"):
        return False
    owner = scope
    while owner is not None and owner.parent is not None:
        owner = owner.parent
    if owner is None or owner.cls is None:
        return False
    stored = [v for c in model.class_chain(owner.cls) for a, v, _n, _m in c.self_assigns if a == value.attr.value]
    return bool(stored) and all(
        isinstance(v, cst.Call) and any(a.keyword is not None and a.keyword.value == "requires_grad"
                                        and isinstance(a.value, cst.Name) and a.value.value == "False" for a in v.args)
        for v in stored)


def _trainable(model: FileModel, value: cst.BaseExpression) -> bool:
    """A trainable weight or a value computed from the weights (the torch sources' walk), or a
    module-level leaf a function reads as a global (`tau = torch.zeros(5, requires_grad=True)`,
    `w = nn.Parameter(...)`), which the walk leaves to the scripts that define it."""
    if model.sources.live(value, "torch"):
        return True
    if not isinstance(value, cst.Name):
        return False
    definitions = model.get(Definitions)
    bindings, where = definitions.reaching(value)
    if where not in ("outer", "local") or len(bindings) != 1 or bindings[0].scope is not None:
        return False
    bound = bindings[0].value
    if bindings[0].kind != "name" or not isinstance(bound, cst.Call):
        return False
    callee = model.callee(bound) or ""
    if callee in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
        return True
    return callee.startswith("torch.") and any(
        a.keyword is not None and a.keyword.value == "requires_grad" and isinstance(a.value, cst.Name)
        and a.value.value == "True" for a in bound.args)
