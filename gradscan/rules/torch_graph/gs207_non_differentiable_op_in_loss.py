from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.frameworks import names as api_names
from gradscan.frameworks import torch as torch_api
from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, last_name, reach, root_function, site, uses_torch
from gradscan.semantics import intent
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.contexts import has_no_grad_decorator, in_eval_branch, in_no_grad_block
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.sources import is_self_name
from gradscan.semantics.walk import descendants
from gradscan.semantics.names import TOKEN

CONVERSION_METHODS = api_names(torch_api.CONVERSION_METHODS)  # to NumPy or Python: no graph (pt14)
NON_DIFF_METHODS = {"round", "floor", "ceil", "sign", "trunc", "argmax", "argmin"}
NON_DIFF_FUNCTIONS = {
    "torch.round", "torch.floor", "torch.ceil", "torch.sign", "torch.trunc", "torch.argmax", "torch.argmin",
    "torch.sgn",
}
INT_CASTS = {"long", "int", "short", "byte"}
FLOAT_CASTS = {"float", "double", "half", "bfloat16", "type_as", "to", "type"}
PREDICTION_TOKENS = {"pred", "preds", "prediction", "predictions", "logits", "logit", "output", "outputs", "out", "scores", "score", "yhat", "hat", "probs", "recon", "reconstruction"}


class NonDifferentiableOpInLoss(GraphRule):
    code = "GS207"
    name = "non-differentiable-op-in-loss"
    summary = "`argmax`, `round`, `floor`, `sign`, comparison-to-float or integer casts on the only path from the weights to the loss"
    message = "the weights reach the loss only through this op, which has no useful gradient"
    explanation = (
        "argmax, round, comparisons and integer casts have no gradient or a zero one: as the only path to the "
        "loss, the weights before them get zero or no gradient."
    )
    hint = "use a differentiable relaxation (softmax, sigmoid), or the straight-through estimator `x + (x.round() - x).detach()`"
    facts = ("pt13", "pt35")
    triggers = (
        "argmax", "argmin", ".round(", "round(", ".floor(", ".ceil(", ".sign(", ".sgn(", ".trunc(", ".long()",
        ".int()", "one_hot", ").float()", ").double()", ").half()", ").to(", ").type",
        ".float()",  # a mask of comparisons held in a name: `inside.float()`
    )
    doc = """
    ## What it does
    Flags `argmax`, `argmin`, `round`, `floor`, `ceil`, `sign`, `trunc`, comparisons cast to
    float (`(x > 0).float()`, or a mask of comparisons held in a name, `inside = (xs >= x0) &
    (xs <= x1)` then `inside.float()`, reported on the comparison), `.long()`/`.int()` casts, `F.one_hot(x.argmax(...))` and the
    indices half of `torch.max(x, dim)`, `x.min(dim)`, `sort` and `topk` (`[1]`, `.indices`,
    `_, idx = x.max(1)`) applied to a value computed from the weights, when the result is on
    the path to the loss (the value `.backward()` is called on, or what `training_step` or a
    loss function returns) and no live value of the graph travels beside it. A helper that
    takes the indices (`def predicted_class(scores)`) counts when its caller passes it a live
    value and the result reaches a backward pass, and so does a helper of a loss function
    given the loss's prediction argument (`self.box_mask(pred_boxes)`); so does a method of another object
    (`decoder.decode(logits)`) whose callers pass it a value computed from the weights. In a
    module's forward, a parameter itself put through `round`/`sign`/`floor`
    (`torch.sign(self.weight)`, the inherited `weight` of an `nn.Linear` subclass too) on its
    only way to the output, with no straight-through pairing, is flagged as well.

    ## Why it breaks gradients
    `argmax`, comparisons, `.indices` and integer casts return tensors without `grad_fn`: if
    they are the only path, backward raises "element 0 of tensors does not require grad";
    mixed with other terms, the weights behind them silently get no gradient. `round`,
    `floor`, `ceil` and `sign` keep a `grad_fn` but their gradient is exactly zero everywhere:
    training runs and those weights never move (facts pt13, pt35).

    Not flagged: these ops in forward outputs used for prediction or metrics, values used as
    masks, indices or targets beside a live value (`logits * (logits > 0).float()`,
    `gather(logits, 1, idx)`), the straight-through idiom `x + (x.round() - x).detach()`,
    `F.gumbel_softmax(hard=True)`, and `max(...).values` (all differentiable).

    ## Example
    ```python
    loss = (model(x).round() - y).abs().mean()
    loss.backward()
    ```

    ## Use instead
    ```python
    out = model(x)
    q = out + (out.round() - out).detach()  # straight-through
    loss = (q - y).abs().mean()
    loss.backward()
    ```

    ## References
    - PyTorch docs: `torch.round`, `torch.argmax`; Bengio et al. 2013 (straight-through)
    - gradscan facts: pt13, pt35
    """
    invalid = (
        """
        import torch
        import torch.nn.functional as F

        def train(model, x, y, opt):
            loss = (model(x).round() - y).abs().mean()  # error: GS207
            loss.backward()
            opt.step()

        def train_cls(model, x, y):
            pred = F.one_hot(model(x).argmax(-1), 10).float()  # error: GS207
            loss = F.mse_loss(pred, y)
            loss.backward()

        def train_rank(model, x, y):
            _, grade = torch.max(model(x), 1)  # error: GS207
            loss = F.l1_loss(grade.float(), y)
            loss.backward()
        """,
    )
    valid = (
        """
        import torch
        import torch.nn.functional as F

        def train(model, x, y, opt):
            out = model(x)
            q = out + (out.round() - out).detach()
            loss = (q - y).abs().mean()
            acc = (out.argmax(-1) == y).float().mean()
            mask = (out > 0).float()
            loss = loss + (out * mask).mean()
            loss.backward()
            opt.step()
            return acc.item()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = model.sources.walk
        for call, fn in model.calls:
            found = self._op(model, call)
            if found is None:
                continue
            report_node, receiver = found
            if type(receiver) is cst.Name and type(call.func) is cst.Attribute and receiver is call.func.value \
                    and call.func.attr.value in FLOAT_CASTS:
                # a mask of comparisons: the operand computed from the weights is what is cut
                receiver = next((o for o in _mask_operands(model, receiver) or [] if self._live(model, src, o, fn)), None)
                if receiver is None:
                    continue
                report_node = next((a for a in model.ancestors(receiver) if type(a) is cst.Comparison), report_node)
            where = site(model, call)
            if where is None or not self._live(model, src, receiver, fn):
                continue
            trace = self._loss_trace(model, call, fn)
            if trace is None and self._quantized_parameter(model, src, call, receiver, fn):
                yield Report(report_node)
                continue
            if trace is None or trace.converted is not None:
                # (a path through NumPy/Python data, a rollout's action stored and re-wrapped:
                # the conversion, not this op, ends the gradient; GS204/GS205 speak of it)
                continue
            if self._beside_live(model, src, trace, fn) or self._intentional(model, call, receiver, trace):
                continue
            if self._input_of_own_network(model, src, receiver, trace):
                continue
            yield Report(report_node)
        yield from self._selection_indices(model, src)

    def _selection_indices(self, model: FileModel, src) -> Iterator[Report]:
        """The indices half of `torch.max(x, dim)` / `x.min(dim)` / `x.sort()` / `x.topk(k)`:
        `[1]`, `.indices`, or the second name of `_, idx = torch.max(x, 1)`. The values half
        is differentiable and stays silent."""
        for call, fn in model.calls:
            receiver = _selection_input(model, call)
            if receiver is None or not _may_differentiate(model, call):
                continue
            for start, report_node in _index_uses(model, call, fn):
                trace = self._loss_trace(model, start, fn)
                if trace is None:
                    continue
                # a helper (`def predicted_grade(scores)`) proven on the way to a backward pass:
                # what its caller passes decides, whatever the helper is called
                if site(model, call) is None and trace.sink != "loss":
                    continue
                if not (self._live(model, src, receiver, fn) or _live_argument(model, src, receiver, fn, trace)):
                    continue
                if self._beside_live(model, src, trace, fn) or self._intentional(model, call, receiver, trace):
                    continue
                if self._input_of_own_network(model, src, receiver, trace):
                    continue
                yield Report(report_node)
                break

    @classmethod
    def _quantized_parameter(cls, model: FileModel, src, call: cst.Call, receiver, fn) -> bool:
        """`torch.sign(self.weight)` or `self.weight.round()` in a module's forward, on the
        parameter's only way to forward's output and with no straight-through pairing: the
        parameter gets an exact zero (or no) gradient and never trains (BinaryConnect without
        its estimator). A parameter that also reaches the output another way, a class that
        freezes or loads it, and evaluation branches are left alone."""
        if not (type(receiver) is cst.Attribute and is_self_name(model, receiver.value)):
            return False
        root = root_function(fn)
        owner = root.cls if root is not None else None
        if owner is None or not owner.is_torch or src.attr_kind(owner, receiver.attr.value) != "param":
            return False
        trace = reach(model, call, "context")
        if trace is None or trace.sink != "return" or trace.converted is not None:
            return False
        if cls._beside_same_parameter(model, src, trace, receiver) or cls._intentional(model, call, receiver, trace):
            return False
        # another read of the same parameter in the function reaching the output without
        # passing through this op: the op removes one path of several
        text = model.module.code_for_node(receiver)
        for other in descendants(fn.node, prune=(cst.ClassDef,)):
            if type(other) is not cst.Attribute or other is receiver or intent.contains(model, call, other):
                continue
            if model.module.code_for_node(other) != text:
                continue
            if model.flow.reaches_output(other, barrier=lambda n: n is call) is not None:
                return False
        return True

    @staticmethod
    def _beside_same_parameter(model: FileModel, src, trace: Trace, receiver) -> bool:
        """Where the op's result first meets another value, that value comes from the same
        parameter (`w.sign() - w`, then `.detach()` and `+ w`: the straight-through estimator)."""
        own = src.weight_roots(receiver)
        for child, parent in intent.trace_steps(model, trace.path):
            if isinstance(parent, (cst.BinaryOperation, cst.Call, cst.List, cst.Tuple)):
                others = [o for o in intent.co_operands(model, parent, child) if not _constant(o)]
                if others:
                    return any(own & src.weight_roots(o) for o in others)
        return False

    @staticmethod
    def _intentional(model: FileModel, call, receiver, trace) -> bool:
        # Not `combined_with_same_graph`: a loss term summed with other terms of the same model
        # still gives its own weights a zero gradient through this term.
        return (
            intent.in_evaluation_branch(model, call)
            or intent.optional_cut(model, call, receiver)
            or intent.frozen_network(model, call, receiver)
            or intent.target_value(model, call, receiver, trace)
        )

    @staticmethod
    def _op(model: FileModel, call: cst.Call):
        func = call.func
        last = last_name(func)
        if last not in NON_DIFF_METHODS and last not in INT_CASTS and last not in FLOAT_CASTS and last not in ("one_hot", "sgn"):
            return None
        name = model.callee(call)
        if name in NON_DIFF_FUNCTIONS or (isinstance(func, cst.Attribute) and name is None and func.attr.value in ("argmax", "argmin")):
            holder = model.parent(model.parent(call))
            if isinstance(holder, cst.Call) and model.callee(holder) == "torch.nn.functional.one_hot":
                return None  # reported on the one_hot
        if isinstance(func, cst.Attribute) and name is None:
            method = func.attr.value
            if method in NON_DIFF_METHODS or (method in INT_CASTS and not call.args):
                return func.attr, func.value
            if method in FLOAT_CASTS:
                inner = func.value
                if isinstance(inner, cst.Comparison) and all(not isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in inner.comparisons):
                    if method in ("to", "type") and not call.args:
                        return None
                    return func.attr, inner.left
                if type(inner) is cst.Name and not (method in ("to", "type") and not call.args) and _mask_operands(model, inner):
                    return func.attr, inner  # `inside = (xs >= x0) & (xs <= x1)`, then `inside.float()`
        if name in NON_DIFF_FUNCTIONS and call.args:
            return func, call.args[0].value
        if name == "torch.nn.functional.one_hot" and call.args:
            arg = call.args[0].value
            if isinstance(arg, cst.Call) and ((isinstance(arg.func, cst.Attribute) and arg.func.attr.value == "argmax") or model.callee(arg) == "torch.argmax"):
                inner = arg.func.value if isinstance(arg.func, cst.Attribute) and model.callee(arg) is None else (arg.args[0].value if arg.args else None)
                return (func, inner) if inner is not None else None
        return None

    @staticmethod
    def _live(model: FileModel, src, receiver, fn) -> bool:
        if src.is_live(receiver):
            return True
        # a helper or another object's method (`decoder.decode(logits)`) whose callers pass
        # it a value computed from the weights
        if src.fed_from_weights(receiver, helpers_only=True):
            return True
        root = root_function(fn)
        if root is not None and _is_loss_function(root):
            params = set(fn.params if fn else [])
            for r in src.roots(receiver):
                if r.startswith("param:") and r[6:] in params and _prediction_name(r[6:]):
                    return True
        if fn is not None and not fn.name.startswith("__"):
            # a helper of a loss function (`self.box_mask(pred_boxes)`) given its prediction
            return any(r.startswith("param:") and _prediction_passed(model, src, fn, r[6:]) for r in src.roots(receiver))
        return False

    @staticmethod
    def _loss_trace(model: FileModel, call: cst.Call, fn) -> Optional[Trace]:
        # A path through a value computed under no_grad (a TD target built from stored actions)
        # carries no gradient at all: the op on it is not what cuts the weights.
        inside = in_no_grad_block(model, call)
        trace = model.flow.reaches_output(call, module_level=True,
                                          barrier=None if inside else (lambda n: in_no_grad_block(model, n)))
        if trace is None:
            # a loss function or loss module's forward: its return value is the loss
            root = root_function(fn)
            if root is not None and _is_loss_function(root):
                found = model.flow.flows_into(call, lambda n: isinstance(model.parent(n), cst.Return) and root_function(model.enclosing_function(n)) is root, max_calls=1)
                # a metric read out as a Python number (`acc.mean().item()` stored in the
                # returned metrics) is no part of the returned loss tensor
                if found is not None and any(type(n) is cst.Call and type(n.func) is cst.Attribute
                                             and n.func.attr.value in CONVERSION_METHODS for n in found.path):
                    return None
                # `return loss, metrics`: a loss function's extras beside its first element (the
                # loss) are what it reports, not what is differentiated
                if found is not None and len(found.path) >= 2 and type(found.path[-1]) is cst.Tuple \
                        and type(found.path[-2]) is cst.Element and found.path[-1].elements[0] is not found.path[-2]:
                    return None
                return found
            return None
        if trace.sink == "loss":
            return trace
        root = trace.root
        if root is not None and (root.name == "training_step" or _is_loss_function(root)):
            return trace
        return None

    @staticmethod
    def _input_of_own_network(model: FileModel, src, receiver, trace: Trace) -> bool:
        """`agent.evaluate(obs, actions.long())` where the integer actions came from `agent`
        itself (sampled in a rollout): the value is an index given to the network, whose
        weights reach the loss through that call's output, not through the cast. A cast fed
        into another network (`decoder(encoder(x).argmax(-1))`) is still the only path."""
        for child, parent in intent.trace_steps(model, trace.path):
            if type(parent) is not cst.Call or not any(a.value is child for a in parent.args):
                continue
            func = parent.func
            base = func.value if type(func) is cst.Attribute else func
            if type(base) is cst.Name:
                root = f"weight:module:{base.value}"
            elif type(base) is cst.Attribute and type(base.value) is cst.Name and base.value.value == "self":
                root = f"weight:self.{base.attr.value}"
            else:
                return False
            return root in src.weight_roots(receiver) and src.is_module_object(base)
        return False

    @classmethod
    def _beside_live(cls, model: FileModel, src, trace: Trace, fn) -> bool:
        """On the way to the loss the value meets a live value that the gradient flows
        through: the op's result is a mask, an index, a weight or a target
        (`out * (out > 0).float()`, `gather(out, 1, idx)`, `cross_entropy(logits, pseudo)`,
        expert counts times router probabilities in a load-balancing loss). A meeting with
        values that carry nothing (a count, a setting, the accumulator's own previous value)
        decides nothing; a reduced term added to a live one (`l1(out.round(), y) + reg`) is a
        loss term of its own, whose gradient is still zero."""
        reduced = False
        for child, parent in intent.trace_steps(model, trace.path):
            if type(parent) is cst.Call and _reduces(model, parent):
                reduced = True
            if not isinstance(parent, (cst.BinaryOperation, cst.Call, cst.List, cst.Tuple)):
                continue
            others = [o for o in intent.co_operands(model, parent, child)
                      if not _constant(o) and not _accumulated(model, parent, o)]
            if others and all(_detached(o) for o in others):
                continue  # `hard - soft.detach()`: straight-through pairs it with `+ soft` next
            if not any(cls._live(model, src, o, fn) for o in others):
                continue
            if reduced and type(parent) is cst.BinaryOperation and type(parent.operator) in (cst.Add, cst.Subtract):
                continue
            return True
        return False


_REDUCTIONS = {"mean", "sum", "norm", "prod", "nansum", "nanmean", "item"}


def _reduces(model: FileModel, call: cst.Call) -> bool:
    """A reduction (`.mean()`, `torch.sum(...)`) or a loss (`F.l1_loss`, `criterion(...)`):
    after it the value is a loss term, not an elementwise partner of other tensors."""
    name = model.callee(call) or ""
    last = last_name(call.func) or ""
    return last in _REDUCTIONS or "loss" in name.lower() or "loss" in last.lower() or "criterion" in last.lower()


def _accumulated(model: FileModel, parent: cst.CSTNode, other: cst.BaseExpression) -> bool:
    """`counts = counts + step`: the accumulator's own previous value is no partner."""
    if type(other) is not cst.Name or type(parent) is not cst.BinaryOperation:
        return False
    holder = model.parent(parent)
    return type(holder) is cst.Assign and holder.value is parent and any(
        type(t.target) is cst.Name and t.target.value == other.value for t in holder.targets)


# Reductions returning (values, indices) when given a dimension; sort and topk always do.
_PAIR_WITH_DIM = {"max", "min", "median", "mode", "kthvalue"}
_PAIR_ALWAYS = {"sort", "topk"}


def _selection_input(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
    """The tensor a (values, indices) reduction selects from: `torch.max(x, 1)`, `x.max(dim=1)`,
    `x.topk(3)`; None for other calls (and for `torch.max(x)` / `torch.max(a, b)`, no indices)."""
    func = call.func
    last = last_name(func)
    if last not in _PAIR_WITH_DIM and last not in _PAIR_ALWAYS:
        return None
    name = model.callee(call)
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    has_dim = any(a.keyword is not None and a.keyword.value == "dim" for a in call.args)
    if name is not None and name.startswith("torch.") and name.count(".") == 1:
        if not positional:
            return None
        if last in _PAIR_WITH_DIM and not (has_dim or (len(positional) > 1 and isinstance(positional[1], (cst.Integer, cst.UnaryOperation)))):
            return None  # `torch.max(a, b)` is elementwise, `torch.max(x)` has no indices
        return positional[0]
    if name is None and isinstance(func, cst.Attribute):
        if last in _PAIR_WITH_DIM and not (has_dim or (positional and isinstance(positional[0], (cst.Integer, cst.UnaryOperation)))):
            return None
        return func.value
    return None


def _may_differentiate(model: FileModel, node: cst.CSTNode) -> bool:
    """Not under no_grad (block or decorator) and not in an evaluation branch."""
    if in_no_grad_block(model, node) or in_eval_branch(model, node):
        return False
    f = model.enclosing_function(node)
    while f is not None:
        if has_no_grad_decorator(model, f):
            return False
        f = f.parent
    return True


def _live_argument(model: FileModel, src, receiver, fn, trace: Trace) -> bool:
    """`receiver` is a parameter of `fn` and the trace leaves `fn` through a call of it whose
    argument for that parameter is live in the caller (`predicted_grade(net(x))`)."""
    if fn is None or not isinstance(receiver, cst.Name) or receiver.value not in (fn.params or []):
        return False
    for node in trace.path:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == fn.name and fn.cls is None:
            arg = argument_for(fn, node, receiver.value)
            return arg is not None and src.is_live(arg)
    return False


def _index_uses(model: FileModel, call: cst.Call, fn):
    """(node whose value is the indices, node to report) for `call[1]`, `call.indices` and the
    second name of `values, indices = call`."""
    parent = model.parent(call)
    if isinstance(parent, cst.Attribute) and parent.value is call and parent.attr.value == "indices":
        yield parent, parent
        return
    if isinstance(parent, cst.Subscript) and parent.value is call and len(parent.slice) == 1:
        index = parent.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.Integer) and index.value.value == "1":
            yield parent, parent
        return
    if isinstance(parent, cst.Assign) and parent.value is call and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2 and isinstance(target.elements[1].value, cst.Name):
            name = target.elements[1].value.value
            for use in model.flow.later_uses(fn, name, parent):
                yield use, call


def _detached(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "detach"


def _prediction_name(name: str) -> bool:
    """`logits`, `pred`, `token_logits`, `y_pred`: a loss function's prediction argument (not
    `logit_lengths`, `pred_mask`)."""
    toks = [t.lower() for t in TOKEN.findall(name)]
    if toks and toks[0] in ("pred", "preds", "predicted") and toks[-1] not in _NOT_PREDICTED:
        return True  # DETR's `pred_boxes`, `pred_logits`
    return bool(toks) and toks[-1] in PREDICTION_TOKENS


# what a `pred_*` name may hold that is no prediction: a mask, lengths, indices
_NOT_PREDICTED = {"mask", "masks", "len", "lens", "length", "lengths", "idx", "index", "indices", "ids", "id"}


def _constant(expr: cst.BaseExpression) -> bool:
    """Numbers, strings, None/True/False, `dim=-1`-style settings: not values that meet."""
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _constant(expr.expression)
    return isinstance(expr, cst.Name) and expr.value in ("None", "True", "False")


def _is_loss_function(fn: FunctionInfo) -> bool:
    if fn.cls is not None and "loss" in fn.cls.name.lower() and fn.name in ("forward", "__call__"):
        return True
    if fn.cls is not None and any(b.endswith(("_Loss", "_WeightedLoss")) for b in fn.cls.base_names):
        return fn.name in ("forward", "__call__")
    return "loss" in fn.name.lower() and not fn.name.lower().startswith(("log", "print", "plot"))


def _mask_operands(model: FileModel, expr: cst.BaseExpression, depth: int = 0) -> Optional[list]:
    """The operands of the comparisons a boolean mask is made of (`(xs >= x0) & (xs <= x1)`,
    `~m`, a name every reaching binding of which is such a mask, `m = m & (ys >= y0)`); None
    when `expr` is anything else."""
    if depth > 12:
        return None
    t = type(expr)
    if t is cst.Comparison:
        if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in expr.comparisons):
            return None
        return [expr.left] + [c.comparator for c in expr.comparisons]
    if t is cst.BinaryOperation and isinstance(expr.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)):
        left, right = _mask_operands(model, expr.left, depth + 1), _mask_operands(model, expr.right, depth + 1)
        return left + right if left is not None and right is not None else None
    if t is cst.UnaryOperation and isinstance(expr.operator, cst.BitInvert):
        return _mask_operands(model, expr.expression, depth + 1)
    if t is cst.Name:
        defs, kind = model.get(Definitions).reaching(expr)
        if kind != "local" or not defs:
            return None
        out: list = []
        for d in defs:
            if d.kind != "name" or d.value is None:
                return None
            found = _mask_operands(model, d.value, depth + 1)
            if found is None:
                return None
            out += found
        return out
    return None


def _prediction_passed(model: FileModel, src, fn: FunctionInfo, param: str) -> bool:
    """A call of helper `fn` from a loss function passes for `param` a value of one of the
    loss's predictions: a parameter its callers in the file pass a value computed from the
    weights (`criterion(model(x), boxes)`), or, when the file shows no such caller, one named
    as a prediction (`pred_boxes`, `logits`)."""
    for call, owner in model.objects.callers_of(fn)[:8]:
        if owner is None or owner is fn or not _is_loss_function(owner):
            continue
        arg = argument_for(fn, call, param)
        if arg is None:
            continue
        for r in src.roots(arg):
            if r.startswith("param:") and r[6:] in owner.params and (
                    src.caller_weights(owner, r[6:]) or _prediction_name(r[6:])):
                return True
    return False
