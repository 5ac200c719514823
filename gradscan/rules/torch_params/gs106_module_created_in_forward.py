from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import (
    PARAMS, PROJECT, class_owns_parameters, is_parameter_call, local_class_of, module_ctor,
)
from gradscan.rules.torch_params.helpers import (
    TENSOR_FACTORIES, factory_call, forward_reach, guarded, in_reach, rooted_at_self,
)
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted

# Factories whose result is fresh random or constant data (not derived from an activation).
FRESH_FACTORIES = TENSOR_FACTORIES - {"torch.as_tensor", "torch.from_numpy", "torch.tensor"}


class ModuleCreatedInForward(Rule):
    code = "GS106"
    name = "module-created-in-forward"
    framework = "torch"
    summary = "A layer or parameter constructed inside `forward` gets new random weights on every call and never trains"
    message = "{what} in forward gets new random weights every call; create it in __init__"
    explanation = "Every call constructs freshly initialised weights that are not in the optimizer: they never train."
    hint = "construct layers in `__init__` and only call them in `forward`"
    facts = ("pt27",)
    triggers = ("forward", "__call__", "training_step")
    doc = """
    ## What it does
    Flags the construction of a module that owns parameters (`nn.Linear`, convolutions,
    `nn.Embedding`, recurrent layers, `nn.LayerNorm`/`BatchNorm` with affine weights, a module
    class of the same file that creates parameters) or of an `nn.Parameter` of a fresh tensor
    (`nn.Parameter(torch.randn(...))`) inside a module's `forward`, `__call__` or
    `training_step`, or inside a method or function they always call.

    ## Why it breaks gradients
    Each call builds a new layer with new random weights (fact pt27). The optimizer was built
    from the parameters that existed before, so it never holds the new ones; gradients reach
    weights that are thrown away at the next call. The model never learns that layer and its
    outputs are re-randomised on every step, without any error.

    Not flagged: parameter-free modules (activations, losses, `nn.Dropout`, `nn.Identity`,
    `nn.Flatten`, pooling, `nn.Softmax`, `nn.LayerNorm(..., elementwise_affine=False)`);
    modules constructed in `__init__` or in factories; lazy construction stored on `self`
    under a guard (`if self.proj is None: self.proj = nn.Linear(...)`); helper methods called
    only conditionally; code under `torch.no_grad()`; layers whose weights are set right after
    construction (a fixed kernel). `nn.Parameter(<activation>)` is GS204's finding.

    ## Example
    ```python
    class Net(nn.Module):
        def forward(self, x):
            head = nn.Linear(x.shape[-1], 1)
            return head(x)
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.head = nn.Linear(dim, 1)

        def forward(self, x):
            return self.head(x)
    ```

    ## References
    - PyTorch docs: `torch.nn.Module`, `torch.nn.LazyLinear` (for sizes known only at the first call)
    - gradscan facts: pt27
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(3, 3)

            def forward(self, x):
                self.head = nn.Linear(3, 1)  # error: GS106
                bias = nn.Parameter(torch.zeros(1))  # error: GS106
                return self.head(self.body(x)) + bias
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(3, 3)
                self.head = None

            def forward(self, x):
                if self.head is None:
                    self.head = nn.Linear(x.shape[-1], 1)
                x = nn.ReLU()(self.body(x))
                x = nn.Dropout(0.1)(x)
                x = nn.LayerNorm(3, elementwise_affine=False)(x)
                return self.head(x)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        from gradscan.semantics.contexts import in_eval_branch, in_no_grad_block

        reach = forward_reach(model, ("forward", "__call__", "training_step"))
        if not reach:
            return
        for call, owner in model.calls:
            if owner is None or in_reach(model, call, reach) is None:
                continue
            what = self._creates_weights(model, call)
            if what is None:
                continue
            if in_no_grad_block(model, call) or in_eval_branch(model, call) or _under_special_with(model, call):
                continue
            if self._stored_on_self(model, call, owner) and guarded(model, call):
                continue
            if _cached(model, owner):
                continue  # `@functools.lru_cache` / `@cache` on the builder: built once per key, then reused
            if self._weights_set(model, call, owner):
                continue
            yield Report(call, self.message.format(what=clip(what, 32)))

    @staticmethod
    def _creates_weights(model: FileModel, call: cst.Call) -> Optional[str]:
        if is_parameter_call(model, call):
            data = find_argument(call, 0, "data")
            if data is not None and isinstance(data, cst.Call) and model.callee(factory_call(model, data) or data) in FRESH_FACTORIES:
                return "nn.Parameter of a fresh tensor"
            if data is not None and model.sources.walk.is_live(data) and ModuleCreatedInForward._stored_on_self(model, call):
                # `self.scale = nn.Parameter(self.scale.clamp(min=1e-3))`: a new leaf on every call,
                # cut from the weights that computed it; the optimizer holds the old one (a local
                # `nn.Parameter(activation)` that reaches the output is GS204's)
                return "nn.Parameter of a computed tensor"
            return None
        ctor = module_ctor(model, call)
        if ctor is None:
            return None
        if ctor[1] == PARAMS:
            return ctor[0]
        if ctor[1] == PROJECT:
            local = local_class_of(model, call)
            if local is not None and class_owns_parameters(model, local):
                return ctor[0]
        return None

    @staticmethod
    def _stored_on_self(model: FileModel, call: cst.Call, owner: Optional[FunctionInfo] = None) -> bool:
        """Stored on `self` (or into a container of `self`), directly or through a local name:
        `new = nn.Embedding(...); ...; self.emb = new`."""
        stmt = model.parent(call)
        if owner is not None and isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name):
            name = stmt.targets[0].target.value
            for node, fn in model.assignments:
                if fn is owner and isinstance(node, cst.Assign) and isinstance(node.value, cst.Name) and node.value.value == name:
                    if any(rooted_at_self(_subscripted(t.target)) for t in node.targets):
                        return True
        for anc in model.ancestors(call):
            if isinstance(anc, cst.Assign):
                return any(rooted_at_self(t.target) or (isinstance(t.target, cst.Subscript) and rooted_at_self(t.target.value)) for t in anc.targets)
            if isinstance(anc, cst.Call):
                func = anc.func
                if isinstance(func, cst.Name) and func.value == "setattr":
                    return True
                if isinstance(func, cst.Attribute) and (func.attr.value in ("add_module", "register_module", "register_parameter", "append", "setdefault", "update") and rooted_at_self(func.value)):
                    return True
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                return False
        return False

    @staticmethod
    def _weights_set(model: FileModel, call: cst.Call, owner: FunctionInfo) -> bool:
        """`conv = nn.Conv2d(...)` followed by `conv.weight = ...` / `conv.weight.data.copy_(...)` /
        `conv.load_state_dict(...)` / `conv.requires_grad_(False)`: a fixed operator, not a layer to train."""
        stmt = model.parent(call)
        if not (isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name)):
            return False
        name = stmt.targets[0].target.value
        prefix = name + "."
        for node, fn in model.assignments:
            if fn is owner and isinstance(node, cst.Assign) and any((dotted(_subscripted(t.target)) or "").startswith(prefix) for t in node.targets):
                return True  # conv.weight = kernel, emb.weight.data[:n] = old.weight.data
        for other in owner.calls:
            func = other.func
            if isinstance(func, cst.Attribute) and (dotted(func) or "").startswith(prefix) and func.attr.value in _FIXING_METHODS:
                return True  # conv.weight.data.copy_(kernel), conv.load_state_dict(...), conv.requires_grad_(False)
            if model.callee(other) in _FIXED_INITS and other.args and (dotted(other.args[0].value) or "").startswith(prefix):
                return True  # nn.init.constant_(conv.weight, 1 / 9)
        return False


_FIXING_METHODS = {"fill_", "copy_", "zero_", "set_", "load_state_dict", "requires_grad_", "eval"}
_FIXED_INITS = {"torch.nn.init.constant_", "torch.nn.init.ones_", "torch.nn.init.zeros_", "torch.nn.init.eye_", "torch.nn.init.dirac_"}


def _subscripted(expr):
    """`a.b` for `a.b[i][j]`."""
    while isinstance(expr, cst.Subscript):
        expr = expr.value
    return expr


def _under_special_with(model: FileModel, node) -> bool:
    """`with torch.device("meta"):`, `init_empty_weights()` and similar: shape-only construction."""
    for anc in model.ancestors(node):
        if isinstance(anc, cst.With):
            for item in anc.items:
                text = dotted(item.item.func if isinstance(item.item, cst.Call) else item.item) or ""
                if text.endswith("device") or "empty" in text or "meta" in text or "init" in text:
                    return True
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
    return False


_CACHING_DECORATORS = {"functools.lru_cache", "functools.cache", "functools.cached_property"}


def _cached(model: FileModel, fn: FunctionInfo) -> bool:
    """The function (or one it is nested in) is memoised: it builds its module once per key."""
    while fn is not None:
        node = fn.node
        if isinstance(node, cst.FunctionDef):
            for d in node.decorators:
                expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
                if model.resolve(expr) in _CACHING_DECORATORS:
                    return True
        fn = fn.parent
    return False
