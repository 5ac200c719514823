"""GS2xx: PyTorch code that silently cuts the autograd graph on the way to the output or the loss.

Every rule here has the same shape: a cut (`detach()`, `.data`, `no_grad`, a re-wrapped tensor,
a Python number, a gradient-less op) of a value that comes from the weights (`Sources.is_live`),
in code that computes gradients, whose value reaches what forward returns or what `.backward()`
is called on (`flow.reaches_output`), and that is not one of the intentional look-alikes
(`intent.intentional_cut`). Each pattern has one owner, so a line never gets two codes for one
mistake: GS204 owns re-wrapping (with the `.detach()` inside `from_numpy(x.detach().numpy())`),
GS205 owns Python numbers (with `torch.tensor(x.item())`), GS206 owns whatever is done to the
value `.backward()` is called on, GS302 owns the sampling functions.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Set, Tuple

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics import intent
from gradscan.semantics.contexts import has_no_grad_decorator, in_eval_branch, in_no_grad_block, is_no_grad_with
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.names import dotted
from gradscan.semantics.walk import descendants

INFERENCE_NAMES = {
    "generate", "sample", "predict", "evaluate", "validation_step", "test_step", "predict_step",
    "inference", "infer", "eval_step", "validate", "test", "on_validation_epoch_end", "sampling",
}
# Calls that turn a tensor into a new leaf (GS204).
REWRAP_FUNCTIONS = {"torch.tensor", "torch.from_numpy", "torch.nn.Parameter", "torch.nn.parameter.Parameter"}
PYTHON_CONVERSIONS = {"item", "tolist"}
# Calls that make a tensor from a Python number: the number's value lands in the graph.
NUMBER_TO_TENSOR = {
    "torch.tensor", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor", "torch.full", "torch.full_like",
    "torch.scalar_tensor", "torch.mul", "torch.add", "torch.sub", "torch.div", "torch.pow",
    "torch.exp", "torch.log", "torch.clamp", "torch.where",
}
# Builtins and math functions that keep a Python number a Python number.
NUMBER_TO_NUMBER = {"min", "max", "abs", "pow", "round", "sum", "float", "int"}
NON_DIFF_METHODS = {"round", "floor", "ceil", "sign", "trunc", "argmax", "argmin"}
NON_DIFF_FUNCTIONS = {
    "torch.round", "torch.floor", "torch.ceil", "torch.sign", "torch.trunc", "torch.argmax", "torch.argmin",
    "torch.sgn",
}
INT_CASTS = {"long", "int", "short", "byte"}
FLOAT_CASTS = {"float", "double", "half", "bfloat16", "type_as", "to", "type"}
PREDICTION_TOKENS = {"pred", "preds", "prediction", "predictions", "logits", "logit", "output", "outputs", "out", "scores", "score", "yhat", "hat", "probs", "recon", "reconstruction"}


# ---- shared helpers ------------------------------------------------------------------------

def uses_torch(model: FileModel) -> bool:
    """GS2xx is about PyTorch: files that never import torch (Keras, JAX, TFP) are skipped."""
    return model.imports.uses("torch") or model.imports.uses("pytorch_lightning") or model.imports.uses("lightning")


def _root_function(fn: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
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
        if "backward" in f.name.lower():
            return None  # a hand-written backward pass (reversible layers): not a forward
        if f.name in INFERENCE_NAMES or f.name.lstrip("_").startswith(("eval", "predict", "generate", "infer", "validation", "test_", "plot", "visuali", "log_image", "log_metric", "log_hist", "log_stat")):
            return None
        if has_no_grad_decorator(model, f):
            return None
        f = f.parent
    ctx = model.context_of(node)
    if ctx is not None:
        return "context" if ctx.framework == "torch" else None
    return "script"


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


def _strip_methods(expr: cst.BaseExpression, names: Set[str]) -> cst.BaseExpression:
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in names:
        expr = expr.func.value
    return expr


def _kwarg(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _first_arg(call: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is None and arg.star == "":
            return arg.value
        if arg.keyword is not None and arg.keyword.value in ("data", "input", "ndarray"):
            return arg.value
    return None


def _last_name(func: cst.BaseExpression) -> Optional[str]:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def _is_true(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _numberish(expr: cst.BaseExpression) -> bool:
    """A literal number, or a (nested) list/tuple of them."""
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _numberish(expr.expression)
    if isinstance(expr, (cst.List, cst.Tuple)):
        return all(_numberish(e.value) for e in expr.elements)
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


# ---- GS206's targets: what `.backward()` is called on ----------------------------------------

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
    cached = getattr(model, "_gs206", None)
    if cached is not None:
        return cached
    out: List[Tuple[cst.CSTNode, str, cst.CSTNode]] = []
    model._gs206 = out
    if "requires_grad" not in model.source:
        return out
    scopes = {id(fn): fn for _c, fn in model.calls}
    for fn in scopes.values():
        backs = _backward_names(model, fn)
        if not backs:
            continue
        for node, name, stmt in _fix_candidates(model, fn):
            if _fix_reaches_backward(model, fn, node, name, stmt):
                out.append((node, name, stmt))
    return out


def _fix_candidates(model: FileModel, fn: Optional[FunctionInfo]):
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, cst.Assign):
            continue
        for t in node.targets:
            tgt = t.target
            if isinstance(tgt, cst.Attribute) and tgt.attr.value == "requires_grad" and isinstance(tgt.value, cst.Name) and _is_true(node.value):
                yield tgt, tgt.value.value, node
        value = node.value
        if isinstance(value, cst.Call) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            name = model.callee(value) or ""
            if (name in ("torch.tensor", "torch.autograd.Variable", "torch.autograd.variable.Variable") or name.endswith(".Variable")) and _is_true(_kwarg(value, "requires_grad")):
                data = _first_arg(value)
                if data is not None and not _numberish(data) and not isinstance(data, (cst.List, cst.Tuple)):
                    yield value, node.targets[0].target.value, node
            elif isinstance(value.func, cst.Attribute) and value.func.attr.value == "requires_grad_" and isinstance(value.func.value, cst.Name) and not (value.args and not _is_true(value.args[0].value)):
                yield value, node.targets[0].target.value, node
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


_LOSS_CARRIERS = {"sum", "mean", "scale", "float", "double", "squeeze", "view", "reshape", "to", "cuda", "div", "mul", "add", "requires_grad_"}


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


# ---- the rules -----------------------------------------------------------------------------

class _GraphRule(Rule):
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


class DetachInForward(_GraphRule):
    code = "GS201"
    name = "detach-in-forward"
    summary = "`.detach()` of a value computed from the weights, on the way to forward's output or the loss: the weights before it get no gradient"
    message = "`.detach()` cuts the graph here and the detached value reaches the output: the weights that computed it get no gradient"
    hint = "remove `.detach()`; detach only values used as targets, logs or caches"
    facts = ("pt05", "pt20")
    triggers = ("detach",)
    doc = """
    ## What it does
    Flags `.detach()` and `.detach_()` on a value computed from the module's weights (a
    submodule call such as `self.linear(x)`, a parameter such as `self.weight`, or a name
    assigned from one) inside a differentiable context (`forward`, the methods it calls,
    Lightning's `training_step`, a training loop), when the detached value reaches what
    forward returns or the value `.backward()` is called on.

    ## Why it breaks gradients
    `detach()` returns a tensor that shares storage but has no `grad_fn`: the backward pass
    stops there. Everything upstream of the cut (`self.linear` above) gets `grad is None` and
    never trains, while the layers after the cut still learn, so the loss still goes down and
    nothing errors or warns (fact pt05). `x.clone().detach()` and `x.detach().clone()` cut the
    same way (pt20).

    The rule stays silent on the intentional cuts: the straight-through estimator
    `x + (q - x).detach()`, a value combined with a live value of the same graph
    (`x / x.norm().detach()`, one side of a BYOL/SimSiam loss, `return out, feats.detach()`),
    targets (`loss(pred, target.detach())`, `target = r + gamma * q_next.detach()`), GAN
    discriminator steps `D(fake.detach())` (or a helper given the discriminator,
    `gradient_penalty(D, real, fake.detach())`), truncated BPTT `hidden = hidden.detach()`,
    teacher/EMA/momentum/target networks and networks the file freezes
    (`requires_grad_(False)`), leaves out of every optimizer it builds (only
    `Adam(model.head.parameters())`: a linear probe) or that are pretrained components
    (`vae`, `codec`), configured
    stop-gradients (`if self.stop_gradient: h = h.detach()`), values only logged, cached or
    written to buffers, values used after `.backward()` already ran on them or on a loss they
    went into (SAC's `-(log_alpha * logp.detach()).mean()` after the actor loss's backward:
    that graph is freed and its weights have their gradient), `if not self.training:`
    branches, and cuts of a forward's raw input or of a buffer (nothing upstream trains).

    ## Example
    ```python
    def forward(self, x):
        intermediate = self.linear(x)
        return self.head(intermediate.detach())
    ```

    ## Use instead
    ```python
    def forward(self, x):
        intermediate = self.linear(x)
        return self.head(intermediate)
    ```

    ## References
    - PyTorch docs: `Tensor.detach`
    - gradscan facts: pt05, pt20
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l2 = nn.Linear(3, 1)

            def forward(self, x):
                h = self.l1(x).detach()  # error: GS201
                return self.l2(torch.relu(h))
        """,
        """
        import torch.nn as nn

        class Probe(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(4, 4)

            def forward(self, x):
                intermediate = self.linear(x)
                return intermediate.detach()  # error: GS201
        """,
    )
    valid = (
        """
        import torch
        from torch import nn
        import torch.nn.functional as F

        class VQ(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(3, 3)
                self.codebook = nn.Embedding(8, 3)
                self.register_buffer("running", torch.zeros(3))

            def forward(self, x):
                z = self.enc(x)
                q = self.codebook(z.argmax(-1))
                commit = F.mse_loss(z, q.detach())
                self.running = z.detach().mean(0)
                print(z.detach().norm())
                return z + (q - z).detach(), commit
        """,
        """
        import torch.nn.functional as F

        def train_step(model, target_net, batch, opt, gamma=0.99):
            s, a, r, s2 = batch
            q = model(s).gather(1, a)
            target = r + gamma * target_net(s2).max(1).values.detach()
            loss = F.smooth_l1_loss(q, target)
            loss.backward()
            opt.step()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = intent.sources(model)
        for call, fn in model.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in ("detach", "detach_") or call.args:
                continue
            receiver = func.value
            where = site(model, call)
            if where is None or not src.is_live(receiver):
                continue
            if self._rewrapped(model, call) or self._fixed_by_gs206(model, call) or self._after_backward(model, call, receiver):
                continue
            trace = self._trace(model, call, receiver, fn, where)
            if trace is None or intent.intentional_cut(model, call, receiver, trace):
                continue
            yield Report(func.attr)

    def _trace(self, model: FileModel, call: cst.Call, receiver, fn, where) -> Optional[Trace]:
        stmt = model.parent(call)
        if call.func.attr.value == "detach_" and isinstance(stmt, cst.Expr) and isinstance(receiver, cst.Name):
            for use in model.flow.later_uses(fn, receiver.value, stmt):
                trace = reach(model, use, where)
                if trace is not None:
                    return Trace([call] + trace.path, trace.sink, trace.root)
            return None
        return reach(model, call, where)


class DataInForward(_GraphRule):
    code = "GS202"
    name = "data-in-forward"
    summary = "`.data` read of a graph tensor on the way to the output or the loss: a silent cut"
    message = "`.data` returns the tensor without its graph and the value reaches the output: the weights behind it get no gradient"
    hint = "use the tensor itself; for a deliberate cut write `.detach()` where it shows"
    facts = ("pt06",)
    triggers = (".data",)
    doc = """
    ## What it does
    Flags reads of `.data` on a value computed from the weights (`self.l1(x).data`,
    `self.weight.data`) in a differentiable context, when the value reaches what forward
    returns or the value `.backward()` is called on.

    ## Why it breaks gradients
    `.data` is the pre-0.4 way to get the raw tensor: it has no `grad_fn` and autograd does not
    track it, so `self.l1(x).data` and `F.linear(h, self.w.data)` silently leave `l1.weight.grad`
    and `w.grad` as None (fact pt06). There is no warning, and unlike `.detach()` in-place
    changes to it are not even checked by the version counter.

    Not flagged: `.data` in `torch.no_grad()` blocks, in weight initialisation, EMA and
    optimizer-like updates (`p.data.mul_(...)`, `p.data.copy_(...)`), writes to `.data`, and
    values only logged or stored.

    ## Example
    ```python
    def forward(self, h):
        return F.linear(h, self.weight.data, self.bias)
    ```

    ## Use instead
    ```python
    def forward(self, h):
        return F.linear(h, self.weight, self.bias)
    ```

    ## References
    - PyTorch docs: "Tensor.data" (legacy), `Tensor.detach`
    - gradscan facts: pt06
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.w = nn.Parameter(torch.randn(1, 3))

            def forward(self, x):
                h = self.l1(x).data  # error: GS202
                return F.linear(h, self.w.data)  # error: GS202
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l1.weight.data.normal_(0, 0.02)

            def forward(self, x):
                with torch.no_grad():
                    self.l1.weight.data.clamp_(-1, 1)
                return self.l1(x)

        def ema_update(ema, model, decay=0.999):
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.data.mul_(decay).add_(p.data, alpha=1 - decay)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = intent.sources(model)
        for attr, fn in model.attributes:
            if attr.attr.value != "data" or self._written(model, attr):
                continue
            receiver = attr.value
            where = site(model, attr)
            if where is None or not src.is_live(receiver):
                continue
            if self._rewrapped(model, attr) or self._fixed_by_gs206(model, attr) or self._after_backward(model, attr, receiver):
                continue
            trace = reach(model, attr, where)
            if trace is None or intent.intentional_cut(model, attr, receiver, trace):
                continue
            yield Report(attr.attr)

    @staticmethod
    def _written(model: FileModel, attr: cst.Attribute) -> bool:
        parent = model.parent(attr)
        if isinstance(parent, cst.AssignTarget) or (isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is attr):
            return True
        if isinstance(parent, cst.Subscript):
            gp = model.parent(parent)
            if isinstance(gp, cst.AssignTarget) or (isinstance(gp, cst.AugAssign) and gp.target is parent):
                return True
        if isinstance(parent, cst.Attribute) and parent.value is attr:
            method = parent.attr.value
            if method.endswith("_") and not method.startswith("_"):
                return True  # p.data.mul_(...), p.data.copy_(...)
        return False


class NoGradInForward(_GraphRule):
    code = "GS203"
    name = "no-grad-in-forward"
    summary = "`torch.no_grad()` / `inference_mode()` / `set_grad_enabled(False)` around weights whose results reach the output"
    message = "values computed under no_grad reach the output or the loss: the weights used inside the block get no gradient"
    hint = "compute the output outside the no_grad block; keep no_grad for evaluation, EMA and target computations"
    facts = ("pt08", "pt22", "pt23", "pt33")
    triggers = ("no_grad", "inference_mode", "set_grad_enabled")
    doc = """
    ## What it does
    Flags a `with torch.no_grad():`, `with torch.inference_mode():` or
    `with torch.set_grad_enabled(False):` block inside a differentiable context (forward, the
    methods it calls, `training_step`, a training loop) when a value computed from the weights
    inside the block reaches forward's return value or the loss; `@torch.no_grad()` and
    `@torch.inference_mode()` on a module's `forward` or `training_step` that uses weights; and
    a bare `torch.set_grad_enabled(False)` call in training code.

    ## Why it breaks gradients
    Under no_grad, operations record no graph: the block's results have `requires_grad=False`.
    If they are combined with other trainable values, the loss still backpropagates and the
    weights used inside the block silently get `grad is None` (pt08, pt33). If the whole
    forward runs under no_grad (`@torch.no_grad()` on forward), backward raises "element 0 of
    tensors does not require grad and does not have a grad_fn" (pt22); under inference_mode
    reusing the results in training raises "Inference tensors cannot be saved for backward"
    (pt23). A bare `torch.set_grad_enabled(False)` call switches gradients off for everything
    that follows on the thread (pt33).

    Not flagged: no_grad in evaluation, generation and inference methods, EMA and teacher
    updates, target computations (`with torch.no_grad(): target = self.target_net(s2)`),
    GAN steps that feed no_grad samples to the discriminator (`critic(fake)`,
    `gradient_penalty(critic, real, fake)`),
    frozen or pretrained sub-networks (`self.vae`, `self.codec`, parameters set to
    `requires_grad_(False)`, submodules left out of every optimizer the file builds, as in
    a linear probe whose only optimizer takes `model.head.parameters()`), blocks whose results are only stored as state, logged, or
    combined with a live value of the same graph, blocks computing from inputs or buffers
    only, a forward that returns from inside its own no_grad block (an inference-only module:
    misuse raises, pt22), modules with a hand-written backward pass (reversible layers), and
    decorated forwards that only read buffers (rotary embeddings), wrap `super().forward` of a
    fixed layer, return integer or boolean tensors, or take an inference session.

    ## Example
    ```python
    def forward(self, x):
        with torch.no_grad():
            h = self.encoder(x)
        return self.head(h)
    ```

    ## Use instead
    ```python
    def forward(self, x):
        h = self.encoder(x)
        return self.head(h)
    ```
    (To freeze the encoder on purpose, set `requires_grad_(False)` on its parameters, or keep
    the no_grad block and say so with `# noqa: GS203`.)

    ## References
    - PyTorch docs: `torch.no_grad`, `torch.inference_mode`, `torch.set_grad_enabled`
    - gradscan facts: pt08, pt22, pt23, pt33
    """
    invalid = (
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l2 = nn.Linear(3, 1)

            def forward(self, x):
                with torch.no_grad():  # error: GS203
                    h = self.l1(x)
                return self.l2(h)

        class Frozen(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 1)

            @torch.no_grad()  # error: GS203
            def forward(self, x):
                return self.fc(x)
        """,
    )
    valid = (
        """
        import torch
        from torch import nn
        import torch.nn.functional as F

        class Distill(nn.Module):
            def __init__(self, student, teacher):
                super().__init__()
                self.student = student
                self.teacher = teacher

            def forward(self, x):
                with torch.no_grad():
                    t = self.teacher(x)
                s = self.student(x)
                return F.kl_div(s.log_softmax(-1), t.softmax(-1), reduction="batchmean")

            @torch.no_grad()
            def generate(self, x):
                return self.student(x).argmax(-1)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = intent.sources(model)
        for node, fn in model.withs:
            if not is_no_grad_with(model, node):
                continue
            where = site(model, node)
            if where is None or self._custom_backward(fn):
                continue
            if self._block_reaches(model, node, src, where):
                item = next(i for i in node.items if _is_no_grad_item(model, i.item))
                yield Report(item.item)
        for fn in model.functions:
            if fn.is_method and fn.cls.is_torch and fn.name in ("forward", "__call__", "training_step") and has_no_grad_decorator(model, fn):
                if fn.name == "training_step" or (self._uses_weights(model, fn, src) and not self._inference_only(model, fn)):
                    deco = next(d for d in fn.node.decorators if _is_no_grad_item(model, d.decorator))
                    yield Report(deco.decorator)
        for call, fn in model.calls:
            if _last_name(call.func) == "set_grad_enabled" and model.callee(call) in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False":
                parent = model.parent(call)
                if isinstance(parent, cst.Expr) and site(model, call) == "context":
                    yield Report(call)

    def _block_reaches(self, model: FileModel, with_node: cst.With, src, where) -> bool:
        for value in _block_values(model, with_node):
            if not src.is_live(value):
                continue
            if isinstance(model.parent(value), cst.Return) and self._own_root_return(model, value):
                # forward returns from inside the block: the whole output is computed without
                # a graph, an inference-only forward (backward would raise, pt22), not a
                # silent partial cut
                continue
            trace = reach(model, value, where)
            if trace is None:
                continue
            if intent.intentional_cut(model, value, value, trace, block=with_node):
                continue
            return True
        return False

    @staticmethod
    def _custom_backward(fn: Optional[FunctionInfo]) -> bool:
        """A module that writes its own backward pass (Reformer's reversible layers run forward
        under no_grad and recompute in `backward_pass`)."""
        root = _root_function(fn)
        cls = root.cls if root is not None else None
        return cls is not None and any("backward" in name.lower() for name in cls.methods)

    @staticmethod
    def _inference_only(model: FileModel, fn: FunctionInfo) -> bool:
        """A forward that says it is for inference: it takes an inference session, or it is
        annotated to return integer or boolean tensors (indices, masks), which carry no
        gradient anyway."""
        node = fn.node
        if any(intent.tokens(p) & {"inference", "session", "sampler", "generation"} for p in fn.params):
            return True
        if isinstance(node, cst.FunctionDef) and node.returns is not None:
            text = model.module.code_for_node(node.returns.annotation)
            if any(t in text for t in ("LongTensor", "IntTensor", "BoolTensor", "ByteTensor")) or text.strip() in ("int", "bool", "None"):
                return True
        return False

    @staticmethod
    def _own_root_return(model: FileModel, value: cst.CSTNode) -> bool:
        fn = model.enclosing_function(value)
        return fn is not None and fn.context is not None and fn.context.kind != "helper" and fn.parent is None

    @staticmethod
    def _uses_weights(model: FileModel, fn: FunctionInfo, src) -> bool:
        """The decorated forward returns values of its own submodules or parameters (not only
        buffers, inputs, or `super().forward(...)` of a layer it freezes on purpose, such as a
        sinusoidal `nn.Embedding` subclass)."""
        for ret in fn.returns:
            if isinstance(ret, cst.Return) and ret.value is not None:
                if any(r != "weight:super" for r in src.weight_roots(ret.value)):
                    return True
        return False


def _is_no_grad_item(model: FileModel, expr) -> bool:
    from gradscan.semantics.contexts import no_grad_call

    return no_grad_call(model, expr)


def _block_values(model: FileModel, with_node: cst.With):
    """Values assigned or returned directly in a with block's body (nested defs excluded)."""
    out = []
    for node in descendants(with_node.body, prune=(cst.FunctionDef, cst.Lambda, cst.ClassDef)):
        t = type(node)
        if t is cst.Assign:
            if not all(type(target.target) is cst.Attribute for target in node.targets):
                out.append(node.value)
        elif t is cst.AugAssign:
            if type(node.target) is not cst.Attribute:
                out.append(node.value)
        elif (t is cst.AnnAssign or t is cst.Return) and node.value is not None:
            out.append(node.value)
    return out


class TensorRewrapped(_GraphRule):
    code = "GS204"
    name = "tensor-rewrapped"
    summary = "`torch.tensor(t)`, `t.new_tensor(t)`, `nn.Parameter(activation)` or `from_numpy(t.detach().numpy())` makes a new leaf from a graph tensor"
    message = "re-wrapping a graph tensor copies its value into a new leaf without history: the weights that computed it get no gradient"
    hint = "use the tensor itself, `torch.stack`/`torch.cat` for lists of tensors, or `torch.as_tensor(t)` to convert dtype"
    facts = ("pt07", "pt21")
    triggers = ("tensor(", "from_numpy", "Parameter(", "new_tensor")
    doc = """
    ## What it does
    Flags `torch.tensor(<tensor>)`, `torch.tensor([<tensors>])` (for example a list of losses
    summed later), `t.new_tensor(<tensor>)`, `nn.Parameter(<activation>)` inside forward, and
    `torch.from_numpy(t.detach().numpy())`, when the tensor comes from the weights and the new
    tensor reaches forward's return value or the loss.

    ## Why it breaks gradients
    These calls copy the *value* into a fresh leaf tensor with no history: the weights that
    produced it get `grad is None`. `torch.tensor(h)` and `h.new_tensor(h)` emit a UserWarning
    ("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach()")
    that is easy to miss; `torch.tensor([t0, t1])` of 0-dim tensors and
    `from_numpy(h.detach().numpy())` are silent; `nn.Parameter(h)` in forward makes a new,
    untrained leaf every call (facts pt07, pt21). Even `requires_grad=True` only makes the copy
    a leaf of its own.

    Not flagged: `torch.as_tensor(t)` and `torch.Tensor(t)` (they keep the graph, pt07),
    `torch.stack`/`torch.cat`, `torch.tensor` of Python numbers or lists of numbers, and
    `new_zeros`/`new_ones`/`new_full`.

    ## Example
    ```python
    losses = [criterion(model(x), y) for x, y in batches]
    loss = torch.tensor(losses).sum()
    loss.backward()
    ```

    ## Use instead
    ```python
    losses = [criterion(model(x), y) for x, y in batches]
    loss = torch.stack(losses).sum()
    loss.backward()
    ```

    ## References
    - PyTorch docs: `torch.tensor` ("always copies data"), `torch.as_tensor`, `torch.stack`
    - gradscan facts: pt07, pt21
    """
    invalid = (
        """
        import numpy as np
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)
                self.l2 = nn.Linear(3, 1)

            def forward(self, x):
                h = torch.tensor(self.l1(x))  # error: GS204
                g = torch.from_numpy(np.tanh(self.l2(x).detach().numpy()))  # error: GS204
                return h + g

        def train(model, batches, crit, opt):
            losses = []
            for x, y in batches:
                losses.append(crit(model(x), y))
            loss = torch.tensor(losses).sum()  # error: GS204
            loss.backward()
            opt.step()
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = nn.Linear(3, 3)

            def forward(self, x):
                h = self.l1(x)
                scale = torch.tensor([0.5, 2.0, 1.0])
                h = torch.as_tensor(h, dtype=torch.float64).float()
                return torch.stack([h, h * scale]).sum(0)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = intent.sources(model)
        owned206 = {id(n) for n, _name, _s in requires_grad_fixes(model)}
        for call, fn in model.calls:
            data = self._rewrapped_value(model, call)
            if data is None or id(call) in owned206:
                continue
            where = site(model, call)
            if where is None:
                continue
            name = model.callee(call)
            if name in ("torch.nn.Parameter", "torch.nn.parameter.Parameter") and where != "context":
                continue
            if not self._live(model, src, data):
                continue
            trace = reach(model, call, where)
            if trace is None or intent.intentional_cut(model, call, data, trace):
                continue
            yield Report(call.func.attr if isinstance(call.func, cst.Attribute) else call.func)

    @staticmethod
    def _rewrapped_value(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
        func = call.func
        last = _last_name(func)
        if last not in ("tensor", "Parameter", "new_tensor", "from_numpy"):
            return None
        name = model.callee(call)
        if name in ("torch.tensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            data = _first_arg(call)
        elif isinstance(func, cst.Attribute) and func.attr.value == "new_tensor" and name is None:
            data = _first_arg(call)
        elif name == "torch.from_numpy":
            data = _first_arg(call)
            if data is None:
                return None
            # only `from_numpy(t.detach().numpy())` (or `.cpu().numpy()`): a numpy array built
            # by other means is data
            inner = _strip_methods(data, {"copy", "astype"})
            if not (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "numpy"):
                # np.f(t.detach().numpy()): look one call deeper
                if isinstance(inner, cst.Call) and inner.args:
                    inner = _strip_methods(inner.args[0].value, {"copy", "astype"})
                if not (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "numpy"):
                    return None
            return _strip_methods(inner, {"numpy", "cpu", "detach", "clone", "contiguous"})
        else:
            return None
        if data is None or _numberish(data):
            return None
        if _has_python_conversion(data):
            return None  # torch.tensor(x.item()): GS205
        return _strip_methods(data, {"detach", "clone", "cpu", "cuda", "to", "float", "contiguous"})

    @staticmethod
    def _live(model: FileModel, src, data: cst.BaseExpression) -> bool:
        if isinstance(data, (cst.List, cst.Tuple)):
            return any(src.is_live(_strip_methods(e.value, {"detach", "clone", "cpu"})) for e in data.elements)
        return src.is_live(data)


def _has_python_conversion(expr: cst.BaseExpression) -> bool:
    for node in descendants(expr):
        if type(node) is cst.Call:
            func = node.func
            if type(func) is cst.Attribute and func.attr.value in PYTHON_CONVERSIONS:
                return True
            if type(func) is cst.Name and func.value in ("float", "int"):
                return True
    return False


class PythonNumberInGraph(_GraphRule):
    code = "GS205"
    name = "python-number-in-graph"
    summary = "`.item()`, `.tolist()`, `float(t)`, `int(t)` or `math.*` on a graph tensor whose Python value flows back into the output"
    message = "this turns a graph tensor into a Python number that flows back into the output: the weights behind it get no gradient"
    hint = "stay in tensors: `torch.exp(t)` instead of `math.exp(t)`, `t` instead of `torch.tensor(t.item())`"
    facts = ("pt14", "pt28")
    triggers = (".item()", ".tolist()", " float(", "(float(", "[float(", " int(", "(int(", "[int(", "math.", "from math")
    doc = """
    ## What it does
    Flags `.item()`, `.tolist()`, `float(t)`, `int(t)` and `math.*(t)` applied to a tensor
    computed from the weights (or to a parameter) in a differentiable context, when the Python
    number flows back into a tensor that reaches forward's return value or the loss
    (`torch.tensor(x.item())`, `scale = math.exp(self.log_scale)` then `out * scale`).

    ## Why it breaks gradients
    A Python number has no graph. `math.exp(self.log_scale)` returns a float, so
    `self.log_scale` gets `grad is None` while the rest of the model trains (fact pt28);
    `.item()`, `.tolist()` and `float(t)` cut the same way (pt14; only `float(t)` warns).

    Not flagged: `.item()` for logging, metrics and progress bars, numbers used as shapes,
    sizes and indices, and numbers from configuration.

    ## Example
    ```python
    def forward(self, x):
        scale = math.exp(self.log_scale)
        return self.fc(x) * scale
    ```

    ## Use instead
    ```python
    def forward(self, x):
        scale = torch.exp(self.log_scale)
        return self.fc(x) * scale
    ```

    ## References
    - PyTorch docs: `Tensor.item`, `Tensor.tolist`
    - gradscan facts: pt14, pt28
    """
    invalid = (
        """
        import math
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 1)
                self.g = nn.Linear(3, 1)
                self.log_scale = nn.Parameter(torch.tensor(0.0))

            def forward(self, x):
                scale = math.exp(self.log_scale)  # error: GS205
                gate = torch.tensor(self.g(x).mean().item())  # error: GS205
                return self.fc(x) * scale * gate
        """,
    )
    valid = (
        """
        import math
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.fc = nn.Linear(dim, dim)
                self.scale = 1 / math.sqrt(dim)

            def forward(self, x):
                h = self.fc(x)
                n = int(h.shape[0])
                k = int(h.abs().sum().item())
                print(h.mean().item())
                return h[:n].view(n, -1) * self.scale + torch.zeros(k)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        src = intent.sources(model)
        for call, fn in model.calls:
            receiver = self._converted(model, call)
            if receiver is None:
                continue
            where = site(model, call)
            if where is None or not src.is_live(receiver):
                continue
            trace = reach(model, call, where)
            if trace is None or not self._back_into_tensor(model, src, call, trace):
                continue
            if intent.intentional_cut(model, call, receiver, trace):
                continue
            yield Report(call.func.attr if isinstance(call.func, cst.Attribute) else call.func)

    @staticmethod
    def _converted(model: FileModel, call: cst.Call) -> Optional[cst.BaseExpression]:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value not in PYTHON_CONVERSIONS and not (isinstance(func.value, cst.Name) and func.value.value == "math"):
            return None
        if isinstance(func, cst.Attribute) and func.attr.value in PYTHON_CONVERSIONS and not call.args:
            return func.value
        if isinstance(func, cst.Name) and func.value in ("float", "int") and model.resolve(func) is None and len(call.args) == 1:
            return call.args[0].value
        name = model.callee(call)
        if name and name.startswith("math.") and call.args:
            return call.args[0].value
        return None

    @staticmethod
    def _back_into_tensor(model: FileModel, src, start: cst.CSTNode, trace: Trace) -> bool:
        """The Python number becomes part of a tensor again: arithmetic with a live tensor or
        a tensor factory taking it as data. Numbers used as sizes, shapes, indices or
        hyperparameters of a call are not gradient paths."""
        for child, parent in intent.trace_steps(model, trace.path):
            if isinstance(parent, cst.BinaryOperation):
                other = parent.right if intent.contains(model, parent.left, child) else parent.left
                if src.is_live(other):
                    return True
                continue
            if isinstance(parent, cst.UnaryOperation):
                continue
            if isinstance(parent, cst.Call):
                name = model.callee(parent)
                text = dotted(parent.func) or ""
                if name in NUMBER_TO_TENSOR:
                    first = _first_arg(parent)
                    if first is not None and intent.contains(model, first, child):
                        return True
                    return False
                if (name or "").startswith(("math.", "numpy.")) or (name is None and text in NUMBER_TO_NUMBER):
                    continue  # still a Python (or NumPy) number
                return False
            if isinstance(parent, (cst.Element, cst.List, cst.Tuple, cst.IfExp)):
                continue
        return False


class RequiresGradOnLoss(_GraphRule):
    code = "GS206"
    name = "requires-grad-on-loss"
    summary = "`loss.requires_grad = True` (or `requires_grad_()`, `torch.tensor(loss, requires_grad=True)`) on the value that is backpropagated hides a broken graph"
    message = "setting requires_grad on the value you backpropagate hides a broken graph: backward runs and no weight gets a gradient"
    hint = "find the cut upstream (detach, .data, no_grad, .item()) and remove it instead"
    facts = ("pt12",)
    triggers = ("requires_grad",)
    doc = """
    ## What it does
    Flags `loss.requires_grad = True`, `loss.requires_grad_()`,
    `loss = torch.tensor(loss, requires_grad=True)` and `Variable(loss, requires_grad=True)` on
    the value that is later `.backward()`ed (directly, or after sums and scaling).

    ## Why it breaks gradients
    It is the usual "fix" for `RuntimeError: element 0 of tensors does not require grad and
    does not have a grad_fn`: the error goes away because the loss becomes a fresh leaf, and
    backward then computes the gradient of that leaf alone. No weight gets a gradient and
    nothing trains, silently (fact pt12). On a healthy loss, setting the flag raises "you can
    only change requires_grad flags of leaf variables". The real bug is upstream: a
    `detach()`, `.data`, `no_grad`, `.item()` or re-wrapped tensor (GS201 to GS205).

    Not flagged: `x.requires_grad_()` on input data for saliency maps or adversarial examples
    (the value is differentiated with respect to, not backpropagated from).

    ## Example
    ```python
    loss = criterion(out, y)
    loss.requires_grad = True
    loss.backward()
    ```

    ## Use instead
    ```python
    loss = criterion(out, y)  # with `out` computed without detach()/no_grad
    loss.backward()
    ```

    ## References
    - PyTorch docs: "Autograd mechanics: setting requires_grad"
    - gradscan facts: pt12
    """
    invalid = (
        """
        import torch

        def train(model, x, y, crit, opt):
            out = model(x).argmax(-1).float()
            loss = crit(out, y)
            loss.requires_grad = True  # error: GS206
            loss.backward()
            opt.step()

        def train2(model, x, y, crit):
            loss = torch.tensor(crit(model(x), y).item(), requires_grad=True)  # error: GS206
            loss.backward()
        """,
    )
    valid = (
        """
        import torch

        def saliency(model, x, label):
            x = x.clone().requires_grad_()
            score = model(x)[0, label]
            score.backward()
            return x.grad.abs()

        def accumulate(model, batches, crit):
            total = torch.zeros(1, requires_grad=True)
            for x, y in batches:
                total = total + crit(model(x), y)
            total.backward()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        if not uses_torch(model):
            return
        for node, _name, _stmt in requires_grad_fixes(model):
            if isinstance(node, cst.Call):
                func = node.func
                yield Report(func.attr if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" else node)
            else:
                yield Report(node)


class NonDifferentiableOpInLoss(_GraphRule):
    code = "GS207"
    name = "non-differentiable-op-in-loss"
    summary = "`argmax`, `round`, `floor`, `sign`, comparison-to-float or integer casts on the only path from the weights to the loss"
    message = "this operation has no useful gradient and it is the only path from the weights to the loss: they get zero or no gradient"
    hint = "use a differentiable relaxation (softmax, sigmoid), or the straight-through estimator `x + (x.round() - x).detach()`"
    facts = ("pt13", "pt35")
    triggers = (
        "argmax", "argmin", ".round(", "round(", ".floor(", ".ceil(", ".sign(", ".sgn(", ".trunc(", ".long()",
        ".int()", "one_hot", ").float()", ").double()", ").half()", ").to(", ").type",
    )
    doc = """
    ## What it does
    Flags `argmax`, `argmin`, `round`, `floor`, `ceil`, `sign`, `trunc`, comparisons cast to
    float (`(x > 0).float()`), `.long()`/`.int()` casts and `F.one_hot(x.argmax(...))` applied to
    a value computed from the weights, when the result is on the path to the loss (the value
    `.backward()` is called on, or what `training_step` or a loss function returns) and no
    live value of the graph travels beside it.

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
        src = intent.sources(model)
        for call, fn in model.calls:
            found = self._op(model, call)
            if found is None:
                continue
            report_node, receiver = found
            where = site(model, call)
            if where is None or not self._live(model, src, receiver, fn):
                continue
            trace = self._loss_trace(model, call, fn)
            if trace is None:
                continue
            if self._beside_live(model, src, trace, fn) or self._intentional(model, call, receiver, trace):
                continue
            yield Report(report_node)

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
        last = _last_name(func)
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
        root = _root_function(fn)
        if root is not None and _is_loss_function(root):
            params = set(fn.params if fn else [])
            for r in src.roots(receiver):
                if r.startswith("param:") and r[6:] in params and _prediction_name(r[6:]):
                    return True
        return False

    @staticmethod
    def _loss_trace(model: FileModel, call: cst.Call, fn) -> Optional[Trace]:
        trace = model.flow.reaches_output(call, module_level=True)
        if trace is None:
            # a loss function or loss module's forward: its return value is the loss
            root = _root_function(fn)
            if root is not None and _is_loss_function(root):
                return model.flow.flows_into(call, lambda n: isinstance(model.parent(n), cst.Return) and _root_function(model.enclosing_function(n)) is root, max_calls=1)
            return None
        if trace.sink == "loss":
            return trace
        root = trace.root
        if root is not None and (root.name == "training_step" or _is_loss_function(root)):
            return trace
        return None

    @classmethod
    def _beside_live(cls, model: FileModel, src, trace: Trace, fn) -> bool:
        """Where the value first meets another value, that value is live: it is a mask, an
        index or a target (`out * (out > 0).float()`, `gather(out, 1, idx)`,
        `cross_entropy(logits, pseudo)`), and the gradient flows through the live one."""
        for child, parent in intent.trace_steps(model, trace.path):
            if isinstance(parent, (cst.BinaryOperation, cst.Call, cst.List, cst.Tuple)):
                others = [o for o in intent.co_operands(model, parent, child) if not _constant(o)]
                if others:
                    return any(cls._live(model, src, o, fn) for o in others)
        return False


def _prediction_name(name: str) -> bool:
    """`logits`, `pred`, `token_logits`, `y_pred`: a loss function's prediction argument (not
    `logit_lengths`, `pred_mask`)."""
    toks = intent.TOKEN.findall(name)
    return bool(toks) and toks[-1].lower() in PREDICTION_TOKENS


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
