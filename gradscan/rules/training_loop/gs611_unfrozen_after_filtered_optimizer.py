from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import init_methods
from gradscan.rules.training_loop.helpers import SCOPES, is_optimizer, method_name, order
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Calls that put parameters into an existing optimizer or rebuild the optimizers: where any of
# them appears, unfreezing may well be followed by registering the parameters.
_REGISTERS = {"add_param_group", "unfreeze_and_add_param_group", "setup_optimizers"}
# LightningModule methods that run before `configure_optimizers` (or are it).
_BEFORE_OPTIMIZERS = {"__init__", "setup", "configure_model", "configure_sharded_model", "configure_optimizers", "prepare_data"}


def _literal_bool(expr) -> Optional[bool]:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


def _loop_owner(model: FileModel, name: str, node: cst.CSTNode) -> Optional[str]:
    """The `m` of the `for name in m.parameters()` (or `for _, name in m.named_parameters()`)
    loop around `node` that binds `name`."""
    for anc in model.ancestors(node):
        if isinstance(anc, SCOPES):
            return None
        if isinstance(anc, cst.For):
            names = [n.value for n in descendants(anc.target) if isinstance(n, cst.Name)]
            if name in names and isinstance(anc.iter, cst.Call) and isinstance(anc.iter.func, cst.Attribute) \
                    and anc.iter.func.attr.value in ("parameters", "named_parameters"):
                return _text(anc.iter.func.value)
    return None


def _flag_of(call: cst.Call) -> Optional[cst.BaseExpression]:
    args = positional_arguments(call)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "requires_grad":
            return arg.value
    return args[0] if args else None


def _direct_toggle(model: FileModel, node: cst.CSTNode) -> Optional[Tuple[str, cst.BaseExpression]]:
    """(module, flag) when `node` sets requires_grad on a module's parameters:
    `m.requires_grad_(flag)` (flag True when omitted), `p.requires_grad = flag` in a loop over
    `m.parameters()`, `m.weight.requires_grad = flag`."""
    if isinstance(node, cst.Call) and method_name(node) == "requires_grad_" and isinstance(node.func, cst.Attribute):
        target = _text(node.func.value)
        if target is None:
            return None
        flag = _flag_of(node)
        flag = flag if flag is not None else cst.Name("True")
        owner = _loop_owner(model, target, node) if "." not in target and "[" not in target else None
        return (owner or target), flag
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        target = node.targets[0].target
        if isinstance(target, cst.Attribute) and target.attr.value == "requires_grad":
            holder = _text(target.value)
            if holder is None:
                return None
            if "." not in holder and "[" not in holder:
                owner = _loop_owner(model, holder, node)
                return (owner, node.value) if owner is not None else None
            return holder.rsplit(".", 1)[0], node.value
    return None


def _toggles(model: FileModel, stmt: cst.CSTNode) -> Iterator[Tuple[cst.CSTNode, str, bool]]:
    """(node, module, requires_grad) for every freeze or unfreeze a statement runs: directly,
    or by calling a function of the file that toggles its first parameter (`set_trainable(m, True)`)."""
    for node in descendants(stmt, prune=SCOPES):
        found = _direct_toggle(model, node)
        if found is not None:
            value = _literal_bool(found[1])
            if value is not None:
                yield node, found[0], value
            continue
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
            helper = model.module_functions.get(node.func.value)
            if helper is not None:
                toggled = _helper_toggle(model, helper, node)
                if toggled is not None:
                    yield node, toggled[0], toggled[1]


def _helper_toggle(model: FileModel, helper: FunctionInfo, call: cst.Call) -> Optional[Tuple[str, bool]]:
    params = helper.params
    args = positional_arguments(call)
    if not params or not args:
        return None
    module = dotted(args[0])
    if module is None:
        return None
    for node in descendants(helper.node.body, prune=SCOPES):
        found = _direct_toggle(model, node)
        if found is None or found[0] != params[0]:
            continue
        value = _literal_bool(found[1])
        if value is None and isinstance(found[1], cst.Name) and found[1].value in params:
            i = params.index(found[1].value)
            value = _literal_bool(args[i]) if i < len(args) else None
        if value is not None:
            return module, value
    return None


def _filtered_owner(model: FileModel, expr, fn: Optional[FunctionInfo], depth: int = 0) -> Optional[str]:
    """The `m` of `filter(lambda p: p.requires_grad, m.parameters())`,
    `[p for p in m.parameters() if p.requires_grad]` and param groups of such, or of the one
    value a local name is assigned."""
    if depth > 3 or expr is None:
        return None
    if isinstance(expr, cst.Name):
        return _filtered_owner(model, _single_value(model, fn, expr.value), fn, depth + 1)
    if isinstance(expr, (cst.List, cst.Tuple)):
        for el in expr.elements:
            found = _filtered_owner(model, el.value, fn, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(expr, cst.Dict):
        for el in expr.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString) and el.key.value.strip("'\"") == "params":
                return _filtered_owner(model, el.value, fn, depth + 1)
        return None
    reads_flag = any(isinstance(n, cst.Attribute) and n.attr.value == "requires_grad" for n in descendants(expr))
    if not reads_flag:
        return None
    for node in descendants(expr):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("parameters", "named_parameters"):
            return dotted(node.func.value)
    return None


def _single_value(model: FileModel, fn: Optional[FunctionInfo], name: str):
    if fn is not None:
        return model.single_value(fn, name)
    found = None
    for node, owner in model.assignments:
        if owner is None and isinstance(node, cst.Assign):
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    if found is not None:
                        return None
                    found = node.value
    return found


def _params_arg(call: cst.Call):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "params":
            return arg.value
    args = positional_arguments(call)
    return args[0] if args else None


def _covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".") or inner.startswith(outer + "[")


_EMPTY = cst.Module([])


def _part_of(model: FileModel, fn: Optional[FunctionInfo], owner: str, module: str) -> bool:
    """`module` is `owner` or a part of it: by its path (`model.backbone`), by the one value a
    local name for it is assigned (`backbone = model[0]`), or built into `owner`'s one value
    (`model = nn.Sequential(backbone, head)`)."""
    if _covers(owner, module):
        return True
    if "." in module or "[" in module:
        return False
    value = _single_value(model, fn, module)
    if isinstance(value, (cst.Attribute, cst.Subscript)):
        base = _text(value)
        if base is not None and _covers(owner, base):
            return True
    built = _single_value(model, fn, owner) if "." not in owner else None
    return isinstance(built, cst.Call) and any(
        isinstance(n, cst.Name) and n.value == module for n in descendants(built))


def _text(expr) -> Optional[str]:
    """`a.b` for names and attributes, the source text for subscripts (`model[0]`)."""
    found = dotted(expr)
    if found is not None:
        return found
    if isinstance(expr, (cst.Subscript, cst.Attribute)):
        return _EMPTY.code_for_node(expr)
    return None


class UnfrozenAfterFilteredOptimizer(Rule):
    code = "GS611"
    name = "unfrozen-after-filtered-optimizer"
    framework = "torch"
    summary = "parameters unfrozen after the optimizer was built over those that required grad: they get gradients but are never updated"
    message = "`{module}` unfrozen after {opt} took the trainable parameters: never updated; add_param_group"
    explanation = (
        "An optimizer holds the parameters it was given when it was built. Built over `filter(lambda p: "
        "p.requires_grad, ...)` while a part was frozen, it does not hold that part; setting requires_grad back to "
        "True later fills their .grad, but no optimizer steps them."
    )
    hint = "after unfreezing, `optimizer.add_param_group({'params': module.parameters()})` or rebuild the optimizer"
    facts = ("pt48",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags the statement that unfreezes a module (`m.requires_grad_(True)`, `p.requires_grad =
    True` in a loop over `m.parameters()`, or a function of the file that does so,
    `set_trainable(m, True)`) when, before it, an optimizer was built over only the parameters
    that required grad (`filter(lambda p: p.requires_grad, model.parameters())`, a list
    comprehension with `if p.requires_grad`, a param group of such) while that module was
    frozen, and nothing registers the module afterwards. Two forms: one function or script
    (freeze, build the optimizer, later unfreeze), and a LightningModule that freezes in
    `__init__`/`setup`, filters in `configure_optimizers` and unfreezes in a hook
    (`on_train_epoch_start`, `training_step`, ...).

    ## Why it breaks gradients
    An optimizer keeps the list of parameters it was built with; `requires_grad` is read only
    when the filter runs. Parameters unfrozen later receive `.grad` on every backward pass,
    but `step()` never visits them: the backbone of a gradual-unfreezing schedule keeps its
    pretrained values, silently (fact pt48).

    Not flagged: a file that calls `add_param_group`, `unfreeze_and_add_param_group`
    (Lightning's `BaseFinetuning`) or `setup_optimizers`; an optimizer built again after the
    unfreeze (or another optimizer in the same function); an optimizer over all parameters
    (frozen ones simply get no gradient until unfrozen); unfreezing a module that was never
    frozen before the optimizer was built; an unfreeze after which no backward pass runs
    (restoring the module for the caller once training is over).

    ## Example
    ```python
    backbone.requires_grad_(False)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    for epoch in range(10):
        if epoch == 5:
            backbone.requires_grad_(True)
        train_one_epoch(model, optimizer)
    ```

    ## Use instead
    ```python
        if epoch == 5:
            backbone.requires_grad_(True)
            optimizer.add_param_group({"params": backbone.parameters(), "lr": 0.01})
    ```

    ## References
    - PyTorch docs: `torch.optim.Optimizer.add_param_group`
    - Lightning docs: `BaseFinetuning.unfreeze_and_add_param_group`
    - gradscan facts: pt48
    """
    invalid = (
        """
        import torch

        def finetune(model, batches):
            model.backbone.requires_grad_(False)
            opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
            for step, (x, y) in enumerate(batches):
                if step == 100:
                    model.backbone.requires_grad_(True)  # error: GS611
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                opt.step()
        """,
    )
    valid = (
        """
        import torch

        def finetune(model, batches):
            model.backbone.requires_grad_(False)
            opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
            for step, (x, y) in enumerate(batches):
                if step == 100:
                    model.backbone.requires_grad_(True)
                    opt.add_param_group({"params": model.backbone.parameters()})
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                opt.step()

        def all_params(model, batches):
            model.backbone.requires_grad_(False)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.backbone.requires_grad_(True)
            return opt
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if "requires_grad" not in (model.source or ""):
            return
        for call, _fn in model.calls:
            if method_name(call) in _REGISTERS:
                return
        yield from self._scripts(model)
        yield from self._lightning(model)

    def _scripts(self, model: FileModel) -> Iterator[Report]:
        """Freeze, a filtered optimizer, then an unfreeze, in one function or in module-level code."""
        scopes: List[Tuple[Optional[FunctionInfo], cst.CSTNode]] = [(None, model.module)]
        scopes += [(fn, fn.node) for fn in model.functions if isinstance(fn.node, cst.FunctionDef)]
        for fn, root in scopes:
            optimizers = [call for call, owner in model.calls if owner is fn and is_optimizer(model, call)]
            if len(optimizers) != 1:
                continue  # none, or another one that may be built after the unfreeze
            opt = optimizers[0]
            owner = _filtered_owner(model, _params_arg(opt), fn)
            if owner is None or _rebound(model, fn, opt):
                continue
            body = root.body if isinstance(root, cst.FunctionDef) else root
            toggles = [t for stmt in _statements(body) for t in _toggles(model, stmt)]
            for node, module, on in toggles:
                if not on or not _part_of(model, fn, owner, module) or order(model, opt, node) != -1:
                    continue
                frozen_before = any(
                    not was_on and (_covers(frozen, module) or _covers(module, frozen)) and order(model, f, opt) == -1
                    for f, frozen, was_on in toggles
                )
                if frozen_before and _trains_after(model, fn, node):
                    yield Report(node, message=self.message.format(module=clip(module, 24), opt=clip(_opt_name(model, opt), 18)))

    def _lightning(self, model: FileModel) -> Iterator[Report]:
        """Frozen in `__init__`/`setup`, filtered in `configure_optimizers`, unfrozen in a hook."""
        for cls in model.class_list:
            if not cls.is_torch:
                continue
            configure = model.find_method(cls, "configure_optimizers")
            if configure is None:
                continue
            owner = None
            opt = None
            for call in configure.calls:
                if is_optimizer(model, call):
                    owner = _filtered_owner(model, _params_arg(call), configure)
                    opt = call
                    break
            if owner is None or not owner.startswith("self"):
                continue
            before = set(init_methods(model, cls))
            frozen: List[str] = []
            hooks: List[FunctionInfo] = []
            for c in model.class_chain(cls):
                for name, method in c.methods.items():
                    if name in _BEFORE_OPTIMIZERS or method in before:
                        frozen += [m for stmt in _statements(method.node.body) for _n, m, on in _toggles(model, stmt) if not on]
                    else:
                        hooks.append(method)
            for hook in hooks:
                for stmt in _statements(hook.node.body):
                    for node, module, on in _toggles(model, stmt):
                        if on and _covers(owner, module) and any(_covers(f, module) or _covers(module, f) for f in frozen):
                            yield Report(node, message=self.message.format(module=clip(module, 24), opt=clip(_opt_name(model, opt), 18)))


def _trains_after(model: FileModel, fn: Optional[FunctionInfo], node: cst.CSTNode) -> bool:
    """A backward pass runs after the unfreeze (later in the scope, or in a loop around it):
    training goes on with the unfrozen module. An unfreeze after the last step only restores
    the module for its caller."""
    calls = fn.calls if fn is not None else [c for c, owner in model.calls if owner is None]
    loops = [a for a in model.ancestors(node) if isinstance(a, (cst.For, cst.While))]
    for call in calls:
        if not (method_name(call) == "backward" and isinstance(call.func, cst.Attribute)):
            continue
        if order(model, node, call) == -1 or any(any(a is loop for a in model.ancestors(call)) for loop in loops):
            return True
    return False


def _rebound(model: FileModel, fn: Optional[FunctionInfo], opt: cst.Call) -> bool:
    """The name the optimizer is assigned to is bound again in the same scope (a rebuild by a
    helper), or the optimizer is not assigned to a plain name at all."""
    parent = model.parent(opt)
    if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1):
        return True
    name = dotted(parent.targets[0].target)
    if name is None:
        return True
    for node, owner in model.assignments:
        if owner is fn and node is not parent:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [getattr(node, "target", None)]
            if any(t is not None and dotted(t) == name for t in targets):
                return True
    return False


def _statements(body: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The simple statements of a block and of the blocks nested in it (not nested scopes)."""
    for node in descendants(body, prune=SCOPES):
        if isinstance(node, cst.BaseSmallStatement):
            yield node


def _opt_name(model: FileModel, call: cst.Call) -> str:
    parent = model.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        name = dotted(parent.targets[0].target)
        if name is not None:
            return f"`{name}`"
    return "the optimizer"
