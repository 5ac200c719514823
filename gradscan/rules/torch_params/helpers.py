"""What several GS1xx rules share."""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.common import functions_within, is_true, model_cache
from gradscan.semantics.arguments import find_argument, keyword_argument
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

TENSOR_FACTORIES = {
    "torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.full", "torch.tensor",
    "torch.Tensor", "torch.FloatTensor", "torch.DoubleTensor", "torch.arange", "torch.linspace", "torch.eye",
    "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like", "torch.empty_like",
    "torch.full_like", "torch.normal", "torch.randint", "torch.logspace", "torch.as_tensor", "torch.from_numpy",
}

# Methods whose result is still a fresh tensor of the factory below them: copies and casts, and
# the in-place initialisers, which return the tensor they fill (`torch.zeros(k, d).uniform_(-r, r)`).
_SAME_FRESH_TENSOR = {
    "clone", "to", "float", "double", "cuda", "contiguous",
    "uniform_", "normal_", "fill_", "zero_", "exponential_", "log_normal_", "cauchy_", "geometric_",
}


def rooted_at_self(expr) -> bool:
    text = dotted(expr)
    return text is not None and (text == "self" or text.startswith("self."))


def is_tensor_factory(model: FileModel, expr: cst.BaseExpression) -> bool:
    """`torch.zeros(...)`, possibly followed by `.clone()`, `.to(...)`, `.float()`."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SAME_FRESH_TENSOR:
        expr = expr.func.value
    if isinstance(expr, cst.BinaryOperation):  # `torch.randn(n, d) * 0.02`, `1e-3 * torch.randn(k)`
        return is_tensor_factory(model, expr.left) or is_tensor_factory(model, expr.right)
    return isinstance(expr, cst.Call) and model.callee(expr) in TENSOR_FACTORIES


def factory_call(model: FileModel, expr: cst.BaseExpression) -> Optional[cst.Call]:
    """The factory call at the bottom of `torch.zeros(...).to(...)`, or None."""
    while isinstance(expr, cst.Call) and model.callee(expr) not in TENSOR_FACTORIES and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SAME_FRESH_TENSOR:
        expr = expr.func.value
    return expr if isinstance(expr, cst.Call) and model.callee(expr) in TENSOR_FACTORIES else None


def requires_grad_tensor(model: FileModel, value: cst.BaseExpression) -> bool:
    """A tensor factory with `requires_grad=True`, or with `.requires_grad_()` applied."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_":
        flag = find_argument(value, 0, "requires_grad")
        return (not value.args or is_true(flag)) and is_tensor_factory(model, value.func.value)
    inner = factory_call(model, value)
    return inner is not None and is_true(keyword_argument(inner, "requires_grad"))


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


def root_method(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn


def guarded(model: FileModel, node: cst.CSTNode) -> bool:
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

    cache = model_cache(model)
    key = ("reach", tuple(roots))
    if key in cache:
        return cache[key]
    scopes = model.get(Scopes)
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
        for inner in functions_within(model, fn):
            for call in inner.calls:
                if guarded(model, call):
                    continue
                target = called_function(model, inner, call, scopes)
                if target is not None and target.parent is None and not has_no_grad_decorator(model, target) and target.name != "__init__":
                    todo.append((target, root))
    cache[key] = reach
    return reach


def in_reach(model: FileModel, node: cst.CSTNode, reach: Dict[FunctionInfo, FunctionInfo]) -> Optional[FunctionInfo]:
    """The reached top-level function `node` runs in, or None."""
    fn = model.enclosing_function(node)
    while fn is not None:
        if fn in reach:
            return fn
        fn = fn.parent
    return None


def mentions(expr: cst.CSTNode, target: str) -> bool:
    """Whether the expression names `target` (`self.head`, or a plain name)."""
    for node in descendants(expr):
        t = type(node)
        if (t is cst.Attribute and dotted(node) == target) or (t is cst.Name and node.value == target):
            return True
    return False


def drop_keyword(args, keyword: str) -> list:
    """A call's arguments without `keyword=...`, the layout around it kept: a trailing comma
    stays a trailing comma (`f(\n  3,\n  kw=x,\n)`), and the space before the closing
    bracket stays (`f( 3, kw=x )` -> `f( 3 )`)."""
    args = list(args)
    index = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == keyword), None)
    if index is None:
        return args
    removed = args.pop(index)
    if index == len(args) and args:  # it was the last: the one before it now ends the list
        last = args[-1]
        if isinstance(removed.comma, cst.Comma) and isinstance(last.comma, cst.Comma):
            args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=removed.comma.whitespace_after))
        else:
            args[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=removed.whitespace_after_arg)
    return args


def local_value(model: FileModel, fn: Optional[FunctionInfo], name: str) -> Optional[cst.BaseExpression]:
    """The value of local `name` when one plain `name = value` in `fn` is its only binding there
    (`model.single_value`)."""
    return model.single_value(fn, name)


def requires_grad_set_later(model: FileModel, cls) -> Set[str]:
    """Attributes the class turns `requires_grad` on for in a statement of their own
    (`self.s.requires_grad = True`, `self.s.requires_grad_()`): meant to be trained."""
    return model.get(_RequiresGradLater).of(cls)


class _RequiresGradLater:
    """`requires_grad_set_later`, answered once per class (rules ask it per attribute)."""

    def __init__(self, model: FileModel) -> None:
        self.model = model
        self._memo: Dict[int, Set[str]] = {}

    def of(self, cls) -> Set[str]:
        got = self._memo.get(id(cls))
        if got is None:
            got = self._memo[id(cls)] = self._compute(cls)
        return got

    def _compute(self, cls) -> Set[str]:
        model = self.model
        out: Set[str] = set()
        chain = list(model.class_chain(cls))
        for c in chain:
            for fn in c.methods.values():
                for call in fn.calls:
                    func = call.func
                    if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" \
                            and isinstance(model.parent(call), cst.Expr):
                        flag = find_argument(call, 0, "requires_grad")
                        text = dotted(func.value) or ""
                        if (flag is None or is_true(flag)) and text.startswith("self.") and text.count(".") == 1:
                            out.add(text[len("self."):])
        classes = {id(c) for c in chain}
        for node, owner in model.assignments:
            if owner is None or owner.cls is None or id(owner.cls) not in classes or not isinstance(node, cst.Assign):
                continue
            for target in node.targets:
                text = dotted(target.target) or ""
                if text.startswith("self.") and text.endswith(".requires_grad") and text.count(".") == 2 and is_true(node.value):
                    out.add(text.split(".")[1])
        return out
