"""The semantic model: what names refer to, which classes are modules, which code is
differentiable, and where a value flows. Rules ask these questions; they never re-derive them.
`docs/semantic-model.md` is the map.

- `names`: import aliases and qualified names (`names.ImportTable`).
- `classes`: module/layer classification, in the file and across the project (`classes`, `project`).
- `model`: `FileModel`, built by one pass over the tree, with the contexts (`contexts`) and the
  reaching definitions (`definitions`).
- `sources`: the one gradient-flow walk (`Walk`, `model.sources`): which trainable sources a
  value derives from, under each framework's facts (`facts`); `zero_gradient` refines it
  statement by statement for JAX's zero-gradient question; `distributions` asks it of samples.
- `flow`: does a value reach what a differentiable function returns or backpropagates (`flow`)?
- `intent`: the legitimate look-alikes (straight-through, targets, GAN steps, truncated BPTT).
"""
from gradscan.semantics.model import FileModel, FunctionInfo, ClassInfo

__all__ = ["FileModel", "FunctionInfo", "ClassInfo"]
