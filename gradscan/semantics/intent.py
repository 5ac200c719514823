"""Intent: where a value comes from, and the legitimate look-alikes of a graph cut.

Two questions every graph-cut rule (PyTorch `detach()`/`.data`/`no_grad`, TensorFlow
`tf.stop_gradient`, JAX `jax.lax.stop_gradient`) asks before it reports:

1. Does the cut value come from the weights? A cut of a function's raw input, of a buffer or of
   a configuration number cuts nothing that trains. The one gradient-flow walk answers it
   (`gradscan.semantics.sources`, `model.sources.walk`); the patterns below ask it.

2. Is the cut one of the intentional patterns? (`intentional_cut`) Every function here is
   framework-neutral: it takes the *cut* node (the `.detach()` call, the `stop_gradient(...)`
   call, the `.data` read, the value computed under `no_grad`) and its *receiver* (the
   expression being cut), plus optionally the flow `Trace` that carried the cut value to the
   output. The patterns, each seen in real, correct code:

   - straight-through and same-graph combinations: `x + (q - x).detach()`,
     `x / x.norm().detach()`, `loss(p, z.detach())` where `p` and `z` come from the same
     encoder (BYOL, SimSiam), `return out, feats.detach()`: the cut value is combined with a
     live value of the same graph, so the weights upstream of the cut still get gradients;
   - targets: the cut value is assigned to a name that says it is a target, label or teacher
     output (`target = r + gamma * q_next.detach()`), or is the other argument of a loss;
   - GAN discriminator steps: `D(fake.detach())`, `self.discriminator(x_fake.detach())`;
   - truncated BPTT and state repackaging: `hidden = hidden.detach()`;
   - teacher / EMA / momentum / target / frozen networks: the receiver comes from one;
   - evaluation-only code: `if not self.training:` branches, the `else` of `if self.training:`.

   Values that are only logged, cached or written to buffers are the flow's business
   (`flow.reaches_output` returns None for them).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, List, Optional, Set

import libcst as cst

from gradscan.frameworks import torch as torch_api
from gradscan.semantics.arguments import argument_for
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.sources import (
    OptimizerBindings, contains, is_self_name, listed_names, method_class, parameter_receivers,
)
from gradscan.semantics.walk import descendants

if TYPE_CHECKING:
    from gradscan.semantics.flow import Trace
    from gradscan.semantics.model import ClassInfo, FileModel, FunctionInfo


# A cut of a value from these networks, or a cut value stored under these names, is a target.
FROZEN_TOKENS = {
    "teacher", "ema", "momentum", "target", "targets", "tgt", "frozen", "shadow", "avg", "averaged",
    "old", "prev", "previous", "ref", "reference", "baseline", "swa", "polyak",
    # pretrained components that training code keeps frozen (a diffusion model's VAE and text
    # tokenizer, an audio model's codec)
    "pretrained", "codec", "dac", "encodec", "vae", "vocoder", "tokenizer", "extractor",
}
TARGET_TOKENS = FROZEN_TOKENS | {
    "label", "labels", "pseudo", "gt", "groundtruth", "truth", "returns", "advantage", "advantages",
    "bootstrap", "td",
}
DISCRIMINATOR_TOKENS = {"d", "disc", "discriminator", "critic", "netd", "dis", "adversary", "adv"}
LOSS_TOKENS = {
    "loss", "losses", "criterion", "crit", "distance", "dist", "divergence", "kl", "mse", "similarity",
    "sim", "cosine", "contrastive", "nce", "infonce", "triplet", "l1", "l2", "huber", "bce", "ce",
    "objective", "regression", "distill", "distillation",
}


# ---- the intentional patterns -----------------------------------------------------------

_COMPUTED = (cst.Call, cst.Subscript, cst.BinaryOperation)


def names_in(expr: cst.CSTNode) -> List[str]:
    """Every plain name and attribute name in an expression (`self.target_net(s)` ->
    self, target_net, s), without the methods called on computed values (`f(x).mean()`)."""
    out: List[str] = []

    def names(root: cst.CSTNode) -> None:
        for node in descendants(root, prune=(cst.Attribute,)):
            t = type(node)
            if t is cst.Name:
                out.append(node.value)
            elif t is cst.Attribute:
                names(node.value)
                if type(node.value) not in _COMPUTED:
                    out.append(node.attr.value)

    names(expr)
    return out


def _name_tokens(expr: cst.CSTNode, skip: Iterable[str] = ()) -> Set[str]:
    toks: Set[str] = set()
    for n in names_in(expr):
        if n not in skip:
            toks |= tokens(n)
    return toks


def in_evaluation_branch(model: "FileModel", cut: cst.CSTNode) -> bool:
    from gradscan.semantics.contexts import in_eval_branch

    return in_eval_branch(model, cut)


def co_operands(model: "FileModel", parent: cst.CSTNode, child: cst.CSTNode) -> List[cst.BaseExpression]:
    """The values `child`'s value is combined with at `parent` (the other side of an
    operator, the other arguments of a call, the other elements of a container)."""
    if isinstance(parent, cst.BinaryOperation):
        if contains(model, parent.left, child):
            return [parent.right]
        return [parent.left]
    if isinstance(parent, cst.Call):
        if isinstance(parent.func, cst.Name) and parent.func.value == "map" and parent.args and contains(model, parent.args[0].value, child):
            return []  # `map(lambda t: t.detach(), xs)`: `xs` are the lambda's inputs, not a partner
        out = []
        func = parent.func
        receiver = func.value if isinstance(func, cst.Attribute) else None
        from_receiver = receiver is not None and contains(model, receiver, child)
        if from_receiver and func.attr.value in torch_api.CONFIGURATION_METHODS:
            return []  # `t.to(device)`, `t.view(-1, 1)`: a device or a shape, not a partner
        for a in parent.args:
            if not contains(model, a.value, child):
                out.append(a.value)
        if receiver is not None and not from_receiver and not is_self_name(model, receiver) and not model.sources.walk.is_module_object(receiver):
            if model.resolve(receiver) is None:
                out.append(receiver)
        return out
    if isinstance(parent, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in parent.elements if not contains(model, e.value, child)]
    if isinstance(parent, cst.Dict):
        return [e.value for e in parent.elements if not contains(model, e.value, child)]
    return []


def trace_steps(model: "FileModel", path: Iterable[cst.CSTNode]):
    """(child, parent) pairs of a trace path where the parent encloses the child."""
    prev = None
    for node in path:
        if prev is not None and node is not prev and contains(model, node, prev):
            yield prev, node
        prev = node


def combined_with_same_graph(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"], exclude: Optional[cst.CSTNode] = None) -> bool:
    """Straight-through `x + (q - x).detach()`, normalisation `x / x.norm().detach()`, one
    side of a symmetric loss `D(p1, z2.detach())` with both sides from the same encoder, or an
    auxiliary output `return out, feats.detach()`: the cut value meets a value of the same
    graph, so the weights upstream of the cut still get their gradient through it."""
    src = model.sources.walk
    seen = 0
    path = trace.path if trace else _local_path(model, cut)
    for child, parent in trace_steps(model, path):
        if isinstance(parent, (cst.Tuple, cst.List, cst.Dict)):
            holder = model.parent(parent)
            if parent is not path[-1] and isinstance(holder, (cst.Return, cst.Assign)):
                continue  # `return z.detach(), norm` unpacked by the caller: not a combination
            if trace is not None and trace.sink == "loss" and isinstance(parent, cst.Dict) and isinstance(holder, cst.Return):
                continue  # Lightning's `{"loss": ..., "log": ...}`: the entry is the loss, the rest is logged
        returned = parent is path[-1] and isinstance(parent, (cst.Tuple, cst.List)) and isinstance(model.parent(parent), cst.Return)
        for other in co_operands(model, parent, child):
            seen += 1
            if isinstance(parent, cst.BinaryOperation) and _straight_through_pair(model, receiver, other):
                return True
            region = exclude or model.enclosing_statement(cut)
            if src.shares_graph(other, receiver, region) or src.shares_input(other, receiver, region):
                if not src.covers(other, receiver, region):
                    continue  # `mse(h, y) + aux_head(h).item()`: the other side misses `aux_head`
                if returned and _returned_element_unused(model, parent, other):
                    continue  # `return out(h.detach()), state` whose callers cut the state: no gradient through it
                return True
            if seen > 40:
                return False
    return False


def _straight_through_pair(model: "FileModel", receiver: cst.CSTNode, other: cst.CSTNode) -> bool:
    """`x + (q - x).detach()`: the value the cut difference is added to is its own subtrahend,
    so the sum's gradient goes to `x` whole (whether `x` is computed here or is an input)."""
    if not (isinstance(receiver, cst.BinaryOperation) and isinstance(receiver.operator, cst.Subtract)):
        return False
    code = model.module.code_for_node
    return code(receiver.right).strip() == code(other).strip()


def _returned_element_unused(model: "FileModel", returned: cst.CSTNode, element: cst.BaseExpression) -> bool:
    """A root returns a tuple and every caller in the file drops or cuts this element (`logits,
    state = model(x, state)` then `state = tuple(s.detach() for s in state)`): the element
    carries no gradient back. False when no caller is known (a library's module)."""
    position = next((i for i, e in enumerate(returned.elements) if e.value is element), None)
    if position is None or any(isinstance(e, cst.StarredElement) for e in returned.elements):
        return False
    fn = model.enclosing_function(returned)
    if fn is None:
        return False
    return model.flow.element_reaches(fn, position) is False


def _local_path(model: "FileModel", node: cst.CSTNode) -> List[cst.CSTNode]:
    path = [node]
    for anc in model.ancestors(node):
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            break
        path.append(anc)
    return path


def one_side_of_loss(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"],
                     block: Optional[cst.CSTNode] = None) -> bool:
    """`loss_fn(pred, target.detach())`, `F.mse_loss(q, td_target)`, `(p - z.detach()) ** 2`:
    the cut value is compared with a live prediction; the prediction carries the gradient.
    A "prediction" computed in the same cutting `block` (a student's logits slipped into the
    teacher's `no_grad`) carries none: it is not the live side."""
    src = model.sources.walk
    path = trace.path if trace else _local_path(model, cut)

    def live(o: cst.CSTNode) -> bool:
        return src.is_live(o) and not (block is not None and _assigned_only_in(model, o, block)) \
            and not _assigned_without_grad(model, o)

    for child, parent in trace_steps(model, path):
        if isinstance(parent, cst.Call) and _lossy_call(model, parent):
            if any(live(o) for o in co_operands(model, parent, child)):
                return True
        if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Subtract):
            if any(live(o) for o in co_operands(model, parent, child)) and _measured(model, parent, path):
                return True
    return False


def _assigned_without_grad(model: "FileModel", value: cst.CSTNode) -> bool:
    """`value` is a name every binding of which that reaches it is made under no_grad
    (`with torch.no_grad(): td_target = r + gamma * target_net(s2).max(1)[0]`): no
    prediction, whatever it is computed from."""
    if type(value) is not cst.Name:
        return False
    from gradscan.semantics.contexts import in_no_grad_block
    from gradscan.semantics.definitions import Definitions

    defs, kind = model.get(Definitions).reaching(value)
    return kind == "local" and bool(defs) and all(in_no_grad_block(model, d.stmt) for d in defs)


def _assigned_only_in(model: "FileModel", value: cst.CSTNode, block: cst.CSTNode) -> bool:
    """`value` is a name every assignment of which, in its function, sits inside `block`."""
    if not isinstance(value, cst.Name):
        return False
    fn = model.enclosing_function(value)
    inside = False
    for node, owner in model.assignments:
        if owner is not fn or not isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            continue
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        if value.value not in (n for t in targets for n in names_in(t)):
            continue
        if not any(a is block for a in model.ancestors(node)):
            return False
        inside = True
    return inside


_DISTANCE_METHODS = {"pow", "abs", "norm", "square", "abs_", "pow_"}


def _lossy_call(model: "FileModel", call: cst.Call) -> bool:
    text = dotted(call.func) or ""
    name = model.callee(call) or ""
    last = (name or text).rsplit(".", 1)[-1]
    return bool(tokens(last) & LOSS_TOKENS) or "loss" in last.lower() or (
        name.startswith("torch.nn.functional.") and last in (
            "cosine_similarity", "kl_div", "pairwise_distance", "cross_entropy", "nll_loss",
            "binary_cross_entropy_with_logits", "binary_cross_entropy", "mse_loss", "l1_loss",
            "smooth_l1_loss", "huber_loss",
        )
    )


def _measured(model: "FileModel", diff: cst.BinaryOperation, path: List[cst.CSTNode]) -> bool:
    """A difference that is then squared, taken the absolute value or norm of, passed to a
    loss, or stored under a loss name: `(p - z.detach()) ** 2`, `loss = q - target`."""
    seen = False
    for node in path:
        if node is diff:
            seen = True
            continue
        if not seen:
            continue
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Power):
            return True
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _DISTANCE_METHODS:
                return True
            last = (model.callee(node) or dotted(func) or "").rsplit(".", 1)[-1]
            if last in _DISTANCE_METHODS or _lossy_call(model, node):
                return True
        parent = model.parent(node)
        if isinstance(parent, (cst.Assign, cst.AugAssign)) and parent.value is node:
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            if any(tokens(n) & LOSS_TOKENS for t in targets for n in names_in(t)):
                return True
    return False


def target_value(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """`target = r + gamma * q_next.detach()`, `labels = logits.argmax(-1).detach()`: the cut
    value is stored under a name that says it is a target, label or teacher output, and what
    is backpropagated still carries a gradient without it (the prediction it is compared
    with). A name alone proves nothing: `targets = model(x).detach()` compared with data
    leaves the loss with no gradient at all."""
    if not _live_without(model, cut, trace):
        return False
    path = trace.path if trace else _local_path(model, cut)
    for node in path[:60]:
        parent = model.parent(node)
        if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and parent.value is node:
            # only where the cut value is first stored: later names (`q, k, v = ...`,
            # `loss = ...`) describe what it became
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            for tgt in targets:
                text = dotted(tgt) if not isinstance(tgt, (cst.Tuple, cst.List)) else None
                names = [text.rsplit(".", 1)[-1]] if text else names_in(tgt)
                if any(tokens(n) & TARGET_TOKENS for n in names):
                    return True
            return False
        if isinstance(parent, cst.Arg) and parent.keyword is not None and tokens(parent.keyword.value) & TARGET_TOKENS:
            return True
    return False


# Calls whose value is a log-probability: the factor a policy-gradient loss differentiates.
_LOG_PROB_CALLS = {"log_prob", "log_softmax", "logsigmoid", "log_sigmoid", "log_probs"}


def policy_gradient_weight(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """`-(logp * advantage.detach()).mean()`, `ratio * (ret - v).detach()`: on its way to the
    loss the cut value multiplies a log-probability (`log_softmax`, `dist.log_prob(a)`, or
    an `exp` of their difference), which carries the gradient. A policy-gradient weight (an
    advantage, a return, a baseline-corrected reward) must not be differentiated, whatever
    it is called; the loss still derives from the weights through the log-probability."""
    if trace is None or not _live_without(model, cut, trace):
        return False
    fn = model.enclosing_function(cut)
    for child, parent in trace_steps(model, trace.path[:60]):
        if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Multiply):
            other = parent.right if contains(model, parent.left, child) else parent.left
            if _is_log_prob(model, other, fn, 0):
                return True
    return False


def _is_log_prob(model: "FileModel", expr: cst.CSTNode, fn, depth: int) -> bool:
    """`expr` is computed from a log-probability call (through gathers, sums, local names)."""
    if depth > 4:
        return False
    for node in descendants(expr):
        if isinstance(node, cst.Call):
            name = node.func.attr.value if isinstance(node.func, cst.Attribute) else (
                node.func.value if isinstance(node.func, cst.Name) else None)
            if name in _LOG_PROB_CALLS:
                return True
        elif isinstance(node, cst.Name) and fn is not None:
            parent = model.parent(node)
            if isinstance(parent, cst.Attribute) and parent.attr is node:
                continue
            value = model.single_value(fn, node.value)
            if value is not None and value is not expr and _is_log_prob(model, value, fn, depth + 1):
                return True
    return False


def _live_without(model: "FileModel", cut: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """What the reached backward differentiates derives from weights other than through the
    cut (True when that cannot be told: the backward is in another function, or unknown)."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return True
    sink = trace.path[-1]
    if not isinstance(sink, cst.Call) or model.enclosing_function(sink) is not model.enclosing_function(cut):
        return True
    func = sink.func
    if isinstance(func, cst.Attribute) and func.attr.value == "backward" and not sink.args:
        loss = func.value
    elif sink.args:
        loss = sink.args[0].value
    else:
        return True
    stmt = model.enclosing_statement(cut)
    return any(r.startswith("weight:") for r in model.sources.walk.roots_with_grad(loss, stmt))


def discriminator_step(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """`D(fake.detach())`, `self.discriminator(x_fake.detach())`, `netD(fake.detach())`, or a
    helper given the discriminator (`gradient_penalty(critic, real, fake)`): the
    discriminator's step must not update the generator.

    Behaviour before names: when the loss's training function steps optimizers that can be
    resolved, and one of them trains the class whose weights the cut value came from, this
    is that network's own step (a generator step), whatever the other argument is called."""
    trains_cut = _steps_cut_class(model, cut, trace) if trace is not None else None
    if trains_cut is not None:
        return not trains_cut
    if _stepped_with_cut_network(model, cut, receiver, trace):
        return False  # the optimizer stepped after this backward trains the cut network: its own step
    if _steps_only_other_submodules(model, cut, receiver, trace):
        return True  # `D(fake.detach())` in a class holding both networks, `d_opt.step()` after it
    for child, parent in trace_steps(model, trace.path if trace else _local_path(model, cut)):
        if isinstance(parent, cst.Call) and not contains(model, parent.func, child):
            if _names_a_discriminator((dotted(parent.func) or "").rsplit(".", 1)[-1]):
                return True
            for arg in parent.args:
                text = dotted(arg.value) if isinstance(arg.value, (cst.Name, cst.Attribute)) else None
                if text and _passes_a_discriminator(text.rsplit(".", 1)[-1]):
                    return True
    return False


def _steps_cut_class(model: "FileModel", cut: cst.CSTNode, trace: "Trace") -> Optional[bool]:
    """When the cut sits in a method of a class of this file and the trace ends in a backward
    whose function steps optimizers that all resolve to classes of this file: whether one of
    them trains the cut's class (its own step) or not (another network's step). Else None."""
    if trace.sink != "loss" or not trace.path:
        return None
    cls = _cut_class(model, cut)
    if cls is None:
        return None
    backward = trace.path[-1]
    trainer = model.enclosing_function(backward)
    trained = model.objects.trained_classes(trainer, after=backward if isinstance(backward, cst.Call) else None)
    if not trained:
        return None
    return any(c is cls for c in trained)


def _cut_class(model: "FileModel", cut: cst.CSTNode) -> Optional["ClassInfo"]:
    """The class of this file whose weights the cut value comes from: the class of the method
    the cut sits in, else the class of the object whose call computed the receiver in a
    training function or script (`fake = gen(z)` with `gen = Generator()`, then `fake.detach()`)."""
    fn = model.enclosing_function(cut)
    top = fn
    while top is not None and top.parent is not None:
        top = top.parent
    if top is not None and top.cls is not None:
        return top.cls
    expr = cut.func.value if isinstance(cut, cst.Call) and isinstance(cut.func, cst.Attribute) else None
    scope = fn
    for _ in range(4):
        if not isinstance(expr, cst.Name):
            break
        found = model.objects.value_of(expr, scope)
        if found is None:
            return None
        expr, scope = found
    if isinstance(expr, cst.Call):
        return model.objects.instance_class(expr.func, scope)
    return None


def _passes_a_discriminator(name: str) -> bool:
    """An argument that is the discriminator itself: `critic`, `disc`, `netD`, `D`, `D_A`;
    stricter than a callee's name (`rel_2d_pos` has a `d` token, `adv` is an advantage)."""
    if tokens(name) & {"disc", "discriminator", "critic", "netd", "adversary"}:
        return True
    return re.fullmatch(r"(net)?D(_[A-Z][A-Za-z0-9]*|\d+)?", name) is not None


_DIMENSION_SUFFIX = re.compile(r"(?<=[0-9])d(?![a-z])")


def _names_a_discriminator(name: str) -> bool:
    """`D`, `netD`, `D_A`, `D2`, `self.disc`, `critic`; not `d1`/`d2`, the numbered Dense
    layers of Keras examples, whose only discriminator-like token is the lowercase `d`; nor
    the dimension suffix of `conv2d`, `max_pool2d`, `BatchNorm1d`."""
    found = tokens(_DIMENSION_SUFFIX.sub("", name)) & DISCRIMINATOR_TOKENS
    if found == {"d"} and re.fullmatch(r"d\d+", name):
        return False
    return bool(found)


STATE_NAMES = {
    "hidden", "hiddens", "hx", "cx", "h0", "c0", "h_0", "c_0", "hn", "cn", "h_n", "c_n", "hc",
    "state", "states", "memory", "memories", "mems", "mem", "carry", "rnn_state",
    "rnn_hidden", "lstm_state", "recurrent_state", "prev_state", "prev_hidden", "last_hidden",
}


def gradient_asked_for_other_inputs(model: "FileModel", trace: Optional["Trace"]) -> bool:
    """The value reaches `torch.autograd.grad(loss, inputs)` whose `inputs` are new leaves or
    data, not weights (`w = layer.weight.detach().clone().requires_grad_()`, an input image for
    a saliency map): only their gradient is computed, so what a cut removes was never asked for."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return False
    sink = trace.path[-1]
    if not isinstance(sink, cst.Call) or model.callee(sink) != "torch.autograd.grad":
        return False
    inputs = next((a.value for a in sink.args if a.keyword is not None and a.keyword.value == "inputs"), None)
    if inputs is None:
        positional = [a for a in sink.args if a.keyword is None]
        if len(positional) < 2 or any(a.star for a in positional[:2]):
            return False
        inputs = positional[1].value
    if any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value in ("parameters", "named_parameters")
           for n in descendants(inputs)):
        return False
    return not model.sources.walk.weight_roots(inputs) and not _names_weights(model, inputs)


def _names_weights(model: "FileModel", expr: cst.CSTNode) -> bool:
    """`self.w`, `model.fc.weight`, `[p for p in params]`: an input that may be a weight itself."""
    return any(isinstance(n, cst.Attribute) for n in descendants(expr)) or any(
        isinstance(n, cst.Name) and n.value in ("params", "parameters", "weights") for n in descendants(expr))


def truncated_bptt(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode) -> bool:
    """`hidden = hidden.detach()`, `h, c = h.detach(), c.detach()`, `mems = [m.detach() for m
    in mems]`: a recurrent state is cut between steps or batches on purpose. Recognised by a
    name cut and stored back into itself when it names a recurrent state (`hidden`, `hx`,
    `state`, `memory`, `mems`, `carry`), or when the cut value feeds the call that computes
    the same name again (`h = h.detach(); out, h = model(x, h)`)."""
    stmt = model.enclosing_statement(cut)
    recv_names = set(names_in(receiver)) - {"self"}
    for anc in model.ancestors(cut):
        # `state = tuple(s.detach() for s in state)`: the element cut stands for the iterable
        if anc is stmt:
            break
        if isinstance(anc, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            comp = anc.for_in
            while comp is not None:
                if recv_names & set(names_in(comp.target)):
                    recv_names |= set(names_in(comp.iter)) - {"self"}
                comp = comp.inner_for_in
    if isinstance(stmt, cst.Return):
        return _repackaged_by_callers(model, cut)
    if not isinstance(stmt, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
        return False
    targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
    names: Set[str] = set()
    for tgt in targets:
        if isinstance(tgt, cst.Attribute):
            names.add(tgt.attr.value)  # self.hidden = self.hidden.detach()
        names |= set(names_in(tgt)) - {"self"}
    for name in names & recv_names:
        if (name.lower() in STATE_NAMES and _carried_across_steps(model, stmt, name, targets)) \
                or _recomputed_from_itself(model, stmt, name):
            return True
    return False


def _carried_across_steps(model: "FileModel", stmt: cst.CSTNode, name: str, targets) -> bool:
    """The state outlives the step that computed it: stored on the object (`self.hidden`),
    passed in by the caller (a forward's `hidden` argument from the previous batch), or cut
    inside a loop over steps. A `hidden` computed and cut within one forward is just a cut."""
    if any(isinstance(t, cst.Attribute) for t in targets):
        return True
    fn = model.enclosing_function(stmt)
    if fn is not None and name in fn.params:
        return True
    for anc in model.ancestors(stmt):
        if isinstance(anc, (cst.For, cst.While)):
            return True
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            break
    return False


def _repackaged_by_callers(model: "FileModel", cut: cst.CSTNode) -> bool:
    """`def repackage_hidden(h): return h.detach()` called as `hidden = repackage_hidden(hidden)`:
    every caller stores the cut value back into the recurrent state it passed."""
    fn = model.enclosing_function(cut)
    callers = model.objects.callers_of(fn) if fn is not None else []
    if not callers:
        return False
    for call, _owner in callers:
        stmt = model.parent(call)
        if isinstance(stmt, cst.Call):  # `tuple(repackage_hidden(v) for v in h)`: recursion
            continue
        if not (isinstance(stmt, cst.Assign) and stmt.value is call and call.args):
            if model.enclosing_function(call) is fn:
                continue  # the helper's own recursion over a tuple of states
            return False
        passed = set(names_in(call.args[0].value))
        stored = {n for t in stmt.targets for n in names_in(t.target)}
        if not (passed & stored) or not any(
                n.lower() in STATE_NAMES or _recomputed_from_itself(model, stmt, n) for n in passed & stored):
            return False
    return True


def _recomputed_from_itself(model: "FileModel", stmt: cst.CSTNode, name: str) -> bool:
    """Inside the loop holding `stmt`, `name` is assigned from a call that takes `name`."""
    loop = None
    for anc in model.ancestors(stmt):
        if isinstance(anc, (cst.For, cst.While)):
            loop = anc
            break
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return False
    if loop is None:
        return False
    for node in descendants(loop.body):
        if type(node) is not cst.Assign or node is stmt or type(node.value) is not cst.Call:
            continue
        bound = set()
        for t in node.targets:
            bound |= set(names_in(t.target))
        if name in bound and name in names_in(node.value):
            return True
    return False


def frozen_network(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"] = None) -> bool:
    """The receiver comes from a teacher, EMA, momentum, target or frozen network
    (`self.target_net(s2).detach()`, `self.teacher(x).detach()`, `ema_model(x)`): frozen in
    the file, left out of its optimizers, or named so, unless the optimizer stepped after the
    reached backward is built from that very network (a `teacher` trained by this loss is
    not frozen, whatever it is called)."""
    src = model.sources.walk
    frozen = src.frozen_names()
    named = False
    fresh: Set[str] = set()
    data = _data_parameters(model, receiver)
    # frozen or left out of the optimizers decides only when it holds for every weight the
    # value comes from: a trainable head run on a frozen encoder's output is still cut
    weights = untrained = 0
    for r in src.roots(receiver):
        if r.startswith("param:") and r[len("param:"):] in data:
            continue  # a loss's `target` argument that every caller fills with data: no network
        weights += r.startswith("weight:")
        name = r.split(":")[-1].split(".")[-1]
        attr = r[len("weight:self."):] if r.startswith("weight:self.") else r[len("self."):] if r.startswith("self.") else None
        evidence = _attr_evidence(model, cut, attr.split(".")[0]) if attr is not None else None
        if evidence == "managed" and r.startswith("weight:self."):
            untrained += 1  # copied, loaded, frozen or averaged by the file: its weights come from elsewhere
            continue
        plain = evidence == "fresh"
        if plain:
            fresh.add(name)
        if tokens(name) & FROZEN_TOKENS and not plain:
            named = True
        if r.startswith("weight:") and name in frozen:
            untrained += 1  # `self.encoder.requires_grad_(False)` somewhere in the file
            continue
        optimized = src.optimized_attrs()
        if r.startswith("weight:self.") and optimized is not None and name not in optimized:
            untrained += 1  # every optimizer is built from other submodules (`Adam(model.head.parameters())`)
            continue
        networks = src.optimized_networks()
        if (r.startswith("weight:module:") and networks is not None and name not in networks
                and _feeds_network(trace, networks)):
            untrained += 1  # an untrained network's output as input of a trained one (a WGAN critic step)
    if weights and untrained == weights:
        return True
    # what the class does with a submodule decides before its name: one it builds fresh and
    # never loads, copies, freezes or averages is an ordinary trainable layer (`self.target_proj
    # = nn.Linear(...)`), whatever it is called; the name is a hint only when nothing shows
    named = named or bool((_name_tokens(receiver, skip=data) - _tokens_of(fresh)) & FROZEN_TOKENS)
    return named and not _stepped_with_cut_network(model, cut, receiver, trace)


def _feeds_network(trace: Optional["Trace"], networks: Set[str]) -> bool:
    """On its way to the loss the value is an input of a call of one of `networks` (`critic(fake)`)."""
    return trace is not None and any(
        type(node) is cst.Call and type(node.func) is cst.Name and node.func.value in networks for node in trace.path)


# "target" names a target network and, as a loss's argument, the labels: the one hint a
# data-filled argument disproves (`prev_mem`, `old_logp` name earlier values, still hints).
_LABEL_TOKENS = {"target", "targets", "tgt"}


def _data_parameters(model: "FileModel", expr: cst.CSTNode) -> Set[str]:
    """The parameters of `expr`'s function named like labels (`target`) that `expr` derives
    from and that every caller in sight (at least one) fills with values carrying no weight."""
    fn = model.enclosing_function(expr)
    if fn is None or fn.context is None:
        return set()
    src = model.sources.walk
    params = {r[len("param:"):] for r in src.roots(expr) if r.startswith("param:")}
    params = {p for p in params if tokens(p) & FROZEN_TOKENS and tokens(p) & FROZEN_TOKENS <= _LABEL_TOKENS}
    if not params or not model.objects.callers_of(fn):
        return set()
    return {p for p in params if not src.caller_weights(fn, p)}


def _tokens_of(names: Set[str]) -> Set[str]:
    out: Set[str] = set()
    for n in names:
        out |= tokens(n)
    return out


# Calls on a network that give its weights values from elsewhere or keep them fixed.
_MANAGING_CALLS = {"load_state_dict", "requires_grad_", "copy_", "freeze"}


def _attr_evidence(model: "FileModel", cut: cst.CSTNode, attr: str) -> Optional[str]:
    """What the class of the method holding `cut` does with its submodule `self.<attr>`:
    "fresh" when every assignment builds a new weighted layer (a constructor) and nothing in
    the file loads it, copies into it, freezes it, switches its mode, or reads its
    `parameters()` outside an optimizer (an average), "managed" when one of those shows, None
    when the class is unknown or the submodule is handed in (its name is then the only hint)."""
    cls = method_class(model.enclosing_function(cut))
    if cls is None or not _builds_optimizer(model):
        # a library module trained elsewhere gets its weights from a checkpoint loaded outside
        # the file (a codec built in `__init__`): only a file that trains shows what is fresh
        return None
    values = [v for c in model.class_chain(cls) for a, v, _n, _m in c.self_assigns if a == attr]
    values = [v for v in values if not (type(v) is cst.Name and v.value == "None")]
    if not values:
        return None
    src = model.sources.walk
    unknown = False
    for v in values:
        if type(v) is cst.Call and model.callee(v) == "copy.deepcopy":
            return "managed"
    if not all(type(v) is cst.Call and src._value_kind(v) == "module" for v in values):
        return None
    read_outside = False
    differentiated = False
    for call, _fn in model.calls:
        func = call.func
        if type(func) is not cst.Attribute:
            continue
        text = dotted(func.value) or ""
        if text.rsplit(".", 1)[-1] != attr:
            continue
        method = func.attr.value
        if method in ("eval", "train"):
            unknown = True  # a mode switch says nothing about the weights: the name may still hint
            continue
        if method in _MANAGING_CALLS:
            if method == "requires_grad_" and not (call.args and _is_false(call.args[0].value)):
                continue
            return "managed"
        if method in ("parameters", "named_parameters") and not _inside_optimizer(model, call):
            if _differentiated_inputs(model, call):
                differentiated = True
            else:
                read_outside = True
    # a `parameters()` read outside an optimizer is an average (EMA), unless the file asks
    # `torch.autograd.grad` for the gradient of those very weights: then the reads are a
    # hand-written update of a network the file trains (MAML's fast weights)
    if read_outside and not differentiated:
        return "managed"
    return None if unknown else "fresh"


_AUTOGRAD_GRAD = ("torch.autograd.grad",)


def _differentiated_inputs(model: "FileModel", call: cst.Call) -> bool:
    """`call` (a `net.parameters()` read) is the `inputs` of `torch.autograd.grad(loss, inputs)`,
    directly or through a name bound to it in the same function (`fast = list(net.parameters())`
    then `torch.autograd.grad(loss, fast)`)."""
    def inputs_of(grad_call: cst.Call) -> Optional[cst.BaseExpression]:
        for i, a in enumerate(grad_call.args):
            if (a.keyword is not None and a.keyword.value == "inputs") or (a.keyword is None and not a.star and i == 1):
                return a.value
        return None

    bound: Optional[str] = None
    for anc in model.ancestors(call):
        if type(anc) is cst.Call and model.callee(anc) in _AUTOGRAD_GRAD:
            arg = inputs_of(anc)
            return arg is not None and contains(model, arg, call)
        if type(anc) is cst.Assign:
            if len(anc.targets) == 1 and type(anc.targets[0].target) is cst.Name:
                bound = anc.targets[0].target.value
            break
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            break
    if bound is None:
        return False
    fn = model.enclosing_function(call)
    for other, owner in model.calls:
        if owner is not fn or model.callee(other) not in _AUTOGRAD_GRAD:
            continue
        arg = inputs_of(other)
        if type(arg) is cst.Name and arg.value == bound:
            return True
    return False


def _builds_optimizer(model: "FileModel") -> bool:
    for call, _fn in model.calls:
        name = model.callee(call) or ""
        if name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler") and name.rsplit(".", 1)[-1][:1].isupper():
            return True
    return False


def _inside_optimizer(model: "FileModel", call: cst.Call) -> bool:
    """`Adam(net.parameters())`, or the parameters gathered in a name an optimizer of the same
    function takes (`params = list(a.parameters()); params += ...; Adam(params)`)."""
    for anc in model.ancestors(call):
        if type(anc) is cst.Call and (model.callee(anc) or "").startswith("torch.optim."):
            return True
        if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            name = _gathered_into(anc)
            return name is not None and _optimizer_takes(model, model.enclosing_function(call), name)
    return False


def for_optimizer(model: "FileModel", call: cst.Call) -> bool:
    """A `.parameters()` call an optimizer takes, directly or through a gathered name."""
    return _inside_optimizer(model, call)


def _gathered_into(stmt: cst.CSTNode) -> Optional[str]:
    """The plain name a statement builds: `params = ...`, `params += ...`, `params.extend(...)`."""
    if type(stmt) is cst.Assign and len(stmt.targets) == 1 and type(stmt.targets[0].target) is cst.Name:
        return stmt.targets[0].target.value
    if type(stmt) is cst.AugAssign and type(stmt.target) is cst.Name:
        return stmt.target.value
    value = stmt.value if type(stmt) is cst.Expr else None
    if type(value) is cst.Call and type(value.func) is cst.Attribute and type(value.func.value) is cst.Name \
            and value.func.attr.value in ("extend", "append"):
        return value.func.value.value
    return None


def _optimizer_takes(model: "FileModel", fn, name: str) -> bool:
    for other, owner in model.calls:
        callee = model.callee(other) or ""
        if owner is not fn or not callee.startswith("torch.optim.") or callee.startswith("torch.optim.lr_scheduler"):
            continue
        params = next((a.value for a in other.args if a.keyword is None or a.keyword.value == "params"), None)
        if type(params) is cst.Name and params.value == name:
            return True
    return False


def _stepped_with_cut_network(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """An optimizer stepped after the backward the cut value reaches is built from the
    parameters of the network the cut value comes from (the same name or the same
    construction): that loss trains it. False when anything is not resolved."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return False
    weights = model.sources.walk.weight_roots(receiver)
    if not weights:
        return False
    fn = model.enclosing_function(cut)
    backward = trace.path[-1]
    trainer = model.enclosing_function(backward)
    if (trainer is None) != (fn is None):
        return False
    names, ctors = set(), []
    for w in weights:
        if w.startswith("weight:module:"):
            name = w[len("weight:module:"):]
            names.add(name)
            ctors.extend(_bound_by_call(model, name, fn) or [])
        elif w.startswith("weight:self."):
            attr = w[len("weight:self."):].split(".")[0]
            stepped = stepped_self_attrs(model, trainer, backward)
            if stepped is not None:
                if attr in stepped:
                    return True
                continue  # the steps after this backward are resolved and train other submodules
            optimized = model.sources.walk.optimized_attrs()
            if optimized is not None and attr in optimized:
                return True
    if not names:
        return False
    for owners in _step_owners(model, trainer, backward):
        for owner, owner_ctors in (owners or []) if owners != [None] else []:
            if (type(owner) is cst.Name and owner.value in names) or any(c is d for c in owner_ctors for d in ctors):
                return True
    return False


def left_out_of_stepped_optimizers(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """Every network whose weights the cut value comes from is an object other than those the
    optimizers stepped after the reached backward are built from, so that loss never trains
    it and the gradient the cut removes is not used: a GAIL discriminator whose output becomes
    the reward of the policy's loss (it is trained by its own loss and optimizer), the frozen
    encoder a callback's probe reads (`Adam(self.probe.parameters())`).

    Networks are told apart by how they are made: a module handed in from outside the file
    (a parameter passed down unchanged from a function nothing in this file calls, such as a
    hook's `pl_module`), or a name bound once by a call; an optimizer's object is built by a
    call. Two objects are distinct when neither is built by passing the other (a wrapper
    holding the network) and they do not come from the same call."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return False
    weights = model.sources.walk.weight_roots(receiver)
    if not weights or not all(w.startswith("weight:module:") for w in weights):
        return False
    fn = model.enclosing_function(cut)
    cut_names: Set[str] = set()
    cut_ctors: List[cst.CSTNode] = []
    for w in weights:
        name = w[len("weight:module:"):]
        made = _bound_by_call(model, name, fn)
        if made is not None:
            if not _trained_or_frozen(model, name, made):
                return False  # a network nothing trains nor freezes: left out of the optimizer by mistake
            cut_names.add(name)
            cut_ctors.extend(made)
        elif not _outside_argument(model, fn, name, cut_names):
            return False
    backward = trace.path[-1]
    trainer = model.enclosing_function(backward)
    if (trainer is None) != (fn is None) or (fn is not None and _root_class(trainer) is not _root_class(fn)):
        return False  # (calls are followed by method name: the backward of another class's loop)
    stepped = _step_owners(model, trainer, backward)
    if not stepped:
        return False
    for owners in stepped:
        if owners == [None]:
            continue  # a learning-rate scheduler's step updates no weight
        if not owners:
            return False
        for owner, ctors in owners:
            if type(owner) is cst.Name and owner.value in cut_names:
                return False
            if any(c is d for c in ctors for d in cut_ctors):
                return False  # unpacked from the same call
            if any(_passes_object(model, c, cut_names) for c in ctors):
                return False  # the trained object holds the cut network
            held = {owner.value} if type(owner) is cst.Name else set()
            if held and any(_passes_object(model, c, held) for c in cut_ctors):
                return False  # the cut network wraps the trained one
    return True


def trains_through_later_holder(model: "FileModel", block: cst.CSTNode, value: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """Every network a `no_grad` block runs is a library object built from networks of this
    file (`adv = GAE(value_network=critic)`), and a later call on the way to the loss runs an
    object built from all of those networks too (`ppo = ClipPPOLoss(actor_network=actor,
    critic_network=critic)`, `ppo(batch)`): the networks train through that later call, so
    the block only computes a target from them (GAE advantages for a PPO loss).

    The networks an object holds are the names passed to its constructor whose
    `.parameters()` the file gives to an optimizer; an object made by a class or function of
    this file is not counted (its own layers would be cut)."""
    if trace is None or not trace.path:
        return False
    fn = model.enclosing_function(block)
    called = set()
    for node in descendants(block, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if type(node) is cst.Call and type(node.func) is cst.Name:
            called.add(node.func.value)
    weights = model.sources.walk.weight_roots(value)
    mine = {w[len("weight:module:"):] for w in weights if w.startswith("weight:module:")}
    mine &= called
    if not mine or any(w.startswith("weight:self.") for w in weights):
        return False
    needed: Set[str] = set()
    for name in mine:
        held = _held_networks(model, name, fn)
        if not held:
            return False
        needed |= held
    for node in trace.path[1:]:
        if type(node) is cst.Call and type(node.func) is cst.Name and node.func.value not in mine:
            held = _held_networks(model, node.func.value, model.enclosing_function(node))
            if held and needed <= held:
                return True
    return False


def _held_networks(model: "FileModel", name: str, scope) -> Optional[Set[str]]:
    """The optimized networks passed to the library constructor `name` is built by."""
    made = _bound_by_call(model, name, scope)
    if not made or len(made) != 1:
        return None
    ctor = made[0]
    func = ctor.func
    if type(func) is cst.Name and (func.value in model.classes or func.value in model.module_functions):
        return None
    if model.callee(ctor) is None:
        return None  # not a resolved library name
    optimized = _optimized_names(model)
    return {a.value.value for a in ctor.args if type(a.value) is cst.Name and a.value.value in optimized}


def _optimized_names(model: "FileModel") -> Set[str]:
    """Names whose `.parameters()` the file reads (what its optimizers are built from)."""
    return model.get(OptimizerBindings).optimized


def _steps_only_other_submodules(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """The cut value comes only from submodules of `self` (`fake = self.G(z)`) and every
    optimizer stepped after the backward it reaches resolves to other submodules of `self`
    (`d_opt.step()` with `Adam(self.D.parameters())`): that step never trains what the cut
    removes (a discriminator step in a class that holds both networks)."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return False
    weights = model.sources.walk.weight_roots(receiver)
    if not weights or not all(w.startswith("weight:self.") for w in weights):
        return False
    backward = trace.path[-1]
    trainer = model.enclosing_function(backward)
    if trainer is None or model.enclosing_function(cut) is None:
        return False
    stepped = stepped_self_attrs(model, trainer, backward)
    if not stepped:
        return False
    return not any(w[len("weight:self."):].split(".")[0] in stepped for w in weights)


def stepped_self_attrs(model: "FileModel", trainer: Optional["FunctionInfo"], backward: cst.CSTNode) -> Optional[Set[str]]:
    """The attributes of `self` whose parameters the optimizers stepped after `backward` are
    built from (`self.opt_d = Adam(self.D.parameters())`; Lightning's
    `g_opt, d_opt = self.optimizers()` read through what `configure_optimizers` returns, in
    order). None when there is no step or any stepped optimizer or its parameters is not
    resolved to `self.<attr>.parameters()`."""
    if trainer is None:
        return None
    steps = _steps_after(model, trainer, backward)
    if not steps:
        return None
    out: Set[str] = set()
    for step in steps:
        ctors = _optimizer_ctors(model, step.func.value, trainer)
        if ctors is None and step.args:
            ctors = _optimizer_ctors(model, step.args[0].value, trainer)  # `scaler.step(opt)`
        if not ctors:
            return None
        for ctor in ctors:
            params = next((a.value for a in ctor.args if a.keyword is None or a.keyword.value == "params"), None)
            receivers = parameter_receivers(params) if params is not None else None
            if not receivers or not all(type(r) is cst.Attribute and is_self_name(model, r.value) for r in receivers):
                return None
            out |= {r.attr.value for r in receivers}
    return out


def _is_torch_optimizer(model: "FileModel", call: cst.CSTNode) -> bool:
    name = model.callee(call) if type(call) is cst.Call else None
    return bool(name) and name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler") \
        and name.rsplit(".", 1)[-1][:1].isupper()


def _optimizer_ctors(model: "FileModel", expr: cst.BaseExpression, scope) -> Optional[List[cst.Call]]:
    """The torch.optim constructions the optimizer `expr` is: its binding
    (`opt = Adam(...)`, `self.opt = Adam(...)`) or, for a name unpacked from Lightning's
    `self.optimizers()`, the matching element of what `configure_optimizers` returns."""
    made = _bound_by_call(model, expr, scope)
    if made and all(_is_torch_optimizer(model, c) for c in made):
        return made
    configured = _configured_optimizer(model, expr, scope)
    return [configured] if configured is not None else None


def _configured_optimizer(model: "FileModel", expr: cst.BaseExpression, scope) -> Optional[cst.Call]:
    """`g_opt, d_opt = self.optimizers()` (or `opt = self.optimizers()`) in a method of a class
    whose `configure_optimizers` has one `return` of optimizers in order
    (`return opt_g, opt_d`, `return [opt_g, opt_d], [sched]`, a single optimizer): the
    construction of the optimizer `expr` names. None when anything is not resolved."""
    if type(expr) is not cst.Name or scope is None or len(scope.bindings.get(expr.value, ())) != 1:
        return None
    index, count = None, None
    for node, owner in model.assignments:
        if owner is not scope or type(node) is not cst.Assign or len(node.targets) != 1:
            continue
        value = node.value
        if not (type(value) is cst.Call and type(value.func) is cst.Attribute and value.func.attr.value == "optimizers"
                and is_self_name(model, value.func.value) and not any(a.keyword is None for a in value.args)):
            continue
        target = node.targets[0].target
        if type(target) is cst.Name and target.value == expr.value:
            index, count = 0, 1
        elif type(target) in (cst.Tuple, cst.List) and not any(type(e) is cst.StarredElement for e in target.elements):
            names = [e.value.value if type(e.value) is cst.Name else None for e in target.elements]
            if expr.value in names:
                index, count = names.index(expr.value), len(names)
    cls = method_class(scope)
    configure = model.find_method(cls, "configure_optimizers") if index is not None and cls is not None else None
    if configure is None:
        return None
    returns = [n for n in descendants(configure.node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda))
               if type(n) is cst.Return and n.value is not None]
    if len(returns) != 1:
        return None
    value = returns[0].value
    if type(value) in (cst.Tuple, cst.List) and len(value.elements) == 2 and all(
            type(e.value) in (cst.Tuple, cst.List) for e in value.elements):
        value = value.elements[0].value  # `return [opt_g, opt_d], [sched_g, sched_d]`
    if type(value) in (cst.Tuple, cst.List):
        elements = [e.value for e in value.elements]
        if len(elements) != count or any(type(e) is cst.StarredElement for e in value.elements):
            return None
        value = elements[index]
    elif count != 1:
        return None
    if type(value) is cst.Name:
        made = _bound_by_call(model, value, configure)
        value = made[0] if made and len(made) == 1 else None
    return value if value is not None and _is_torch_optimizer(model, value) else None


def _step_owners(model: "FileModel", trainer: Optional["FunctionInfo"], backward: cst.CSTNode) -> List:
    """For each `.step()` after `backward` (`_steps_after`), its optimizer's owners
    (`_optimizer_owners`: None unresolved, [None] a scheduler); `scaler.step(opt)` steps its
    argument."""
    return [_optimizer_owners(model, step.args[0].value if step.args else step.func.value, trainer, 3)
            for step in _steps_after(model, trainer, backward)]


def _steps_after(model: "FileModel", trainer: Optional["FunctionInfo"], backward: cst.CSTNode) -> List[cst.Call]:
    """The `.step()` calls that follow `backward` in `trainer` (None: the module's script)
    before the next backward: in the innermost loop around it, wrapping round to the loop's start."""
    top = trainer.node if trainer is not None else model.module
    region = whole = top.body if trainer is not None else top
    for anc in model.ancestors(backward):
        if anc is top:
            break
        if type(anc) in (cst.For, cst.While):
            region = anc.body
            break
    order = [n for n in descendants(region, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda))
             if type(n) is cst.Call and type(n.func) is cst.Attribute and n.func.attr.value in ("step", "backward", "manual_backward")]
    if not any(n is backward for n in order):
        return []
    i = next(k for k, n in enumerate(order) if n is backward)
    wrap = region is not whole
    seq = order[i + 1:] + (order[:i] if wrap else [])
    out = []
    for n in seq:
        if n.func.attr.value != "step":
            break
        out.append(n)
    return out


def _optimizer_owners(model: "FileModel", expr: cst.BaseExpression, scope, depth: int):
    """[(owner, its construction calls)] for the objects whose `.parameters()` the optimizer
    `expr` is built from (`Adam(self.probe.parameters())`), through a call that only combines
    optimizers (`group_optimizers(actor_optim, critic_optim)`: it can step nothing else);
    None when anything is not resolved."""
    if depth <= 0:
        return None
    made = _bound_by_call(model, expr, scope)
    if not made:
        return None
    out = []
    if len(made) == 1 and (model.callee(made[0]) or "").startswith("torch.optim.lr_scheduler."):
        return [None]
    for ctor in made:
        name = model.callee(ctor) or ""
        if name.startswith("torch.optim.") and not name.startswith("torch.optim.lr_scheduler"):
            params = next((a.value for a in ctor.args if a.keyword is None or a.keyword.value == "params"), None)
            receivers = parameter_receivers(params) if params is not None else None
            if not receivers and params is not None:
                # `Adam([log_alpha])`: raw leaves made trainable where they are created are
                # their own owners (a SAC temperature trained beside the policy)
                leaves = listed_names(params)
                if leaves and leaves <= model.get(OptimizerBindings).leaves and isinstance(params, (cst.List, cst.Tuple)) \
                        and all(isinstance(e.value, cst.Name) for e in params.elements):
                    receivers = [e.value for e in params.elements]
            if not receivers:
                return None
            for owner in receivers:
                owner_made = _bound_by_call(model, owner, model.enclosing_function(ctor))
                if not owner_made:
                    return None
                out.append((owner, owner_made))
        elif ctor.args and all(a.keyword is None and type(a.value) is cst.Name for a in ctor.args):
            for a in ctor.args:
                inner = _optimizer_owners(model, a.value, scope, depth - 1)
                if not inner or inner == [None]:
                    return None
                out.extend(inner)
        else:
            return None
    return out


def _bound_by_call(model: "FileModel", expr, scope) -> Optional[List[cst.Call]]:
    """The calls `expr` is built by: every assignment of `self.<attr>` in its class but
    `None`, or the one binding of a name in the nearest scope that binds it (plain, or
    unpacked from one call: `actor, critic = make_models()`). None when any binding is not a
    call, the name is a parameter its callers bind otherwise, or it is not bound."""
    if type(expr) is str:
        expr = cst.Name(expr)
    if type(expr) is cst.Attribute and type(expr.value) is cst.Name and expr.value.value == "self":
        cls = _root_class(scope)
        if cls is None:
            return None
        values = [v for c in model.class_chain(cls) for a, v, _node, _m in c.self_assigns if a == expr.attr.value]
        values = [v for v in values if not (type(v) is cst.Name and v.value == "None")]
        return values if values and all(type(v) is cst.Call for v in values) else None
    if type(expr) is not cst.Name:
        return None
    name = expr.value
    while True:
        if scope is not None and name in scope.params:
            # a helper's parameter: what every caller in this file passes, when that is one call
            passed = model.objects.value_of(expr, scope)
            return [passed[0]] if passed is not None and type(passed[0]) is cst.Call else None
        found = model.get(OptimizerBindings).by_scope.get((id(scope), name), [])
        if scope is not None and name in scope.bindings and (not found or len(scope.bindings[name]) != 1):
            return None  # bound here otherwise too (a loop variable, `with ... as`, an import)
        if found:
            if len(found) != 1 or type(found[0]) is not cst.Assign or len(found[0].targets) != 1:
                return None
            value = found[0].value
            return [value] if type(value) is cst.Call else None
        if scope is None:
            return None
        scope = scope.parent


def _trained_or_frozen(model: "FileModel", name: str, made: List[cst.CSTNode]) -> bool:
    """The network built by `made` (read as `name` at the cut), or one it wraps, is handed to
    an optimizer of this file, or put in eval mode or frozen: its weights are either trained by their own
    loss or meant to stay as they are, so the cut removes a gradient nobody uses."""
    names = {name}
    for ctor in made:
        assign = model.parent(ctor)
        if type(assign) is cst.Assign:
            names.update(t.target.value for t in assign.targets if type(t.target) is cst.Name)
        if type(ctor) is cst.Call:  # a wrapper (`TensorDictModule(scorer, ...)`) trains what it holds
            names.update(a.value.value for a in ctor.args if type(a.value) is cst.Name)
    for call, _fn in model.calls:
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in ("eval", "requires_grad_") \
                and (dotted(func.value) or "").split(".")[0] in names:
            if func.attr.value == "eval" or (call.args and _is_false(call.args[0].value)):
                return True
        callee = model.callee(call) or ""
        if callee.startswith("torch.optim.") and not callee.startswith("torch.optim.lr_scheduler") \
                and _passes_object(model, call, names):
            return True
    return False


def _is_false(expr: cst.BaseExpression) -> bool:
    return type(expr) is cst.Name and expr.value == "False"


def _outside_argument(model: "FileModel", fn: Optional["FunctionInfo"], name: str, names: Set[str], depth: int = 4) -> bool:
    """`name` is a parameter of `fn`, and every call of `fn` in this file passes it a
    parameter of its own caller with the same property, down to a function nothing in this
    file calls. Collects the parameter names met on the way into `names`."""
    if fn is None or depth <= 0 or name not in fn.params or fn.params[:1] == [name]:
        return False
    names.add(name)
    for call, owner in model.objects.callers_of(fn):
        arg = argument_for(fn, call, name)
        if type(arg) is not cst.Name or not _outside_argument(model, owner, arg.value, names, depth - 1):
            return False
    return True


def _root_class(fn: Optional["FunctionInfo"]):
    while fn is not None and fn.parent is not None:
        fn = fn.parent
    return fn.cls if fn is not None else None


def _passes_object(model: "FileModel", expr: cst.CSTNode, names: Set[str]) -> bool:
    """`expr` mentions one of `names` as an object (`Wrapper(encoder)`, `encoder.parameters()`),
    not only its device or dtype (`.to(encoder.device)`)."""
    for node in descendants(expr):
        if type(node) is cst.Name and node.value in names:
            parent = model.parent(node)
            if not (type(parent) is cst.Attribute and parent.value is node and parent.attr.value in ("device", "dtype")):
                return True
    return False


SWITCH_TOKENS = {"stop", "detach", "detached", "freeze", "frozen", "fix", "fixed", "grad", "gradient", "gradients", "sg", "trainable", "finetune", "tune"}


def optional_cut(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode) -> bool:
    """`if self.stop_gradient: hs.append(h.detach()) else: hs.append(h)`,
    `x.detach() if cfg.detach_input else x`: the cut is a configured choice, the other branch
    does the same without it."""
    child = cut
    for anc in model.ancestors(cut):
        if isinstance(anc, (cst.If, cst.IfExp)):
            if _tokens_of_names(anc.test) & SWITCH_TOKENS:
                return True
            if isinstance(anc, cst.IfExp):
                branch, other = (anc.body, anc.orelse) if child is anc.body else (anc.orelse, anc.body)
            else:
                if child is anc.test:
                    child = anc
                    continue
                if child is anc.body:
                    other = anc.orelse.body if isinstance(anc.orelse, cst.Else) else None
                    branch = child
                else:
                    other = anc.body
                    branch = child.body if isinstance(child, cst.Else) else child
            if other is not None and _without_cut(model, branch, cut, receiver) == _code(model, other):
                return True
        if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return False
        child = anc
    return False


def _tokens_of_names(expr: cst.CSTNode) -> Set[str]:
    toks: Set[str] = set()
    for n in names_in(expr):
        toks |= tokens(n)
    return toks


def _code(model: "FileModel", node: cst.CSTNode) -> str:
    return "".join(model.module.code_for_node(node).split())


def _without_cut(model: "FileModel", branch: cst.CSTNode, cut: cst.CSTNode, receiver: cst.CSTNode) -> str:
    text = _code(model, branch)
    return text.replace(_code(model, cut), _code(model, receiver), 1)


def weights_reach_otherwise(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"]) -> bool:
    """Every submodule the cut value comes from (`self.actor`, `self.dynamics`) is also run, in
    the cut's function, into the same loss on a path that does not pass through the cut: the
    cut removes one path of several, and no weight is left without a gradient (a world model's
    state detached before the actor's input, while the actor's actions and the dynamics'
    predictions still reach the imagined return)."""
    if trace is None or trace.sink != "loss" or not trace.path:
        return False
    weights = model.sources.walk.weight_roots(receiver)
    if not weights or not all(w.startswith("weight:self.") for w in weights):
        return False
    fn = model.enclosing_function(cut)
    if fn is None:
        return False
    loss = trace.path[-1]
    calls = [c for inner in _functions_in(model, fn) for c in inner.calls]
    for w in sorted(weights):
        attr = w[len("weight:"):]
        found = False
        for call in calls:
            text = dotted(call.func) or ""
            if (text != attr and not text.startswith(attr + ".")) or contains(model, cut, call):
                continue
            other = model.flow.reaches_output(call, barrier=lambda n: n is cut)
            if other is not None and other.sink == "loss" and other.path and other.path[-1] is loss:
                found = True
                break
        if not found:
            return False
    return True


def _functions_in(model: "FileModel", fn: "FunctionInfo") -> List["FunctionInfo"]:
    return [f for f in model.functions if f is fn or _encloses(fn, f)]


def _encloses(outer: "FunctionInfo", inner: "FunctionInfo") -> bool:
    while inner is not None:
        if inner.parent is outer:
            return True
        inner = inner.parent
    return False


def intentional_cut(model: "FileModel", cut: cst.CSTNode, receiver: cst.CSTNode, trace: Optional["Trace"] = None, block: Optional[cst.CSTNode] = None) -> Optional[str]:
    """A short reason if cutting `receiver` at `cut` is one of the legitimate look-alikes,
    else None. `trace` is the flow that carried the cut value to the output, if known;
    `block` is the region that cuts (a `no_grad` block), when it is more than the cut node."""
    if in_evaluation_branch(model, cut):
        return "evaluation branch"
    if gradient_asked_for_other_inputs(model, trace):
        return "the backward asks only for the gradient of other inputs"
    if optional_cut(model, cut, receiver):
        return "a configured stop-gradient (the other branch keeps the graph)"
    if truncated_bptt(model, cut, receiver):
        return "truncated BPTT / state repackaging"
    if frozen_network(model, cut, receiver, trace):
        return "teacher, EMA or target network"
    if left_out_of_stepped_optimizers(model, cut, receiver, trace):
        return "a network other than those the optimizers stepped after this backward train"
    if target_value(model, cut, receiver, trace):
        return "target value"
    if policy_gradient_weight(model, cut, receiver, trace):
        return "policy-gradient weight (it multiplies a log-probability)"
    if discriminator_step(model, cut, receiver, trace):
        return "GAN discriminator step"
    if combined_with_same_graph(model, cut, receiver, trace, block):
        return "combined with a live value of the same graph (straight-through, normalisation, symmetric loss)"
    if one_side_of_loss(model, cut, receiver, trace, block):
        return "one side of a loss"
    if weights_reach_otherwise(model, cut, receiver, trace):
        return "every weight behind the cut reaches the loss another way"
    return None


__all__ = [
    "contains", "intentional_cut", "combined_with_same_graph", "one_side_of_loss",
    "target_value", "policy_gradient_weight", "discriminator_step", "truncated_bptt", "frozen_network", "in_evaluation_branch", "optional_cut",
    "left_out_of_stepped_optimizers", "trains_through_later_holder", "weights_reach_otherwise",
    "co_operands", "tokens", "for_optimizer",
]
