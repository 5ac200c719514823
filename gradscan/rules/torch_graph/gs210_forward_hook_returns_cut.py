from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, uses_torch
from gradscan.semantics.contexts import in_no_grad_block
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.model import FileModel, FunctionInfo

# The registration method whose hook may return a replacement for the module's output. (A
# pre-hook's replacement input is left alone: cutting the data fed to a first layer costs
# nothing, and which inputs carry gradient is not known at the registration.)
_HOOKS = {"register_forward_hook": "output"}
_CUT_METHODS = {"detach", "detach_"}
_DEPTH = 6
# Calls that return None whatever they are given (a lambda hook that only stores a copy).
_NONE_METHODS = {"append", "extend", "update", "add", "insert", "__setitem__", "put", "put_nowait",
                 "add_scalar", "add_histogram", "log", "write"}


class ForwardHookReturnsCut(GraphRule):
    code = "GS210"
    name = "forward-hook-returns-detached"
    summary = "A forward hook that returns `output.detach()` (or `.data`) replaces the module's output with a cut copy: the module and every layer before it get no gradient"
    message = "forward hook `{hook}` returns a detached {what} in place of the output: no gradient before it"
    explanation = (
        "Whatever a forward hook returns replaces the module's output, so a detached copy cuts the graph there: the "
        "module's own weights and those of every layer before it get no gradient."
    )
    hint = "store the detached copy aside and return nothing from the hook"
    facts = ("pt71",)
    triggers = ("register_forward",)
    doc = """
    ## What it does
    Flags `.detach()` or `.data` in a function registered with `register_forward_hook` when
    the hook returns the cut copy of the output it is given:
    `output = output.detach(); cache[k] = output; return output` (also through an attribute,
    `self.last = output.detach(); return self.last`).
    The hook may be a function of the file, a method (`self.record`), a lambda, or the inner
    function a factory returns (`layer.register_forward_hook(save("block1"))`). A return
    inside a `torch.no_grad()` block counts the same.

    ## Why it breaks gradients
    A forward hook that returns a value replaces the module's output with it. A hook written to cache activations for a feature loss, a
    probe or a plot usually only needs to store `output.detach()`; returning it as well swaps
    the module's output for a tensor with no history, so backward stops there: the hooked
    module and every layer before it get `.grad` None and never train, without an error
    (fact pt71).

    Not flagged: a hook that stores the detached copy and returns nothing (None keeps the
    output), and a hook returning a new value computed from the output without a cut (a mask,
    a scale: the gradient flows through it).

    ## Example
    ```python
    def save(module, inputs, output):
        output = output.detach()
        feats["block1"] = output
        return output

    model[1].register_forward_hook(save)
    ```

    ## Use instead
    ```python
    def save(module, inputs, output):
        feats["block1"] = output.detach()

    model[1].register_forward_hook(save)
    ```

    ## References
    - PyTorch docs: `torch.nn.Module.register_forward_hook` ("the hook can modify the output ... by returning a new value")
    - gradscan facts: pt71
    """
    invalid = (
        """
        import torch.nn as nn

        net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        cache = {}

        def keep(module, inputs, output):
            output = output.detach()  # error: GS210
            cache["relu"] = output
            return output

        net[1].register_forward_hook(keep)
        """,
        """
        import torch
        from torch import nn

        class Probe:
            def __init__(self, layer):
                self.values = []
                layer.register_forward_hook(self.grab)

            def grab(self, module, inputs, output):
                with torch.no_grad():
                    return output.clamp(-3.0, 3.0)  # error: GS210

        def keep_data(module, args, output):
            return output.data  # error: GS210

        body = nn.Linear(4, 4)
        Probe(body)
        body.register_forward_hook(keep_data)
        """,
    )
    valid = (
        """
        import torch.nn as nn

        net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        cache = {}

        def keep(module, inputs, output):
            cache["relu"] = output.detach()

        def scale(module, inputs, output):
            return output * 0.5

        net[1].register_forward_hook(keep)
        net[2].register_forward_hook(scale)
        net[0].register_forward_hook(lambda m, i, o: cache.update(first=o.detach()))
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        seen = set()
        for call, scope in model.calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value in _HOOKS) or not call.args:
                continue
            if call.args[0].keyword is not None:
                continue
            what = _HOOKS[func.attr.value]
            with_kwargs = any(a.keyword is not None and a.keyword.value == "with_kwargs"
                              and isinstance(a.value, cst.Name) and a.value.value == "True" for a in call.args)
            for hook in _hook_functions(model, call.args[0].value, scope):
                param = _replaced_param(hook, what, with_kwargs)
                if param is None:
                    continue
                for node in _cut_returns(model, hook, param):
                    if id(node) in seen:
                        continue
                    seen.add(id(node))
                    label = hook.name if hook.name != "<lambda>" else "lambda"
                    yield Report(node, self.message.format(hook=label, what=what))


def _hook_functions(model: FileModel, expr: cst.BaseExpression, scope: Optional[FunctionInfo]) -> List[FunctionInfo]:
    """The functions of the file a registration's first argument names: a lambda, a function
    (nested in the registering scope or at module level), a method (`self.grab`), or the inner
    functions a factory of the file returns (`save("block1")`)."""
    if isinstance(expr, cst.Lambda):
        info = model.function_of.get(expr)
        return [info] if info is not None else []
    if isinstance(expr, cst.Name):
        found = _named_function(model, expr.value, scope)
        return [found] if found is not None else []
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        owner = scope
        while owner is not None and owner.parent is not None:
            owner = owner.parent
        if owner is not None and owner.cls is not None:
            method = model.find_method(owner.cls, expr.attr.value)
            return [method] if method is not None else []
        return []
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and model.resolve(expr.func) is None:
        factory = _named_function(model, expr.func.value, scope)
        if factory is None:
            return []
        out = []
        for ret in factory.returns:
            if model.enclosing_function(ret) is not factory or not isinstance(ret, cst.Return):
                continue
            if isinstance(ret.value, cst.Name):
                inner = _named_function(model, ret.value.value, factory)
                if inner is not None and inner.parent is factory:
                    out.append(inner)
            elif isinstance(ret.value, cst.Lambda):
                info = model.function_of.get(ret.value)
                if info is not None:
                    out.append(info)
        return out
    return []


def _named_function(model: FileModel, name: str, scope: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    """The def `name` visible from `scope`: nested in it or an enclosing function, else the
    module's."""
    fn = scope
    while fn is not None:
        for info in model.functions:
            if info.parent is fn and info.name == name and isinstance(info.node, cst.FunctionDef):
                return info
        fn = fn.parent
    return model.module_functions.get(name)


def _replaced_param(hook: FunctionInfo, what: str, with_kwargs: bool) -> Optional[str]:
    """The hook's parameter its return replaces: `output` is the third (`(module, args,
    output)`, the fourth with `with_kwargs=True`), the input the second; a method skips `self`."""
    params = hook.params
    if hook.is_method and params[:1] == ["self"]:
        params = params[1:]
    index = 1 if what == "input" else (3 if with_kwargs else 2)
    return params[index] if len(params) > index else None


def _cut_returns(model: FileModel, hook: FunctionInfo, param: str) -> List[cst.CSTNode]:
    """The cuts (`.detach()`, `.data`, a `no_grad` block) between `param` and what the hook
    returns, when every path from `param` to a returned value goes through one."""
    if isinstance(hook.node, cst.Lambda):
        values = [(hook.node.body, hook.node.body)]
    else:
        values = [(ret.value, ret) for ret in hook.returns
                  if isinstance(ret, cst.Return) and ret.value is not None
                  and model.enclosing_function(ret) is hook
                  and not (isinstance(ret.value, cst.Name) and ret.value.value == "None")]
    out: List[cst.CSTNode] = []
    for value, ret in values:
        live, cuts = _paths(model, hook, value, param, 0)
        if in_no_grad_block(model, ret) and live:
            out.append(value)
        elif cuts and not live:
            out.extend(cuts)
    return out


def _paths(model: FileModel, hook: FunctionInfo, expr: cst.CSTNode, param: str, depth: int) -> Tuple[bool, List[cst.CSTNode]]:
    """(whether `expr` derives from `param` with no cut on the way, the cuts it derives from
    `param` through)."""
    if depth > _DEPTH:
        return False, []
    if isinstance(expr, cst.Name):
        if expr.value == param and _is_parameter_use(model, hook, expr):
            return True, []
        bindings, where = model.get(Definitions).reaching(expr, hook)
        if where != "local":
            return False, []
        live, cuts = False, []
        for b in bindings:
            if b.value is None or b.kind not in ("name",):
                continue
            l2, c2 = _paths(model, hook, b.value, param, depth + 1)
            live, cuts = live or l2, cuts + c2
        return live, cuts
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _CUT_METHODS:
        live, cuts = _paths(model, hook, expr.func.value, param, depth + 1)
        return False, ([expr] if live else []) + cuts
    if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
        live, cuts = _paths(model, hook, expr.value, param, depth + 1)
        return False, ([expr] if live else []) + cuts
    if isinstance(expr, (cst.Lambda, cst.FunctionDef)):
        return False, []
    if isinstance(expr, cst.Attribute):
        if isinstance(expr.value, cst.Name) and expr.value.value == "self":
            return _self_attribute_paths(model, hook, expr, param, depth)
        return _paths(model, hook, expr.value, param, depth)
    if isinstance(expr, cst.Call) and (
            (isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _NONE_METHODS)
            or (isinstance(expr.func, cst.Name) and expr.func.value == "print")):
        return False, []
    live, cuts = False, []
    for child in expr.children:
        if isinstance(child, cst.CSTNode) and not isinstance(child, (cst.BaseParenthesizableWhitespace,)):
            if isinstance(child, (cst.Arg, cst.Element, cst.StarredElement, cst.Index, cst.SubscriptElement, cst.Slice)):
                for grand in child.children:
                    l2, c2 = _paths(model, hook, grand, param, depth)
                    live, cuts = live or l2, cuts + c2
            elif isinstance(child, cst.BaseExpression):
                l2, c2 = _paths(model, hook, child, param, depth)
                live, cuts = live or l2, cuts + c2
    return live, cuts


def _is_parameter_use(model: FileModel, hook: FunctionInfo, use: cst.Name) -> bool:
    bindings, where = model.get(Definitions).reaching(use, hook)
    return where == "param"


def _self_attribute_paths(model: FileModel, hook: FunctionInfo, expr: cst.Attribute, param: str, depth: int) -> Tuple[bool, List[cst.CSTNode]]:
    """`self.last` read in the hook: what the hook stored there before (`self.last = ...`)."""
    order = model.flow.order
    live, cuts = False, []
    for node, owner in model.assignments:
        if owner is not hook or not isinstance(node, cst.Assign) or order(node) >= order(expr):
            continue
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self" \
                    and t.attr.value == expr.attr.value:
                l2, c2 = _paths(model, hook, node.value, param, depth + 1)
                live, cuts = live or l2, cuts + c2
    return live, cuts
