from __future__ import annotations

from typing import Iterator, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule, clip
from gradscan.rules.common import (
    CONTAINER, PARAMS, PROJECT, class_owns_parameters, is_parameter_call, local_class_of, module_ctor,
)
from gradscan.rules.training_loop.helpers import (
    MANAGED, SCOPES, chain, is_optimizer, method_name, nodes_in, order, owner_of, param_owners, predicts, units,
)
from gradscan.semantics.intent import FROZEN_TOKENS
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel

_LOOPS = (cst.For, cst.While)
_MOVE_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "type", "to_empty"}


def in_loop_between(model: FileModel, block: cst.CSTNode) -> bool:
    """`block` is (inside) a loop body of its function."""
    for anc in [block, *model.ancestors(block)]:
        if isinstance(anc, _LOOPS):
            return True
        if isinstance(anc, SCOPES):
            return False
    return False


def following(model: FileModel, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The statements that may run after `node`'s statement in its function: the rest of each
    enclosing block, and the whole body of each enclosing loop (the next iteration)."""
    for block, idx in chain(model, node):
        body = units(block)
        yield from body[idx + 1:]
        if isinstance(owner_of(model, block), _LOOPS):
            yield from body[: idx + 1]


class ModuleReplacedAfterOptimizer(Rule):
    code = "GS602"
    name = "module-replaced-after-optimizer"
    framework = "torch"
    summary = "a submodule or Parameter assigned after the optimizer was built from `model.parameters()`: the optimizer never updates it"
    message = "`{target}` is replaced after optimizer `{opt}` was built: it never trains; rebuild it"
    explanation = (
        "The optimizer holds the parameters it was built from: the new weights get .grad but are never updated, "
        "silently. Build the optimizer after the replacement or add_param_group() them."
    )
    hint = "replace layers before building the optimizer, or re-create it (or `add_param_group`) afterwards"
    facts = ("pt15",)
    triggers = ("parameters(",)
    doc = """
    ## What it does
    Flags an assignment of a new module with weights (`nn.Linear(...)`, `nn.Sequential` of
    such, a module class of the project that creates parameters) or of an `nn.Parameter` to an
    attribute of a model (or an item of one: `model.classifier[6] = nn.Linear(...)`), when
    earlier in the same function an optimizer was built from that model's `parameters()`
    (`opt = torch.optim.Adam(model.parameters())`) and no optimizer is built again (nor
    `add_param_group` called) afterwards. Also the model name itself re-bound
    to a new model (`net = make_net()` in each fold of a cross-validation loop, `model = Net()`,
    `model = copy.deepcopy(model)`) while the old optimizer keeps stepping (`opt.step()`, or
    handed to a call such as `train(net, opt)`).

    ## Why it breaks gradients
    An optimizer holds the parameter objects it was given, not the model. The new layer's
    parameters are fresh objects that were never handed to it: backward fills their `.grad`,
    and `step()` never touches them, so the new layer keeps its random initialization while
    the rest of the network trains around it, silently (fact pt15). The old layer's
    parameters are still in the optimizer and still being "updated", uselessly.

    Not flagged: the replacement before the optimizer is built (the normal fine-tuning order),
    an optimizer re-created or `add_param_group` called after the replacement,
    `model.to(device)` / `.cuda()` / `.double()` after the optimizer (they convert the
    parameters in place and keep their identity, fact pt15), assignments of values that hold
    no trainable weights (`model.training = False`, `nn.ReLU()`, tensors, numbers), new layers
    frozen with `requires_grad_(False)`, an optimizer built from another model's parameters,
    optimizers built and layers replaced in the same loop iteration, a network attached to the model
    and kept out of the optimizer on purpose (a target / EMA / teacher network: the file syncs
    it with `load_state_dict`, reads its `parameters()` for an average, or freezes it; only when
    the file shows neither that nor a call of it trained through the loss does a target-like
    name keep it silent), and the model name re-bound in between (`model, opt = fabric.setup(model, opt)`).
    A re-bound model is flagged only when the value is a new one (a constructor, a deep copy,
    a function of the file that returns one, also through a local it builds and loads:
    `fresh = Net(); fresh.load_state_dict(sd); return fresh`): `model = model.to(device)`,
    `torch.compile(model)` and `nn.DataParallel(model)` keep the same parameters; a model
    re-created to load a checkpoint, after which the old optimizer never steps, is not flagged.
    A module's `__init__` that builds `self.optimizer` from `self.parameters()` and then adds a
    layer is flagged: the layer added last is not in that optimizer; so is a subclass that adds
    its layers after `super().__init__()` (or `Base.__init__(self)`) runs such an `__init__`. The
    old optimizer also steps through a function of the file that reads it from the module
    (a notebook's `def train(...): ... optimizer.step()` called after `rnn = RNN()`).

    ## Example
    ```python
    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.fc = nn.Linear(model.fc.in_features, 10)
    ```

    ## Use instead
    ```python
    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## References
    - PyTorch docs: `torch.optim` ("Constructing it", `Optimizer.add_param_group`)
    - gradscan facts: pt15
    """
    invalid = (
        """
        import torch
        import torch.nn as nn

        def finetune(model, loader, num_classes):
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            model.fc = nn.Linear(512, num_classes)  # error: GS602
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        from torch import nn, optim

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        model.scale = nn.Parameter(torch.ones(1))  # error: GS602
        train(model, optimizer)
        """,
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 4)
                self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
                self.head = nn.Linear(4, 1)  # error: GS602
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        def finetune(model, loader, num_classes, device):
            model.fc = nn.Linear(512, num_classes)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            model.to(device)
            model.training = False
            model.act = nn.ReLU()
            return opt

        def grow(model, teacher):
            opt = torch.optim.SGD(teacher.parameters(), lr=0.1)
            model.head = nn.Linear(8, 2)
            opt2 = torch.optim.SGD(model.parameters(), lr=0.1)
            return opt, opt2

        def add_head(model):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model.head = nn.Linear(8, 2)
            opt.add_param_group({"params": model.head.parameters()})
            return opt

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 4)
                self.head = nn.Linear(4, 1)
                self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        source = model.source or "optim"
        if "optim" not in source and "Adam" not in source:
            return
        reported: Set[int] = set()
        for node, fn in model.assignments:
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            built = _optimizer_value(model, node.value)
            if built is None:
                continue
            bound = dotted(node.targets[0].target)
            if bound is None:
                continue
            owners = param_owners(model, built, fn)
            if not owners:
                continue
            # the method itself, then each subclass method that runs it through `super()` and
            # adds layers afterwards (the super call stands for the optimizer's construction)
            places = [(fn, node), *_overriding_calls(model, fn, owners, bound)]
            if fn is None:  # a script's optimizer: functions re-binding its model (`global rnn`)
                places += [(g, node) for g in _global_rebinders(model, owners)]
            for where, start in places:
                for target, asg in _replacements(model, where, owners, node):
                    if id(asg) in reported:
                        continue
                    owner = next(o for o in sorted(owners, key=len, reverse=True) if target == o or target.startswith((o + ".", o + "[")))
                    if not self._missed(model, where, start, asg, bound, owner, target):
                        continue
                    reported.add(id(asg))
                    yield Report(asg.targets[0].target, message=self.message.format(target=clip(target), opt=clip(bound, 20)))

    @staticmethod
    def _missed(model: FileModel, fn, opt_node, asg, bound: str, owner: str, target: str) -> bool:
        if fn is not None and model.enclosing_function(opt_node) is None:
            # a function re-binding the script's model (`global rnn`): called after the optimizer
            if not any(order(model, opt_node, call) == -1 for call, _caller in model.objects.callers_of(fn)):
                return False
        else:
            if order(model, opt_node, asg) != -1:
                return False  # built after the replacement, or in another branch
            common = _common_block(model, opt_node, asg)
            if common is None or in_loop_between(model, common):
                return False  # an optimizer built again in every iteration of the loop
        rebind = target == owner  # the model itself re-bound to a new module (`model = Net()`)
        if not rebind:
            # A network kept out of the optimizer on purpose (a target, EMA or teacher network)
            # is told by what the file does with it; its name decides only when the file shows
            # neither (it is handed on to code not seen here).
            evidence = _use_of(model, target)
            if evidence == "managed":
                return False
            if evidence is None and any(tokens(part) & FROZEN_TOKENS for part in target[len(owner) + 1:].split(".")):
                return False
        root = owner.split(".")[0]
        for node, owner_fn in model.assignments:  # the model itself re-bound in between
            if node is not asg and owner_fn is fn and isinstance(node, cst.Assign) and any(root in _bound_names(t.target) for t in node.targets):
                if order(model, opt_node, node) == -1 and order(model, node, asg) == -1:
                    return False
        # for a re-bound model, the old optimizer must still step afterwards (`opt.step()`, or
        # handed to a call such as `train(model, opt)`): a model re-created only to load a
        # checkpoint and evaluate leaves the optimizer idle, which is no bug
        used = "." in bound and not rebind  # an optimizer kept on an object outlives the function
        for unit in following(model, asg):
            for node in nodes_in(unit):
                if isinstance(node, cst.Call):
                    name = method_name(node) or ""
                    if is_optimizer(model, node) or "optim" in name.lower() or name == "add_param_group":
                        return False  # built again, or the new parameters are added
                    if name == "requires_grad_" and dotted(node.func.value) is not None and (dotted(node.func.value) + ".").startswith(target + "."):
                        return False  # the new layer is frozen
                    if _steps(model, node, bound, fn):
                        used = True
                elif rebind:
                    continue
                elif isinstance(node, cst.Name) and node.value == bound:
                    used = True
                elif isinstance(node, cst.Attribute) and dotted(node) == bound:
                    used = True
        return used


def _global_rebinders(model: FileModel, owners: Set[str]):
    """Functions that declare one of the script's `owners` `global` (and so may re-bind it)."""
    roots = {o.split(".")[0] for o in owners}
    for fn in model.functions:
        for stmt in fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else ():
            if isinstance(stmt, cst.SimpleStatementLine) and any(
                    isinstance(small, cst.Global) and any(n.name.value in roots for n in small.names) for small in stmt.body):
                yield fn
                break


def _use_of(model: FileModel, target: str) -> Optional[str]:
    """What the file does with the network at `target` (`policy.target_net`): "managed" (frozen,
    synced, averaged), "trained" (a call of it reaches a loss with its graph, not only as the
    loss's target), or None when it shows neither."""
    trained = False
    for call, _fn in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in MANAGED and dotted(func.value) == target:
            return "managed"
        if not trained and dotted(func) == target and predicts(model, call):
            trained = True
    return "trained" if trained else None


def _steps(model: FileModel, node, bound: str, scope, depth: int = 0) -> bool:
    """`node` is `bound.step(...)`, a call given `bound` as an argument, or a call of a function
    of this file that does either with `bound` as the name it reads from the module (a notebook's
    `def train(...): ... optimizer.step()` called from the loop)."""
    if not isinstance(node, cst.Call):
        return False
    if isinstance(node.func, cst.Attribute) and node.func.attr.value == "step" and dotted(node.func.value) == bound:
        return True
    if any(dotted(arg.value) == bound for arg in node.args):
        return True
    if depth > 1 or "." in bound:
        return False
    called = model.objects.called_function(node, scope)
    if called is None or called is scope or bound in called.params or \
            any(how != "global" for how, _v in called.bindings.get(bound, ())):
        return False  # the function's own `optimizer` is another object
    return any(_steps(model, inner, bound, called, depth + 1) for inner in called.calls)


def _overriding_calls(model: FileModel, fn, owners: Set[str], bound: str) -> Iterator[Tuple[object, cst.Call]]:
    """For a method that builds `self.<opt>` from `self.parameters()`: each method of a subclass
    of this file that calls it through `super()` (or `Base.method(self, ...)`), with that call,
    after which the subclass's new layers are not in the optimizer."""
    if fn is None or fn.cls is None or fn.parent is not None or owners != {"self"} or not bound.startswith("self."):
        return
    for cls in model.class_list:
        if cls is fn.cls or not any(base is fn.cls for base in model.class_chain(cls)):
            continue
        sub = cls.methods.get(fn.name)
        if sub is None:
            continue
        for call in sub.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value != fn.name:
                continue
            explicit = isinstance(func.value, cst.Name) and model.classes.get(func.value.value) is fn.cls
            if explicit or model.objects.called_function(call, sub) is fn:
                yield sub, call
                break


def _bound_names(target) -> Set[str]:
    """The plain names an assignment target binds (`model`, `model, opt`)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for el in target.elements for n in _bound_names(el.value)}
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    return set()


def _optimizer_value(model: FileModel, value) -> Optional[cst.Call]:
    """The optimizer built by an assigned value: `Adam(...)`, or one side of
    `Adam(...) if optimizer is None else optimizer`."""
    if isinstance(value, cst.IfExp):
        for side in (value.body, value.orelse):
            if is_optimizer(model, side):
                return side
        return None
    return value if is_optimizer(model, value) else None


def _common_block(model: FileModel, a, b) -> Optional[cst.CSTNode]:
    ca, cb = chain(model, a), chain(model, b)
    ids = {id(block) for block, _ in cb}
    for block, _ in ca:
        if id(block) in ids:
            return block
    return None


def _replacements(model: FileModel, fn, owners: Set[str], opt_node) -> Iterator[Tuple[str, cst.Assign]]:
    """Assignments in `fn` of a new module with weights (or a Parameter) to an attribute under
    one of `owners`, or to an owner itself (`model = Net()`, `net = make_net()`,
    `model = copy.deepcopy(model)`: new parameter objects under the old name)."""
    for node, owner in model.assignments:
        if owner is not fn or node is opt_node or not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        target_node = node.targets[0].target
        if isinstance(target_node, cst.Subscript):
            # `model.classifier[6] = nn.Linear(...)`, `net[0] = ...`: an item of a Sequential/ModuleList
            holder = target_node.value
            while isinstance(holder, cst.Subscript):
                holder = holder.value
            base = dotted(holder)
            if base is not None and any(base == o or base.startswith(o + ".") for o in owners) and \
                    _holds_new_weights(model, node.value, base):
                text = "".join(model.module.code_for_node(target_node).split())
                yield base + text[len(base):] if text.startswith(base) else text, node
            continue
        if not isinstance(target_node, (cst.Attribute, cst.Name)):
            continue
        target = dotted(target_node)
        if target is None:
            continue
        if target in owners:
            if _new_module(model, node.value, target, fn):
                yield target, node
            continue
        if not isinstance(target_node, cst.Attribute) or not any(target.startswith(o + ".") for o in owners):
            continue
        if _holds_new_weights(model, node.value, target):
            yield target, node


def _new_module(model: FileModel, value, target: str, fn, depth: int = 0) -> bool:
    """`value` is a module with parameter objects of its own: a constructor, a deep copy, or a
    call of a function of this file every `return` of which is one."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _MOVE_METHODS:
        value = value.func.value
    if not isinstance(value, cst.Call):
        return False
    if model.callee(value) == "copy.deepcopy":
        return True
    if _holds_new_weights(model, value, target):
        return True
    if depth > 2 or module_ctor(model, value) is not None:
        return False
    called = model.objects.called_function(value, fn)
    if called is None or not isinstance(called.node, cst.FunctionDef) or called.params[:1] == ["self"]:
        return False
    returns = [n for n in nodes_in(called.node.body) if isinstance(n, cst.Return)]
    return bool(returns) and all(r.value is not None and _new_module(model, _local_value(model, r.value, called), target, called, depth + 1)
                                 for r in returns)


def _local_value(model: FileModel, value, fn):
    """What a returned local name holds (`fresh = Net(); fresh.load_state_dict(...); return
    fresh`): the value of its only assignment in `fn`, else `value` itself."""
    if not isinstance(value, cst.Name):
        return value
    bound = [node.value for node, owner in model.assignments
             if owner is fn and isinstance(node, cst.Assign) and len(node.targets) == 1
             and isinstance(node.targets[0].target, cst.Name) and node.targets[0].target.value == value.value]
    return bound[0] if len(bound) == 1 else value


def _holds_new_weights(model: FileModel, value, target: str) -> bool:
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _MOVE_METHODS | {"requires_grad_"}:
        if value.func.attr.value == "requires_grad_":
            return False  # a new frozen layer: nothing to update
        value = value.func.value
    if not isinstance(value, cst.Call):
        return False
    if is_parameter_call(model, value):
        flag = None
        for arg in value.args:
            if arg.keyword is not None and arg.keyword.value == "requires_grad":
                flag = arg.value
        positional = positional_arguments(value)
        if flag is None and len(positional) > 1:
            flag = positional[1]
        return not (isinstance(flag, cst.Name) and flag.value == "False")
    ctor = module_ctor(model, value)
    if ctor is None:
        return False
    if ctor[1] == PARAMS:
        return True
    if ctor[1] == CONTAINER:
        # `nn.Sequential(model.fc, nn.Dropout())` wraps the old layer: its parameters keep their identity
        return any(_holds_new_weights(model, arg.value, target) for arg in value.args)
    if ctor[1] == PROJECT:
        local = local_class_of(model, value)
        if local is not None:
            return class_owns_parameters(model, local)
        # a class of another file: unknown whether a wrapper of the old layer adds weights
        return not any(dotted(arg.value) == target for arg in value.args)
    return False
