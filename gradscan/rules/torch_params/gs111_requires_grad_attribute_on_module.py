from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import target_names

_NOT_MODULES = {"torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.nn.ParameterList", "torch.nn.ParameterDict"}
# Containers whose items are modules (`model[2]`, `blocks["head"]`).
_MODULE_CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}


class RequiresGradAttributeOnModule(Rule):
    code = "GS111"
    name = "requires-grad-attribute-on-module"
    framework = "torch"
    summary = "`module.requires_grad = False` on an `nn.Module` sets a plain attribute: no parameter is frozen (or unfrozen)"
    message = "`{recv}` is a module: `.requires_grad = ...` freezes nothing; use `.requires_grad_({value})`"
    explanation = (
        "An nn.Module has no requires_grad flag: the assignment stores a new attribute on the module object and its "
        "parameters keep their own flags, so the layer meant to stay fixed keeps training (or stays frozen)."
    )
    hint = "use `module.requires_grad_(False)` or set `p.requires_grad` for each of `module.parameters()`"
    facts = ("pt74",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `x.requires_grad = ...` when `x` is a torch module: built from an `nn` layer class
    or a module class of the file, directly (`head = nn.Linear(8, 2)`), as an attribute
    (`self.model.outc`, `model.backbone`), as an item of an `nn.Sequential`/`ModuleList`
    (`model[2]`) or through the constructor argument a class stores (`Adapter(net)` with
    `self.model = model`, also `Classifier(nn.Sequential(...))`), and a helper's parameter
    every call of which passes a module (`set_trainable(model.backbone, False)`), and a loop
    variable over a module's `children()` / `modules()` / `named_children()` (also under
    `enumerate`) or over a list of modules (`for part in [encoder, decoder]:`). Not flagged: a class of the file that reads `self.requires_grad`
    itself, and `self.requires_grad = requires_grad` storing a value the object was given
    (an environment wrapper's or a transform's own setting of that name, not a freeze).

    ## Why it breaks gradients
    `requires_grad` is a property of tensors, not of modules. `nn.Module.__setattr__` accepts
    any new attribute, so `model.outc.requires_grad = False` raises nothing and changes
    nothing: `model.outc.weight.requires_grad` stays True, the optimizer keeps updating the
    head that was meant to stay fixed, and an unfreeze written this way leaves the layer
    frozen (fact pt74).

    ## Example
    ```python
    model.outc.requires_grad = False
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ```

    ## Use instead
    ```python
    model.outc.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ```

    ## References
    - PyTorch docs: `torch.nn.Module.requires_grad_`, "Autograd mechanics: setting requires_grad"
    - gradscan facts: pt74
    """
    invalid = (
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.head = nn.Linear(8, 2)

        net = Net()
        net.head.requires_grad = False  # error: GS111
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.head = nn.Linear(8, 2)

        net = Net()
        net.head.requires_grad_(False)
        net.body.weight.requires_grad = False
        x = torch.randn(3, 4)
        x.requires_grad = True
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign):
                continue
            for target in node.targets:
                t = target.target
                if not (isinstance(t, cst.Attribute) and t.attr.value == "requires_grad"):
                    continue
                if isinstance(t.value, cst.Name) and t.value.value == "self" and not _bool_literal(node.value):
                    continue  # `self.requires_grad = requires_grad`: the object keeps a setting it was given
                if _is_module(model, t.value, fn):
                    recv = clip(" ".join(model.module.code_for_node(t.value).split()))
                    value = clip(" ".join(model.module.code_for_node(node.value).split()), 12)
                    yield Report(t, self.message.format(recv=recv, value=value))


def _is_module(model: FileModel, expr: cst.BaseExpression, scope: Optional[FunctionInfo], depth: int = 0) -> bool:
    """Whether `expr` is known to be a torch module: an instance of a torch class of the file, an
    `nn` layer constructed where it is bound, or such a thing stored on an object of the file."""
    objects = model.objects
    cls = objects.instance_class(expr, scope)
    if cls is not None:
        return cls.is_torch and not _own_flag(model, cls)
    if isinstance(expr, cst.Call):
        return _module_call(model, expr)  # `Classifier(nn.Sequential(...))` stored by the class
    if isinstance(expr, cst.Name):
        looped = _loop_items(model, expr)
        if looped is not None:  # `for name, child in model.named_children(): child.requires_grad = ...`
            return looped == "modules" or (depth < 3 and bool(looped) and all(_is_module(model, e, scope, depth + 1) for e in looped))
        found = objects.value_of(expr, scope)
        if found is None:
            # a helper's parameter given several modules (`freeze(net.encoder)`, `freeze(net.decoder)`)
            passed = _passed_by_callers(model, expr.value, scope) if depth < 3 else None
            return bool(passed) and all(_is_module(model, arg, where, depth + 1) for arg, where in passed)
        value, where = found
        if isinstance(value, cst.Attribute) and depth < 3:
            return _is_module(model, value, where, depth + 1)  # `unfreeze(backbone.stem)`
        return _module_call(model, value)
    if isinstance(expr, cst.Subscript) and depth < 3:
        return _module_container(model, expr.value, scope)
    if isinstance(expr, cst.Attribute):
        owner = objects.instance_class(expr.value, scope)
        if owner is None:
            return False
        values = [(v, c, m) for c in model.class_chain(owner) for a, v, _n, m in c.self_assigns if a == expr.attr.value]
        if len(values) != 1:
            return False
        value, cls, method = values[0]
        if _module_call(model, value):
            return True
        # `self.backbone = backbone` in `__init__`: what every construction of the class passes
        passed = objects.stored_arguments(value, cls, method) if depth < 3 else None
        return bool(passed) and all(_is_module(model, arg, where, depth + 1) for arg, where in passed)
    return False


# Methods of an nn.Module that yield its submodules: `(name, module)` pairs for the named ones.
_SUBMODULES = {"children": False, "modules": False, "named_children": True, "named_modules": True}


def _loop_items(model: FileModel, name: cst.Name):
    """For a name bound by the `for` loop around it: "modules" when the loop runs over a module's
    `children()` / `modules()` (the second of `named_children()` pairs, also under `enumerate`),
    the elements when it runs over a list or tuple display, [] for any other loop, None when no
    loop of the function binds the name."""
    for anc in model.ancestors(name):
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
        if not isinstance(anc, cst.For) or name.value not in target_names(anc.target):
            continue
        it, target = anc.iter, anc.target
        if isinstance(it, cst.Call) and dotted(it.func) == "enumerate" and it.args and isinstance(target, cst.Tuple) \
                and len(target.elements) == 2:
            it, target = it.args[0].value, target.elements[1].value
        if isinstance(it, (cst.List, cst.Tuple)) and isinstance(target, cst.Name) and target.value == name.value:
            return [el.value for el in it.elements if not isinstance(el, cst.StarredElement)] or []
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _SUBMODULES:
            named = _SUBMODULES[it.func.attr.value]
            if not named and isinstance(target, cst.Name) and target.value == name.value:
                return "modules"
            if named and isinstance(target, cst.Tuple) and len(target.elements) == 2 and \
                    isinstance(target.elements[1].value, cst.Name) and target.elements[1].value.value == name.value:
                return "modules"
        return []
    return None


def _passed_by_callers(model: FileModel, name: str, scope: Optional[FunctionInfo]):
    """What each call of `scope` in this file passes for its parameter `name` (with the caller's
    scope), or None when `name` is no parameter of it, nothing calls it or a call passes nothing."""
    if scope is None or name not in scope.params or name in ("self", "cls"):
        return None
    out = []
    for call, caller in model.objects.callers_of(scope)[:8]:
        arg = argument_for(scope, call, name)
        if arg is None:
            return None
        out.append((arg, caller))
    return out or None


def _bool_literal(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Name) and value.value in ("True", "False")


def _own_flag(model: FileModel, cls) -> bool:
    """The class reads `self.requires_grad` itself (`if self.requires_grad:`): a setting of its
    own that happens to share the name (an environment wrapper, a transform), not a freeze."""
    chain = {id(c) for c in model.class_chain(cls)}
    for node, fn in model.attributes:
        if node.attr.value != "requires_grad" or not (isinstance(node.value, cst.Name) and node.value.value == "self"):
            continue
        if isinstance(model.parent(node), cst.AssignTarget):
            continue
        owner = fn
        while owner is not None and owner.parent is not None:
            owner = owner.parent
        if owner is not None and owner.cls is not None and id(owner.cls) in chain:
            return True
    return False


def _module_container(model: FileModel, expr: cst.BaseExpression, scope) -> bool:
    """`expr` holds an `nn.Sequential`/`ModuleList`/`ModuleDict` built where it is bound."""
    value = expr
    if isinstance(expr, cst.Name):
        found = model.objects.value_of(expr, scope)
        value = found[0] if found is not None else None
    elif isinstance(expr, cst.Attribute):
        owner = model.objects.instance_class(expr.value, scope)
        values = [] if owner is None else [
            v for c in model.class_chain(owner) for a, v, _n, _m in c.self_assigns if a == expr.attr.value]
        value = values[0] if len(values) == 1 else None
    return isinstance(value, cst.Call) and (model.callee(value) or "") in _MODULE_CONTAINERS


def _module_call(model: FileModel, value: cst.BaseExpression) -> bool:
    if not isinstance(value, cst.Call):
        return False
    callee = model.callee(value) or ""
    if callee.startswith("torch.nn.") and callee not in _NOT_MODULES:
        last = callee.split(".")[-1]
        return last[:1].isupper()
    cls = model.objects.instance_class(value, None)
    return cls is not None and cls.is_torch
