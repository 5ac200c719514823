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

_TORCH_NON_MODULES = {"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"}
# Framework base classes from packages users subclass without scanning them.
_TORCH_BASES = {
    "pytorch_lightning.LightningModule",
    "pytorch_lightning.core.LightningModule",
    "pytorch_lightning.core.module.LightningModule",
    "pyro.nn.PyroModule",
    "pyro.nn.module.PyroModule",
    "transformers.PreTrainedModel",
    "transformers.modeling_utils.PreTrainedModel",
    "diffusers.ModelMixin",
    "diffusers.models.modeling_utils.ModelMixin",
}
_KERAS_CLASS = re.compile(r"^(?:keras|tensorflow\.keras|tf_keras)(?:\.src)?\.(?:(?:layers|models|engine|src)\.)*(?:[a-z_]+\.)*(Layer|Model|Sequential|Functional|[A-Z]\w*)$")


def classify_framework_base(qname: str, legacy_keras: bool) -> Optional[str]:
    """The kind a framework base class gives its subclasses, or None if not a known base."""
    if qname in _TORCH_BASES:
        return TORCH
    if qname.startswith("torch.nn."):
        last = qname.rsplit(".", 1)[1]
        if last[:1].isupper() or last == "_Loss" or last == "_WeightedLoss":
            return None if last in _TORCH_NON_MODULES else TORCH
        return None
    if qname in ("tensorflow.Module", "tensorflow.compat.v1.Module"):
        return TF_MODULE
    if qname.startswith(("flax.linen.", "flax.linen")) and qname.endswith("Module"):
        return FLAX_LINEN
    if qname.startswith("flax.nnx.") and qname.endswith("Module"):
        return FLAX_NNX
    m = _KERAS_CLASS.match(qname)
    if m and _is_keras_layerish(qname):
        if qname.startswith("tf_keras.") or legacy_keras:
            return KERAS_LEGACY
        return KERAS
    return None


def _is_keras_layerish(qname: str) -> bool:
    parts = qname.split(".")
    last = parts[-1]
    if last in ("Layer", "Model", "Sequential", "Functional"):
        return True
    # keras.layers.Dense and friends are layers; keras.optimizers.Adam, keras.callbacks.X are not.
    return "layers" in parts[:-1]


def resolve_kind(
    bases: Iterable[str],
    legacy_keras: bool,
    lookup: Callable[[str], Optional[Iterable[str]]],
    extra_torch: Iterable[str] = (),
    extra_keras: Iterable[str] = (),
    depth: int = 0,
) -> Optional[str]:
    """Follow qualified base names to a framework base; `lookup` gives a project class's bases."""
    if depth > 12:
        return None
    for base in bases:
        if base in extra_torch or base.rsplit(".", 1)[-1] in extra_torch:
            return TORCH
        if base in extra_keras or base.rsplit(".", 1)[-1] in extra_keras:
            return KERAS_LEGACY if legacy_keras else KERAS
        kind = classify_framework_base(base, legacy_keras)
        if kind is None:
            parents = lookup(base)
            if parents is not None:
                kind = resolve_kind(parents, legacy_keras, lookup, extra_torch, extra_keras, depth + 1)
        if kind is not None:
            return kind
    return None
