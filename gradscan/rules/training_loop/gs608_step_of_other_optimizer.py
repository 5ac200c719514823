from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.training_loop.gs601_zero_grad_between_backward_and_step import _local_function, is_backward, runs_backward
from gradscan.rules.training_loop.helpers import calls_in, chain, is_optimizer, method_name, nodes_in, units
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted

# What may be asked of an optimizer without stepping it or handing it to code that may.
_IDLE = {"zero_grad", "param_groups", "state_dict", "state", "defaults"}


class StepOfOtherOptimizer(Rule):
    code = "GS608"
    name = "step-of-other-optimizer"
    framework = "torch"
    summary = "`opt_a.zero_grad(); loss.backward(); opt_b.step()` where `opt_a` is never stepped: the weights `opt_a` holds never change"
    message = "`{step}` steps another optimizer; `{opt}`, cleared before backward, is never stepped"
    explanation = (
        "backward() fills the .grad of the weights the loss reaches; only the optimizer that holds them can apply it. "
        "The optimizer cleared before this backward pass is never stepped, so its weights stay as they were."
    )
    hint = "step the optimizer whose gradients were cleared before this backward pass (`opt_g.step()` after the generator loss)"
    facts = ("pt45",)
    triggers = ("zero_grad",)
    doc = """
    ## What it does
    Flags `opt_b.step()` (or `scaler.step(opt_b)`) when, in the same sequence of statements,
    another optimizer `opt_a` had its gradients cleared (`opt_a.zero_grad()`), a backward
    pass ran, and `opt_a` itself is never stepped anywhere in the function (or, for
    `self.opt_a`, anywhere in the class): the usual slip of a GAN or actor-critic loop that
    copies the discriminator's update into the generator's. Both must be optimizers built in
    the code (`torch.optim.Adam(...)`, `self.opt = ...`) or Lightning's `self.optimizers()`, or
    parameters of a helper that every caller in the file fills with its own optimizers (then
    neither the helper nor any caller may step the cleared one).

    ## Why it breaks gradients
    `step()` updates only the parameters its optimizer holds. The generator's loss fills the
    generator's `.grad`, then the discriminator's optimizer steps the discriminator (with
    whatever gradient the generator loss left there) and the generator's gradients are
    cleared again on the next iteration, never applied: the generator stays at its
    initialisation while the loss is computed, logged and backpropagated (fact pt45).

    Not flagged: an optimizer stepped anywhere else in the function or class (a GAN loop that
    steps both), one handed to other code (`scaler.step(opt_a)`, `train(model, opt_a)`, a
    closure), stored or returned, or read in a nested function; `model.zero_grad()` (a
    module, not an optimizer); a step of the same optimizer.

    ## Example
    ```python
    opt_g.zero_grad()
    g_loss = bce(D(G(z)), ones)
    g_loss.backward()
    opt_d.step()
    ```

    ## Use instead
    ```python
    opt_g.zero_grad()
    g_loss = bce(D(G(z)), ones)
    g_loss.backward()
    opt_g.step()
    ```

    ## References
    - PyTorch docs: "How to use an optimizer" (`torch.optim`)
    - gradscan facts: pt45
    """
    invalid = (
        """
        import torch

        def train(G, D, loader, bce):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for real, z in loader:
                opt_d.zero_grad()
                bce(D(real), 1).backward()
                opt_d.step()
                opt_g.zero_grad()
                bce(D(G(z)), 1).backward()
                opt_d.step()  # error: GS608
        """,
    )
    valid = (
        """
        import torch

        def train(G, D, loader, bce):
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for real, z in loader:
                opt_d.zero_grad()
                bce(D(real), 1).backward()
                opt_d.step()
                opt_g.zero_grad()
                bce(D(G(z)), 1).backward()
                opt_g.step()

        def two_steps(model, head, x):
            opt_all = torch.optim.SGD(model.parameters(), lr=0.1)
            opt_head = torch.optim.SGD(head.parameters(), lr=0.1)
            opt_all.zero_grad()
            model(x).sum().backward()
            opt_head.step()
            return opt_all
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source or ""
        if "zero_grad" not in source or "step" not in source:
            return
        scopes: Dict[int, Optional[FunctionInfo]] = {}
        for _call, fn in model.calls:
            scopes[id(fn)] = fn
        for fn in scopes.values():
            optimizers = _optimizers(model, fn)
            if len(optimizers) < 2:
                continue
            for call, owner in model.calls:
                if owner is not fn or method_name(call) != "zero_grad" or not isinstance(call.func, cst.Attribute):
                    continue
                cleared = dotted(call.func.value)
                stmt = model.parent(call)
                if cleared not in optimizers or not isinstance(stmt, cst.Expr) or stmt.value is not call:
                    continue
                step = _other_step_after(model, stmt, cleared, optimizers, fn)
                if step is None or not _never_stepped(model, cleared, fn):
                    continue
                yield Report(step, message=self.message.format(step=clip(model.module.code_for_node(step), 30), opt=clip(cleared, 20)))


def _optimizers(model: FileModel, fn: Optional[FunctionInfo], params: bool = True) -> Set[str]:
    """Names this scope knows to be optimizers: local `opt = Adam(...)`, `self.opt = Adam(...)`
    of its class, the names unpacked from Lightning's `self.optimizers()`, and the parameters
    every caller in this file fills with one of its own optimizers (a `generator_phase(fake,
    opt_g, opt_d)` helper of `training_step`)."""
    out: Set[str] = set(_optimizer_params(model, fn)) if params else set()
    local = _locals(model, fn)
    for node, owner in model.assignments:
        if not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0].target
        value = node.value
        if isinstance(target, cst.Name) and is_optimizer(model, value):
            if owner is fn or (owner is None and target.value not in local):  # or a script's global
                out.add(target.value)
        elif owner is fn and isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Call) and dotted(value.func) == "self.optimizers":
            for el in target.elements:
                if isinstance(el.value, cst.Name):
                    out.add(el.value.value)
    if fn is not None and fn.cls is not None:
        for cls in model.class_chain(fn.cls):
            for attr, value, _node, _method in cls.self_assigns:
                if is_optimizer(model, value):
                    out.add(f"self.{attr}")
    return out


def _optimizer_params(model: FileModel, fn: Optional[FunctionInfo]) -> Dict[str, List[tuple]]:
    """Parameters of `fn` that every call of it in this file (at least one) fills with an
    optimizer of the caller's scope: name -> [(caller, call, the argument's text)]."""
    if fn is None:
        return {}
    names = fn.params
    if fn.is_method and names:
        names = names[1:]  # `self`: the call `self.helper(a, b)` passes a, b
    if not names:
        return {}
    sites: Dict[str, List[tuple]] = {n: [] for n in names}
    for call, owner in model.calls:
        if _local_function(model, call, owner) is not fn:
            continue
        known = _optimizers(model, owner, params=False)
        given: Dict[str, str] = {}
        for i, arg in enumerate(call.args):
            if arg.star:
                return {}
            name = arg.keyword.value if arg.keyword is not None else (names[i] if i < len(names) else None)
            text = dotted(arg.value)
            if name is not None and text:
                given[name] = text
        for n in list(sites):
            if n in given and given[n] in known:
                sites[n].append((owner, call, given[n]))
            else:
                del sites[n]
    return {n: s for n, s in sites.items() if s}


def _locals(model: FileModel, fn: Optional[FunctionInfo]) -> Set[str]:
    """Plain names assigned in `fn` (None: none, the module's names are its globals)."""
    if fn is None:
        return set()
    out: Set[str] = set()
    for node, owner in model.assignments:
        if owner is fn and isinstance(node, cst.Assign):
            for t in node.targets:
                for n in nodes_in(t.target):
                    if isinstance(n, cst.Name):
                        out.add(n.value)
    return out


def _stepped(call: cst.Call) -> Optional[str]:
    """The optimizer `opt.step()` / `scaler.step(opt)` steps (its text), or None."""
    if method_name(call) != "step" or not isinstance(call.func, cst.Attribute):
        return None
    args = positional_arguments(call)
    if args:
        return dotted(args[0])
    return dotted(call.func.value)


def _other_step_after(model: FileModel, stmt: cst.CSTNode, cleared: str, optimizers: Set[str], fn) -> Optional[cst.Call]:
    """After `cleared.zero_grad()` in its block: a backward pass, then the step of another
    optimizer, with no step of `cleared` and no second clearing of it first."""
    links = chain(model, stmt)
    if not links:
        return None
    block, idx = links[0]
    seen_backward = False
    for unit in units(block)[idx + 1:]:
        for call in calls_in(unit):
            if is_backward(model, call) or runs_backward(model, call, fn):
                seen_backward = True
                continue
            if method_name(call) == "zero_grad" and isinstance(call.func, cst.Attribute) and dotted(call.func.value) == cleared:
                return None
            stepped = _stepped(call)
            if stepped is None:
                continue
            if stepped == cleared or not seen_backward:
                return None
            if stepped in optimizers:
                return call
            return None
    return None


def _never_stepped(model: FileModel, opt: str, fn: Optional[FunctionInfo], ignore: Optional[cst.Call] = None) -> bool:
    """Nothing in reach steps `opt`: no use of it but `zero_grad()` and idle reads in its
    scopes (the function and the functions nested in it; for `self.opt`, every method of the
    class), no hand-over as an argument (but the call `ignore`), no store, no return. A
    parameter filled with an optimizer by every caller is never stepped when neither the
    function nor any caller steps what it passes."""
    handed = _optimizer_params(model, fn).get(opt) if "." not in opt and opt not in _locals(model, fn) else None
    if handed:
        scopes = [fn] + [f for f in model.functions if _nested(f, fn)]
        if not _unused_in(model, opt, scopes, ignore):
            return False
        return all(_never_stepped(model, arg, caller, ignore=call) for caller, call, arg in handed)
    if opt.startswith("self."):
        if fn is None or fn.cls is None:
            return False
        classes = list(model.class_chain(fn.cls))
        scopes: List[Optional[FunctionInfo]] = [f for f in model.functions if f.cls is not None and any(f.cls is c for c in classes) or _within(f, classes)]
    elif fn is None or opt not in _locals(model, fn):
        scopes = [None, *model.functions]  # a script's optimizer: any function may step the global
    else:
        scopes = [fn] + [f for f in model.functions if _nested(f, fn)]
    return _unused_in(model, opt, scopes, ignore)


def _unused_in(model: FileModel, opt: str, scopes: List[Optional[FunctionInfo]], ignore: Optional[cst.Call]) -> bool:
    ids = {id(s) for s in scopes}
    for call, owner in model.calls:
        if id(owner) not in ids or call is ignore:
            continue
        if isinstance(call.func, cst.Attribute) and dotted(call.func.value) == opt and call.func.attr.value not in _IDLE:
            return False
        if any(dotted(arg.value) == opt for arg in call.args):
            return False
    for node, owner in model.assignments:
        if id(owner) in ids and isinstance(node, cst.Assign) and any(dotted(n) == opt for n in nodes_in(node.value)):
            return False
    for scope in scopes:
        for ret in (scope.returns if scope is not None else []):
            value = getattr(ret, "value", None)
            if value is not None and any(dotted(n) == opt for n in nodes_in(value) if isinstance(n, (cst.Name, cst.Attribute))):
                return False
    return True


def _nested(inner: FunctionInfo, outer: FunctionInfo) -> bool:
    parent = inner.parent
    while parent is not None:
        if parent is outer:
            return True
        parent = parent.parent
    return False


def _within(f: FunctionInfo, classes) -> bool:
    """A function nested in a method of one of these classes."""
    parent = f.parent
    while parent is not None:
        if parent.cls is not None and any(parent.cls is c for c in classes):
            return True
        parent = parent.parent
    return False
