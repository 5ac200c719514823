"""What several GS2xx rules share."""
from __future__ import annotations

from typing import List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Rule
from gradscan.rules.common import model_cache
from gradscan.semantics.arguments import keyword_argument, positional_argument
from gradscan.semantics import intent
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.contexts import INFERENCE_NAMES, has_no_grad_decorator, in_eval_branch, in_no_grad_block
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

# Calls that turn a tensor into a new leaf (GS204).
REWRAP_FUNCTIONS = {"torch.tensor", "torch.from_numpy", "torch.nn.Parameter", "torch.nn.parameter.Parameter"}
PYTHON_CONVERSIONS = {"item", "tolist"}


def uses_torch(model: FileModel) -> bool:
    """GS2xx is about PyTorch: files that never import torch (Keras, JAX, TFP) are skipped."""
    return model.imports.uses("torch") or model.imports.uses("pytorch_lightning") or model.imports.uses("lightning")


def root_function(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn


def site(model: FileModel, node: cst.CSTNode) -> Optional[str]:
    """`context` when `node` is in a differentiable PyTorch context, `script` when it is in a
    module-level script or a function without a context (a value there matters only if it
    reaches a `.backward()`), None when it is not differentiable on purpose (no_grad blocks,
    evaluation branches, inference methods, functions decorated with no_grad)."""
    if in_no_grad_block(model, node) or in_eval_branch(model, node):
        return None
    fn = model.enclosing_function(node)
    f = fn
    while f is not None:
        if hand_written_backward(model, f):
            return None  # a hand-written backward pass (reversible layers): not a forward
        # Reached from a differentiable root (it backpropagates, or a training loop, forward
        # or step calls it on the way to the loss): behaviour over names.
        trains = f.context is not None
        if not trains and (f.name in INFERENCE_NAMES or f.name.lstrip("_").startswith(("eval", "predict", "generate", "infer", "validation", "test_", "plot", "visuali", "log_image", "log_metric", "log_hist", "log_stat"))):
            return None
        if has_no_grad_decorator(model, f):
            return None
        f = f.parent
    ctx = model.context_of(node)
    if ctx is not None:
        return "context" if ctx.framework == "torch" else None
    return "script"


def hand_written_backward(model: FileModel, fn: FunctionInfo) -> bool:
    """A function that computes gradients by hand (a reversible layer's `backward_pass`, an
    `autograd.Function.backward`): named for a backward pass and doing one, i.e. taking the
    incoming gradient (`ctx`, or calling `.backward(grad)` / `torch.autograd.grad` /
    `torch.autograd.backward`, or writing `.grad`). A trainer's `backward(self, loss)` that
    only calls `loss.backward()` is not one, whatever it is called."""
    if "backward" not in fn.name.lower():
        return False
    if fn.params[:1] == ["ctx"] or (fn.params[:2] and fn.params[0] == "self" and fn.params[1:2] == ["ctx"]):
        return True
    for call in fn.calls:
        func = call.func
        name = model.callee(call) or ""
        if name in ("torch.autograd.grad", "torch.autograd.backward"):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value == "backward" and call.args:
            return True
    for node, owner in model.assignments:
        if owner is fn and isinstance(node, (cst.Assign, cst.AugAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(isinstance(t, cst.Attribute) and t.attr.value == "grad" for t in targets):
                return True
    return False


def reach(model: FileModel, node: cst.CSTNode, where: str) -> Optional[Trace]:
    """The flow of `node`'s value to a forward's return or to a backpropagated value."""
    trace = model.flow.reaches_output(node, module_level=True)
    if trace is None:
        return None
    if trace.sink == "return":
        root = trace.root
        if root is None or root.context is None or root.context.framework != "torch":
            return None
    if where == "script" and trace.sink != "loss":
        return None
    return trace


def first_arg(call: cst.Call) -> Optional[cst.BaseExpression]:
    """The data argument of a tensor constructor: position 0, or `data=`/`input=`/`ndarray=`."""
    for keyword in (None, "data", "input", "ndarray"):
        value = positional_argument(call, 0) if keyword is None else keyword_argument(call, keyword)
        if value is not None:
            return value
    return None


def last_name(func: cst.BaseExpression) -> Optional[str]:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def _is_true(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def numberish(expr: cst.BaseExpression) -> bool:
    """A literal number, or a (nested) list/tuple of them."""
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return numberish(expr.expression)
    if isinstance(expr, (cst.List, cst.Tuple)):
        return all(numberish(e.value) for e in expr.elements)
    return False


def _statement_targets(stmt) -> List[str]:
    if isinstance(stmt, cst.Assign):
        out = []
        for t in stmt.targets:
            out += [n for n in intent.names_in(t.target)]
        return out
    if isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
        return intent.names_in(stmt.target)
    return []


def _backward_names(model: FileModel, fn: Optional[FunctionInfo]) -> List[Tuple[cst.Call, Set[str]]]:
    """(backward call, names in the backpropagated expression) in one scope."""
    out = []
    for call, owner in model.calls:
        if owner is not fn:
            continue
        func = call.func
        value = None
        if isinstance(func, cst.Attribute) and func.attr.value == "backward":
            value = func.value
            if not call.args and isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "scale" and value.args:
                value = value.args[0].value  # scaler.scale(loss).backward()
            elif call.args and dotted(func.value) and not isinstance(value, cst.Call) and dotted(func.value).split(".")[-1] in ("accelerator", "fabric", "engine", "model_engine", "self"):
                value = call.args[0].value  # accelerator.backward(loss)
        elif isinstance(func, cst.Attribute) and func.attr.value == "manual_backward" and call.args:
            value = call.args[0].value
        elif model.callee(call) == "torch.autograd.backward" and call.args:
            value = call.args[0].value
        if value is not None:
            out.append((call, set(intent.names_in(value)) - {"self"}))
    return out


def requires_grad_fixes(model: FileModel) -> List[Tuple[cst.CSTNode, str, cst.CSTNode]]:
    """GS206's findings: (node to report, name, statement) for every `loss.requires_grad = True`,
    `loss.requires_grad_()`, `loss = torch.tensor(loss, requires_grad=True)` or
    `Variable(loss, requires_grad=True)` whose value is later `.backward()`ed (directly or
    through arithmetic, reductions and renames: never through a call that takes it as input,
    as a saliency map's `x.requires_grad_()` does)."""
    cached = model_cache(model).get("gs206")
    if cached is not None:
        return cached
    out: List[Tuple[cst.CSTNode, str, cst.CSTNode]] = []
    model_cache(model)["gs206"] = out
    if "requires_grad" not in model.source:
        return out
    scopes = {id(fn): fn for _c, fn in model.calls}
    for fn in scopes.values():
        backs = _backward_names(model, fn)
        if not backs and fn is None:
            continue
        for node, name, stmt in _fix_candidates(model, fn):
            if _fix_reaches_backward(model, fn, node, name, stmt) if backs else _returned_to_backward(model, fn, name, stmt):
                out.append((node, name, stmt))
    return out


_FACTORIES = {"torch.zeros", "torch.ones", "torch.empty", "torch.full", "torch.zeros_like", "torch.ones_like",
              "torch.full_like", "torch.empty_like", "torch.tensor", "torch.as_tensor", "torch.FloatTensor", "torch.Tensor"}


def _fresh_factory(model: FileModel, value: cst.BaseExpression) -> bool:
    """A new tensor of constants: `torch.zeros(1)`, `torch.tensor(0.0)`, a number."""
    if numberish(value):
        return True
    return isinstance(value, cst.Call) and model.callee(value) in _FACTORIES and (
        not value.args or numberish(value.args[0].value) or model.callee(value) not in ("torch.tensor", "torch.as_tensor"))


def _returned_to_backward(model: FileModel, fn: FunctionInfo, name: str, stmt) -> bool:
    """A loss helper or a loss module's forward that sets requires_grad on the value it
    computed from its inputs and returns it (`mean_losses.requires_grad = True; return
    mean_losses`, `return Variable(loss, requires_grad=True)`), and a caller backpropagates
    what it returns. A fresh constant (`torch.zeros(1)` for a batch with no targets) is no
    hidden cut."""
    value = stmt.value if isinstance(stmt, (cst.Assign, cst.Return)) and not (
        isinstance(stmt, cst.Assign) and isinstance(stmt.targets[0].target, cst.Attribute)) else None
    if value is None:
        use = next((n for n in descendants(stmt) if isinstance(n, cst.Name) and n.value == name), None)
        if use is None:
            return False
        defs, _kind = model.get(Definitions).reaching(use, fn)
        if not defs or any(d.value is None or _fresh_factory(model, d.value) for d in defs):
            return False
    elif _fresh_factory(model, first_arg(value) or value):
        return False
    flow = model.flow
    starts = [stmt.value] if isinstance(stmt, cst.Return) else flow.later_uses(fn, name, stmt)
    for use in starts:
        trace = flow.reaches_output(use, max_calls=2, module_level=True)
        if trace is None:
            continue
        if trace.sink == "loss" and _only_loss_arithmetic(model, trace):
            return True
        if trace.sink == "return" and fn.is_method and fn.name in ("forward", "__call__"):
            for call, _owner in model.objects.callers_of(fn)[:8]:
                back = flow.reaches_output(call, max_calls=0, module_level=True)
                if back is not None and back.sink == "loss" and _only_loss_arithmetic(model, back):
                    return True
    return False


def _fix_candidates(model: FileModel, fn: Optional[FunctionInfo]):
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, cst.Assign):
            continue
        for t in node.targets:
            tgt = t.target
            if isinstance(tgt, cst.Attribute) and tgt.attr.value == "requires_grad" and isinstance(tgt.value, cst.Name) and _is_true(node.value):
                yield tgt, tgt.value.value, node
        value = _unwrap_carriers(node.value)
        if isinstance(value, cst.Call) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            if _rewrap_with_grad(model, value):
                yield value, node.targets[0].target.value, node
            elif isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_" and isinstance(value.func.value, cst.Name) and not (value.args and not _is_true(value.args[0].value)):
                yield value, node.targets[0].target.value, node
    for ret in (fn.returns if fn is not None else []):
        # `return Variable(loss, requires_grad=True)` from a loss helper
        value = _unwrap_carriers(ret.value) if isinstance(ret, cst.Return) and ret.value is not None else None
        if isinstance(value, cst.Call) and _rewrap_with_grad(model, value):
            yield value, "", ret
    for call, owner in model.calls:
        if owner is not fn:
            continue
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" and isinstance(func.value, cst.Name):
            if call.args and not _is_true(call.args[0].value):
                continue
            stmt = model.enclosing_statement(call)
            if isinstance(stmt, cst.Expr) and stmt.value is call:
                yield call, func.value.value, stmt
            elif isinstance(model.parent(call), cst.Attribute) and model.parent(call).attr.value == "backward":
                yield call, func.value.value, stmt


def _rewrap_with_grad(model: FileModel, value: cst.Call) -> bool:
    """`torch.tensor(loss, requires_grad=True)`, `Variable(loss, requires_grad=True)` of a value."""
    name = model.callee(value) or ""
    if (name in ("torch.tensor", "torch.autograd.Variable", "torch.autograd.variable.Variable") or name.endswith(".Variable")) and _is_true(keyword_argument(value, "requires_grad")):
        data = first_arg(value)
        return data is not None and not numberish(data) and not isinstance(data, (cst.List, cst.Tuple))
    return False


_LOSS_CARRIERS = {"sum", "mean", "scale", "float", "double", "squeeze", "view", "reshape", "to", "cuda", "div", "mul", "add", "requires_grad_"}
# Reductions and views: never the leaf itself (`.to()`/`.float()` may return it unchanged), never a second tensor.
_UNARY_CARRIERS = {"sum", "mean", "squeeze", "view", "reshape"}


def _unwrap_carriers(value: cst.BaseExpression) -> cst.BaseExpression:
    """`torch.tensor(losses, requires_grad=True).mean()`: the call under the reductions
    and views. The fresh leaf is then never bound to a name, so nobody can read its gradient:
    requires_grad there only silences the "does not require grad" error."""
    while (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in _UNARY_CARRIERS
        and isinstance(value.func.value, cst.Call)
    ):
        value = value.func.value
    return value


def _fix_reaches_backward(model: FileModel, fn, node, name: str, stmt) -> bool:
    flow = model.flow
    if isinstance(node, cst.Call) and isinstance(model.parent(node), cst.Attribute) and model.parent(node).attr.value == "backward":
        return True
    starts = flow.later_uses(fn, name, stmt)
    for use in starts:
        trace = flow.reaches_output(use, max_calls=0, module_level=True)
        if trace is None or trace.sink != "loss":
            continue
        if _only_loss_arithmetic(model, trace):
            return True
    return False


def _only_loss_arithmetic(model: FileModel, trace: Trace) -> bool:
    """The backpropagated value is the flagged one, or a sum/scale of it: the path never passes
    it as the input of a model or function (then it was differentiated with respect to)."""
    for child, parent in intent.trace_steps(model, trace.path):
        if isinstance(parent, cst.Call):
            func = parent.func
            if isinstance(func, cst.Attribute) and intent.contains(model, func.value, child):
                if func.attr.value in _LOSS_CARRIERS or func.attr.value in ("backward", "manual_backward"):
                    continue
                return False
            last = (dotted(func) or "").rsplit(".", 1)[-1]
            if last in ("scale", "backward", "manual_backward", "sum", "mean", "stack", "cat"):
                continue
            return False
    return True


class GraphRule(Rule):
    framework = "torch"

    def _rewrapped(self, model: FileModel, node: cst.CSTNode) -> bool:
        """The value goes straight into a re-wrap (`torch.tensor(...)`, `from_numpy(...)`):
        GS204 owns the line."""
        for anc in model.ancestors(node):
            if isinstance(anc, cst.Call):
                name = model.callee(anc)
                if name in REWRAP_FUNCTIONS or (isinstance(anc.func, cst.Attribute) and anc.func.attr.value == "new_tensor"):
                    return True
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                return False
        return False

    def _after_backward(self, model: FileModel, node: cst.CSTNode, receiver: cst.CSTNode) -> bool:
        """`loss.backward()` (or `manual_backward(loss)`) already ran on this value: what is
        done to it afterwards (`return {"loss": loss.detach()}`) is reporting."""
        fn = model.enclosing_function(node)
        names = set(intent.names_in(receiver)) - {"self"}
        if not names:
            return False
        flow = model.flow
        here = flow.order(node)
        earlier = [(call, back) for call, back in _backward_names(model, fn) if flow.order(call) < here]
        if any(back & names for _call, back in earlier):
            return True
        # `loss_pi.backward()` ran on a loss the value went into (`loss_pi = (a * logp).mean()`),
        # then `-(log_alpha * logp.detach()).mean()`: the weights upstream already got their
        # gradient, and the freed graph could not be backpropagated twice anyway (SAC's alpha
        # loss, a second head trained on features of an already stepped encoder).
        if not earlier:
            return False
        uses, _stores = flow.name_index(fn)
        for name in names:
            for use in uses.get(name, []):
                o = flow.order(use)
                if o >= here:
                    continue
                for call, _back in earlier:
                    if o < flow.order(call) and flow.flows_into(use, lambda n, c=call: n is c) is not None:
                        return True
        return False

    def _fixed_by_gs206(self, model: FileModel, node: cst.CSTNode) -> bool:
        stmt = model.enclosing_statement(node)
        names = set(_statement_targets(stmt))
        fn = model.enclosing_function(node)
        return any(name in names and model.enclosing_function(fix_stmt) is fn for _n, name, fix_stmt in requires_grad_fixes(model))
