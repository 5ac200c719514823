"""Names: what a name or dotted expression refers to, through every import form.

The table is a light pass of our own over import statements and simple aliases
(`tfd = tfp.distributions`): libcst's scope and qualified-name providers would cost several
times the parse. Anything the table cannot answer with confidence resolves to None, and rules
stay silent on None.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Optional, Set, Tuple, Union

import libcst as cst

from gradscan.frameworks.torch import STAR_REEXPORTS

# A name's words: split on `_`, case changes and digits (`netD_fake` -> net, d, fake).
TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def tokens(name: str) -> Set[str]:
    """The lower-cased words of a name, for the naming conventions rules fall back on."""
    return {t.lower() for t in TOKEN.findall(name)}


# Submodule paths that re-export their classes one level up: the canonical name is the short one.
_CANONICAL = [
    (re.compile(r"^torch\.nn\.modules(?:\.\w+)?\.(?=[A-Z_])"), "torch.nn."),
    (re.compile(r"^torch\.nn\.parameter\."), "torch.nn."),
    (re.compile(r"^torch\.distributions\.[a-z_]+\.(?=[A-Z])"), "torch.distributions."),
    (re.compile(r"^pyro\.distributions\.[a-z_]+\.(?=[A-Z])"), "pyro.distributions."),
    (re.compile(r"^tensorflow_probability\.python\.distributions(?:\.[a-z_]+)?\.(?=[A-Z])"), "tensorflow_probability.distributions."),
    (re.compile(r"^tensorflow_probability\.python\."), "tensorflow_probability."),
    (re.compile(r"^tensorflow_probability\.substrates\.(?:jax|numpy)\."), "tensorflow_probability."),
    (re.compile(r"^torch\.utils\.checkpoint\.checkpoint$"), "torch.utils.checkpoint.checkpoint"),
    (re.compile(r"^lightning\.pytorch\."), "pytorch_lightning."),
    (re.compile(r"^lightning\.(?=LightningModule$)"), "pytorch_lightning."),
    (re.compile(r"^tensorflow\.compat\.v2\."), "tensorflow."),
]


@functools.lru_cache(maxsize=65536)  # a pure function of its string, asked the same names again and again
def canonical(qname: str) -> str:
    for pattern, repl in _CANONICAL:
        qname = pattern.sub(repl, qname, count=1)
    return qname


def dotted(expr: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` as text, or None when the expression is not a plain dotted name."""
    t = type(expr)
    if t is cst.Name:  # most calls: a plain name
        return expr.value
    parts = []
    while t is cst.Attribute:
        parts.append(expr.attr.value)
        expr = expr.value
        t = type(expr)
    if t is cst.Name:
        parts.append(expr.value)
        return ".".join(reversed(parts))
    return None


def module_name(node: Union[cst.Attribute, cst.Name]) -> str:
    return dotted(node) or ""


class ImportTable:
    """Local name -> fully qualified name, for one file.

    `aliases` holds the module scope's imports and simple aliases; `fallback` the imports made
    inside functions (`def f(): import torch`), consulted only for names the module scope does
    not bind (a function's own imports are resolved in its scope by `FileModel.resolve`).
    Star imports bind nothing (what they bring in is unknown), except those of packages known to
    re-export PyTorch under its usual names (`gradscan.frameworks.torch.STAR_REEXPORTS`).
    """

    def __init__(self) -> None:
        self.aliases: Dict[str, str] = {}
        self.fallback: Dict[str, str] = {}
        self.star_imports = False
        self.star_modules: List[str] = []  # `from x import *`: x, for the project index
        self.modules: set = set()  # top-level packages imported anywhere in the file

    @staticmethod
    def bindings(node: Union[cst.Import, cst.ImportFrom]) -> List[Tuple[str, str]]:
        """(local name, qualified target) for each name an import statement binds."""
        out: List[Tuple[str, str]] = []
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = module_name(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    out.append((alias.asname.name.value, full))
                else:  # `import torch.nn` binds `torch`
                    head = full.split(".")[0]
                    out.append((head, head))
            return out
        base = _from_base(node)
        if isinstance(node.names, cst.ImportStar):
            return out
        for alias in node.names:
            name = module_name(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            out.append((local, f"{base}.{name}" if not base.endswith(".") else f"{base}{name}"))
        return out

    def add_import(self, node: Union[cst.Import, cst.ImportFrom], local_scope: bool = False) -> None:
        """Record an import; `local_scope` for one inside a function (see `fallback`)."""
        if isinstance(node, cst.Import):
            for alias in node.names:
                self.modules.add(module_name(alias.name).split(".")[0])
        elif not node.relative:
            self.modules.add(_from_base(node).split(".")[0])
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
            self.star_imports = True
            self.star_modules.append(_from_base(node))
            exported = STAR_REEXPORTS.get(_from_base(node).split(".")[0]) if not node.relative else None
            for local, target in (exported or {}).items():  # `from fastai.vision.all import *`
                (self.fallback if local_scope else self.aliases).setdefault(local, target)
                self.modules.add(target.split(".")[0])
            return
        for local, target in self.bindings(node):
            if local_scope:
                self.fallback.setdefault(local, target)
            elif isinstance(node, cst.Import) and target == local:
                self.aliases.setdefault(local, local)  # `import torch.nn` after `import torch as T`
            else:
                self.aliases[local] = target

    def absolutize(self, module: str, is_package: bool) -> None:
        """Turn relative imports (`from .base import X`) into project module paths."""
        package = module if is_package else module.rpartition(".")[0]
        for table in (self.aliases, self.fallback):
            for local, target in list(table.items()):
                if target.startswith("."):
                    table[local] = absolute(target, package)
        self.star_modules = [absolute(t, package) if t.startswith(".") else t for t in self.star_modules]

    def add_alias(self, local: str, value: cst.BaseExpression, rebinding: bool = False) -> None:
        """`tfd = tfp.distributions`, `Normal = torch.distributions.Normal`, `sg = jax.lax.stop_gradient`.

        `rebinding=True` (an unconditional module-level assignment) makes a name bound to
        something else unknown: `nn = make_namespace()` after `import torch.nn as nn`."""
        target = self.resolve(value)
        if target is not None and "." in target:
            self.aliases[local] = target
        elif rebinding:
            self.aliases.pop(local, None)

    def unbind(self, local: str) -> None:
        """A module-level `def`/`class` that reuses an imported name hides the import."""
        self.aliases.pop(local, None)

    def resolve(self, expr: cst.BaseExpression) -> Optional[str]:
        """The canonical qualified name of a dotted expression, or None if unknown."""
        text = dotted(expr)
        if text is None:
            return None
        return self.resolve_name(text)

    def resolve_name(self, text: str) -> Optional[str]:
        head, _, rest = text.partition(".")
        full = self.aliases.get(head)
        if full is None:
            full = self.fallback.get(head)
            if full is None:
                return None
        return canonical(f"{full}.{rest}" if rest else full)

    def binds(self, head: str) -> bool:
        return head in self.aliases or head in self.fallback

    def uses(self, package: str) -> bool:
        return package in self.modules


def _from_base(node: cst.ImportFrom) -> str:
    """The module of a `from` import, with its leading dots for a relative one."""
    name = module_name(node.module) if node.module else ""
    return "." * len(node.relative) + name if node.relative else name


def absolute(target: str, package: str) -> str:
    """`..layers.Block` seen from package `lib.models` -> `lib.layers.Block`."""
    level = len(target) - len(target.lstrip("."))
    parts = package.split(".") if package else []
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    rest = target[level:]
    return ".".join(p for p in [*parts, rest] if p)
