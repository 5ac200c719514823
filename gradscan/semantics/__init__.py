"""The semantic model: what names refer to, which classes are modules, which code is
differentiable, and where a value flows. Rules ask these questions; they never re-derive them.

- `names`: import aliases and qualified names (`names.ImportTable`).
- `classes`: module/layer classification, in the file and across the project (`classes`, `project`).
- `model`: `FileModel`, built by one pass over the tree, with the contexts (`contexts`).
- `flow`: does a value reach what a differentiable function returns or backpropagates (`flow`)?
- `intent`: the legitimate look-alikes (straight-through, targets, GAN steps, truncated BPTT).
"""
from gradscan.semantics.model import FileModel, FunctionInfo, ClassInfo

__all__ = ["FileModel", "FunctionInfo", "ClassInfo"]
