"""Module classes: which classes are PyTorch modules, Keras layers, tf.Modules or Flax modules.

A class is classified by resolving its bases: a known framework base, a class in the same
file, or a class elsewhere in the scanned project (through the project index). Names are
resolved, never matched as text: under `from flax import linen as nn`, `nn.Module` is Flax.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Optional

TORCH = "torch"
KERAS = "keras"  # Keras 3: raw tf.Variable attributes are not tracked
KERAS_LEGACY = "keras-legacy"  # tf_keras / TF <= 2.15: they are
TF_MODULE = "tf-module"
FLAX_LINEN = "flax-linen"
FLAX_NNX = "flax-nnx"

# Classes of `torch.nn` (after `names.canonical`) that are not `nn.Module` subclasses (checked
# against torch 2.13: every other capitalized or `_`-private class there is a Module).
_TORCH_NON_MODULES = {
    "Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer", "LazyModuleMixin",
    "LinearCrossEntropyOptions", "PackedSequence", "BackwardHookFunction", "CrossMapLRN2d",
    "SyncBatchNorm_", "_LazyConvXdMixin", "_LazyProtocol", "_ASMoutput", "_IncompatibleKeys",
    "_WrappedHook", "_ChunkContext", "_ChunkViews", "_AutoDefault",
}
# Sub-packages of torch.nn whose capitalized classes are Modules (torch.nn.utils, .attention and
# .init hold none: `prune.BasePruningMethod`, `attention.SDPBackend` are not modules).
_TORCH_MODULE_PACKAGES = re.compile(
    r"^torch\.(?:nn\.(?:parallel|quantized|qat|intrinsic|quantizable)|ao\.nn)(?:\.\w+)*\.[A-Z]\w*$"
)
# Flax classes that are not modules (flax 0.12): everything else capitalized is.
_LINEN_NON_MODULES = {"BatchApply", "DenyList", "FrozenDict", "LogicallyPartitioned", "Partitioned", "Variable", "Scope"}
_NNX_NON_MODULES = {
    "All", "Any", "BatchStat", "Cache", "Carry", "DiffState", "EMA", "Everything", "FlatState", "GraphDef",
    "GraphState", "Intermediate", "LoRAParam", "MergeContext", "Metric", "ModelAndOptimizer", "MultiMetric",
    "NodeStates", "Not", "Nothing", "Object", "OfType", "OptArray", "OptState", "OptVariable", "Optimizer",
    "Param", "PathContains", "Perturbation", "Pytree", "RngCount", "RngKey", "RngState", "RngStream", "Rngs",
    "SplitContext", "State", "StateAxes", "StateSharding", "TrainState", "UpdateContext", "Variable",
    "VariableMetadata", "WithTag", "Accuracy", "Average", "Welford",
}
# Framework base classes from packages users subclass without scanning them.
_TORCH_BASES = {
    "pytorch_lightning.LightningModule",
    "pytorch_lightning.core.LightningModule",
    "pytorch_lightning.core.module.LightningModule",
    "pytorch_lightning.core.lightning.LightningModule",
    "torch.jit.ScriptModule",
    "pyro.nn.PyroModule",
    "pyro.nn.module.PyroModule",
    "transformers.PreTrainedModel",
    "transformers.modeling_utils.PreTrainedModel",
    "diffusers.ModelMixin",
    "diffusers.models.modeling_utils.ModelMixin",
}
_KERAS_CLASS = re.compile(r"^(?:keras|tensorflow\.keras|tf_keras)(?:\.src)?\.(?:(?:layers|models|engine|src)\.)*(?:[a-z_]+\.)*(Layer|Model|Sequential|Functional|[A-Z]\w*)$")


def classify_framework_base(qname: str, legacy_keras: bool, legacy_package: Optional[bool] = None) -> Optional[str]:
    """The kind a framework base class gives its subclasses, or None if not a known base.

    `legacy_keras`: `tf.keras` is Keras 2 here (the file imports tf_keras, sets
    `TF_USE_LEGACY_KERAS`, or the configuration says `keras = "legacy"`). `legacy_package`: the
    `keras` package itself is Keras 2 (only the configuration says so: TensorFlow <= 2.15);
    None means the same as `legacy_keras`. `tf_keras` is always Keras 2, and `keras.engine`
    exists only there."""
    if legacy_package is None:
        legacy_package = legacy_keras
    if qname in _TORCH_BASES:
        return TORCH
    if qname.startswith("torch.nn.") and qname.count(".") == 2:  # torch.nn.Linear, torch.nn._Loss
        last = qname.rsplit(".", 1)[1]
        if last[:1].isupper() or (last[:1] == "_" and last[1:2].isupper()):
            return None if last in _TORCH_NON_MODULES else TORCH
        return None
    if _TORCH_MODULE_PACKAGES.match(qname):
        return TORCH
    if qname in ("tensorflow.Module", "tensorflow.compat.v1.Module", "tensorflow.compat.v2.Module"):
        return TF_MODULE
    if qname.startswith("flax.linen."):
        return FLAX_LINEN if _flax_module(qname, _LINEN_NON_MODULES) else None
    if qname.startswith("flax.nnx."):
        return FLAX_NNX if _flax_module(qname, _NNX_NON_MODULES) else None
    if qname.startswith("tensorflow.python.keras."):  # TensorFlow's own Keras 2 (TF <= 2.15)
        qname = "tf_keras." + qname[len("tensorflow.python.keras."):]
    m = _KERAS_CLASS.match(qname)
    if m and _is_keras_layerish(qname):
        if qname.startswith(("tf_keras.", "keras.engine.")):
            return KERAS_LEGACY
        if qname.startswith("tensorflow."):
            return KERAS_LEGACY if legacy_keras else KERAS
        return KERAS_LEGACY if legacy_package else KERAS
    return None


def _flax_module(qname: str, non_modules) -> bool:
    last = qname.rsplit(".", 1)[1]
    return last[:1].isupper() and last not in non_modules


def _is_keras_layerish(qname: str) -> bool:
    parts = qname.split(".")
    last = parts[-1]
    if last in ("Layer", "Model", "Sequential", "Functional"):
        return True
    if last in ("InputSpec", "Input"):  # in keras.layers, but not layers
        return False
    # keras.layers.Dense and friends are layers; keras.optimizers.Adam, keras.callbacks.X are not.
    return "layers" in parts[:-1]


def resolve_kind(
    bases: Iterable[str],
    legacy_keras: bool,
    lookup: Callable[[str], Optional[Iterable[str]]],
    extra_torch: Iterable[str] = (),
    extra_keras: Iterable[str] = (),
    depth: int = 0,
    legacy_package: Optional[bool] = None,
) -> Optional[str]:
    """Follow qualified base names to a framework base; `lookup` gives a project class's bases.
    See `classify_framework_base` for the two legacy flags."""
    if depth > 12:
        return None
    for base in bases:
        if base in extra_torch or base.rsplit(".", 1)[-1] in extra_torch:
            return TORCH
        if base in extra_keras or base.rsplit(".", 1)[-1] in extra_keras:
            return KERAS_LEGACY if legacy_keras else KERAS
        kind = classify_framework_base(base, legacy_keras, legacy_package)
        if kind is None:
            parents = lookup(base)
            if parents is not None:
                kind = resolve_kind(parents, legacy_keras, lookup, extra_torch, extra_keras, depth + 1, legacy_package)
        if kind is not None:
            return kind
    return None
