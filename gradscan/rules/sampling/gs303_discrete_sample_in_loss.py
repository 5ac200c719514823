from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as tf_api_names
from gradscan.frameworks import tensorflow as tf_api
from gradscan.rules.base import Report, clip
from gradscan.rules.sampling.helpers import SamplingRule, graph_params, node_text, sample_calls
from gradscan.semantics import distributions as dists
from gradscan.semantics.arguments import argument_for, find_argument, keyword_argument
from gradscan.semantics.names import dotted
from gradscan.semantics.model import FileModel
from gradscan.semantics.walk import descendants

# The discrete samplers and the parameter that shapes each draw (the JAX table, fact jx41).
JAX_DISCRETE = {api.name: spec for api, spec in jax_api.DISCRETE_SAMPLERS.items()}
# The draws that are indices: used to index, they are exempt unless the draw is the only consumer
# of its probabilities (then those probabilities get no gradient from anywhere).
JAX_INDEX_VALUED = {"categorical", "choice"}
INDEX_TAKERS = {"jax.numpy.take", "jax.numpy.take_along_axis"}


class DiscreteSampleInLoss(SamplingRule):
    code = "GS303"
    name = "discrete-sample-in-loss"
    framework = "any"
    summary = "A sample of a discrete distribution reaches the loss: its probabilities get no gradient"
    message = "a discrete sample carries no gradient to its probabilities; use a relaxation or `log_prob`"
    explanation = (
        "A discrete sample (Bernoulli, Categorical, Poisson, jax.random.bernoulli) is piecewise constant: the "
        "probabilities that produced it get no gradient through it."
    )
    hint = "use a relaxed distribution (RelaxedBernoulli, RelaxedOneHotCategorical, Gumbel-softmax) or a score-function estimator (`log_prob`)"
    facts = ("pt09", "tf35", "jx41", "jx50", "tf71")
    triggers = (".sample(", "bernoulli(", "categorical(", "choice(", "poisson(", "geometric(", "binomial(", "multinomial(",
                "DistributionLambda", "OneHotCategorical(", "IndependentBernoulli(", "IndependentPoisson(")
    doc = """
    ## What it does
    Flags a sample of a distribution without a reparameterized sampler (torch/pyro Bernoulli,
    Categorical, OneHotCategorical, Poisson, Binomial, Geometric, NegativeBinomial, Multinomial;
    TF Probability distributions whose reparameterization type is NOT_REPARAMETERIZED: Bernoulli,
    Categorical, OneHotCategorical, Poisson, Binomial and the other discrete ones;
    `jax.random.bernoulli` / `categorical` / `choice(..., p=)` / `poisson` / `geometric` /
    `binomial` / `multinomial` of traced probabilities, rates or counts) whose parameters come from the graph, when the sample reaches the output or the
    loss other than through `log_prob`. A JAX index draw used to select (`codebook[idx]`) is
    reported when it is the only consumer of probabilities computed from what the transform
    differentiates (nothing else reads them or the parameter leaves they come from): then they
    get no gradient at all. So is a torch or Pyro index draw (`Categorical`) that selects
    (`levels[k]`, `F.embedding(k, w)`, an embedding module) from a value reaching the loss, in
    the function or at a caller of the helper that returns it, when the probabilities computed
    there (by the network, in the function or passed in by the file's callers) reach no loss
    any other way: no `log_prob`, no likelihood of the same logits, no other use. Probabilities filled in from a traced value (`jnp.full(shape, p)`,
    `jnp.full_like(x, p)`, `tf.fill(dims, p)`) come from `p`, not from the shape or template.
    A helper's name (`simulate`, `rollout`) is no exemption when its draw reaches what
    `jax.grad`/`value_and_grad` differentiates or a Lightning `training_step` returns.
    Also flagged: a TF Probability distribution layer of a discrete distribution
    (`tfpl.DistributionLambda(lambda t: tfd.OneHotCategorical(logits=t))`, the prebuilt
    `tfpl.OneHotCategorical`, `IndependentBernoulli`) whose tensor another layer takes (applied
    in the functional API, or followed by another layer in a `Sequential` list): that tensor is
    `convert_to_tensor_fn(dist)`, a sample by default (fact tf71), or a mode.

    ## Why it breaks gradients
    A discrete sample is a step function of the probabilities: no gradient passes through it.
    torch's `Bernoulli(p).sample()` has no `grad_fn` (`rsample` raises NotImplementedError, fact
    pt09); TF Probability's NOT_REPARAMETERIZED samples give `tape.gradient` None (tf35);
    `jax.random.bernoulli(key, p)`, `categorical(key, logits)` and the count samplers
    (`poisson(key, lam)`, `binomial`, `geometric`, `multinomial`) give silent zero gradients
    (jx41; a fill `jnp.full(shape, p)` carries `p`'s gradient, jx50), while JAX's continuous
    samplers with parameters (`gamma`, `beta`, `dirichlet`)
    are reparameterized and pass them.
    The network that produces the probabilities learns nothing from this path.

    Not flagged: samples used through `log_prob` (REINFORCE, score-function estimators; Pyro's
    `pyro.sample` inside SVI, whose ELBO adds the score term, fact py42); straight-through
    estimators (`hard + soft - soft.detach()`); sampled actions in RL rollouts and policies
    (an action that reaches the loss without `log_prob`, `-(reward * action.float())`, is
    flagged whatever it is called; GS301 says how these exemptions are proved);
    sampling at generation time; sampled indices used to index or embed when their probabilities
    also reach the loss another way (scheduled sampling, a likelihood of the same logits) or are
    data (a replay buffer's priorities); a TF Probability distribution layer that is the
    model's output (scored by a log-likelihood loss) or converts with `tfd.Distribution.mean`.

    ## Example
    ```python
    def forward(self, x):
        p = torch.sigmoid(self.enc(x))
        b = torch.distributions.Bernoulli(probs=p).sample()
        return self.dec(b)
    ```

    ## Use instead
    ```python
    def forward(self, x):
        p = torch.sigmoid(self.enc(x))
        b = torch.distributions.RelaxedBernoulli(torch.tensor(0.5), probs=p).rsample()
        return self.dec(b)
    ```

    ## References
    - PyTorch docs: `torch.distributions.RelaxedBernoulli`, `torch.nn.functional.gumbel_softmax`
    - gradscan facts: pt09 (torch discrete distributions), tf35 (TF Probability reparameterization types), jx41 (JAX)
    """
    invalid = (
        """
        import torch
        from torch import nn
        from torch.distributions import Bernoulli

        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 3)
                self.dec = nn.Linear(3, 4)

            def forward(self, x):
                gate = Bernoulli(logits=self.enc(x))
                b = gate.sample()  # error: GS303
                return self.dec(b)
        """,
        """
        import tensorflow as tf
        import tensorflow_probability as tfp

        tfd = tfp.distributions

        class Gate(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.d = tf.keras.layers.Dense(3)
                self.out = tf.keras.layers.Dense(1)

            def call(self, x):
                b = tfd.Bernoulli(logits=self.d(x), dtype=tf.float32).sample()  # error: GS303
                return self.out(b)
        """,
        """
        import jax
        import jax.numpy as jnp

        def loss_fn(w, key, x, y):
            p = jax.nn.sigmoid(x @ w)
            b = jax.random.bernoulli(key, p).astype(jnp.float32)  # error: GS303
            return jnp.mean((b - y) ** 2)

        grads = jax.grad(loss_fn)
        """,
    )
    valid = (
        """
        import torch
        from torch import nn
        from torch.distributions import Categorical, Bernoulli, RelaxedBernoulli

        class Policy(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(4, 2)

            def forward(self, obs):
                return Categorical(logits=self.net(obs))

        def reinforce(policy, obs, returns, opt):
            d = policy(obs)
            a = d.sample()
            loss = -(d.log_prob(a) * returns).mean()
            loss.backward()

        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 3)
                self.dec = nn.Linear(3, 4)

            def forward(self, x):
                p = torch.sigmoid(self.enc(x))
                hard = Bernoulli(probs=p).sample()
                soft = RelaxedBernoulli(torch.tensor(0.5), probs=p).rsample()
                return self.dec(hard + p - p.detach()) + self.dec(soft)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, func in sample_calls(model):
            d = dists.distribution_of(model, func.value)
            if d is None or not d.discrete or d.cls.custom_sample:
                continue
            graph = graph_params(model, d)
            if not graph:
                continue
            frameworks = ("torch",) if d.library in (dists.TORCH, dists.PYRO) else ("tensorflow", "jax")
            if self._reaches_loss(model, call, frameworks, index_valued=d.index_valued, discrete=True) is None \
                    and not (d.index_valued and d.library in (dists.TORCH, dists.PYRO)
                             and self._sole_index_draw(model, call, d, frameworks)):
                continue
            yield Report(func.attr, f"{clip(d.display, 40)} sample gives `{node_text(model, graph[0], 20)}` no gradient; "
                                    f"use a relaxation or `log_prob`")
        for call, _fn in model.calls:
            spec = JAX_DISCRETE.get(model.callee(call) or "")
            if spec is None:
                continue
            # Only a parameter that carries gradient loses it: in a JAX transform's scope that is
            # one computed from what the transform differentiates; a probability that is data
            # there (a non-differentiated argument: dynamic binarization of the input) has no
            # gradient to lose. Outside any context `carries` is the graph question.
            graph_args = [a for a in (find_argument(call, position, keyword) for keyword, position in spec)
                          if a is not None and model.sources.carries(a)]
            if not graph_args:
                continue
            param = graph_args[0]
            name = (model.callee(call) or "").rsplit(".", 1)[-1]
            # judged by what the transform differentiates: the draw's other arguments are data
            traced = name in JAX_INDEX_VALUED and model.sources.live(param, "jax")
            sole = traced and _sole_consumer(model, call, param)
            index_valued = name in JAX_INDEX_VALUED and not sole
            if self._reaches_loss(model, call, ("jax",), index_valued=index_valued, discrete=True) is None \
                    and not (sole and _indexes_output(model, call)):
                continue
            yield Report(call, f"`jax.random.{name}` gives `{node_text(model, param, 24)}` a zero gradient; "
                               f"use a relaxation or `log_prob`")
        yield from self._distribution_layers(model)

    def _sole_index_draw(self, model: FileModel, call: cst.Call, d, frameworks) -> bool:
        """An index draw that selects from a value reaching the loss (`centres[idx]`, an
        embedding of it), when nothing else takes the distribution's parameters to a loss: no
        `log_prob`, no likelihood of the same logits, no other use. The walk stops at an index
        (no gradient passes one), so the lookup is asked about, and the probabilities'
        other ways are asked about from where they are computed."""
        script = model.context_of(call) is None
        hit = model.flow.flows_into(call, lambda n: _index_position(model, n) is not None, max_calls=1,
                                    module_level=script, past_roots=True)
        if hit is None:
            return False
        lookup = next(found for found in (_index_position(model, n) for n in hit.path) if found is not None)
        if self._reaches_loss(model, lookup, frameworks) is None:
            return False
        sources = list(_parameter_sources(model, d))
        if all(isinstance(start, cst.Name) for start in sources):
            return False  # probabilities only seen as names passed in (a buffer's priorities): data, or unknown
        for start in sources:
            if model.flow.reaches_output(start, barrier=lambda n: n is call, module_level=True, past_roots=True) is not None:
                return False
        return True

    def _distribution_layers(self, model: FileModel) -> Iterator[Report]:
        """A TF Probability distribution layer of a discrete distribution whose tensor (its
        `convert_to_tensor_fn`, a sample by default: tf71) another layer takes: the layers
        before it get no gradient through it (tf35). As a model's output, scored by a
        negative log-likelihood loss, it is fine and not reported."""
        for call, _owner in model.calls:
            q = model.callee(call) or ""
            if q in DISTRIBUTION_LAYERS:
                make = find_argument(call, 0, "make_distribution_fn")
                body = make.body if isinstance(make, cst.Lambda) else None
                d = dists.distribution_of(model, body) if isinstance(body, cst.Call) else None
                if d is None or not d.discrete or d.library != dists.TFP:
                    continue
                at, shown = body, d.cls.name
            elif q in DISCRETE_LAYERS:
                at, shown = call, q.rsplit(".", 1)[-1]
            else:
                continue
            convert = keyword_argument(call, "convert_to_tensor_fn")
            if convert is not None and not _draws(convert):
                continue  # `tfd.Distribution.mean`, `lambda d: d.probs_parameter()`: differentiable
            if not _feeds_another_layer(model, call):
                continue
            yield Report(at, f"this {clip(shown, 20)} layer passes on a sample: the layers before it get no gradient; "
                             f"convert with `mean`")


INDEX_FUNCTIONS = {"torch.nn.functional.embedding", "torch.gather", "torch.index_select", "torch.take",
                   "torch.nn.functional.one_hot"}


def _index_position(model: FileModel, n: cst.CSTNode):
    """The lookup `n` is the index of: `table[n]`, `F.embedding(n, w)`, `torch.gather(x, d, n)`,
    an embedding module `self.emb(n)`; None otherwise."""
    parent = model.parent(n)
    if isinstance(parent, cst.Index):
        element = model.parent(parent)
        sub = model.parent(element) if isinstance(element, cst.SubscriptElement) else None
        return sub if isinstance(sub, cst.Subscript) else None
    if isinstance(parent, cst.Arg):
        owner = model.parent(parent)
        if isinstance(owner, cst.Call) and ((model.callee(owner) or "") in INDEX_FUNCTIONS
                                            or model.sources.walk.is_module_object(owner.func)):
            return owner
    return None


def _parameter_sources(model: FileModel, d):
    """Where a distribution's graph parameters are computed: each parameter expression, the
    value of a name it reads when bound once in its function, and for a parameter of a function
    of the file, what the callers pass (and the value of a name passed)."""
    for expr, scope in d.params:
        yield expr
        if not isinstance(expr, cst.Name):
            continue
        value = model.single_value(scope, expr.value) if scope is not None else None
        if value is not None:
            yield value
        owner = scope
        while owner is not None and expr.value not in owner.params:
            owner = owner.parent
        if owner is None:
            continue
        for caller, where in model.flow.callers(owner)[:8]:
            arg = argument_for(owner, caller, expr.value)
            if arg is None:
                continue
            yield arg
            if isinstance(arg, cst.Name) and where is not None:
                bound = model.single_value(where, arg.value)
                if bound is not None:
                    yield bound


DISTRIBUTION_LAYERS = tf_api_names(tf_api.DISTRIBUTION_LAYERS)
DISCRETE_LAYERS = tf_api_names(tf_api.DISCRETE_DISTRIBUTION_LAYERS)
MODEL_BUILDERS = {"Model", "Functional"}


def _draws(convert: cst.BaseExpression) -> bool:
    """`tfd.Distribution.sample`, `lambda d: d.sample()`, `lambda d: d.mode()`."""
    if isinstance(convert, cst.Lambda):
        body = convert.body
        return isinstance(body, cst.Call) and isinstance(body.func, cst.Attribute) \
            and body.func.attr.value in tf_api.DRAWING_CONVERSIONS
    text = dotted(convert) or ""
    return text.rsplit(".", 1)[-1] in tf_api.DRAWING_CONVERSIONS


def _feeds_another_layer(model: FileModel, layer: cst.Call) -> bool:
    """The layer's output is an argument of another call (`Dense(1)(choice)`, `tf.concat`) that
    is not the model's constructor, or the layer sits before another in a `Sequential` list."""
    parent = model.parent(layer)
    if isinstance(parent, cst.Element):
        seq = model.parent(parent)
        return isinstance(seq, (cst.List, cst.Tuple)) and seq.elements[-1] is not parent
    if not (isinstance(parent, cst.Call) and parent.func is layer):
        return False  # built, not applied here
    applied = parent
    uses = [applied]
    holder = model.parent(applied)
    if isinstance(holder, cst.Assign) and len(holder.targets) == 1 and isinstance(holder.targets[0].target, cst.Name):
        fn = model.enclosing_function(applied)
        uses = list(model.flow.later_uses(fn, holder.targets[0].target.value, holder))[:8]
    for use in uses:
        arg = model.parent(use)
        if not isinstance(arg, cst.Arg):
            continue
        consumer = model.parent(arg)
        if isinstance(consumer, cst.Call) and (dotted(consumer.func) or "").rsplit(".", 1)[-1] not in MODEL_BUILDERS:
            return True
    return False


def _sole_consumer(model: FileModel, call: cst.Call, expr: cst.BaseExpression, depth: int = 0, within=None) -> bool:
    """The draw is the only consumer of its probabilities: every local value they are computed
    from (through names bound once, and parameter leaves `params["prior"]`) is read nowhere else
    in the function. Then an index draw is not a token fed back beside a trained likelihood
    (scheduled sampling, REINFORCE): nothing else can give those probabilities a gradient.
    Only names holding traced values count (`model.sources.live(name, "jax")`); the others are
    data, read anywhere."""
    fn = model.enclosing_function(call)
    if fn is None or depth > 3:
        return False
    within = (*(within or (call,)), expr)  # the reads allowed: in the draw and the values it is computed from
    for node in [expr, *descendants(expr)]:
        if isinstance(node, (cst.Subscript, cst.Attribute)) and isinstance(node.value, cst.Name) \
                and node.value.value in fn.params and model.sources.live(node.value, "jax"):
            if isinstance(node, cst.Subscript) and not _constant_key(node):
                return False
            text = model.module.code_for_node(node)
            if any(not _inside(model, other, within) for other in _same_reads(model, fn, node, text)):
                return False
        elif isinstance(node, cst.Name) and model.sources.live(node, "jax") and not _is_leaf_root(model, fn, node) \
                and _local(model, fn, node.value):
            if any(not _inside(model, other, within) for other in _name_reads(model, fn, node.value)):
                return False
            value = model.single_value(fn, node.value)
            if node.value in fn.params:
                continue
            if value is None or not _sole_consumer(model, call, value, depth + 1, within):
                return False
    return True


def _constant_key(node: cst.Subscript) -> bool:
    return len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index) \
        and isinstance(node.slice[0].slice.value, (cst.SimpleString, cst.Integer))


def _is_leaf_root(model: FileModel, fn, node: cst.Name) -> bool:
    """`params` in `params["prior"]`, `model` in `model.prior` (arguments): judged as the leaf,
    not as a name; the function of a call (`jax.nn.softmax`) is not a value."""
    parent = model.parent(node)
    if isinstance(parent, (cst.Subscript, cst.Attribute)) and parent.value is node and node.value in fn.params:
        return True
    return isinstance(parent, cst.Call) and parent.func is node


def _local(model: FileModel, fn, name: str) -> bool:
    return name in fn.params or model.single_value(fn, name) is not None or any(
        True for _ in _stores(model, fn, name))


def _stores(model: FileModel, fn, name: str):
    for node, owner in model.assignments:
        if owner is fn:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for t in targets:
                if isinstance(t, cst.Name) and t.value == name:
                    yield node


def _body_nodes(model: FileModel, fn):
    return descendants(fn.node.body)


def _name_reads(model: FileModel, fn, name: str):
    for n in _body_nodes(model, fn):
        if isinstance(n, cst.Name) and n.value == name:
            parent = model.parent(n)
            if isinstance(parent, cst.AssignTarget) or (isinstance(parent, cst.Attribute) and parent.attr is n):
                continue
            if isinstance(parent, cst.Arg) and parent.keyword is n:
                continue
            yield n


def _same_reads(model: FileModel, fn, node, text: str):
    for n in _body_nodes(model, fn):
        if type(n) is type(node) and n is not node and model.module.code_for_node(n) == text:
            yield n
    yield node


def _inside(model: FileModel, node: cst.CSTNode, roots) -> bool:
    return any(node is r for r in roots) or any(a is r for a in model.ancestors(node) for r in roots)


def _indexes_output(model: FileModel, call: cst.Call) -> bool:
    """The draw selects from a value that reaches the differentiated output (`codebook[idx]`):
    the flow stops at an index (no gradient passes through one), so ask about what it selects."""
    ctx = model.context_of(call)
    fn = model.enclosing_function(call)
    if ctx is None or ctx.framework != "jax" or fn is None:
        return False
    reads = [call]
    parent = model.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name) \
            and model.single_value(fn, parent.targets[0].target.value) is call:
        reads += list(_name_reads(model, fn, parent.targets[0].target.value))
    for read in reads:
        for anc in model.ancestors(read):
            if isinstance(anc, cst.Arg):
                outer = model.parent(anc)
                if isinstance(outer, cst.Call) and (model.callee(outer) or "") in INDEX_TAKERS \
                        and find_argument(outer, 1, "indices") is anc.value:
                    if model.flow.reaches_output(outer) is not None:
                        return True
                    break
            if isinstance(anc, cst.SubscriptElement):
                sub = model.parent(anc)
                if isinstance(sub, cst.Subscript) and model.flow.reaches_output(sub) is not None:
                    return True
                break
            if isinstance(anc, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.Call)):
                break
    return False
