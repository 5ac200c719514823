"""What rules of several families share (no family imports another)."""
from __future__ import annotations

from typing import List, Optional, Set, Tuple

import libcst as cst

from gradscan.semantics.arguments import find_argument
from gradscan.semantics import classes as kinds
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.names import dotted

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


def is_true(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def is_false(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def is_name(expr, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


def is_self(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"


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
            flag = find_argument(call, index, keyword)
            affine = default if flag is None else (True if is_true(flag) else False if is_false(flag) else None)
            if affine is None:
                return display, MAYBE
            if affine:
                return display, PARAMS
            tracked = find_argument(call, 4, "track_running_stats")
            has_stats = stats if tracked is None else (True if is_true(tracked) else False if is_false(tracked) else None)
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
    cache = model_cache(model).setdefault("owns", {})
    if info in cache:
        return cache[info]
    cache[info] = False  # recursion guard
    found = False
    if depth <= 6:
        for fn in init_methods(model, info):
            for inner in functions_within(model, fn):
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
            if isinstance(func, cst.Attribute) and is_self(func.value):
                target = model.find_method(info, func.attr.value)
                if target is not None:
                    todo.append(target)
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super":
                for base in list(model.class_chain(info))[1:]:
                    if func.attr.value in base.methods:
                        todo.append(base.methods[func.attr.value])
                        break
    return out


class Memo(dict):
    """The rules' per-file memo (`model.get(Memo)`): answers several rules of a file reuse."""

    def __init__(self, model: FileModel) -> None:
        super().__init__()


def model_cache(model: FileModel) -> dict:
    return model.get(Memo)


def functions_within(model: FileModel, fn: FunctionInfo) -> List[FunctionInfo]:
    """The function and every function or lambda nested in it."""
    cache = model_cache(model)
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
