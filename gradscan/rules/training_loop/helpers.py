"""What several GS6xx rules share."""
from __future__ import annotations

from typing import Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.common import CONTAINER, PARAMS, PROJECT, class_owns_parameters, is_parameter_call, local_class_of, module_ctor
from gradscan.semantics import intent
from gradscan.semantics.arguments import positional_arguments
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

_BLOCKS = (cst.IndentedBlock, cst.Module, cst.SimpleStatementSuite)
SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


def units(block: cst.CSTNode) -> List[cst.CSTNode]:
    """The statements of a block in execution order, with `a(); b()` on one line split in two."""
    out: List[cst.CSTNode] = []
    for stmt in block.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.extend(stmt.body)
        else:
            out.append(stmt)
    return out


def _unit_in(block: cst.CSTNode, child: cst.CSTNode, small: Optional[cst.CSTNode]) -> Optional[int]:
    target = small if isinstance(child, cst.SimpleStatementLine) or isinstance(block, cst.SimpleStatementSuite) else child
    for i, unit in enumerate(units(block)):
        if unit is target:
            return i
    return None


def chain(model: FileModel, node: cst.CSTNode) -> List[Tuple[cst.CSTNode, int]]:
    """(block, index of the statement holding `node`) from the innermost block out to the body
    of `node`'s function (or the module), in that order."""
    out: List[Tuple[cst.CSTNode, int]] = []
    child = node
    small = node if isinstance(node, cst.BaseSmallStatement) else None
    for anc in model.ancestors(node):
        if isinstance(anc, _BLOCKS):
            idx = _unit_in(anc, child, small)
            if idx is None:
                return out
            out.append((anc, idx))
            small = None
        elif isinstance(anc, cst.BaseSmallStatement) and small is None:
            small = anc
        if isinstance(anc, SCOPES):
            return out
        child = anc
    return out


def order(model: FileModel, a: cst.CSTNode, b: cst.CSTNode) -> Optional[int]:
    """-1 when `a`'s statement runs before `b`'s in their common block, 1 after, 0 when they sit
    in the same statement (or in branches of one `if`), None when they are in different scopes."""
    ca, cb = chain(model, a), chain(model, b)
    if not ca or not cb or ca[-1][0] is not cb[-1][0]:
        return None
    blocks_b = {id(block): idx for block, idx in cb}
    for block, idx in ca:
        other = blocks_b.get(id(block))
        if other is not None:
            return (idx > other) - (idx < other)
    return None


def owner_of(model: FileModel, block: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The compound statement a block is the body of (an `else:` block gives its `Else`)."""
    return model.parent(block)


def nodes_in(unit: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node of a statement that runs with it: not the bodies of nested functions, lambdas and classes."""
    return descendants(unit, prune=SCOPES)


def calls_in(unit: cst.CSTNode) -> Iterator[cst.Call]:
    for node in nodes_in(unit):
        if isinstance(node, cst.Call):
            yield node


def method_name(call: cst.Call) -> Optional[str]:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


# Optimizer classes outside torch.optim, by qualified name prefix.
_OPTIMIZER_PREFIXES = (
    "torch.optim.", "bitsandbytes.optim.", "apex.optimizers.", "torch_optimizer.", "timm.optim.",
    "transformers.optimization.", "deepspeed.ops.adam.", "deepspeed.ops.lamb.",
)
_OPTIMIZER_EXTRA = {"transformers.AdamW", "transformers.Adafactor"}


def is_optimizer(model: FileModel, value) -> bool:
    """`torch.optim.Adam(...)` and friends (an optimizer class, resolved through the imports)."""
    if not isinstance(value, cst.Call):
        return False
    name = method_name(value)
    if name is None or not name[:1].isupper() or name == "Optimizer":
        return False
    qname = model.callee(value)
    if qname is None:
        return False
    if qname in _OPTIMIZER_EXTRA:
        return True
    return qname.startswith(_OPTIMIZER_PREFIXES) and "lr_scheduler" not in qname and "swa_utils" not in qname


def _params_arg(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "params":
            return arg.value
    args = positional_arguments(call)
    return args[0] if args else None


def param_owners(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> Set[str]:
    """The `m` of every `m.parameters()` / `m.named_parameters()` an optimizer is built from,
    in its argument or in a local name the argument is (`params = model.parameters()`)."""
    arg = _params_arg(call)
    if arg is None:
        return set()
    exprs = [arg]
    if isinstance(arg, cst.Name):
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign) and any(dotted(t.target) == arg.value for t in node.targets):
                exprs.append(node.value)
    out: Set[str] = set()
    for expr in exprs:
        for inner in calls_in(expr):
            if method_name(inner) in ("parameters", "named_parameters") and isinstance(inner.func, cst.Attribute):
                owner = dotted(inner.func.value)
                if owner is not None:
                    out.add(owner)
    return out


# What a class or script does with a network it keeps out of the optimizer on purpose: freezes
# it, reads its weights (an EMA update, a second optimizer) or copies weights into it (a target
# network). GS602 and GS606 take such a network as managed, not forgotten.
MANAGED = {"requires_grad_", "parameters", "named_parameters", "freeze", "load_state_dict"}


def managed_by_class(model: "FileModel", methods, name: str, skip=None) -> bool:
    """A method of the class (other than `skip`) freezes `name`, reads its parameters (an
    average, a copy, a second optimizer), loads weights into it, or sets one of its weights'
    `requires_grad`: it is kept out of the optimizers on purpose."""
    for fn in methods:
        if fn is skip:
            continue
        for call in fn.calls:
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in MANAGED:
                if (dotted(call.func.value) or "").startswith(name):
                    return True
        for node, owner in model.assignments:
            if owner is fn and isinstance(node, cst.Assign):
                for t in node.targets:
                    text = dotted(t.target) or ""
                    if text.startswith(name + ".") and text.endswith("requires_grad"):
                        return True
    return False


# Functional losses called as (prediction, target): a network whose output only ever arrives
# as the target is a fixed one by design (a random target network, a distillation teacher).
_LOSSES = {
    f"torch.nn.functional.{name}" for name in (
        "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "kl_div",
        "binary_cross_entropy", "binary_cross_entropy_with_logits", "soft_margin_loss", "poisson_nll_loss",
    )
}


def predicts(model: FileModel, node: cst.CSTNode) -> bool:
    """The value of `node` reaches the loss with its graph, on some path other than as the
    target of a functional loss."""
    barred: Set[int] = set()
    for _ in range(4):
        trace = model.flow.reaches_output(node, barrier=lambda n: id(n) in barred)
        if trace is None:
            return False
        target_of = _as_loss_target(model, trace)
        if target_of is None:
            return True
        barred.add(id(target_of))
    return False


def _as_loss_target(model: FileModel, trace) -> Optional[cst.Call]:
    """The functional loss the trace enters as its target argument, if the first loss it
    enters takes it so."""
    for child, parent in intent.trace_steps(model, trace.path):
        if not isinstance(parent, cst.Call) or model.callee(parent) not in _LOSSES:
            continue
        for i, arg in enumerate(parent.args):
            if intent.contains(model, arg.value, child):
                as_target = (arg.keyword is None and i >= 1) or (arg.keyword is not None and arg.keyword.value == "target")
                return parent if as_target else None
        return None
    return None


def fresh_weights(model: FileModel, value) -> bool:
    """A value that creates new, randomly initialised weights: `nn.Linear(...)`, a container of
    such, a module class of this file that creates parameters, an `nn.Parameter`. A module
    passed in or loaded (`from_pretrained`, `torch.load`) may be fixed on purpose: not this."""
    if not isinstance(value, cst.Call):
        return False
    if is_parameter_call(model, value):
        return True
    ctor = module_ctor(model, value)
    if ctor is None:
        return False
    if ctor[1] == PARAMS:
        return True
    if ctor[1] == CONTAINER:
        return any(fresh_weights(model, arg.value) for arg in value.args)
    if ctor[1] == PROJECT:
        local = local_class_of(model, value)
        return local is not None and class_owns_parameters(model, local)
    return False
