"""GS1xx: PyTorch weights that are never registered, never used, or recreated on every call.

Every rule here asks about `torch.nn.Module` classes (including classes whose base lives in
another file of the project, through the project index) and stays silent when a question cannot
be decided: dynamic attribute access, registration by other means, external base classes.
"""
from __future__ import annotations

import re
import weakref
from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics import classes as kinds
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

TENSOR_FACTORIES = {
    "torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.full", "torch.tensor",
    "torch.Tensor", "torch.FloatTensor", "torch.DoubleTensor", "torch.arange", "torch.linspace", "torch.eye",
    "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like", "torch.empty_like",
    "torch.full_like", "torch.normal", "torch.randint", "torch.logspace", "torch.as_tensor", "torch.from_numpy",
}
# Factories whose result is fresh random or constant data (not derived from an activation).
FRESH_FACTORIES = TENSOR_FACTORIES - {"torch.as_tensor", "torch.from_numpy", "torch.tensor"}

# torch.nn classes, by what a fresh instance holds.
_PARAM_MODULES = {
    "Linear", "Bilinear", "LazyLinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d", "Embedding", "EmbeddingBag", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "PReLU", "AdaptiveLogSoftmaxWithLoss", "ParameterList", "ParameterDict",
}
# class -> (affine keyword, its positional index, default, has running-stat buffers by default)
_AFFINE_MODULES = {
    "LayerNorm": ("elementwise_affine", 2, True, False),
    "RMSNorm": ("elementwise_affine", 2, True, False),
    "GroupNorm": ("affine", 3, True, False),
    "BatchNorm1d": ("affine", 3, True, True),
    "BatchNorm2d": ("affine", 3, True, True),
    "BatchNorm3d": ("affine", 3, True, True),
    "SyncBatchNorm": ("affine", 3, True, True),
    "LazyBatchNorm1d": ("affine", 2, True, True),
    "LazyBatchNorm2d": ("affine", 2, True, True),
    "LazyBatchNorm3d": ("affine", 2, True, True),
    "InstanceNorm1d": ("affine", 3, False, False),
    "InstanceNorm2d": ("affine", 3, False, False),
    "InstanceNorm3d": ("affine", 3, False, False),
    "LazyInstanceNorm1d": ("affine", 2, False, False),
    "LazyInstanceNorm2d": ("affine", 2, False, False),
    "LazyInstanceNorm3d": ("affine", 2, False, False),
}
# Parameter-free, but train/eval changes what they compute.
_MODE_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "RReLU"}
_CONTAINER_MODULES = {"Sequential", "ModuleList", "ModuleDict"}
_STATELESS_MODULES = {
    "ReLU", "ReLU6", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Softmax2d", "Softmin",
    "Softplus", "Softsign", "ELU", "SELU", "CELU", "LeakyReLU", "Hardtanh", "Hardswish", "Hardsigmoid",
    "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "GLU", "LogSigmoid", "Identity", "Flatten",
    "Unflatten", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d",
    "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d",
    "CircularPad3d", "CosineSimilarity", "PairwiseDistance", "Fold", "Unfold", "LocalResponseNorm",
    "CrossMapLRN2d",
}
PARAMS, MODE, STATELESS, MAYBE, CONTAINER, PROJECT = "params", "mode", "stateless", "maybe", "container", "project"
TORCH_NN_CONTAINERS = {
    "torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential", "torch.nn.ParameterList",
    "torch.nn.ParameterDict",
}
_LIGHTNING = {"pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule", "pytorch_lightning.core.module.LightningModule"}


def _kwarg(call: cst.Call, name: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _arg(call: cst.Call, index: int, name: str):
    """The argument passed as keyword `name` or at position `index` (None when absent or behind *args)."""
    kw = _kwarg(call, name)
    if kw is not None:
        return kw
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[: index + 1]):
        return None
    return positional[index].value if index < len(positional) else None


def _is_true(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _is_false(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _is_self(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"


def _self_attr(expr) -> Optional[str]:
    """`x` for `self.x`."""
    if isinstance(expr, cst.Attribute) and _is_self(expr.value):
        return expr.attr.value
    return None


def _rooted_at_self(expr) -> bool:
    text = dotted(expr)
    return text is not None and (text == "self" or text.startswith("self."))


def is_tensor_factory(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`torch.zeros(...)`, possibly followed by `.clone()`, `.to(...)`, `.float()`."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("clone", "to", "float", "double", "cuda", "contiguous"):
        expr = expr.func.value
    return isinstance(expr, cst.Call) and model.callee(expr) in TENSOR_FACTORIES


def factory_call(model: FileModel, expr: cst.BaseExpression) -> Optional[cst.Call]:
    """The factory call at the bottom of `torch.zeros(...).to(...)`, or None."""
    while isinstance(expr, cst.Call) and model.callee(expr) not in TENSOR_FACTORIES and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("clone", "to", "float", "double", "cuda", "contiguous"):
        expr = expr.func.value
    return expr if isinstance(expr, cst.Call) and model.callee(expr) in TENSOR_FACTORIES else None


def requires_grad_tensor(model: FileModel, value: cst.BaseExpression) -> bool:
    """A tensor factory with `requires_grad=True`, or with `.requires_grad_()` applied."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_":
        flag = _arg(value, 0, "requires_grad")
        return (not value.args or _is_true(flag)) and is_tensor_factory(model, value.func.value)
    inner = factory_call(model, value)
    return inner is not None and _is_true(_kwarg(inner, "requires_grad"))


def is_parameter_call(model: FileModel, expr) -> bool:
    return isinstance(expr, cst.Call) and model.callee(expr) in ("torch.nn.Parameter", "torch.nn.UninitializedParameter")


def _torch_nn_class(qname: Optional[str]) -> Optional[str]:
    if qname and qname.startswith("torch.nn.") and qname.count(".") == 2:
        last = qname[len("torch.nn."):]
        if last[:1].isupper():
            return last
    return None


def module_ctor(model: FileModel, call: cst.CSTNode) -> Optional[Tuple[str, str]]:
    """(display name, what a fresh instance holds) when `call` constructs a torch module."""
    if not isinstance(call, cst.Call):
        return None
    info = local_class_of(model, call)
    if info is not None:
        return (info.name, PROJECT) if info.is_torch else None
    qname = model.callee(call)
    name = _torch_nn_class(qname)
    if name is not None:
        display = f"nn.{name}"
        if name in _PARAM_MODULES:
            return display, PARAMS
        if name in _AFFINE_MODULES:
            keyword, index, default, stats = _AFFINE_MODULES[name]
            flag = _arg(call, index, keyword)
            affine = default if flag is None else (True if _is_true(flag) else False if _is_false(flag) else None)
            if affine is None:
                return display, MAYBE
            if affine:
                return display, PARAMS
            tracked = _arg(call, 4, "track_running_stats")
            has_stats = stats if tracked is None else (True if _is_true(tracked) else False if _is_false(tracked) else None)
            return display, (MODE if has_stats or has_stats is None else STATELESS)
        if name in _MODE_MODULES:
            return display, MODE
        if name in _CONTAINER_MODULES:
            return display, CONTAINER
        if name in _STATELESS_MODULES or name.endswith("Loss"):
            return display, STATELESS
        if name in ("Parameter", "UninitializedParameter", "Buffer", "UninitializedBuffer", "Module"):
            return None
        return display, MAYBE
    if qname and model.project is not None and "." in qname and not qname.startswith("torch."):
        bases = model.project.bases(qname)
        if bases is not None and kinds.resolve_kind(bases, False, model.project.bases) == kinds.TORCH:
            return qname.rsplit(".", 1)[1], PROJECT
    return None


def local_class_of(model: FileModel, call: cst.Call) -> Optional[ClassInfo]:
    """The class of this file a call constructs: `Block(...)`, or `Outer.Inner(...)` for a nested class."""
    text = dotted(call.func)
    if not text:
        return None
    parts = text.split(".")
    if len(parts) > 1 and not (parts[0] in model.classes and parts[0] not in model.imports.aliases):
        return None
    return model.classes.get(parts[-1]) if parts[-1] not in model.imports.aliases or len(parts) > 1 else None


def class_owns_parameters(model: FileModel, info: ClassInfo, depth: int = 0) -> bool:
    """A class of this file whose `__init__` chain creates parameters (not only wraps modules passed in)."""
    cache = _cache(model).setdefault("owns", {})
    if info in cache:
        return cache[info]
    cache[info] = False  # recursion guard
    found = False
    if depth <= 6:
        for fn in init_methods(model, info):
            for inner in _functions_within(model, fn):
                for call in inner.calls:
                    if is_parameter_call(model, call):
                        found = True
                    elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "register_parameter" and len(call.args) > 1 and is_parameter_call(model, call.args[1].value):
                        found = True
                    else:
                        ctor = module_ctor(model, call)
                        if ctor and ctor[1] == PARAMS:
                            found = True
                        elif ctor and ctor[1] == PROJECT:
                            local = local_class_of(model, call)
                            found = local is not None and local is not info and class_owns_parameters(model, local, depth + 1)
                    if found:
                        break
                if found:
                    break
            if found:
                break
    cache[info] = found
    return found


def _calls_in(expr: cst.CSTNode) -> List[cst.Call]:
    """The calls in an expression, not those in the lambdas it holds."""
    return [node for node in descendants(expr, prune=(cst.Lambda,)) if type(node) is cst.Call]


def nn_spelling(model: FileModel, cls_name: str) -> Optional[str]:
    """How this file can spell `torch.nn.<cls_name>`: `nn.X`, `torch.nn.X`, or an imported `X`."""
    aliases = model.imports.aliases
    for local, full in aliases.items():
        if full in (f"torch.nn.{cls_name}", f"torch.nn.modules.container.{cls_name}", f"torch.nn.parameter.{cls_name}") and local not in model.classes:
            return local
    for local, full in aliases.items():
        if full == "torch.nn" and local not in model.classes:
            return f"{local}.{cls_name}"
    for local, full in aliases.items():
        if full == "torch" and local not in model.classes:
            return f"{local}.nn.{cls_name}"
    return None


def code_of(model: FileModel, node: cst.CSTNode) -> str:
    return model.module.code_for_node(node)


# ---- class structure ---------------------------------------------------------------------

def init_methods(model: FileModel, info: ClassInfo) -> Set[FunctionInfo]:
    """`__init__` (here or in a base of this file) and the methods it calls on self, transitively."""
    start = model.find_method(info, "__init__")
    out: Set[FunctionInfo] = set()
    todo = [start] if start is not None else []
    while todo:
        fn = todo.pop()
        if fn in out:
            continue
        out.add(fn)
        for call in fn.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and _is_self(func.value):
                target = model.find_method(info, func.attr.value)
                if target is not None:
                    todo.append(target)
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super":
                for base in list(model.class_chain(info))[1:]:
                    if func.attr.value in base.methods:
                        todo.append(base.methods[func.attr.value])
                        break
    return out


def root_method(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn


def _guarded(model: FileModel, node: cst.CSTNode) -> bool:
    """Under an `if`, a conditional expression, `and`/`or`, or an `except` handler of its function."""
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.If, cst.IfExp, cst.BooleanOperation, cst.ExceptHandler, cst.Else)):
            return True
        if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return False
    return False


def forward_reach(model: FileModel, roots=("forward", "__call__")) -> Dict[FunctionInfo, FunctionInfo]:
    """Methods and functions run on every call of a torch module's `forward`: the root methods and
    what they call unconditionally (a call under an `if` is a lazy or optional path: not followed)."""
    from gradscan.semantics.contexts import Scopes, called_function, has_no_grad_decorator

    cache = _cache(model)
    key = ("reach", tuple(roots))
    if key in cache:
        return cache[key]
    scopes = Scopes(model)
    extra = set(model.settings.forward_methods) if model.settings is not None else set()
    reach: Dict[FunctionInfo, FunctionInfo] = {}
    todo: List[Tuple[FunctionInfo, FunctionInfo]] = []
    for fn in model.functions:
        if fn.is_method and fn.cls.is_torch and (fn.name in roots or fn.name in extra):
            todo.append((fn, fn))
    while todo:
        fn, root = todo.pop()
        if fn in reach:
            continue
        reach[fn] = root
        for inner in _functions_within(model, fn):
            for call in inner.calls:
                if _guarded(model, call):
                    continue
                target = called_function(model, inner, call, scopes)
                if target is not None and target.parent is None and not has_no_grad_decorator(model, target) and target.name != "__init__":
                    todo.append((target, root))
    cache[key] = reach
    return reach


_CACHE: "weakref.WeakKeyDictionary[FileModel, dict]" = weakref.WeakKeyDictionary()


def _cache(model: FileModel) -> dict:
    found = _CACHE.get(model)
    if found is None:
        found = _CACHE[model] = {}
    return found


def _functions_within(model: FileModel, fn: FunctionInfo) -> List[FunctionInfo]:
    """The function and every function or lambda nested in it."""
    cache = _cache(model)
    nested = cache.get("nested")
    if nested is None:
        nested = cache["nested"] = {}
        for other in model.functions:
            nested.setdefault(other, [other])
            p = other.parent
            while p is not None:
                nested.setdefault(p, [p]).append(other)
                p = p.parent
    return nested.get(fn, [fn])


def in_reach(model: FileModel, node: cst.CSTNode, reach: Dict[FunctionInfo, FunctionInfo]) -> Optional[FunctionInfo]:
    """The reached top-level function `node` runs in, or None."""
    fn = model.enclosing_function(node)
    while fn is not None:
        if fn in reach:
            return fn
        fn = fn.parent
    return None


def chain_is_closed(model: FileModel, info: ClassInfo, depth: int = 0) -> bool:
    """Every base up to `nn.Module` is a class we can read (this file or the project index): no
    external base class (`nn.Linear`, a library model) whose code may read the attributes."""
    if depth > 10:
        return False
    for base in info.base_names:
        if base == "torch.nn.Module" or base in _LIGHTNING:
            continue
        if base.startswith("<local>."):
            local = model.classes.get(base[len("<local>."):])
            if local is None or local is info or not chain_is_closed(model, local, depth + 1):
                return False
            continue
        if model.project is None or not _project_chain_closed(model.project, base, depth + 1):
            return False
    return True


def _project_chain_closed(project, qname: str, depth: int) -> bool:
    if depth > 10:
        return False
    bases = project.bases(qname)
    if bases is None:
        return False
    for base in bases:
        if base == "torch.nn.Module" or base in _LIGHTNING:
            continue
        if not _project_chain_closed(project, base, depth + 1):
            return False
    return True


def project_ancestors(model: FileModel, info: ClassInfo) -> List[str]:
    """Qualified names of the project classes (other files) this class derives from."""
    out: List[str] = []
    todo = [b for c in model.class_chain(info) for b in c.base_names if not b.startswith("<local>.")]
    seen: Set[str] = set()
    while todo and model.project is not None:
        base = todo.pop()
        if base in seen or len(seen) > 30:
            continue
        seen.add(base)
        bases = model.project.bases(base)
        if bases is not None:
            out.append(base)
            todo.extend(bases)
    return out


# ==== GS101 ==================================================================================

class TensorAttributeRequiresGrad(Rule):
    code = "GS101"
    name = "tensor-attribute-requires-grad"
    framework = "torch"
    summary = "A `requires_grad=True` tensor stored on a module is not a parameter: the optimizer never sees it"
    message = "tensor with requires_grad=True assigned to a module attribute is not registered as a parameter: model.parameters() misses it, so the optimizer never updates it; wrap it in nn.Parameter(...)"
    hint = "use `self.w = nn.Parameter(torch.randn(...))`"
    facts = ("pt01",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `self.x = torch.randn(..., requires_grad=True)` (or any tensor factory, or
    `.requires_grad_()` on one) inside a `torch.nn.Module` class, including classes whose
    module base is defined in another file of the project and attributes set in helper
    methods.

    ## Why it breaks gradients
    A plain tensor attribute is not registered: it is missing from `model.parameters()`,
    `state_dict()` and `model.to(device)`. Backward does fill its `.grad`, but an optimizer built
    from `model.parameters()` never updates it, so the weight keeps its initial value while the
    loss moves. If it is the module's only weight the optimizer raises "optimizer got an empty
    parameter list" (fact pt01).

    `nn.Parameter(...)`, `register_buffer(...)`, tensors in classes that are not modules,
    tensors created inside functions, and tensors the file hands to an optimizer by name
    (SAC's `self.log_alpha = torch.zeros(1, requires_grad=True)` with
    `Adam([self.log_alpha])`: that optimizer does update it) are not flagged.

    ## Example
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.randn(3, requires_grad=True)
    ```

    ## Use instead
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3))
    ```

    ## References
    - PyTorch docs: `torch.nn.Parameter`, `Module.register_parameter`
    - gradscan facts: pt01
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)  # error: GS101
                self.b = torch.zeros(3).requires_grad_()  # error: GS101

            def forward(self, x):
                return x * self.w + self.b
        """,
    )
    valid = (
        """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3))
                self.register_buffer("c", torch.zeros(3))

        class NotAModule:
            def __init__(self):
                self.w = torch.randn(3, requires_grad=True)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        handed = None
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            for attr, value, _node, _method in cls.self_assigns:
                if requires_grad_tensor(model, value):
                    if handed is None:
                        handed = self._handed_to_optimizer(model)
                    if attr in handed:
                        continue  # `Adam([self.log_alpha])`: an optimizer does update it
                    yield Report(value, fix=self._fix(model, value))

    @staticmethod
    def _handed_to_optimizer(model: FileModel) -> Set[str]:
        """Attributes passed by name to an optimizer the file builds (`torch.optim.Adam([self.log_alpha])`,
        `SGD([{"params": [agent.temperature]}])`): SAC's temperature kept as a plain leaf."""
        out: Set[str] = set()
        if "optim" not in model.source:
            return out
        for call, _fn in model.calls:
            name = model.callee(call) or ""
            if not name.startswith("torch.optim.") or name.startswith("torch.optim.lr_scheduler"):
                continue
            for arg in call.args[:1] if call.args and call.args[0].keyword is None else [a for a in call.args if a.keyword is not None and a.keyword.value == "params"]:
                todo = [arg.value]
                while todo:
                    node = todo.pop()
                    if isinstance(node, (cst.List, cst.Tuple)):
                        todo.extend(e.value for e in node.elements)
                    elif isinstance(node, cst.Dict):
                        todo.extend(e.value for e in node.elements if isinstance(e, cst.DictElement))
                    elif isinstance(node, cst.Attribute):
                        out.add(node.attr.value)
        return out

    @staticmethod
    def _fix(model: FileModel, value: cst.BaseExpression):
        """`torch.randn(3, requires_grad=True)` -> `nn.Parameter(torch.randn(3))` (plain factory calls only)."""
        if not isinstance(value, cst.Call) or model.callee(value) not in TENSOR_FACTORIES:
            return None
        spelling = nn_spelling(model, "Parameter")
        if spelling is None:
            return None
        args = [a for a in value.args if not (a.keyword is not None and a.keyword.value == "requires_grad")]
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        inner = value.with_changes(args=args)
        return (value, f"{spelling}({code_of(model, inner)})", "Wrap the tensor in nn.Parameter")


# ==== GS102 ==================================================================================

_CONVERSIONS = {"to", "cuda", "cpu", "double", "float", "half", "bfloat16", "type"}


class ParameterMovedInInit(Rule):
    code = "GS102"
    name = "parameter-moved-in-init"
    framework = "torch"
    summary = "`nn.Parameter(t).to(device)` is a plain tensor, not a parameter, whenever a move or cast happens"
    message = "`.{method}()` applied to an nn.Parameter returns a plain non-leaf tensor whenever it really moves or casts it: the attribute is not a registered parameter and its grad stays None; convert the tensor before wrapping it: nn.Parameter(t.{method}(...))"
    hint = "move or cast inside: `nn.Parameter(t.to(device))`"
    facts = ("pt26",)
    triggers = ("Parameter",)
    doc = """
    ## What it does
    Flags `self.w = nn.Parameter(t).to(device)` and the same with `.cuda()`, `.cpu()`,
    `.double()`, `.float()`, `.half()`, `.bfloat16()` or `.type(...)` applied after wrapping, in
    a `torch.nn.Module` class.

    ## Why it breaks gradients
    A move or cast is a differentiable operation: its result is a new, non-leaf plain `Tensor`
    computed from the parameter. Assigned to `self.w` it is not a parameter, so it is missing
    from `model.parameters()` and `state_dict()`, and its `.grad` stays None (fact pt26). When
    no conversion happens (same device, same dtype) the call returns the parameter itself, so
    the bug hides on CPU-only runs and appears only on the GPU or in another precision.

    `nn.Parameter(t.to(device))`, which converts before wrapping, is not flagged.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self, device):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3)).to(device)
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self, device):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3).to(device))
    ```

    ## References
    - PyTorch docs: `torch.nn.Parameter`, `Tensor.to`
    - gradscan facts: pt26
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, device):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(device)  # error: GS102
                self.b = nn.Parameter(torch.zeros(3)).double()  # error: GS102

            def forward(self, x):
                return x * self.w + self.b
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, device):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3).to(device))
                self.b = nn.Parameter(torch.zeros(3, dtype=torch.float64))

            def forward(self, x):
                return x * self.w + self.b
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            for _attr, value, _node, _method in cls.self_assigns:
                if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
                    continue
                method = value.func.attr.value
                inner = value.func.value
                if method not in _CONVERSIONS or not is_parameter_call(model, inner):
                    continue
                if method == "type" and not value.args:
                    continue  # `.type()` returns the type name
                yield Report(value.func.attr, self.message.format(method=method), fix=self._fix(model, value, inner))

    @staticmethod
    def _fix(model: FileModel, outer: cst.Call, param: cst.Call):
        """`nn.Parameter(t, rg).to(dev)` -> `nn.Parameter(t.to(dev), rg)`."""
        args = list(param.args)
        index = next((i for i, a in enumerate(args) if a.keyword is None and not a.star), None)
        if index is None:
            index = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "data"), None)
        if index is None or any(a.star for a in args):
            return None
        data = args[index].value
        if not isinstance(data, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            data = data.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        moved = cst.Call(func=cst.Attribute(value=data, attr=outer.func.attr), args=outer.args)
        args[index] = args[index].with_changes(value=moved)
        replacement = param.with_changes(args=args)
        return (outer, code_of(model, replacement), "Convert the tensor before wrapping it in nn.Parameter")


# ==== GS103 ==================================================================================

_HARMLESS_CONSUMERS = {
    "len", "enumerate", "zip", "reversed", "iter", "isinstance", "print", "range", "sorted", "list", "tuple",
    "id", "repr", "str", "any", "all", "sum", "min", "max", "map", "filter", "next", "type", "hasattr",
}


class ModuleInPlainContainer(Rule):
    code = "GS103"
    name = "module-in-plain-container"
    framework = "torch"
    summary = "Modules or parameters held in a plain list, tuple or dict are not registered"
    message = (
        "modules ({named}) held in a plain {container} are not registered: model.parameters() misses their weights, "
        "so the optimizer never updates them and state_dict() never saves them; parameter-free modules there are a "
        "bug too, since model.eval() and .to() never reach them (an nn.Dropout keeps dropping at inference); use {use}"
    )
    hint = "use nn.ModuleList / nn.ModuleDict (nn.ParameterList / nn.ParameterDict for parameters)"
    facts = ("pt03",)
    triggers = ("self",)
    doc = """
    ## What it does
    Flags a list, tuple or dict of freshly constructed modules or `nn.Parameter`s assigned to an
    attribute of a `torch.nn.Module`: a literal, a comprehension, `list(...)`/`tuple(...)` of
    one, an empty `self.x = []` or `{}` that is filled later with `append`/`extend`/`insert` or
    item assignment, or a local list built that way and then stored on `self`.

    ## Why it breaks gradients
    `nn.Module.__setattr__` registers modules and parameters, never the items of a Python
    container. A model holding its layers in a list has zero parameters from them (fact pt03):
    backward still fills their `.grad`, but an optimizer built from `model.parameters()` never
    updates them, `state_dict()` does not save them and `model.to(device)` does not move them.

    Parameter-free modules in a plain list are a bug too, though not a gradient one:
    `model.eval()` and `model.train()` never reach them, so an `nn.Dropout` held in a list keeps
    dropping at inference and a `BatchNorm` keeps updating its statistics.

    Not flagged: `nn.ModuleList`, `nn.ModuleDict`, `nn.ParameterList`, `nn.ParameterDict`,
    `nn.Sequential`; containers of things that are not modules or parameters (functions such as
    `F.relu`, strings, shapes) or only of stateless modules such as `nn.ReLU`; containers of
    modules already registered elsewhere (`[self.conv1, self.conv2]`); containers the class
    registers some other way (`self.add_module`, `register_module`, `setattr` loops, passing
    the container to `nn.Sequential(*...)` or `nn.ModuleList(...)`).

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(8, 8) for _ in range(3)]
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    ```

    ## References
    - PyTorch docs: `torch.nn.ModuleList`, `torch.nn.ModuleDict`, `torch.nn.ParameterList`
    - gradscan facts: pt03
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(8, 8) for _ in range(3)]  # error: GS103
                self.heads = {"a": nn.Linear(8, 1), "b": nn.Linear(8, 1)}  # error: GS103
                self.drop = [nn.Dropout(0.1)]  # error: GS103
                self.blocks = []  # error: GS103
                for _ in range(2):
                    self.blocks.append(nn.Linear(8, 8))

            def forward(self, x):
                for layer in self.layers:
                    x = self.drop[0](layer(x))
                return x
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
                self.acts = [F.relu, torch.tanh]
                self.shapes = [(8, 8), (8, 1)]
                self.pair = [self.layers[0], self.layers[1]]
                self.plain = [nn.ReLU(), nn.Identity()]
                self.extra = [nn.Linear(8, 8)]
                self.extra_net = nn.Sequential(*self.extra)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            methods = set(self._methods(cls))
            dynamic_modules, dynamic_params = self._registers_otherwise(model, cls)
            for attr, value, node, method in cls.self_assigns:
                fn = cls.methods.get(method)
                if fn is not None and fn.name in ("forward", "__call__"):
                    continue  # a module created in forward is GS106's finding
                found = self._contents(model, cls, methods, attr, value)
                if found is None:
                    continue
                container, elements, local = found
                kinds_found = [k for k in (self._element_kind(model, e) for e in elements) if k is not None]
                has_module = any(k[1] in (PARAMS, MODE, PROJECT, CONTAINER) for k in kinds_found)
                has_param = any(k[1] == "parameter" for k in kinds_found)
                if not has_module and not has_param:
                    continue
                if (has_module and dynamic_modules) or (has_param and dynamic_params):
                    continue
                if self._escapes(model, methods, f"self.{attr}", node) or (local is not None and self._escapes(model, methods, local[0], local[1])):
                    continue
                if self._reassigned(model, cls, attr, node):
                    continue
                yield Report(value, self._message(kinds_found, container, has_module, has_param), fix=self._fix(model, value, container, elements, kinds_found, has_module, has_param, local))

    # -- what the container holds --------------------------------------------------------
    @staticmethod
    def _methods(cls: ClassInfo) -> List[FunctionInfo]:
        return list(cls.methods.values())

    def _contents(self, model: FileModel, cls: ClassInfo, methods, attr: str, value):
        """(container kind, element expressions, (local name, its assignment) or None)."""
        value = _unwrap_repeat(value)
        kind = _literal_kind(model, value)
        if kind is not None:
            container, elements = kind
            if elements:
                return container, elements, None
            appended = self._appended(model, methods, f"self.{attr}", container)
            return (container, appended, None) if appended else None
        if isinstance(value, cst.Name):
            return self._local_container(model, value)
        return None

    def _local_container(self, model: FileModel, name: cst.Name):
        """`layers = [...]` (or `[]` then `layers.append(...)`) in the same function, then `self.x = layers`."""
        fn = model.enclosing_function(name)
        if fn is None:
            return None
        bound = []
        for node, owner in model.assignments:
            if owner is not fn:
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, cst.Name) and t.value == name.value for t in targets):
                bound.append(node)
        if len(bound) != 1 or not isinstance(bound[0], cst.Assign) or len(bound[0].targets) != 1:
            return None
        value = _unwrap_repeat(bound[0].value)
        kind = _literal_kind(model, value)
        if kind is None:
            return None
        container, elements = kind
        if not elements:
            elements = self._appended(model, [fn], name.value, container)
        if not elements:
            return None
        return container, elements, (name.value, bound[0])

    @staticmethod
    def _appended(model: FileModel, functions, target: str, container: str) -> List[cst.BaseExpression]:
        out: List[cst.BaseExpression] = []
        scope = set(functions)
        for call, owner in model.calls:
            if root_method(owner) not in scope and owner not in scope:
                continue
            func = call.func
            if not (isinstance(func, cst.Attribute) and dotted(func.value) == target):
                continue
            if func.attr.value == "append" and call.args:
                out.append(call.args[0].value)
            elif func.attr.value == "insert" and len(call.args) > 1:
                out.append(call.args[1].value)
            elif func.attr.value == "extend" and call.args:
                inner = _literal_kind(model, call.args[0].value)
                if inner is not None:
                    out.extend(inner[1])
        if container == "dict":
            for node, owner in model.assignments:
                if root_method(owner) not in scope and owner not in scope:
                    continue
                if isinstance(node, cst.Assign):
                    for t in node.targets:
                        if isinstance(t.target, cst.Subscript) and dotted(t.target.value) == target:
                            out.append(node.value)
        return out

    @staticmethod
    def _element_kind(model: FileModel, expr) -> Optional[Tuple[str, str]]:
        if is_parameter_call(model, expr):
            return ("nn.Parameter", "parameter")
        return module_ctor(model, expr)

    # -- ways the class registers or hands on the container ------------------------------
    @staticmethod
    def _registers_otherwise(model: FileModel, cls: ClassInfo) -> Tuple[bool, bool]:
        modules = params = False
        for c in model.class_chain(cls):
            for fn in c.methods.values():
                for inner in _functions_within(model, fn):
                    for call in inner.calls:
                        func = call.func
                        name = func.attr.value if isinstance(func, cst.Attribute) else (func.value if isinstance(func, cst.Name) else None)
                        if name in ("add_module", "register_module"):
                            modules = True
                        elif name == "register_parameter":
                            params = True
                        elif name == "setattr" and call.args and _is_self(call.args[0].value):
                            if len(call.args) < 2 or not isinstance(call.args[1].value, cst.SimpleString):
                                modules = params = True
        return modules, params

    @staticmethod
    def _escapes(model: FileModel, methods, target: str, assign_node) -> bool:
        """The container is handed to a call that may register it (`nn.Sequential(*layers)`,
        `nn.ModuleList(self.layers)`, a helper), or `super().__init__(layers)`."""
        scope = set(methods)
        for call, owner in model.calls:
            if root_method(owner) not in scope and owner not in scope:
                continue
            for arg in call.args:
                if _hands_on(arg.value, target):
                    name = dotted(call.func)
                    if name in _HARMLESS_CONSUMERS and not arg.star:
                        continue
                    return True
        return False

    @staticmethod
    def _reassigned(model: FileModel, cls: ClassInfo, attr: str, node) -> bool:
        for c in model.class_chain(cls):
            for other_attr, value, other, _m in c.self_assigns:
                if other_attr != attr or other is node:
                    continue
                if any(model.callee(call) in TORCH_NN_CONTAINERS for call in _calls_in(value)) or _mentions(value, f"self.{attr}"):
                    return True
        return False

    # -- message and fix -----------------------------------------------------------------
    def _message(self, kinds_found, container: str, has_module: bool, has_param: bool) -> str:
        named = ", ".join(dict.fromkeys(k[0] for k in kinds_found if k[1] in (PARAMS, MODE, PROJECT, CONTAINER, MAYBE, "parameter")))
        if has_param and not has_module:
            use = "nn.ParameterDict" if container == "dict" else "nn.ParameterList"
            return (
                f"parameters ({named}) held in a plain {container} are not registered: model.parameters() misses them, "
                f"so the optimizer never updates them and state_dict() never saves them; use {use}"
            )
        use = "nn.ModuleDict" if container == "dict" else "nn.ModuleList"
        if any(k[1] in (PARAMS, PROJECT, CONTAINER, "parameter") for k in kinds_found):
            return self.message.format(named=named, container=container, use=use)
        return (
            f"modules ({named}) held in a plain {container} are not registered: even without parameters this is a bug, "
            f"since model.eval() and .to() never reach them (an nn.Dropout keeps dropping at inference); use {use}"
        )

    @staticmethod
    def _fix(model: FileModel, value, container: str, elements, kinds_found, has_module: bool, has_param: bool, local):
        if local is not None or container == "tuple" or (has_module and has_param):
            return None
        if len(kinds_found) != len(elements):
            return None  # something in it is not a constructed module or parameter
        wrapper = ("ParameterDict" if container == "dict" else "ParameterList") if has_param else ("ModuleDict" if container == "dict" else "ModuleList")
        spelling = nn_spelling(model, wrapper)
        if spelling is None:
            return None
        if _unwrap_repeat(value) is not value:
            return None
        if isinstance(value, cst.List) and not value.elements:
            return (value, f"{spelling}()", f"Use {wrapper}")
        if isinstance(value, (cst.List, cst.ListComp)):
            return (value, f"{spelling}({code_of(model, value)})", f"Wrap in {wrapper}")
        if isinstance(value, cst.Dict) and all(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) for e in value.elements):
            if not value.elements:
                return (value, f"{spelling}()", f"Use {wrapper}")
            return (value, f"{spelling}({code_of(model, value)})", f"Wrap in {wrapper}")
        if isinstance(value, cst.Call) and dotted(value.func) == "list" and len(value.args) == 1 and not value.args[0].star:
            return (value, f"{spelling}({code_of(model, value.args[0].value)})", f"Use {wrapper}")
        if isinstance(value, cst.Call) and dotted(value.func) == "list" and not value.args:
            return (value, f"{spelling}()", f"Use {wrapper}")
        return None


def _mentions(expr: cst.CSTNode, target: str) -> bool:
    """Whether the expression names `target` (`self.head`, or a plain name)."""
    for node in descendants(expr):
        t = type(node)
        if (t is cst.Attribute and dotted(node) == target) or (t is cst.Name and node.value == target):
            return True
    return False


def _hands_on(expr, target: str) -> bool:
    """`target`, `target + other`, `[target, ...]`: the container itself is what is passed."""
    if dotted(expr) == target:
        return True
    if isinstance(expr, cst.BinaryOperation):
        return _hands_on(expr.left, target) or _hands_on(expr.right, target)
    if isinstance(expr, (cst.List, cst.Tuple)):
        return any(isinstance(e, (cst.Element, cst.StarredElement)) and _hands_on(e.value, target) for e in expr.elements)
    return False


def _unwrap_repeat(value):
    """`[nn.Linear(..)] * n` -> the list."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
        if isinstance(value.left, cst.List):
            return value.left
        if isinstance(value.right, cst.List):
            return value.right
    return value


def _literal_kind(model: FileModel, value) -> Optional[Tuple[str, List[cst.BaseExpression]]]:
    """("list" | "tuple" | "dict", the element expressions) of a container literal or comprehension."""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        kind = "tuple" if isinstance(value, cst.Tuple) else "list" if isinstance(value, cst.List) else "set"
        return kind, [e.value for e in value.elements if isinstance(e, cst.Element)]
    if isinstance(value, cst.ListComp):
        return "list", [value.elt]
    if isinstance(value, cst.Dict):
        return "dict", [e.value for e in value.elements if isinstance(e, cst.DictElement)]
    if isinstance(value, cst.DictComp):
        return "dict", [value.value]
    if isinstance(value, cst.Call) and dotted(value.func) in ("list", "tuple", "dict") and model.resolve(value.func) is None:
        kind = dotted(value.func)
        if not value.args:
            return kind, []
        if len(value.args) == 1 and not value.args[0].star and kind != "dict":
            inner = value.args[0].value
            if isinstance(inner, (cst.GeneratorExp, cst.ListComp)):
                return kind, [inner.elt]
            if isinstance(inner, (cst.List, cst.Tuple)):
                return kind, [e.value for e in inner.elements if isinstance(e, cst.Element)]
    return None


# ==== GS104 ==================================================================================

class BufferRequiresGrad(Rule):
    code = "GS104"
    name = "buffer-requires-grad"
    framework = "torch"
    summary = "A buffer registered with `requires_grad=True` gets gradients but the optimizer never updates it"
    message = "buffer registered with a requires_grad tensor: buffers are not in model.parameters(), so the optimizer never updates it although backward fills its .grad; use nn.Parameter for a weight, or drop requires_grad for a constant"
    hint = "a trainable weight is `self.b = nn.Parameter(t)`; a constant buffer needs no requires_grad"
    facts = ("pt24",)
    triggers = ("register_buffer", "Buffer")
    doc = """
    ## What it does
    Flags `register_buffer(name, t)` and `nn.Buffer(t)` where `t` requires gradients: a tensor
    factory with `requires_grad=True`, one with `.requires_grad_()` applied, or an
    `nn.Parameter` (directly or through a local variable of the same function).

    ## Why it breaks gradients
    Buffers are state, not weights: they are saved in `state_dict()` and moved by `.to()`, but
    `model.parameters()` does not yield them. A buffer that requires grad receives a `.grad`
    from backward, yet an optimizer built from `model.parameters()` never updates it (fact
    pt24): the value the author meant to learn stays at its initial value, silently. Either it
    is a weight (use `nn.Parameter`), or a constant (drop `requires_grad`, which also saves the
    wasted gradient computation).

    Buffers without `requires_grad`, and `nn.Parameter(..., requires_grad=False)`, are not
    flagged.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(3, requires_grad=True))
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
    ```

    ## References
    - PyTorch docs: `Module.register_buffer`, `torch.nn.Buffer`
    - gradscan facts: pt24
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("a", torch.ones(3, requires_grad=True))  # error: GS104
                self.register_buffer("b", torch.zeros(3).requires_grad_())  # error: GS104
                init = nn.Parameter(torch.randn(3))
                self.register_buffer("c", init)  # error: GS104
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("a", torch.ones(3))
                self.register_buffer("b", nn.Parameter(torch.zeros(3), requires_grad=False))
                self.c = nn.Parameter(torch.randn(3))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, owner in model.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "register_buffer":
                tensor = _arg(call, 1, "tensor")
            elif model.callee(call) == "torch.nn.Buffer":
                tensor = _arg(call, 0, "data")
            else:
                continue
            if tensor is None:
                continue
            value = _local_value(model, tensor, owner)
            if value is None:
                continue
            if requires_grad_tensor(model, value):
                yield Report(tensor)
            elif is_parameter_call(model, value):
                flag = _arg(value, 1, "requires_grad")
                if flag is None or _is_true(flag):
                    yield Report(tensor)


def _local_value(model: FileModel, expr, owner: Optional[FunctionInfo]):
    """The expression itself, or for a name its single assignment in the same function."""
    if not isinstance(expr, cst.Name):
        return expr
    if owner is None:
        return None
    found = []
    for node, fn in model.assignments:
        if fn is not owner:
            continue
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, cst.Name) and t.value == expr.value for t in targets):
            found.append(node)
        elif any(_mentions(t, expr.value) for t in targets if t is not None and not isinstance(t, cst.Name)):
            found.append(None)  # bound through unpacking: unknown
    if len(found) == 1 and isinstance(found[0], cst.Assign) and len(found[0].targets) == 1:
        return found[0].value
    return None


# ==== GS105 ==================================================================================

# Reading any of these gives access to every parameter by name or in bulk.
_BULK_ACCESS = {"parameters", "named_parameters", "state_dict", "_parameters", "__dict__", "_named_members", "parameters_to_vector", "functional_call"}
_NO_GRADIENT_READS = {"detach", "data", "grad", "shape", "requires_grad", "item", "device", "dtype", "size", "numel", "dim", "ndim", "tolist", "numpy", "requires_grad_", "zero_", "fill_", "normal_", "uniform_", "copy_"}
_FILE_BULK_ACCESS = {"_parameters", "__dict__", "functional_call", "_named_members"}


class ParameterNeverUsed(Rule):
    code = "GS105"
    name = "parameter-never-used"
    framework = "torch"
    summary = "An `nn.Parameter` that nothing reads: its grad stays None and it never trains"
    message = "nn.Parameter `{attr}` is never read by this class, its subclasses or this module: its .grad stays None, so it never trains (weight decay skips it too) and DDP fails with unused parameters"
    hint = "use the parameter in forward, or delete it"
    facts = ("pt04",)
    triggers = ("Parameter",)
    doc = """
    ## What it does
    Flags an `nn.Parameter` assigned to `self.x` in a module class when nothing reads `x`:
    no method of the class or of its base classes, no subclass in the project, no code of the
    same file (`model.x`), no string naming it (`getattr(self, "x")`, a state-dict key).

    ## Why it breaks gradients
    A parameter that takes no part in the forward computation gets no gradient: after backward
    its `.grad` is None, not zeros (fact pt04). Optimizers skip parameters whose grad is None,
    so it keeps its initial value, and even `AdamW`'s weight decay never touches it.
    `DistributedDataParallel` fails with "Expected to have finished reduction in the prior
    iteration ... parameters that were not used in producing loss". The usual cause is a
    forward that uses constants or the wrong attribute (a bijector computing with `1.0` and
    `0.0` instead of `self.scale` and `self.shift`).

    The rule stays silent whenever the question cannot be decided: attributes read
    dynamically (`getattr` with a computed name, `setattr` loops, `self.__dict__`), parameters
    reached in bulk (`self.parameters()`, `named_parameters()`, `state_dict()`), classes with a
    base class outside the project (whose code may read the attribute) or without a `forward`
    of their own or of a base in the same file.

    ## Example
    ```python
    class Affine(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(dim))
            self.shift = nn.Parameter(torch.zeros(dim))

        def forward(self, x):
            return x * 1.0 + self.shift
    ```

    ## Use instead
    ```python
    class Affine(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(dim))
            self.shift = nn.Parameter(torch.zeros(dim))

        def forward(self, x):
            return x * self.scale + self.shift
    ```

    ## References
    - PyTorch docs: `torch.nn.parallel.DistributedDataParallel` (`find_unused_parameters`)
    - gradscan facts: pt04
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Affine(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(dim))  # error: GS105
                self.shift = nn.Parameter(torch.zeros(dim))

            def forward(self, x):
                return x * 1.0 + self.shift
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Affine(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(dim))
                self.shift = nn.Parameter(torch.zeros(dim))
                self.temperature = nn.Parameter(torch.ones(()))

            def forward(self, x):
                return x * self.scale + getattr(self, "shift")

        def loss(model, x):
            return model(x).sum() / model.temperature
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        file_reads: Optional[Set[str]] = None
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            candidates = [(attr, node) for attr, value, node, method in cls.self_assigns if _holds_parameter(model, value) and method not in ("forward", "__call__")]
            if not candidates:
                continue
            if model.find_method(cls, "forward") is None or not chain_is_closed(model, cls):
                continue
            if file_reads is None:
                file_reads = _file_reads(model)
                if file_reads & _FILE_BULK_ACCESS or "<dynamic>" in file_reads or _bulk_use_in_file(model):
                    return
            if self._dynamic(model, cls):
                continue
            others: Set[str] = set()  # reads of the project's subclasses and bases in other files
            if model.project is not None:
                if model.module_name:
                    others |= model.project.subclasses_reads(f"{model.module_name}.{cls.name}")
                for ancestor in project_ancestors(model, cls):
                    entry = model.project.class_entry(ancestor)
                    if entry:
                        others |= set(entry.get("reads", ()))
            if others & _BULK_ACCESS:
                continue
            reads = file_reads | others
            unused = [(attr, node) for attr, node in candidates if not _is_read(model, attr, reads)]
            if not unused or self._dead_submodules(model, cls, reads):
                continue
            for attr, node in unused:
                target = _assigned_target(node, attr)
                if target is not None:
                    yield Report(target, self.message.format(attr=attr))

    @staticmethod
    def _dead_submodules(model: FileModel, cls: ClassInfo, reads: Set[str]) -> bool:
        """Submodules with weights that nothing reads either: the class keeps a structure on
        purpose (copied so that another model's checkpoints load, a half-written variant),
        and its unused parameters are part of it."""
        for c in model.class_chain(cls):
            for attr, value, _node, method in c.self_assigns:
                if method in ("forward", "__call__"):
                    continue
                ctor = module_ctor(model, value)
                if ctor is not None and ctor[1] in (PARAMS, PROJECT, CONTAINER, MAYBE) and not _is_read(model, attr, reads):
                    return True
        return False

    @staticmethod
    def _dynamic(model: FileModel, cls: ClassInfo) -> bool:
        """The class (or a base in this file) reaches attributes by computed names or in bulk."""
        for c in model.class_chain(cls):
            if "__getattr__" in c.methods or "__getattribute__" in c.methods:
                return True
            for fn in c.methods.values():
                for inner in _functions_within(model, fn):
                    for call in inner.calls:
                        func = call.func
                        if isinstance(func, cst.Attribute) and func.attr.value in _BULK_ACCESS and _is_self_or_super(func.value):
                            if func.attr.value in ("parameters", "named_parameters") and _harmless_bulk(model, call):
                                continue  # `next(self.parameters()).device`, `Adam(self.parameters())`
                            return True
                        if isinstance(func, cst.Name) and func.value in ("vars", "dir") and call.args and _is_self(call.args[0].value):
                            return True
        for node, fn in model.attributes:
            if node.attr.value in ("__dict__", "_parameters") and _is_self(node.value) and fn is not None:
                top = root_method(fn)
                if top is not None and top.cls is not None and top.cls in list(model.class_chain(cls)):
                    return True
        return False


def _is_self_or_super(expr) -> bool:
    return _is_self(expr) or (isinstance(expr, cst.Call) and dotted(expr.func) == "super")


_OPTIMIZER_WORDS = ("optim", "adam", "sgd", "rmsprop", "adagrad", "lbfgs", "lamb", "lion", "clip_grad", "zero_grad")


def _harmless_bulk(model: FileModel, call: cst.Call) -> bool:
    """A `parameters()` call that cannot put every parameter into a loss: the first parameter for
    its device, the argument of an optimizer or of gradient clipping, a count of elements."""
    if _first_only(model, call):
        return True
    parent = model.parent(call)
    if isinstance(parent, cst.Arg):
        outer = model.parent(parent)
        name = (model.callee(outer) or dotted(outer.func) or "") if isinstance(outer, cst.Call) else ""
        return any(word in name.lower() for word in _OPTIMIZER_WORDS)
    if isinstance(parent, cst.CompFor):
        comp = model.parent(parent)
        elt = getattr(comp, "elt", None)
        if isinstance(elt, cst.Call) and isinstance(elt.func, cst.Attribute) and elt.func.attr.value in ("numel", "nelement", "requires_grad_", "zero_"):
            return True
        if isinstance(elt, cst.Call) and isinstance(elt.func, cst.Attribute) and elt.func.attr.value == "numel":
            return True
    return False


def _bulk_use_in_file(model: FileModel) -> bool:
    """Some code of the file iterates a module's parameters (`sum(p.sum() for p in model.parameters())`),
    which may put every parameter into a loss."""
    for call, _fn in model.calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ("parameters", "named_parameters")):
            continue
        if _rooted_at_self(func.value):
            continue  # a class's own bulk access is judged per class (ParameterNeverUsed._dynamic)
        if not _harmless_bulk(model, call) and not _freeze_loop(model, call):
            return True
    return False


def _freeze_loop(model: FileModel, call: cst.Call) -> bool:
    """`for p in model.parameters(): p.requires_grad = False` (or `requires_grad_`, an init)."""
    loop = model.parent(call)
    if not isinstance(loop, cst.For) or loop.iter is not call:
        return False
    body = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else []
    for stmt in body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False
        for small in stmt.body:
            if isinstance(small, cst.Assign) and all(isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad" for t in small.targets):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                f = small.value.func
                name = f.attr.value if isinstance(f, cst.Attribute) else ""
                if name in ("requires_grad_", "zero_", "fill_", "normal_", "uniform_") or (model.callee(small.value) or "").startswith("torch.nn.init."):
                    continue
            return False
    return True


def _first_only(model: FileModel, call: cst.Call) -> bool:
    parent = model.parent(model.parent(call))
    if isinstance(parent, cst.Call) and dotted(parent.func) == "iter":
        parent = model.parent(model.parent(parent))
    return isinstance(parent, cst.Call) and dotted(parent.func) == "next"


def _is_read(model: FileModel, attr: str, reads: Set[str]) -> bool:
    if attr in reads:
        return True
    if len(re.findall(rf"\b{re.escape(attr)}\b", model.source or model.module.code)) > 1:
        words = _string_words(model)  # named somewhere else: maybe in a string
        return attr in words or "<dynamic>" in words
    return False


def _holds_parameter(model: FileModel, value) -> bool:
    if is_parameter_call(model, value):
        return True
    if isinstance(value, cst.IfExp):
        return _holds_parameter(model, value.body) or _holds_parameter(model, value.orelse)
    return False


def _assigned_target(node, attr: str):
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    for t in targets:
        if _self_attr(t) == attr:
            return t
    return None


def _file_reads(model: FileModel) -> Set[str]:
    """Attribute names loaded anywhere in the file, identifier-like words of its strings (not
    docstrings), and `<dynamic>` when a name is computed (`getattr(obj, name)`, `setattr` loops)."""
    reads: Set[str] = set()
    for node, _fn in model.attributes:
        parent = model.parent(node)
        if isinstance(parent, cst.AssignTarget) and parent.target is node:
            continue
        if isinstance(parent, (cst.AnnAssign, cst.Del)) and getattr(parent, "target", None) is node:
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _NO_GRADIENT_READS:
            continue  # `model.scale.detach()`, `self.scale.grad`: reads that take no part in a loss
        reads.add(node.attr.value)
    for call, _fn in model.calls:
        if isinstance(call.func, cst.Name) and call.func.value in ("getattr", "setattr", "delattr") and len(call.args) > 1:
            if not isinstance(call.args[1].value, cst.SimpleString) and _may_hold_modules(model, call.args[0].value):
                reads.add("<dynamic>")
        if model.callee(call) in ("operator.attrgetter", "torch.func.functional_call", "torch.nn.utils.stateless.functional_call"):
            reads.add("<dynamic>")
    return reads


_CONFIG_WORDS = {"config", "cfg", "conf", "args", "opt", "opts", "options", "hparams", "params", "settings", "kwargs", "attrs", "spec"}


def _may_hold_modules(model: FileModel, receiver) -> bool:
    """`getattr(self, name)`, `getattr(model, name)`: yes; `getattr(F, name)`, `getattr(config, name)`: no."""
    if model.resolve(receiver) is not None:
        return False  # an imported module: `getattr(torch.nn, name)`
    text = dotted(receiver)
    if text is None:
        return True
    last = text.rsplit(".", 1)[-1].lower()
    return not any(word in _CONFIG_WORDS for word in re.split(r"[_\d]+", last)) and last not in ("__builtins__", "builtins", "math", "operator")


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _string_words(model: FileModel) -> Set[str]:
    """Identifier-like words of the file's string literals and f-string parts, docstrings aside
    (the standard library's `ast`: a tenth of a libcst visit)."""
    import ast

    cache = _cache(model)
    if "string_words" in cache:
        return cache["string_words"]
    words: Set[str] = set()
    try:
        tree = ast.parse(model.source or model.module.code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        words.add("<dynamic>")
        cache["string_words"] = words
        return words
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.update(_WORD.findall(node.value))
    cache["string_words"] = words
    return words


# ==== GS106 ==================================================================================

class ModuleCreatedInForward(Rule):
    code = "GS106"
    name = "module-created-in-forward"
    framework = "torch"
    summary = "A layer or parameter constructed inside `forward` gets new random weights on every call and never trains"
    message = "{what} constructed inside forward: every call creates new randomly initialised weights that are not in the optimizer and never train; create it once in __init__"
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
            if self._stored_on_self(model, call, owner) and _guarded(model, call):
                continue
            if self._weights_set(model, call, owner):
                continue
            yield Report(call, self.message.format(what=what))

    @staticmethod
    def _creates_weights(model: FileModel, call: cst.Call) -> Optional[str]:
        if is_parameter_call(model, call):
            data = _arg(call, 0, "data")
            if data is not None and isinstance(data, cst.Call) and model.callee(factory_call(model, data) or data) in FRESH_FACTORIES:
                return "nn.Parameter of a fresh tensor"
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
                    if any(_rooted_at_self(_subscripted(t.target)) for t in node.targets):
                        return True
        for anc in model.ancestors(call):
            if isinstance(anc, cst.Assign):
                return any(_rooted_at_self(t.target) or (isinstance(t.target, cst.Subscript) and _rooted_at_self(t.target.value)) for t in anc.targets)
            if isinstance(anc, cst.Call):
                func = anc.func
                if isinstance(func, cst.Name) and func.value == "setattr":
                    return True
                if isinstance(func, cst.Attribute) and (func.attr.value in ("add_module", "register_module", "register_parameter", "append", "setdefault", "update") and _rooted_at_self(func.value)):
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


# ==== GS107 ==================================================================================

class RequireGradTypo(Rule):
    code = "GS107"
    name = "require-grad-typo"
    framework = "torch"
    summary = "`.require_grad = ...` is a typo for `requires_grad`: the freeze never happens"
    message = "`require_grad` is a typo for `requires_grad`: this creates a new attribute and the tensor's gradient setting is unchanged"
    hint = "write `requires_grad`"
    facts = ()
    triggers = ("require_grad",)
    doc = """
    ## What it does
    Flags assignments to an attribute named `require_grad` (without the `s`).

    ## Why it breaks gradients
    Tensors and parameters accept arbitrary new attributes, so `p.require_grad = False` raises
    nothing: it stores a new, meaningless attribute. `p.requires_grad` stays True and the layer
    you meant to freeze keeps training (or the one you meant to unfreeze stays frozen). Proved
    by the project's oracle test for GS107.

    ## Example
    ```python
    for p in model.encoder.parameters():
        p.require_grad = False
    ```

    ## Use instead
    ```python
    for p in model.encoder.parameters():
        p.requires_grad = False
    ```

    ## References
    - TorchFix TOR002 (the same check, before TorchFix was archived)
    - PyTorch docs: `Tensor.requires_grad`
    """
    invalid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.require_grad = False  # error: GS107
        """,
    )
    valid = (
        """
        def freeze(model):
            for p in model.parameters():
                p.requires_grad = False
            flags = {"require_grad": False}
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, _fn in model.assignments:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                if isinstance(target, cst.Attribute) and target.attr.value == "require_grad":
                    yield Report(target.attr, fix=(target.attr, "requires_grad", "Replace `require_grad` with `requires_grad`"))


# ==== GS108 ==================================================================================

_PARAM_ITERATORS = {"parameters", "named_parameters"}


class RequiresGradDisabledInForward(Rule):
    code = "GS108"
    name = "requires-grad-disabled-in-forward"
    framework = "torch"
    summary = "`requires_grad_(False)` on parameters inside `forward` freezes them for good"
    message = "requires_grad disabled on parameters inside forward: the flag persists after the call, so these weights get no gradient and stop training for good; freeze in __init__ or a freeze helper, or use torch.no_grad()/detach() for this computation only"
    hint = "freeze once outside forward, or compute under `torch.no_grad()` / with `.detach()`"
    facts = ("pt16",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `p.requires_grad_(False)` and `p.requires_grad = False` on the module's parameters
    (a loop over `self.<sub>.parameters()`, `self.<param>`, `self.<sub>.weight`, or
    `self.<sub>.requires_grad_(False)` on a submodule) inside `forward`/`__call__` or a method
    or function that forward always calls.

    ## Why it breaks gradients
    `requires_grad` is a property of the parameter, not of one computation: set in forward it
    stays off after the call returns (fact pt16). From the first forward on, those weights are
    left out of the graph, their `.grad` stays None and the optimizer never updates them again,
    silently. The author usually wanted "no gradient through this term", which is
    `torch.no_grad()` or `.detach()`.

    Not flagged: the same statements in `__init__`, in freeze helpers and training scripts
    outside forward, in a forward that turns `requires_grad` back on afterwards (the
    "disable, compute, re-enable" pattern of GAN training), in conditionally called helpers,
    and on tensors that are not parameters of the module.

    ## Example
    ```python
    class Net(nn.Module):
        def forward(self, x):
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            return self.head(self.encoder(x))
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def forward(self, x):
            with torch.no_grad():
                features = self.encoder(x)
            return self.head(features)
    ```

    ## References
    - PyTorch docs: `Tensor.requires_grad_`, "Locally disabling gradient computation"
    - gradscan facts: pt16
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(3, 3)
                self.head = nn.Linear(3, 1)

            def forward(self, x):
                for p in self.encoder.parameters():
                    p.requires_grad_(False)  # error: GS108
                self.head.bias.requires_grad = False  # error: GS108
                return self.head(self.encoder(x))
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(3, 3)
                self.head = nn.Linear(3, 1)
                for p in self.encoder.parameters():
                    p.requires_grad_(False)

            def forward(self, x):
                x = x.detach()
                x.requires_grad = False
                return self.head(self.encoder(x))

        def freeze(model):
            for p in model.parameters():
                p.requires_grad = False
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        from gradscan.semantics.contexts import in_eval_branch

        reach = None
        for node, target, fn_owner in self._disables(model):
            if reach is None:
                reach = forward_reach(model)
            fn = in_reach(model, node, reach)
            if fn is None or in_eval_branch(model, node):
                continue
            cls = reach[fn].cls
            if cls is None or not self._is_parameter(model, cls, target, node, isinstance(node, cst.Call)):
                continue
            if self._restored(model, fn):
                continue
            yield Report(node)

    @staticmethod
    def _disables(model: FileModel):
        for call, owner in model.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" and owner is not None:
                flag = _arg(call, 0, "requires_grad")
                if flag is not None and _is_false(flag):
                    yield call, func.value, owner
        for node, owner in model.assignments:
            if isinstance(node, cst.Assign) and _is_false(node.value) and owner is not None:
                for t in node.targets:
                    if isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad":
                        yield node, t.target.value, owner

    @staticmethod
    def _is_parameter(model: FileModel, cls: ClassInfo, target, node, module_ok: bool) -> bool:
        if isinstance(target, cst.Name):
            return _bound_to_self_parameters(model, target.value, node)
        if not _rooted_at_self(target):
            return False
        text = dotted(target)
        parts = text.split(".")
        if len(parts) >= 3 and parts[-1] in ("weight", "bias"):
            return True
        if len(parts) == 1:
            return module_ok
        if len(parts) == 2:
            for c in model.class_chain(cls):
                for attr, value, _n, _m in c.self_assigns:
                    if attr != parts[1]:
                        continue
                    if is_parameter_call(model, value):
                        return True
                    ctor = module_ctor(model, value)
                    if module_ok and ctor is not None and ctor[1] in (PARAMS, PROJECT, CONTAINER):
                        return True
        return False

    @staticmethod
    def _restored(model: FileModel, fn: FunctionInfo) -> bool:
        """The same forward turns requires_grad back on (disable, compute, re-enable)."""
        for inner in _functions_within(model, fn):
            for call in inner.calls:
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
                    flag = _arg(call, 0, "requires_grad")
                    if flag is None or not _is_false(flag):
                        return True
        for node, owner in model.assignments:
            if root_method(owner) is not fn and owner is not fn:
                continue
            if isinstance(node, cst.Assign) and not _is_false(node.value):
                if any(isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad" for t in node.targets):
                    return True
        return False


def _bound_to_self_parameters(model: FileModel, name: str, node) -> bool:
    """`name` is the loop variable of `for name in self.<sub>.parameters()` (or `named_parameters`)."""
    for anc in model.ancestors(node):
        loops = []
        if isinstance(anc, cst.For):
            loops.append((anc.target, anc.iter))
        elif isinstance(anc, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            comp = anc.for_in
            while comp is not None:
                loops.append((comp.target, comp.iter))
                comp = comp.inner_for_in
        for target, it in loops:
            bound = target.value == name if isinstance(target, cst.Name) else (
                isinstance(target, cst.Tuple) and len(target.elements) == 2 and isinstance(target.elements[1].value, cst.Name) and target.elements[1].value.value == name
            )
            if not bound:
                continue
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _PARAM_ITERATORS and _rooted_at_self(it.func.value):
                return (it.func.attr.value == "parameters") == isinstance(target, cst.Name)
            return False
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
    return False


# ==== GS109 ==================================================================================

_DEVICE_SAFE_READS = {"requires_grad_", "requires_grad", "grad", "is_cuda", "to", "cuda", "type_as", "device", "dtype", "shape", "size", "numel", "dim", "ndim", "item", "tolist", "cpu", "numpy", "__len__"}
_STATE_OVERRIDES = {"_apply", "to", "cuda", "state_dict", "_save_to_state_dict", "_load_from_state_dict", "load_state_dict", "__setstate__"}


class TensorAttributeNotBuffer(Rule):
    code = "GS109"
    name = "tensor-attribute-not-buffer"
    framework = "torch"
    summary = "A plain tensor attribute read in forward is not moved by `.to()` nor saved in `state_dict` (off by default)"
    message = "plain tensor attribute `{attr}` is read in forward but is not a buffer: model.to(device) leaves it behind and state_dict() does not save it; use self.register_buffer(\"{attr}\", ...)"
    hint = "`self.register_buffer(\"c\", torch.zeros(3))` (persistent=False to keep it out of checkpoints)"
    facts = ("pt02",)
    default_enabled = False
    triggers = ("torch",)
    doc = """
    ## What it does
    Flags `self.c = torch.zeros(...)` (any tensor factory, without `requires_grad`) assigned in
    `__init__` or a helper it calls, in a `torch.nn.Module` class, when `forward` (or a method
    it always calls) reads `self.c` as a tensor. Off by default: enable it with
    `--select GS109` or `extend-select = ["GS109"]`.

    ## Why it breaks gradients
    It does not: gradients to the other parameters are unaffected (fact pt02). It is a device
    and checkpoint bug, which is why it is off by default in a gradient checker. A plain
    tensor attribute is not a buffer: `model.to(device)` does not move it, so the first forward
    on the GPU fails with "Expected all tensors to be on the same device", and
    `state_dict()` does not save it, so a loaded model silently uses the value from
    `__init__`.

    Not flagged: `register_buffer`; `requires_grad=True` tensors (GS101); Python numbers and
    0-dim tensors such as `torch.tensor(0.5)`, which PyTorch combines with tensors on any
    device; reads that move or inspect the tensor (`self.c.to(x.device)`, `self.c.shape`);
    attributes reassigned outside `__init__`; classes that override `_apply`, `to` or the
    state-dict methods.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.mean = torch.zeros(3)

        def forward(self, x):
            return x - self.mean
    ```

    ## Use instead
    ```python
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.zeros(3))

        def forward(self, x):
            return x - self.mean
    ```

    ## References
    - PyTorch docs: `Module.register_buffer`
    - gradscan facts: pt02
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)  # error: GS109

            def forward(self, x):
                return x - self.mean
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.zeros(3))
                self.eps = torch.tensor(1e-5)
                self.std = torch.ones(3)
                self.scale = 2.0

            def forward(self, x):
                return (x - self.mean) / (self.std.to(x.device) + self.eps) * self.scale
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        reach = None
        for cls in model.class_list:
            if not cls.is_torch or any(m in c.methods for c in model.class_chain(cls) for m in _STATE_OVERRIDES):
                continue
            init = init_methods(model, cls)
            candidates: Dict[str, cst.BaseExpression] = {}
            for attr, value, _node, method in cls.self_assigns:
                fn = cls.methods.get(method)
                if fn in init and self._plain_tensor(model, value):
                    candidates[attr] = value
            if not candidates:
                continue
            for c in model.class_chain(cls):
                for attr, _value, _node, method in c.self_assigns:
                    if attr in candidates and c.methods.get(method) not in init:
                        candidates.pop(attr)
                for fn in c.methods.values():
                    for call in fn.calls:
                        if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("register_buffer", "register_parameter") and call.args and isinstance(call.args[0].value, cst.SimpleString):
                            candidates.pop(call.args[0].value.value[1:-1], None)
            if not candidates:
                continue
            if reach is None:
                reach = forward_reach(model)
            read = self._unsafe_reads(model, cls, set(candidates), reach)
            for attr, value in candidates.items():
                if attr in read:
                    yield Report(value, self.message.format(attr=attr))

    @staticmethod
    def _plain_tensor(model: FileModel, value) -> bool:
        if requires_grad_tensor(model, value):
            return False
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and model.callee(value) not in TENSOR_FACTORIES:
            if value.func.attr.value in ("item", "tolist", "numpy", "size", "dim", "numel", "requires_grad_", "data_ptr", "__len__"):
                return False
            value = value.func.value  # `torch.ones(n, n).triu()`
        inner = factory_call(model, value)
        if inner is None or requires_grad_tensor(model, value):
            return False
        name = model.callee(inner)
        if name in ("torch.tensor", "torch.as_tensor"):
            data = _arg(inner, 0, "data")
            return isinstance(data, (cst.List, cst.Tuple, cst.ListComp))
        return True

    @staticmethod
    def _unsafe_reads(model: FileModel, cls: ClassInfo, attrs: Set[str], reach) -> Set[str]:
        out: Set[str] = set()
        for node, fn in model.attributes:
            if fn is None or node.attr.value not in attrs or not _is_self(node.value):
                continue
            top = in_reach(model, node, reach)
            if top is None or reach[top].cls is None or cls not in list(model.class_chain(reach[top].cls)):
                continue
            parent = model.parent(node)
            if isinstance(parent, cst.AssignTarget):
                continue
            if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _DEVICE_SAFE_READS:
                continue
            if isinstance(parent, cst.Arg):
                call = model.parent(parent)
                if isinstance(call, cst.Call) and (_kwarg(call, "device") is not None or dotted(call.func) in ("len", "isinstance", "print")):
                    continue
            out.add(node.attr.value)
        return out
