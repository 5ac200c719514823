"""Names: what a name or dotted expression refers to, through every import form.

The table is a light pass of our own over import statements and simple aliases
(`tfd = tfp.distributions`): libcst's scope and qualified-name providers would cost several
times the parse. Anything the table cannot answer with confidence resolves to None, and rules
stay silent on None.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Union

import libcst as cst

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


def canonical(qname: str) -> str:
    for pattern, repl in _CANONICAL:
        qname = pattern.sub(repl, qname, count=1)
    return qname


def dotted(expr: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` as text, or None when the expression is not a plain dotted name."""
    parts = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if isinstance(expr, cst.Name):
        parts.append(expr.value)
        return ".".join(reversed(parts))
    return None


def module_name(node: Union[cst.Attribute, cst.Name]) -> str:
    return dotted(node) or ""


class ImportTable:
    """Local name -> fully qualified name, for one file (module and function-level imports)."""

    def __init__(self) -> None:
        self.aliases: Dict[str, str] = {}
        self.star_imports = False
        self.modules: set = set()  # top-level packages imported anywhere in the file

    def add_import(self, node: Union[cst.Import, cst.ImportFrom]) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = module_name(alias.name)
                self.modules.add(full.split(".")[0])
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self.aliases[alias.asname.name.value] = full
                else:  # `import torch.nn` binds `torch`
                    head = full.split(".")[0]
                    self.aliases.setdefault(head, head)
            return
        if node.relative:  # relative imports: project-internal, resolved by the project index
            base = "." * len(node.relative) + (module_name(node.module) if node.module else "")
        else:
            base = module_name(node.module) if node.module else ""
            self.modules.add(base.split(".")[0])
        if isinstance(node.names, cst.ImportStar):
            self.star_imports = True
            return
        for alias in node.names:
            name = module_name(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.aliases[local] = f"{base}.{name}" if not base.endswith(".") else f"{base}{name}"

    def absolutize(self, module: str, is_package: bool) -> None:
        """Turn relative imports (`from .base import X`) into project module paths."""
        package = module if is_package else module.rpartition(".")[0]
        for local, target in list(self.aliases.items()):
            if target.startswith("."):
                level = len(target) - len(target.lstrip("."))
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
                rest = target[level:]
                self.aliases[local] = ".".join(p for p in [*parts, rest] if p)

    def add_alias(self, local: str, value: cst.BaseExpression) -> None:
        """`tfd = tfp.distributions`, `Normal = torch.distributions.Normal`, `sg = jax.lax.stop_gradient`."""
        target = self.resolve(value)
        if target is not None and "." in target:
            self.aliases[local] = target

    def resolve(self, expr: cst.BaseExpression) -> Optional[str]:
        """The canonical qualified name of a dotted expression, or None if unknown."""
        text = dotted(expr)
        if text is None:
            return None
        head, _, rest = text.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return None
        return canonical(f"{full}.{rest}" if rest else full)

    def resolve_name(self, text: str) -> Optional[str]:
        head, _, rest = text.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return None
        return canonical(f"{full}.{rest}" if rest else full)

    def uses(self, package: str) -> bool:
        return package in self.modules
