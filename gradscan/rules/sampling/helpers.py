"""What several GS3xx rules share."""
from __future__ import annotations

from typing import Optional, Set

import libcst as cst

from gradscan.rules.base import Rule
from gradscan.semantics import distributions as dists
from gradscan.semantics import intent
from gradscan.semantics.contexts import has_no_grad_decorator, in_eval_branch, in_no_grad_block
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.flow import Entry, Trace
from gradscan.semantics.names import dotted, tokens
from gradscan.semantics.walk import descendants
from gradscan.semantics.model import FileModel

# Function names (split into word tokens) that say the code generates, evaluates or collects
# experience rather than trains through the sample.
INFERENCE_TOKENS = {
    "generate", "generation", "sample", "samples", "sampling", "rollout", "rollouts", "collect", "act", "action",
    "actions", "explore", "exploration", "evaluate", "eval", "evaluation", "predict", "prediction", "predictive",
    "inference", "infer", "test", "validate", "validation", "val", "play", "episode", "gibbs", "mcmc", "langevin",
    "simulate", "simulation", "decode", "decoding", "beam", "greedy", "imagine", "dream", "plan", "planning",
}
# `sample` in a helper's name (`sample_z`, called from forward) is part of training.
HELPER_ALLOWED = {"sample", "samples", "sampling", "decode", "decoding"}
# Names of the variable a sample is stored in, or of the class, that say it is an action.
ACTION_TOKENS = {"action", "actions", "act", "policy", "actor", "agent"}
# Calls an integer index passes through as a number (anything else uses it as an index).
INDEX_PRESERVING = {
    "float", "double", "half", "to", "type", "type_as", "astype", "sum", "mean", "unsqueeze", "squeeze", "view",
    "reshape", "flatten", "expand", "expand_as", "clamp", "abs", "pow", "neg", "mul", "add", "sub", "div", "stack",
    "cat", "concatenate", "bfloat16",
}
INDEX_CASTS = {"float", "double", "half", "to", "type", "type_as", "astype", "bfloat16"}


def _function_names(model: FileModel, node: cst.CSTNode):
    """(name, is_root) of the enclosing functions, innermost first, then the context's root."""
    fn = model.enclosing_function(node)
    root = None
    while fn is not None:
        is_root = fn.context is not None and fn.context.kind != "helper" and fn.parent is None
        yield fn.name, is_root
        if fn.context is not None and fn.context.root is not None:
            root = fn.context.root
        fn = fn.parent
    if root is not None:
        yield root.name, True


def inference_like(model: FileModel, node: cst.CSTNode) -> bool:
    """The sample is drawn in generation, evaluation, rollout or data-collection code."""
    for name, is_root in _function_names(model, node):
        found = tokens(name) & INFERENCE_TOKENS
        if not is_root:
            found -= HELPER_ALLOWED
        if found:
            return True
    return False


PATHWISE, DATA = "pathwise", "data"


def result_use(model: FileModel, root, depth: int = 2) -> Optional[str]:
    """How the callers in this file use what the root `root` returns: PATHWISE when one of them
    carries it to a loss (or to a training step's return) other than as a score, DATA when
    there are callers and none does (a rollout stored in a buffer, an action given to
    `env.step`), None when the file has no caller or cannot tell. What a function is called
    (`act`, `rollout`, `Policy`) only breaks that tie."""
    if root is None:
        return None
    callers = model.flow.callers(root)
    if not callers:
        return None
    unknown = False
    for call, owner in callers:
        trace = model.flow.reaches_output(call, barrier=lambda n, c=call: _scores_argument(model, n, c), module_level=owner is None)
        if trace is None:
            continue
        if trace.sink == "loss" or (trace.root is not None and trace.root.context is not None
                                    and trace.root.context.kind == "training-step"):
            return PATHWISE
        if depth > 0 and trace.root is not None and trace.root is not root:
            further = result_use(model, trace.root, depth - 1)
            if further == PATHWISE:
                return PATHWISE
            if further == DATA:
                continue
        unknown = True
    return None if unknown else DATA


def _scores_argument(model: FileModel, n: cst.CSTNode, call: cst.Call) -> bool:
    """`d.log_prob(act(obs))`-style: a score method taking the returned value as its point (a
    loss function such as `cross_entropy(model(x), y)` takes a returned value as a prediction)."""
    func = n.func if isinstance(n, cst.Call) else None
    return isinstance(func, cst.Attribute) and func.attr.value in dists.SCORE_METHODS and not intent.contains(model, func, call)


def _bound_names(model: FileModel, node: cst.CSTNode) -> Set[str]:
    """Names the sample is assigned to directly (`a = d.sample()`, `a, b = ...`)."""
    parent = model.parent(node)
    if isinstance(parent, cst.Assign) and parent.value is node:
        out = set()
        for t in parent.targets:
            if isinstance(t.target, cst.Name):
                out.add(t.target.value)
            elif isinstance(t.target, (cst.Tuple, cst.List)):
                out.update(e.value.value for e in t.target.elements if isinstance(e.value, cst.Name))
        return out
    return set()


def _action_like(model: FileModel, node: cst.CSTNode) -> bool:
    names = _bound_names(model, node)
    if any(tokens(n) & ACTION_TOKENS for n in names):
        return True
    fn = model.enclosing_function(node)
    cls = fn.cls if fn is not None else None
    return cls is not None and bool(tokens(cls.name) & ACTION_TOKENS)


TARGET_TOKENS = {"next", "target", "targets", "tgt", "bootstrap", "teacher"}


def _target_like(model: FileModel, node: cst.CSTNode, trace: Trace) -> bool:
    """The sample feeds a bootstrapped target (`next_action` in a TD target, `target_q`), which
    carries no gradient on purpose: it is compared, in a loss, with a live prediction it does
    not flow into (`mse_loss(q(obs, a), r + gamma * q(next_obs, next_a))`). When the loss is in
    this file that comparison decides; names (`next`, `target`) only when it is not."""
    if trace.sink == "loss":
        return _compared_as_target(model, node, trace)
    names = set(_bound_names(model, node))
    names.update(n.value for n in trace.path if isinstance(n, cst.Name))
    return any(tokens(n) & TARGET_TOKENS for n in names)


def _compared_as_target(model: FileModel, node: cst.CSTNode, trace: Trace) -> bool:
    """The sample reaches the loss on one side of a comparison with a live prediction, and
    nothing it is combined with on the way derives from it: SAC's actor loss
    `alpha * log_prob(a) - q(obs, a)` subtracts two values of the same sample (pathwise), a
    TD loss `mse(q(obs, a_data), r + gamma * q(next_obs, a_next))` compares the sample's
    bootstrap with a prediction of another input."""
    if not intent.one_side_of_loss(model, node, node, trace):
        return False
    home = model.enclosing_function(node)
    crossed = min(3, sum(1 for n in trace.path if isinstance(n, cst.Call) and model.enclosing_function(n) is not home))
    script = model.context_of(node) is None
    for child, parent in intent.trace_steps(model, trace.path):
        if not isinstance(parent, (cst.Call, cst.BinaryOperation)):
            continue
        for other in intent.co_operands(model, parent, child):
            if isinstance(other, (cst.Integer, cst.Float, cst.SimpleString)):
                continue
            # Across as many calls as the trace crossed: SAC's `pi, log_pi = actor.sample(obs)`
            # returns the sample and its log-density from a helper, and the loss subtracts them.
            if model.flow.flows_into(node, lambda n, o=other: n is o or intent.contains(model, o, n),
                                     max_calls=crossed, module_level=script) is not None:
                return False
    return True


def _computes(trace: Trace, node: cst.CSTNode) -> bool:
    """The sample is computed with on its way (not merely returned as it is)."""
    return any(isinstance(n, (cst.Call, cst.BinaryOperation, cst.UnaryOperation)) for n in trace.path if n is not node)


def _used_as_index(model: FileModel, trace: Trace, node: cst.CSTNode) -> bool:
    """An integer sample reaches the output as an index (gather, embedding, one_hot, a module
    call) before any cast or arithmetic turns it into a number."""
    for n in trace.path:
        if n is node:
            continue
        if isinstance(n, (cst.BinaryOperation, cst.UnaryOperation)):
            return False
        if isinstance(n, cst.Call):
            last = (dotted(n.func) or "").rsplit(".", 1)[-1] if not isinstance(n.func, cst.Attribute) else n.func.attr.value
            if last in INDEX_CASTS:
                return False
            if last not in INDEX_PRESERVING:
                return True
    return True


class SamplingRule(Rule):
    """Shared gate of the GS3xx rules (abstract: no code)."""

    def _reaches_loss(self, model: FileModel, node: cst.CSTNode, frameworks, index_valued: bool = False, discrete: bool = False) -> Optional[Trace]:
        ctx = model.context_of(node)
        if ctx is not None and ctx.framework not in frameworks:
            return None
        script = ctx is None
        if script:
            # Code outside any differentiable function (a training script, a notebook cell, a
            # function with no context): only a sample reaching a `.backward()` counts.
            if "torch" not in frameworks or in_no_grad_block(model, node) or in_eval_branch(model, node):
                return None
            if any(has_no_grad_decorator(model, f) for f in _enclosing_functions(model, node)):
                return None
        def score(entered, n):
            # scored as the point of a log-density, not used as its parameter or prediction
            return n is not node and dists.scores_entry(model, entered, n)

        scored = model.flow.flows_into(node, Entry(score), max_calls=1, module_level=script) is not None
        # Each way the sample reaches the loss is judged on its own: a helper's sample used as
        # a TD target at one call site and pathwise in the actor loss at another is a bug there.
        blocked: set = set()
        home = model.enclosing_function(node)
        for _attempt in range(4):
            trace = model.flow.reaches_output(node, barrier=Entry(lambda entered, n: score(entered, n) or id(n) in blocked),
                                              module_level=script)
            if trace is None:
                return None
            found = self._judge(model, node, trace, scored, script, frameworks, index_valued, discrete,
                                barrier=Entry(lambda entered, n: score(entered, n) or id(n) in blocked))
            if found is not None:
                return found
            site = next((n for n in trace.path if isinstance(n, cst.Call) and model.enclosing_function(n) is not home), None)
            if site is None:
                return None
            blocked.add(id(site))  # another caller of the helper may use the sample otherwise
        return None

    def _judge(self, model: FileModel, node: cst.CSTNode, trace: Trace, scored: bool, script: bool, frameworks,
               index_valued: bool, discrete: bool, barrier=None) -> Optional[Trace]:
        """The trace, unless this way to the loss is a legitimate one (see `_reaches_loss`)."""
        use = result_use(model, trace.root) if trace.sink == "return" else None
        if scored and use == PATHWISE:
            # A root returning the sample beside its score (`return a, d.log_prob(a)`): judge the
            # way its callers carry the sample, where a reward computed from it may weight the score.
            # (A caller's use under `no_grad`, a TD target's next action, carries no path.)
            test = barrier.test if isinstance(barrier, Entry) else (lambda _e, _n: False)
            further = model.flow.reaches_output(node, barrier=Entry(lambda e, n: test(e, n) or in_no_grad_block(model, n)),
                                                module_level=script, past_roots=True)
            if further is None:
                return None  # the callers take the sample as data or as a score's point only
            if not _pathwise_through_networks(model, node, further) or (discrete and not _through_network(model, further)):
                return None
        if use == DATA:
            return None  # every caller in the file takes the returned sample as data (a buffer, `env.step`)
        # What a differentiated function returns (`jax.grad(loss_fn)`, a Lightning
        # `training_step`) is a loss as much as a `.backward()` argument is.
        differentiated = trace.sink == "return" and trace.root is not None and trace.root.context is not None \
            and trace.root.context.kind in ("jax-grad", "training-step")
        if use is None and trace.sink != "loss" and not differentiated and inference_like(model, node):
            # A name (`generate`, `rollout`, `imagine`) is a hint, not a proof: it decides only
            # when the file shows no caller; a sample that reaches a `.backward()`, or a caller
            # that carries it into a loss, is trained whatever its function is called.
            return None
        if scored and (not _pathwise_through_networks(model, node, trace) or (discrete and not _through_network(model, trace))
                       or (discrete and _pathwise_loss_weights_score(model, node, trace))):
            # (A scored discrete draw that reaches the loss through tensor ops only is a reward
            # computed from the action: `log_prob(bits) * bits.sum(-1)`.)
            # REINFORCE / a likelihood term: the sample is scored, and its other way to the loss
            # (a reward an environment computes from it) is not a path gradients could take.
            return None
        if script and trace.sink != "loss":
            return None
        if trace.sink == "return" and trace.root is not None and trace.root.context is not None and trace.root.context.framework not in frameworks:
            return None
        if any(isinstance(n, cst.BinaryOperation) and dists.contains_detach(model, n) for n in trace.path):
            return None  # straight-through: hard + soft - soft.detach()
        if _target_like(model, node, trace):
            return None  # a bootstrapped target (next action, TD target): no gradient wanted
        raw = not _computes(trace, node)
        if raw and use is None and trace.sink == "return" and (discrete or _action_like(model, node)):
            return None  # an action returned by a policy no caller in the file trains through
        if index_valued and _used_as_index(model, trace, node):
            return None
        return trace


def _pathwise_through_networks(model: FileModel, start: cst.CSTNode, trace: Trace) -> bool:
    """A scored sample that also reaches the loss pathwise, through networks and tensor ops only
    (SAC's `q = critic(obs, action)`), or through a function of this file that computes with
    tensors (`target_log_density(z)` in a reverse-KL loss), not through an unknown function or
    object (`env.step(a)`, `reward_fn(a)`): the pathwise gradient is what `.sample()` cuts. A
    function of this file whose result weights the score (`log_prob(a) * reward(a)`) is a
    REINFORCE reward, not a path."""
    src = model.sources.walk
    through_network = through_helper = False
    for child, parent in intent.trace_steps(model, trace.path):
        if not isinstance(parent, cst.Call) or parent.func is child or intent.contains(model, parent.func, child):
            continue  # operators, method calls on the value itself
        name = model.callee(parent)
        if name is not None and name.split(".")[0] in ("torch", "tensorflow", "jax", "math"):
            continue
        if src.is_module_object(parent.func):
            through_network = True
            continue
        if _tensor_helper(model, parent):
            through_helper = True
            continue
        return False
    # A reward computed from the sample by tensor operations or a function of this file
    # (`-(y - a) ** 2`, `episode_return(a)`) that weights the score is REINFORCE; through a
    # network alone (`q(obs, a)`) the sample is a path whatever multiplies it.
    return (through_network and not through_helper) or not _weights_score(model, start, trace)


def _tensor_helper(model: FileModel, call: cst.Call) -> bool:
    """`call` runs a function of this file (`f(z)`, `self.f(z)`) that returns a value and
    converts nothing on the way (no `.detach()`, `.item()`, `.numpy()`, NumPy or `math`)."""
    func = call.func
    fn = None
    if isinstance(func, cst.Name) and model.resolve(func) is None:
        fn = model.module_functions.get(func.value)
    elif isinstance(func, cst.Attribute) and dotted(func.value) == "self":
        owner = model.enclosing_function(call)
        while owner is not None and owner.cls is None:
            owner = owner.parent
        fn = model.find_method(owner.cls, func.attr.value) if owner is not None else None
    if fn is None or not any(isinstance(r, cst.Return) and r.value is not None for r in fn.returns):
        return False
    for inner in fn.calls:
        f = inner.func
        if isinstance(f, cst.Attribute) and f.attr.value in dists.DETACHING_METHODS:
            return False
        callee = model.callee(inner) or ""
        if callee.startswith(("numpy.", "math.", "random.", "scipy.")) or callee in ("float", "int", "bool"):
            return False
        if isinstance(f, cst.Name) and f.value in ("float", "int", "bool"):
            return False
    return True


def _weights_score(model: FileModel, start: cst.CSTNode, trace: Trace) -> bool:
    """On its way to the loss the sample multiplies (or divides) a score of itself:
    `log_prob(a) * reward(a)`, the REINFORCE form."""
    script = model.context_of(start) is None
    scored = model.flow.flows_into(start, lambda n: n is not start and dists.is_score_call(model, n), max_calls=1, module_level=script)
    if scored is None:
        return False
    score = next(n for n in reversed(scored.path) if n is not start and dists.is_score_call(model, n))
    for child, parent in intent.trace_steps(model, trace.path):
        if not (isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, (cst.Multiply, cst.Divide))):
            continue
        for other in intent.co_operands(model, parent, child):
            # (past a root's return too: `actions, logp = policy(obs)`, then `adv * logp`)
            if model.flow.flows_into(score, lambda n, o=other: n is o or intent.contains(model, o, n), max_calls=1,
                                     module_level=script, past_roots=True) is not None:
                return True
    return False


def _pathwise_loss_weights_score(model: FileModel, start: cst.CSTNode, trace: Trace) -> bool:
    """REINFORCE through a network (hard attention): what the discrete draw feeds pathwise
    (`ce = cross_entropy(glimpse(x * m), y)`) comes back as the weight of the draw's score
    (`-ce.detach() * log_pm`): the sampler's parameters get their gradient from that term,
    and a discrete draw has no pathwise gradient to give."""
    script = model.context_of(start) is None
    on_path = {f"name:{n.value}" for n in trace.path if type(n) is cst.Name}
    if not on_path:
        return False
    scored = model.flow.flows_into(start, lambda n: n is not start and dists.is_score_call(model, n), max_calls=1, module_level=script)
    if scored is None:
        return False
    score = next(n for n in reversed(scored.path) if n is not start and dists.is_score_call(model, n))
    weighted = model.flow.flows_into(score, lambda n: n is not score and _product(model, n), max_calls=1, module_level=script)
    if weighted is None:
        return False
    at = max(i for i, n in enumerate(weighted.path) if n is not score and _product(model, n))
    product, child = weighted.path[at], weighted.path[at - 1] if at else score
    return any(on_path & _names_behind(model, o) for o in intent.co_operands(model, product, child))


def _names_behind(model: FileModel, expr: cst.CSTNode, limit: int = 64) -> set:
    """`name:<n>` for every local name `expr` is computed from, through cuts too
    (`reward = -ce.detach()` is behind `ce`): where a value came from, not what it carries."""
    defs = model.get(Definitions)
    out: set = set()
    todo = [expr]
    while todo and len(out) < limit:
        node = todo.pop()
        for name in descendants(node):
            if type(name) is not cst.Name or f"name:{name.value}" in out:
                continue
            holder = model.parent(name)
            if type(holder) is cst.Attribute and holder.attr is name:
                continue
            out.add(f"name:{name.value}")
            bindings, _where = defs.reaching(name)
            todo += [b.value for b in bindings if b.value is not None]
    return out


def _product(model: FileModel, node: cst.CSTNode) -> bool:
    """`a * b`, `a / b`, `a.mul(b)`, `torch.mul(a, b)`."""
    if type(node) is cst.BinaryOperation:
        return type(node.operator) in (cst.Multiply, cst.Divide)
    if type(node) is cst.Call:
        return model.callee(node) in ("torch.mul", "torch.div") or (
            type(node.func) is cst.Attribute and node.func.attr.value in ("mul", "div") and model.callee(node) is None)
    return False


def _through_network(model: FileModel, trace: Trace) -> bool:
    """The trace passes the value to a module object (`critic(obs, action)`)."""
    src = model.sources.walk
    for child, parent in intent.trace_steps(model, trace.path):
        if isinstance(parent, cst.Call) and parent.func is not child and not intent.contains(model, parent.func, child) \
                and src.is_module_object(parent.func):
            return True
    return False


def _enclosing_functions(model: FileModel, node: cst.CSTNode):
    fn = model.enclosing_function(node)
    while fn is not None:
        yield fn
        fn = fn.parent


def sample_calls(model: FileModel):
    for call, _fn in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("sample", "sample_n"):
            yield call, func


# Roots of hyperparameter objects: an argument the model cannot rule out as a graph value, but
# not the one to name in a message when a computed one (logits, loc) is also there.
_CONFIG_ROOTS = {"config", "cfg", "args", "hparams", "hps", "opt", "opts", "options", "settings", "conf"}


def graph_params(model: FileModel, d: dists.Distribution):
    # (a flow's trainable transforms are parameters too: its samples depend on their weights)
    graph = [expr for expr, scope in d.params if model.sources.from_graph(expr, scope) or dists.holds_weights(model, expr, scope)]

    def configured(expr) -> bool:
        root = (dotted(expr) or "").split(".")
        return root[0] in _CONFIG_ROOTS or root[:2] in (["self", "config"], ["self", "cfg"], ["self", "hparams"])

    return sorted(graph, key=configured)  # stable: argument order otherwise


def node_text(model: FileModel, node: cst.CSTNode, limit: int = 40) -> str:
    text = model.module.code_for_node(node).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rsample_method(model: FileModel, node: cst.CSTNode):
    """The method `node` is in when it is a reparameterized sampler of a distribution subclass
    (`rsample`, `rsample_with_z`, `rsample_and_log_prob`, ... of a class deriving from a torch or
    Pyro distribution), else None."""
    fn = model.enclosing_function(node)
    if fn is None or fn.parent is not None or fn.cls is None:
        return None
    if fn.name != "rsample" and not fn.name.startswith("rsample_"):
        return None
    base = dists.base_distribution_class(model, fn.cls)
    return fn if base is not None and base.library in (dists.TORCH, dists.PYRO) else None


def returned_pathwise(model: FileModel, node: cst.CSTNode, limit: int = 64) -> bool:
    """The value of `node` reaches its function's return value, not only through a detached
    straight-through term (`hard + soft - soft.detach()`) or a `log_prob`."""
    flow = model.flow
    fn = model.enclosing_function(node)
    todo, seen = [node], set()
    while todo and len(seen) < limit:
        start = todo.pop()
        if id(start) in seen:
            continue
        seen.add(id(start))
        end, path, names = flow.climb(start)
        if any(dists.is_score_call(model, n) for n in path if n is not node):
            continue
        if any(isinstance(n, cst.BinaryOperation) and dists.contains_detach(model, n) for n in path):
            continue
        if end == "return":
            return True
        if end == "assign":
            stmt = model.enclosing_statement(path[-1] if path else start)
            for name in names:
                todo.extend(flow.later_uses(fn, name, stmt))
    return False