from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import (
    CONTAINER, MAYBE, PARAMS, PROJECT, functions_within, is_parameter_call, is_self, model_cache, module_ctor,
)
from gradscan.rules.torch_params.helpers import root_method, rooted_at_self
from gradscan.semantics.model import ClassInfo, FileModel
from gradscan.semantics.walk import descendants
from gradscan.semantics.names import dotted

# A parameter whose every read is an operand of a comparison reaches the loss through a boolean
# only (a hard threshold, a mask index): a comparison has no gradient (pt13).
_COMPARED = "nn.Parameter `{attr}` is only compared: a comparison has no gradient, so it never trains; use a soft mask"

_INSPECTIONS = {"grad", "data", "item", "detach", "tolist", "numpy", "cpu", "shape", "dtype", "device"}

_LIGHTNING = {"pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule", "pytorch_lightning.core.module.LightningModule"}


def _self_attr(expr) -> Optional[str]:
    """`x` for `self.x`."""
    if isinstance(expr, cst.Attribute) and is_self(expr.value):
        return expr.attr.value
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


# Reading any of these gives access to every parameter by name or in bulk.
_BULK_ACCESS = {"parameters", "named_parameters", "state_dict", "_parameters", "__dict__", "_named_members", "parameters_to_vector", "functional_call"}
_NO_GRADIENT_READS = {"detach", "data", "grad", "shape", "requires_grad", "item", "device", "dtype", "size", "numel", "dim", "ndim", "tolist", "numpy", "requires_grad_", "zero_", "fill_", "normal_", "uniform_", "copy_"}
_FILE_BULK_ACCESS = {"_parameters", "__dict__", "functional_call", "_named_members"}


class ParameterNeverUsed(Rule):
    code = "GS105"
    name = "parameter-never-used"
    framework = "torch"
    summary = "An `nn.Parameter` that nothing reads: its grad stays None and it never trains"
    message = "nn.Parameter `{attr}` is never read, so it never trains; use it or delete it"
    explanation = (
        "Nothing in this class, its subclasses or this module reads the parameter: its .grad stays None, the "
        "optimizer (weight decay included) skips it, and DistributedDataParallel fails on unused parameters."
    )
    hint = "use the parameter in forward, or delete it"
    facts = ("pt04", "pt13")
    triggers = ("Parameter",)
    doc = """
    ## What it does
    Flags an `nn.Parameter` assigned to `self.x` in a module class when nothing reads `x`:
    no method of the class or of its base classes, no subclass in the project, no code of the
    same file (`model.x`), no string naming it (`getattr(self, "x")`, a state-dict key).
    Also flags, at the comparison, a parameter whose only reads are operands of comparisons
    (`inliers = z[norms < self.cutoff]`, `mask = scores > self.threshold`): a comparison
    gives a boolean with no gradient, so the parameter is as unused as one nothing reads
    (facts pt04, pt13).

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
        by_attr: Optional[Dict[str, List[cst.Attribute]]] = None
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
            for attr, _node in candidates:
                if by_attr is None:
                    by_attr = {}
                    for node, _fn in model.attributes:
                        by_attr.setdefault(node.attr.value, []).append(node)
                comparison = _only_compared(model, attr, by_attr) if (attr, _node) not in unused and attr not in others else None
                if comparison is not None:
                    yield Report(comparison, _COMPARED.format(attr=clip(attr)))
            if not unused or self._dead_submodules(model, cls, reads):
                continue
            for attr, node in unused:
                target = _assigned_target(node, attr)
                if target is not None:
                    yield Report(target, self.message.format(attr=clip(attr)))

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
                for inner in functions_within(model, fn):
                    for call in inner.calls:
                        func = call.func
                        if isinstance(func, cst.Attribute) and func.attr.value in _BULK_ACCESS and _is_self_or_super(func.value):
                            if func.attr.value in ("parameters", "named_parameters") and _harmless_bulk(model, call):
                                continue  # `next(self.parameters()).device`, `Adam(self.parameters())`
                            return True
                        if isinstance(func, cst.Name) and func.value in ("vars", "dir") and call.args and is_self(call.args[0].value):
                            return True
        for node, fn in model.attributes:
            if node.attr.value in ("__dict__", "_parameters") and is_self(node.value) and fn is not None:
                top = root_method(fn)
                if top is not None and top.cls is not None and top.cls in list(model.class_chain(cls)):
                    return True
        return False


def _is_self_or_super(expr) -> bool:
    return is_self(expr) or (isinstance(expr, cst.Call) and dotted(expr.func) == "super")


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
        if rooted_at_self(func.value):
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


def _only_compared(model: FileModel, attr: str, by_attr: Dict[str, List[cst.Attribute]]) -> Optional[cst.Comparison]:
    """The first comparison that reads `self.<attr>`, when every mention of the name in the file
    is `self.<attr>` stored or read as the operand of a comparison (`norms < self.cutoff`).
    `by_attr`: the file's attribute nodes by attribute name (built once per file)."""
    accesses = by_attr.get(attr, [])
    if not accesses:
        return None
    first = None
    for node in accesses:
        parent = model.parent(node)
        if not is_self(node.value):
            # `model.cutoff.grad`, `model.cutoff.item()`: inspected from outside, not computed with
            if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _INSPECTIONS:
                continue
            return None
        if isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AnnAssign, cst.AugAssign)) and parent.target is node):
            if isinstance(parent, cst.AugAssign):
                return None
            continue
        while isinstance(parent, cst.UnaryOperation):
            parent = model.parent(parent)
        if isinstance(parent, cst.ComparisonTarget):
            parent = model.parent(parent)
        if not isinstance(parent, cst.Comparison):
            return None
        if first is None:
            first = parent
    # (the costly checks last: most parameters are read in arithmetic and stop above)
    if first is not None:
        words = _string_words(model)
        if attr in words or "<dynamic>" in words:
            return None  # named in a string (a state-dict key, getattr): undecided
        attribute_names = {id(node.attr) for node in accesses}
        for node in model.nodes:
            if type(node) is cst.Name and node.value == attr and id(node) not in attribute_names:
                return None  # a local or a keyword of the same name: undecided
    return first


def _is_read(model: FileModel, attr: str, reads: Set[str]) -> bool:
    if attr in reads:
        return True
    if len(re.findall(rf"\b{re.escape(attr)}\b", model.source or model.module.code)) > 1:
        words = _string_words(model)  # named somewhere else: maybe in a string
        return attr in words or "<dynamic>" in words
    return False


def _holds_parameter(model: FileModel, value) -> bool:
    if is_parameter_call(model, value):
        # `nn.Parameter(t, requires_grad=False)` is a constant kept in the state dict (a
        # noise schedule, a fixed table): it is never meant to get a gradient.
        return not _frozen_at_creation(value)
    if isinstance(value, cst.IfExp):
        return _holds_parameter(model, value.body) or _holds_parameter(model, value.orelse)
    return False


def _frozen_at_creation(call: cst.Call) -> bool:
    """`nn.Parameter(t, requires_grad=False)` or `nn.Parameter(t, False)`."""
    for i, a in enumerate(call.args):
        positional = a.keyword is None and i == 1
        if (positional or (a.keyword is not None and a.keyword.value == "requires_grad")) and isinstance(a.value, cst.Name):
            return a.value.value == "False"
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
        if _only_reported(model, node):
            continue  # `log.debug("tau=%f", self.log_tau.exp().item())`, `print(self.w)`, f"{self.w}"
        reads.add(node.attr.value)
    for call, _fn in model.calls:
        if isinstance(call.func, cst.Name) and call.func.value in ("getattr", "setattr", "delattr") and len(call.args) > 1:
            if not isinstance(call.args[1].value, cst.SimpleString) and _may_hold_modules(model, call.args[0].value):
                reads.add("<dynamic>")
        if model.callee(call) in ("operator.attrgetter", "torch.func.functional_call", "torch.nn.utils.stateless.functional_call"):
            reads.add("<dynamic>")
    return reads


def _only_reported(model: FileModel, node: cst.Attribute) -> bool:
    """The read is only printed, logged or formatted: inside `print(...)`, a logging call, an
    f-string, or turned into a Python number by `.item()`/`.tolist()` in its own statement."""
    from gradscan.semantics.flow import is_logging_call

    child = node
    for anc in model.ancestors(node):
        t = type(anc)
        if t is cst.FormattedStringExpression:
            return True
        if t is cst.Call:
            if child is anc.func:  # `self.w.item()`: the read is the receiver
                if isinstance(anc.func, cst.Attribute) and anc.func.attr.value in ("item", "tolist"):
                    return True
            elif is_logging_call(model, anc) and not _names_the_read(anc.func, node):
                return True  # an argument of `print(...)`, `log.debug(...)`
        if t in (cst.SimpleStatementLine, cst.FunctionDef, cst.ClassDef, cst.Lambda):
            return False
        child = anc
    return False


def _names_the_read(func: cst.BaseExpression, node: cst.Attribute) -> bool:
    return any(n is node for n in descendants(func))


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

    cache = model_cache(model)
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
