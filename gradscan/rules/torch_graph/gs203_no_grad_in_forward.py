from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.torch_graph.helpers import GraphRule, hand_written_backward, last_name, reach, root_function, site, uses_torch
from gradscan.semantics import distributions as dists, intent
from gradscan.semantics.contexts import has_no_grad_decorator, is_no_grad_with
from gradscan.semantics.model import FileModel, FunctionInfo
from gradscan.semantics.walk import descendants


class NoGradInForward(GraphRule):
    code = "GS203"
    name = "no-grad-in-forward"
    summary = "`torch.no_grad()` / `inference_mode()` / `set_grad_enabled(False)` around weights whose results reach the output"
    message = "value computed under no_grad reaches the output: the weights used there get no gradient"
    explanation = (
        "Nothing is recorded under torch.no_grad(): the weights used inside the block get no gradient from the "
        "output or the loss, silently."
    )
    hint = "compute the output outside the no_grad block; keep no_grad for evaluation, EMA and target computations"
    facts = ("pt08", "pt09", "pt22", "pt23", "pt33")
    triggers = ("no_grad", "inference_mode", "set_grad_enabled")
    doc = """
    ## What it does
    Flags a `with torch.no_grad():`, `with torch.inference_mode():` or
    `with torch.set_grad_enabled(False):` block inside a differentiable context (forward, the
    methods it calls, `training_step`, a training loop) when a value computed from the weights
    inside the block reaches forward's return value or the loss; `@torch.no_grad()` and
    `@torch.inference_mode()` on a module's `forward` or `training_step` that uses weights (the
    same on a helper whose result a caller trains, such as a Lightning `_shared_step` running
    `self(x)`); and
    a bare `torch.set_grad_enabled(False)` call in training code, or anywhere (an evaluation
    helper, the top of a script) when nothing switches it back on before a later `.backward()`
    (the helper is called before, or in a loop with, code that backpropagates); and
    `with torch.set_grad_enabled(condition):` whose condition is the negation of the one
    guarding the `.backward()` (`mode != "train"` around a step that backpropagates under
    `if mode == "train":`).

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
    a linear probe whose only optimizer takes `model.head.parameters()`, also through a
    gathered list, `params = list(...); params += ...; Adam(params)`; a block that also runs a
    trainable head on the frozen part's output is still flagged), networks other than
    those the optimizers stepped after the backward are built from (a GAIL discriminator whose
    output is the policy's reward, a callback hook's module read by its own probe), library
    objects built on networks that a later call on the way to the loss also runs (advantages
    from the critic, then a PPO loss object on the same critic), blocks whose results are only stored as state, logged, or
    combined with a live value of the same graph (unless the block runs a weighted submodule
    that nothing else in the file runs, passes on or copies: an auxiliary head's loss computed
    under no_grad), blocks computing from inputs or buffers
    only, a forward that returns from inside its own no_grad block (an inference-only module:
    misuse raises, pt22) unless the file backpropagates what a call of it returns or the
    weights run there are built fresh by the class (never loaded, frozen or put in eval mode in
    the class or on an instance of it in the file: nothing could ever train them), modules with a
    hand-written backward pass (reversible layers: a method named for a backward pass that
    takes the incoming gradient, `y.backward(dy)`; a `backward(self, loss)` that only calls
    `loss.backward()` is no such pass), and
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
        src = model.sources.walk
        for node, fn in model.withs:
            switched = _switched_off_where_trained(model, node, fn)
            if switched is None and not is_no_grad_with(model, node):
                continue
            where = site(model, node)
            if where is None or self._custom_backward(model, fn):
                continue
            if self._block_reaches(model, node, src, where):
                item = switched or next(i for i in node.items if _is_no_grad_item(model, i.item))
                yield Report(item.item)
        for fn in model.functions:
            if fn.is_method and fn.cls.is_torch and fn.name in ("forward", "__call__", "training_step") and has_no_grad_decorator(model, fn):
                if fn.name == "training_step" or (self._uses_weights(model, fn, src) and not self._inference_only(model, fn)):
                    deco = next(d for d in fn.node.decorators if _is_no_grad_item(model, d.decorator))
                    yield Report(deco.decorator)
        for fn in model.functions:
            if fn.is_method and fn.name in ("forward", "__call__", "training_step"):
                continue  # the loop above
            if has_no_grad_decorator(model, fn) and self._helper_result_trained(model, fn, src):
                deco = next(d for d in fn.node.decorators if _is_no_grad_item(model, d.decorator))
                yield Report(deco.decorator)
        for call, fn in model.calls:
            if last_name(call.func) == "set_grad_enabled" and model.callee(call) in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False":
                parent = model.parent(call)
                if not isinstance(parent, cst.Expr):
                    continue
                if site(model, call) == "context":
                    yield Report(call)
                elif _left_off_before_backward(model, call, fn):
                    yield Report(call, "`set_grad_enabled(False)` is still off at a later `.backward()`: the forward records no graph")

    @staticmethod
    def _helper_result_trained(model: FileModel, fn: FunctionInfo, src) -> bool:
        """`@torch.no_grad()` on a helper that computes with weights, and a call of it whose
        result reaches a backpropagated loss or a forward's output (not as a target)."""
        if not any(isinstance(r, cst.Return) and r.value is not None and src.is_live(r.value) for r in fn.returns):
            return False
        for call, owner in model.objects.callers_of(fn):
            where = site(model, call)
            if where is None:
                continue
            trace = reach(model, call, where)
            if trace is not None and not intent.intentional_cut(model, call, call, trace):
                return True
        return False

    def _block_reaches(self, model: FileModel, with_node: cst.With, src, where) -> bool:
        for value in _block_values(model, with_node):
            if not src.is_live(value) or _torch_sample(model, value):
                continue
            if isinstance(model.parent(value), cst.Return) and self._own_root_return(model, value):
                # forward returns from inside the block: the whole output is computed without
                # a graph, an inference-only forward (backward would raise, pt22), not a
                # silent partial cut; unless this file backpropagates what it returns
                fn = model.enclosing_function(value)
                if not _output_backpropagated(model, fn) and not _builds_weights_it_cuts(model, src, fn, value, with_node):
                    continue
                return True
            trace = reach(model, value, where)
            if trace is None:
                continue
            reason = intent.intentional_cut(model, value, value, trace, block=with_node)
            if reason and not (reason.startswith("combined with a live value") and _only_used_here(model, src, with_node)) \
                    and not (reason == "one side of a loss" and _trained_only_here(model, src, with_node)):
                continue
            if self._fed_back(model, src, value, trace) or intent.trains_through_later_holder(model, with_node, value, trace):
                continue
            return True
        return False

    @staticmethod
    def _fed_back(model: FileModel, src, value: cst.CSTNode, trace) -> bool:
        """Self-conditioning and recycling: the no_grad result is an input of a later call of
        the same network on the way to the output (`cond = net(x)` under no_grad, then
        `net(x, cond)`). Every weight used in the block trains through that call, so only
        the extra path through the first pass is cut, on purpose."""
        used = src.weight_roots(value)
        if not used:
            return False
        first = _self_call(value)
        for node in trace.path[1:]:
            if type(node) is not cst.Call:
                continue
            if used <= _network_of(model, src, node):
                return True
            # the same method of the class run again, this time with gradients
            if first is not None and type(node.func) is cst.Attribute and first == _self_call(node):
                return True
        return False

    @staticmethod
    def _custom_backward(model: FileModel, fn: Optional[FunctionInfo]) -> bool:
        """A module that writes its own backward pass (Reformer's reversible layers run forward
        under no_grad and recompute in `backward_pass`)."""
        root = root_function(fn)
        cls = root.cls if root is not None else None
        return cls is not None and any(hand_written_backward(model, m) for m in cls.methods.values())

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


def _torch_sample(model: FileModel, value: cst.CSTNode) -> bool:
    """`d.sample()` of a torch or Pyro distribution: it carries no gradient with or without
    no_grad (pt09), so the block cuts nothing (a teacher's samples as targets of `log_prob`)."""
    if not (type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value in ("sample", "sample_n")):
        return False
    found = dists.distribution_of(model, value.func.value, model.enclosing_function(value))
    return found is not None and found.library in ("torch", "pyro")


def _network_of(model: FileModel, src, call: cst.Call) -> frozenset:
    """The weight root of a call of the class's own network, `self.net(...)`, else empty."""
    func = call.func
    if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        fn = model.enclosing_function(call)
        cls = fn.cls if fn is not None else None
        if src.attr_kind(cls, func.attr.value) in ("module", "param"):
            return frozenset({f"weight:self.{func.attr.value}"})
    return frozenset()


def _self_call(expr: cst.BaseExpression) -> Optional[str]:
    """`m` for `self.m(...)`, also under attribute reads and `.detach()`-like method calls
    (`self.m(x).pred`, `self.m(x).detach()`)."""
    while True:
        if type(expr) is cst.Attribute:
            expr = expr.value
        elif type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            func = expr.func
            if type(func.value) is cst.Name and func.value.value == "self":
                return func.attr.value
            expr = func.value
        else:
            return None


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


def _switched_off_where_trained(model: FileModel, with_node: cst.With, fn) -> Optional[cst.WithItem]:
    """`with torch.set_grad_enabled(mode != "train"):` in a function whose `.backward()` runs
    under `if mode == "train":`: the condition is false exactly where the loss is
    backpropagated (the item, or None)."""
    for item in with_node.items:
        call = item.item
        if not (isinstance(call, cst.Call) and call.args and model.callee(call) in (
                "torch.set_grad_enabled", "torch.autograd.set_grad_enabled")):
            continue
        cond = call.args[0].value
        if isinstance(cond, cst.Name) and cond.value in ("True", "False"):
            continue
        calls = fn.calls if fn is not None else [c for c, o in model.calls if o is None]
        for other in calls:
            if last_name(other.func) != "backward":
                continue
            for anc in model.ancestors(other):
                if isinstance(anc, cst.If) and not _in_orelse(model, anc, other) and _negates(model, anc.test, cond):
                    return item
    return None


def _in_orelse(model: FileModel, if_node: cst.If, node: cst.CSTNode) -> bool:
    return if_node.orelse is not None and any(a is if_node.orelse for a in model.ancestors(node))


def _negates(model: FileModel, test: cst.BaseExpression, cond: cst.BaseExpression) -> bool:
    """`test` is the negation of `cond`: `not x` / `x`, or `a == b` / `a != b`."""
    code = model.module.code_for_node

    def negated(expr) -> Optional[str]:
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            return code(expr.expression).strip()
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
            op = expr.comparisons[0].operator
            flipped = {cst.Equal: "!=", cst.NotEqual: "==", cst.Is: "is not", cst.IsNot: "is"}.get(type(op))
            if flipped is not None:
                return f"{code(expr.left).strip()} {flipped} {code(expr.comparisons[0].comparator).strip()}"
        return None

    def normal(expr) -> str:
        return " ".join(code(expr).split())

    return negated(cond) == normal(test) or negated(test) == normal(cond)


_GRAD_MODE = ("set_grad_enabled", "enable_grad", "no_grad", "inference_mode")


def _scope_calls(model: FileModel, fn: Optional[FunctionInfo]) -> list:
    """The calls made directly in `fn` (the module's own code when None), in source order."""
    return list(fn.calls) if fn is not None else [c for c, f in model.calls if f is None]


def _switches_mode(calls) -> bool:
    return any(last_name(c.func) in _GRAD_MODE for c in calls)


def _local_function(model: FileModel, call: cst.Call, caller: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    """The function of this file a call runs: `name(...)` of a module-level function, or
    `self.name(...)` of a method of the caller's class."""
    func = call.func
    for f in model.functions:
        if isinstance(func, cst.Name) and f.parent is None and f.cls is None and f.name == func.value:
            return f
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"
                and caller is not None and caller.cls is not None and f.cls is caller.cls and f.name == func.attr.value):
            return f
    return None


def _backpropagates(model: FileModel, call: cst.Call, caller: Optional[FunctionInfo]) -> bool:
    """`x.backward()`, or a call of a function of this file that calls `.backward()` itself
    without switching the grad mode back on."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward":
        return True
    target = _local_function(model, call, caller)
    if target is None:
        return False
    own = target.calls
    return not _switches_mode(own) and any(
        isinstance(c.func, cst.Attribute) and c.func.attr.value == "backward" for c in own)


def _shares_loop(model: FileModel, a: cst.CSTNode, b: cst.CSTNode, scope: Optional[cst.CSTNode]) -> bool:
    loops = set()
    for anc in model.ancestors(a):
        if anc is scope:
            break
        if type(anc) in (cst.For, cst.While):
            loops.add(id(anc))
    for anc in model.ancestors(b):
        if anc is scope:
            break
        if id(anc) in loops:
            return True
    return False


def _runs_backward_after(model: FileModel, at: cst.Call, scope: Optional[FunctionInfo], exclude: cst.Call = None) -> bool:
    """A backward runs after `at` in `scope` (later in its code, or in a loop around both), and
    the scope never switches the grad mode itself (it could be turning gradients back on)."""
    calls = _scope_calls(model, scope)
    if _switches_mode([c for c in calls if c is not exclude]):
        return False
    if at not in calls:
        return False
    where = calls.index(at)
    node = scope.node if scope is not None else None
    return any(_backpropagates(model, c, scope) and (i > where or _shares_loop(model, at, c, node))
               for i, c in enumerate(calls) if c is not at)


def _left_off_before_backward(model: FileModel, call: cst.Call, fn: Optional[FunctionInfo]) -> bool:
    """A bare `torch.set_grad_enabled(False)` that nothing turns back on before a `.backward()`:
    grad mode is thread state, so it outlives the helper that set it (an evaluation function
    called between epochs) and every later forward records no graph."""
    if fn is None:
        return _runs_backward_after(model, call, None, exclude=call)
    if any(c is not call for c in fn.calls if last_name(c.func) in _GRAD_MODE):
        return False  # restored in the same function (or a context manager switching both ways)
    if any(type(n) is cst.Yield for n in descendants(fn.node.body)):
        return False  # a generator: whatever follows its yield is the caller's business
    for site_call, caller in model.calls:
        if site_call is not call and _local_function(model, site_call, caller) is fn:
            if _runs_backward_after(model, site_call, caller):
                return True
    return False


# Reads of a submodule that do not run it (`head.weight`, `head.bias`).
_PASSIVE = frozenset({"weight", "bias"})


def _only_used_here(model: FileModel, src, with_node: cst.With) -> bool:
    """The block runs a weighted submodule (`model.aux_head(h)`) that nothing else in the file
    runs, passes on or copies: "combined with a value of the same graph" cannot deliver its
    gradient, since the live side never goes through it."""
    return bool(_run_only_here(model, src, with_node))


def _trained_only_here(model: FileModel, src, with_node: cst.With) -> bool:
    """The block runs submodules that nothing else in the file runs, and the file's optimizers
    name each of them (`Adam(list(self.img_proj.parameters()) + list(self.txt_proj.parameters()))`):
    the user means to train them, and the block is the only place they could get a gradient.
    A look-alike target (a random RND target, an EMA copy) is left out of such optimizers."""
    inside = _run_only_here(model, src, with_node)
    named = src.named_optimized_attrs()
    return bool(inside) and named is not None and inside <= named


def _run_only_here(model: FileModel, src, with_node: cst.With) -> set:
    """The weighted submodules (`self.<attr>`) the block runs that nothing else in the file
    runs, passes on or copies."""
    weighted = _weighted_attributes(model, src)
    inside = set()
    for node in descendants(with_node.body):
        if type(node) is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value in weighted:
            inside.add(node.func.attr.value)
    if not inside:
        return inside
    block = set(map(id, descendants(with_node)))
    for node in model.nodes:
        if type(node) is not cst.Attribute or node.attr.value not in inside or id(node) in block:
            continue
        name = node.attr.value
        parent = model.parent(node)
        while type(parent) is cst.Subscript and parent.value is node:
            node, parent = parent, model.parent(parent)  # `net.head[0].weight`: a layer of it
        if type(parent) is cst.Attribute and parent.value is node and parent.attr.value in _PASSIVE:
            continue
        if type(parent) is cst.Attribute and parent.value is node and parent.attr.value == "parameters":
            call = model.parent(parent)
            if type(call) is cst.Call and intent.for_optimizer(model, call):
                continue  # handed to an optimizer: that does not run it
        if type(parent) is cst.AssignTarget or (type(parent) in (cst.AnnAssign, cst.AugAssign) and parent.target is node):
            continue
        inside.discard(name)  # run, passed on or copied elsewhere: it may train there
    return inside


def _weighted_attributes(model: FileModel, src) -> set:
    """`self.<attr>` names a torch class of this file assigns a weighted layer or parameter."""
    out = set()
    for cls in model.class_list:
        if cls.is_torch:
            for attr, _value, _node, _method in cls.self_assigns:
                if src.attr_kind(cls, attr) in ("module", "param"):
                    out.add(attr)
    return out


def _output_backpropagated(model: FileModel, fn: Optional[FunctionInfo]) -> bool:
    """A call of `fn` in this file (`self(x)`, `net(x)`, `self.forward(x)`) whose value is
    backpropagated: the module is trained through this output, so its no_grad is a cut."""
    if fn is None:
        return False
    for call, _caller in model.objects.callers_of(fn)[:8]:
        trace = model.flow.reaches_output(call, module_level=True)
        if trace is not None and trace.sink == "loss" and not intent.intentional_cut(model, call, call, trace):
            return True
    return False


# Calls in a class that give its weights values from elsewhere: a frozen or pretrained module.
_LOADS = frozenset({"load_state_dict", "from_pretrained", "load", "load_weights", "load_checkpoint", "requires_grad_", "eval"})


def _builds_weights_it_cuts(model: FileModel, src, fn: Optional[FunctionInfo], value, with_node: cst.With) -> bool:
    """A forward returning from inside its no_grad block a value of weights its own class
    builds fresh in `__init__` (`self.net = nn.Sequential(...)`, not a module handed in), in a
    class that never loads, freezes or evaluates them: those weights start random and the
    only way they are run records no graph, so nothing can ever train them. A module handed
    in (`self.model = model`), a pretrained or frozen one (loaded, frozen or put in eval mode in
    the class or on an instance of it in the file), or a forward that says it is for inference
    stays silent."""
    if fn is None or not fn.is_method or fn.cls is None or not fn.cls.is_torch or fn.name not in ("forward", "__call__"):
        return False
    if NoGradInForward._inference_only(model, fn) or intent.in_evaluation_branch(model, with_node):
        return False
    if intent.frozen_network(model, value, value):
        return False
    cls = fn.cls
    built = set()
    for c in model.class_chain(cls):
        for attr, assigned, _node, _method in c.self_assigns:
            if type(assigned) is cst.Call and src.attr_kind(cls, attr) in ("module", "param"):
                built.add(attr)
        for method in c.methods.values():
            for call in method.calls:
                if type(call.func) is cst.Attribute and call.func.attr.value in _LOADS:
                    return False
    for call, owner in model.calls:  # `scorer.load_state_dict(...)` on an instance, anywhere in the file
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in _LOADS and model.objects.instance_class(func.value, owner) is cls:
            return False
    for c in model.class_chain(cls):
        for attr, assigned, _node, _method in c.self_assigns:
            if attr in built and type(assigned) is not cst.Call and not (type(assigned) is cst.Name and assigned.value == "None"):
                built.discard(attr)  # also handed a module from outside somewhere
    roots = src.weight_roots(value)
    return any(r.startswith("weight:self.") and r[len("weight:self."):].split(".")[0] in built for r in roots)
