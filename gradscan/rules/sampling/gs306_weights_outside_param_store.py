from __future__ import annotations

from typing import Iterator, List, Optional, Set

import libcst as cst

from gradscan.frameworks import pyro as pyro_api
from gradscan.rules.base import Report, Rule, clip
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo
from gradscan.semantics.walk import descendants

_SVI = {api.name for api in pyro_api.SVI_CLASSES}
_REGISTER = {api.name for api in pyro_api.MODULE_REGISTRATION}
_PARAMETER = {"torch.nn.Parameter", "torch.nn.parameter.Parameter"}


class WeightsOutsideParamStore(Rule):
    code = "GS306"
    name = "pyro-weights-outside-param-store"
    framework = "torch"
    summary = "A Pyro model or guide run by SVI uses an `nn.Module` without `pyro.module(...)`, or a raw `requires_grad` tensor instead of `pyro.param`: SVI's optimizer never updates them"
    message = "{what} in the {role} is outside Pyro's param store: SVI never updates it; {fix}"
    explanation = (
        "SVI's optimizer updates the parameters its trace records: `pyro.param` sites and the modules registered with "
        "`pyro.module`. A plain nn.Module or a requires_grad tensor used in the model or guide is never stepped, so "
        "it keeps its initial values."
    )
    hint = "register the module with `pyro.module(\"name\", net)` inside the model/guide (or make it a PyroModule); declare tensors with `pyro.param`"
    facts = ("py43",)
    triggers = ("SVI",)
    doc = """
    ## What it does
    Flags, in a function or callable object given to `pyro.infer.SVI` as the model or the
    guide, a call of a torch `nn.Module` (a module-level network, `self.encoder`) that no
    `pyro.module("name", net)` of the file registers and no torch optimizer of the file is
    built over; and a tensor created with `requires_grad=True` or as an `nn.Parameter` that
    the model or guide reads (reported where it is created).

    ## Why it breaks gradients
    `svi.step()` records the model and the guide, collects the parameters the trace saw
    (`pyro.param` sites, and the parameters of modules registered with `pyro.module`, which
    puts them in the param store) and steps only those. The encoder of an amortized guide
    that is merely called, or a variational mean kept in a plain tensor, receives
    no update: the optimizer only steps what the trace recorded, so the guide keeps its
    initial values and the loss plateaus, without an error (fact py43).

    Not flagged: a `PyroModule` (its parameters live in the param store),
    `PyroModule[nn.Linear](...)`, a module registered with `pyro.module` anywhere in the file,
    a module whose parameters a torch optimizer of the file updates, and plain tensors without
    `requires_grad` (fixed scales, constants).

    ## Example
    ```python
    encoder = Encoder()

    def guide(x):
        with pyro.plate("batch", x.shape[0]):
            loc, scale = encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))
    ```

    ## Use instead
    ```python
    def guide(x):
        pyro.module("encoder", encoder)
        with pyro.plate("batch", x.shape[0]):
            loc, scale = encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))
    ```

    ## References
    - Pyro docs: `pyro.module`, `pyro.param`, "SVI Part I" (the guide's parameters are the param store's)
    - gradscan facts: py43
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        import pyro
        import pyro.distributions as dist
        from pyro.infer import SVI, Trace_ELBO
        from pyro.optim import Adam

        encoder = nn.Linear(4, 2)

        def model(x):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(), 1.0), obs=x)

        def guide(x):
            pyro.sample("z", dist.Normal(encoder(x), 1.0).to_event(1))  # error: GS306

        svi = SVI(model, guide, Adam({"lr": 0.01}), loss=Trace_ELBO())
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        import pyro
        import pyro.distributions as dist
        from pyro.infer import SVI, Trace_ELBO
        from pyro.optim import Adam

        encoder = nn.Linear(4, 2)

        def model(x):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(), 1.0), obs=x)

        def guide(x):
            pyro.module("encoder", encoder)
            scale = torch.full((2,), 0.1)
            pyro.sample("z", dist.Normal(encoder(x), scale).to_event(1))

        svi = SVI(model, guide, Adam({"lr": 0.01}), loss=Trace_ELBO())
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        svi_calls = [(call, fn) for call, fn in model.calls if model.callee(call) in _SVI]
        if not svi_calls:
            return
        registered = _registered(model)
        optimized = _optimized(model)
        seen: Set[int] = set()
        for call, scope in svi_calls:
            for index, role in ((0, "model"), (1, "guide")):
                target = find_argument(call, index, role)
                if target is None:
                    continue
                for fn in _callables(model, target, scope):
                    for node, what, fix in _outside_store(model, fn, registered, optimized):
                        if id(node) in seen:
                            continue
                        seen.add(id(node))
                        yield Report(node, self.message.format(what=what, role=role, fix=fix))


def _text(model: FileModel, node: cst.CSTNode) -> str:
    return " ".join(model.module.code_for_node(node).split())


def _registered(model: FileModel) -> Set[str]:
    """The modules `pyro.module(name, net)` registers anywhere in the file (their source text)."""
    out = set()
    for call, _ in model.calls:
        if model.callee(call) in _REGISTER:
            net = find_argument(call, 1, "nn_module")
            if net is not None:
                out.add(_text(model, net))
    return out


def _optimized(model: FileModel) -> Set[str]:
    """What a torch optimizer of the file is built over: `net` of `net.parameters()` and the
    tensors listed in it (the user steps those weights himself)."""
    out = set()
    for call, _ in model.calls:
        if not (model.callee(call) or "").startswith("torch.optim."):
            continue
        for arg in call.args:
            for node in descendants(arg.value):
                if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                        and node.func.attr.value in ("parameters", "named_parameters"):
                    out.add(_text(model, node.func.value))
                elif isinstance(node, (cst.Name, cst.Attribute)):
                    out.add(_text(model, node))
    return out


def _callables(model: FileModel, target: cst.BaseExpression, scope: Optional[FunctionInfo]) -> List[FunctionInfo]:
    """The functions SVI runs for `target`: a function of the file, a method (`self.guide`),
    or the `__call__` of an instance of a plain class of the file (`guide = MeanFieldGuide(3)`)."""
    if isinstance(target, cst.Name):
        fn = _named_function(model, target.value, scope)
        if fn is not None:
            return [fn]
        value = _single_binding(model, target)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            info = model.classes.get(value.func.value)
            if info is not None and not info.is_torch:
                method = model.find_method(info, "__call__")
                return [method] if method is not None else []
        return []
    if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
        owner = scope
        while owner is not None and owner.parent is not None:
            owner = owner.parent
        if owner is not None and owner.cls is not None:
            method = model.find_method(owner.cls, target.attr.value)
            return [method] if method is not None else []
    return []


def _named_function(model: FileModel, name: str, scope: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    fn = scope
    while fn is not None:
        for info in model.functions:
            if info.parent is fn and info.name == name and isinstance(info.node, cst.FunctionDef):
                return info
        fn = fn.parent
    return model.module_functions.get(name)


def _single_binding(model: FileModel, name: cst.Name) -> Optional[cst.BaseExpression]:
    bindings, where = model.get(Definitions).reaching(name)
    if where not in ("local", "outer") or len(bindings) != 1 or bindings[0].kind != "name":
        return None
    return bindings[0].value


def _outside_store(model: FileModel, fn: FunctionInfo, registered: Set[str], optimized: Set[str]):
    """(node to report, what, fix) for each module called and each raw trainable tensor read
    by `fn` that the param store does not hold."""
    for call in fn.calls:
        func = call.func
        created = _creation(model, fn, func)
        if created is None or not _plain_torch_module(model, created):
            continue
        text = _text(model, func)
        if text in registered or text in optimized:
            continue
        yield call, f"nn.Module `{clip(text)}`", "register it with pyro.module"
    for node in descendants(fn.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        parent = model.parent(node)
        if isinstance(node, cst.Name):
            if isinstance(parent, (cst.Attribute, cst.AssignTarget)) or (isinstance(parent, cst.Arg) and parent.keyword is node):
                continue  # part of an attribute, a store, or a keyword's name
        elif not (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self"):
            continue
        created = _creation(model, fn, node)
        if created is None or not _trainable_leaf(model, created):
            continue
        text = _text(model, node)
        if text in optimized:
            continue
        yield created, f"tensor `{clip(text)}`", "make it a pyro.param"


def _creation(model: FileModel, fn: FunctionInfo, expr: cst.BaseExpression) -> Optional[cst.Call]:
    """The call that created what `expr` names: a module-level or local `name = Call(...)`, or
    `self.attr = Call(...)` in the class of `fn`."""
    if isinstance(expr, cst.Name):
        if expr.value in fn.params:
            return None
        value = _single_binding(model, expr)
        return value if isinstance(value, cst.Call) else None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self" and fn.cls is not None:
        found = [value for attr, value, _, _ in fn.cls.self_assigns if attr == expr.attr.value]
        if len(found) == 1 and isinstance(found[0], cst.Call):
            return found[0]
    return None


def _plain_torch_module(model: FileModel, call: cst.Call) -> bool:
    """`nn.Linear(...)` or an instance of a torch module class of the file that is no PyroModule."""
    callee = model.callee(call) or ""
    if callee.startswith("torch.nn.") and callee.split(".")[-1][:1].isupper() and callee not in _PARAMETER:
        return True
    if isinstance(call.func, cst.Name):
        info = model.classes.get(call.func.value)
        return info is not None and info.is_torch and not _pyro_module(model, info)
    return False


def _pyro_module(model: FileModel, info: ClassInfo) -> bool:
    for cls in model.class_chain(info):
        if any(base.startswith("pyro.") for base in cls.base_names):
            return True
    return False


def _trainable_leaf(model: FileModel, call: cst.Call) -> bool:
    callee = model.callee(call) or ""
    if callee in _PARAMETER:
        return True
    return callee.startswith("torch.") and any(
        a.keyword is not None and a.keyword.value == "requires_grad" and isinstance(a.value, cst.Name)
        and a.value.value == "True" for a in call.args)
