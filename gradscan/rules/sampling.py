"""GS3xx: random samples that gradients cannot pass through.

Whether a gradient passes through a sample depends on the framework and on the call (facts
pt09, pt10, pt35, py42, tf35, tf44, jx41): torch's `Normal(mu, s).sample()` blocks it and
`.rsample()` passes it; `torch.normal(mu, s)` returns silent zeros; TF Probability's
reparameterized `.sample()` passes it; `pyro.sample(name, d)` reparameterizes by itself while
`.sample()` called on a `pyro.distributions` object is torch's; `tf.random.normal(mean=...)` and
`keras.random.normal` are differentiable. Every rule here stays silent on the score-function
look-alike (the sample only reaches the loss through `log_prob`), on straight-through estimators,
on sampling in generation, evaluation and rollout code, and on distributions whose parameters
are constants.
"""
from __future__ import annotations

from typing import Iterator, Optional, Set

import libcst as cst

from gradscan.rules.base import Report, Rule
from gradscan.semantics import distributions as dists
from gradscan.semantics.contexts import has_no_grad_decorator, in_eval_branch, in_no_grad_block
from gradscan.semantics.flow import Trace, tokens
from gradscan.semantics.model import FileModel
from gradscan.semantics.names import dotted

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
    carries no gradient on purpose."""
    names = set(_bound_names(model, node))
    names.update(n.value for n in trace.path if isinstance(n, cst.Name))
    return any(tokens(n) & TARGET_TOKENS for n in names)


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


class _SamplingRule(Rule):
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
        if inference_like(model, node):
            return None

        def score(n):
            return n is not node and dists.is_score_call(model, n)

        if model.flow.flows_into(node, score, max_calls=1, module_level=script) is not None:
            return None  # the sample is scored: REINFORCE / a likelihood term
        trace = model.flow.reaches_output(node, barrier=score, module_level=script)
        if trace is None:
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
        if raw and trace.sink == "return" and (discrete or _action_like(model, node)):
            return None  # an action returned by a policy
        if _action_like(model, node) and discrete:
            return None
        if index_valued and _used_as_index(model, trace, node):
            return None
        return trace


def _enclosing_functions(model: FileModel, node: cst.CSTNode):
    fn = model.enclosing_function(node)
    while fn is not None:
        yield fn
        fn = fn.parent


def _sample_calls(model: FileModel):
    for call, _fn in model.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("sample", "sample_n"):
            yield call, func


# Roots of hyperparameter objects: an argument the model cannot rule out as a graph value, but
# not the one to name in a message when a computed one (logits, loc) is also there.
_CONFIG_ROOTS = {"config", "cfg", "args", "hparams", "hps", "opt", "opts", "options", "settings", "conf"}


def _graph_params(model: FileModel, d: dists.Distribution):
    graph = [expr for expr, scope in d.params if dists.from_graph(model, expr, scope)]

    def configured(expr) -> bool:
        root = (dotted(expr) or "").split(".")
        return root[0] in _CONFIG_ROOTS or root[:2] in (["self", "config"], ["self", "cfg"], ["self", "hparams"])

    return sorted(graph, key=configured)  # stable: argument order otherwise


def _text(model: FileModel, node: cst.CSTNode, limit: int = 40) -> str:
    text = model.module.code_for_node(node).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SampleInsteadOfRsample(_SamplingRule):
    code = "GS301"
    name = "sample-instead-of-rsample"
    framework = "torch"
    summary = "`.sample()` of a reparameterizable torch distribution blocks gradients to its parameters: use `.rsample()`"
    message = "`.sample()` blocks gradients: the distribution's parameters get none through this sample; use `.rsample()`"
    hint = "use `.rsample()` (the reparameterized sample), as `pyro.sample` and TF Probability do by themselves"
    facts = ("pt09", "py42", "tf35")
    triggers = (".sample(",)
    doc = """
    ## What it does
    Flags `.sample()` called on a `torch.distributions` (or `pyro.distributions`) distribution
    that has a reparameterized sampler (Normal, MultivariateNormal, LowRankMultivariateNormal,
    LogNormal, Laplace, Cauchy, Gamma, Beta, Dirichlet, Exponential, Uniform, StudentT,
    RelaxedBernoulli, RelaxedOneHotCategorical, `Independent`/`TransformedDistribution` of these,
    and the project's subclasses of them) whose parameters come from the graph (module outputs,
    parameters, values computed in `forward`), inside a differentiable function, when the sample
    reaches the output or the loss other than through `log_prob`. The distribution may be built
    inline, stored in a variable, returned by a method (`self.posterior(x).sample()`) or by an
    encoder module.

    ## Why it breaks gradients
    In torch, `.sample()` runs under `torch.no_grad()`: the sample has no `grad_fn`. When it is
    the only path from the parameters to the loss, backward raises "element 0 of tensors does
    not require grad"; mixed with other terms (a VAE's KL term, a Bayesian layer's prior term)
    the encoder or the weight means silently get zero gradient from the reconstruction and stop
    learning. `.rsample()` draws `mu + sigma * eps` and passes gradients (fact pt09).

    Framework differences, stated plainly: TF Probability's `.sample()` of a reparameterized
    distribution passes gradients (tf35) and is not flagged; `pyro.sample("z", d)` calls
    `rsample` by itself when the distribution has one (py42) and is not flagged; but
    `.sample()` called directly on a `pyro.distributions` object is torch's and is flagged.

    Not flagged: score-function (REINFORCE) estimators, where the sample only reaches the loss
    through `log_prob`; sampling in generation, evaluation, rollout and data-collection code;
    priors and noise with constant parameters (`Normal(0, 1).sample()`); samples that are
    detached on purpose.

    ## Example
    ```python
    class VAE(nn.Module):
        def forward(self, x):
            mu, log_sigma = self.enc(x).chunk(2, -1)
            z = torch.distributions.Normal(mu, log_sigma.exp()).sample()
            return self.dec(z)
    ```

    ## Use instead
    ```python
    class VAE(nn.Module):
        def forward(self, x):
            mu, log_sigma = self.enc(x).chunk(2, -1)
            z = torch.distributions.Normal(mu, log_sigma.exp()).rsample()
            return self.dec(z)
    ```

    ## References
    - PyTorch docs: `torch.distributions`, "Pathwise derivative" (`rsample`) and "Score function"
    - gradscan facts: pt09 (torch `.sample()` vs `.rsample()`), py42 (`pyro.sample`), tf35 (TF Probability)
    """
    invalid = (
        """
        import torch
        from torch import nn
        import torch.distributions as D

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def posterior(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                return D.Normal(mu, log_sigma.exp())

            def forward(self, x):
                z = self.posterior(x).sample()  # error: GS301
                return self.dec(z)
        """,
        """
        import torch
        import torch.nn.functional as F
        from torch import nn
        from torch.distributions import Normal as N

        class BayesLinear(nn.Module):
            def __init__(self, n, m):
                super().__init__()
                self.w_mu = nn.Parameter(torch.zeros(m, n))
                self.w_rho = nn.Parameter(torch.zeros(m, n))

            def forward(self, x):
                q = N(self.w_mu, F.softplus(self.w_rho))
                w = q.sample()  # error: GS301
                return F.linear(x, w)
        """,
        """
        import pyro.distributions as dist
        from torch import nn

        class Guide(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(3, 2)

            def forward(self, x):
                loc, scale = self.net(x).chunk(2, -1)
                z = dist.Normal(loc, scale.exp()).to_event(1).sample()  # error: GS301
                return z.sum()
        """,
    )
    valid = (
        """
        import torch
        from torch import nn
        import torch.distributions as D

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def forward(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                z = D.Normal(mu, log_sigma.exp()).rsample()
                eps = D.Normal(torch.zeros_like(mu), torch.ones_like(mu)).sample()
                return self.dec(z + 0.0 * eps)

            def generate(self, n):
                z = D.Normal(torch.zeros(n, 2), torch.ones(n, 2)).sample()
                return self.dec(z)
        """,
        """
        import torch
        from torch import nn
        from torch.distributions import Normal

        class Policy(nn.Module):
            def __init__(self):
                super().__init__()
                self.mu = nn.Linear(4, 2)

            def forward(self, obs):
                return Normal(self.mu(obs), 1.0)

        def train(policy, obs, advantage, opt):
            d = policy(obs)
            a = d.sample()
            loss = -(d.log_prob(a).sum(-1) * advantage).mean()
            loss.backward()
            opt.step()
        """,
        """
        import pyro
        import pyro.distributions as dist
        import tensorflow as tf
        import tensorflow_probability as tfp
        from torch import nn

        tfd = tfp.distributions

        class Guide(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(3, 2)

            def forward(self, x):
                loc, scale = self.net(x).chunk(2, -1)
                return pyro.sample("z", dist.Normal(loc, scale.exp()).to_event(1))

        class Encoder(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.d = tf.keras.layers.Dense(2)

            def call(self, x):
                return tfd.Normal(self.d(x), 1.0).sample()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, func in _sample_calls(model):
            d = dists.distribution_of(model, func.value)
            if d is None or d.library not in (dists.TORCH, dists.PYRO) or d.reparameterized is not True or d.cls.custom_sample:
                continue
            graph = _graph_params(model, d)
            if not graph:
                continue
            if self._reaches_loss(model, call, ("torch",)) is None:
                continue
            yield Report(func.attr, f"`.sample()` of {d.display} blocks gradients: `{_text(model, graph[0])}` gets none "
                                    f"through this sample (torch samples under no_grad); use `.rsample()`")


TORCH_SAMPLING_FUNCTIONS = {
    "torch.normal": "normal", "torch.bernoulli": "bernoulli", "torch.poisson": "poisson", "torch.multinomial": "multinomial",
}


class SamplingFunctionZeroGrad(_SamplingRule):
    code = "GS302"
    name = "sampling-function-zero-grad"
    framework = "torch"
    summary = "`torch.normal`/`torch.bernoulli`/`torch.multinomial` of graph tensors give their parameters zero or no gradient"
    message = "the gradient through this torch sampling function to its parameters is silently zero"
    hint = "write `mean + std * torch.randn_like(std)` (or `Normal(mean, std).rsample()`); for discrete samples use a relaxed distribution or `log_prob`"
    facts = ("pt10", "pt35", "tf44")
    triggers = ("normal(", "bernoulli(", "poisson(", "multinomial(")
    doc = """
    ## What it does
    Flags `torch.normal(mean, std)` (also with a float `std`) whose mean or std comes from the
    graph, and `torch.bernoulli`, `torch.poisson`, `torch.multinomial` (and the
    `probs.multinomial(n)` / `probs.bernoulli()` methods) of graph probabilities, inside a
    differentiable function, when the result reaches the output or the loss.

    ## Why it breaks gradients
    `torch.normal(mean_t, std_t)` has a `grad_fn` (`NormalBackward3`), so nothing complains, but
    the gradients it gives `mean` and `std` are all zeros (fact pt10): it is not the
    reparameterization trick. `torch.bernoulli(p)` likewise gives `p` zero gradient, and
    `torch.multinomial` returns integer indices with no gradient at all (fact pt35). The
    layers producing these parameters silently stop learning from this path.

    Framework differences, stated plainly: TensorFlow's `tf.random.normal(shape, mean=m, stddev=s)`
    and `keras.random.normal(shape, mean=m, stddev=s)` *are* differentiable in `mean` and
    `stddev` (fact tf44) and are not flagged.

    Not flagged: `mean + std * torch.randn_like(std)`; noise with constant parameters
    (`torch.normal(0, 1, size)`, dropout-style masks `torch.bernoulli(torch.full_like(x, p))`);
    sampled token ids used as indices (generation, scheduled sampling); straight-through
    estimators (`b + p - p.detach()`); samples only scored through `log_prob`; sampling in
    generation, evaluation and rollout code.

    ## Example
    ```python
    def forward(self, x):
        mu, log_sigma = self.enc(x).chunk(2, -1)
        z = torch.normal(mu, log_sigma.exp())
        return self.dec(z)
    ```

    ## Use instead
    ```python
    def forward(self, x):
        mu, log_sigma = self.enc(x).chunk(2, -1)
        z = mu + log_sigma.exp() * torch.randn_like(mu)
        return self.dec(z)
    ```

    ## References
    - PyTorch docs: `torch.normal`, `torch.bernoulli`, `torch.multinomial`
    - gradscan facts: pt10 (torch.normal zero gradients), pt35 (bernoulli, multinomial), tf44 (TensorFlow's differentiable random.normal)
    """
    invalid = (
        """
        import torch
        from torch import nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def forward(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                z = torch.normal(mu, log_sigma.exp())  # error: GS302
                gate = torch.bernoulli(torch.sigmoid(mu))  # error: GS302
                return self.dec(z * gate)
        """,
    )
    valid = (
        """
        import torch
        import tensorflow as tf
        from torch import nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(4, 4)
                self.dec = nn.Linear(2, 4)

            def forward(self, x):
                mu, log_sigma = self.enc(x).chunk(2, -1)
                z = mu + log_sigma.exp() * torch.randn_like(mu)
                noise = torch.normal(0.0, 1.0, size=z.shape)
                mask = torch.bernoulli(torch.full_like(z, 0.9))
                return self.dec(z * mask + 0.01 * noise)

        class Enc(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.d = tf.keras.layers.Dense(2)

            def call(self, x):
                return tf.random.normal(tf.shape(x), mean=self.d(x), stddev=1.0)
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            kind = TORCH_SAMPLING_FUNCTIONS.get(model.callee(call) or "")
            params = []
            if kind is not None:
                params = self._params(call, kind)
            elif isinstance(call.func, cst.Attribute) and call.func.attr.value in ("multinomial", "bernoulli") and model.callee(call) is None:
                kind = call.func.attr.value
                if kind == "bernoulli" and call.args:
                    continue  # x.bernoulli(p): p is the probability, x only gives the shape
                params = [call.func.value]
            else:
                continue
            graph = [p for p in params if dists.from_graph(model, p)]
            if not graph:
                continue
            if self._reaches_loss(model, call, ("torch",), index_valued=kind == "multinomial", discrete=kind != "normal") is None:
                continue
            yield Report(call, self._message(model, kind, graph[0]))

    @staticmethod
    def _params(call: cst.Call, kind: str):
        names = {"normal": ("mean", "std"), "bernoulli": ("input",), "poisson": ("input",), "multinomial": ("input",)}[kind]
        out = []
        positional = [a for a in call.args if a.keyword is None and a.star == ""]
        if kind == "bernoulli":
            # torch.bernoulli(input, p): with `p` given, `input` only gives the shape
            p = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "p"), None)
            if p is None and len(positional) > 1:
                p = positional[1].value
            if p is not None:
                return [p]
        for i, n in enumerate(names):
            kw = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == n), None)
            if kw is not None:
                out.append(kw)
            elif i < len(positional):
                out.append(positional[i].value)
        return out

    @staticmethod
    def _message(model: FileModel, kind: str, param: cst.CSTNode) -> str:
        text = _text(model, param)
        if kind == "normal":
            return f"`torch.normal` gives `{text}` an all-zero gradient (it is not reparameterized); write `mean + std * torch.randn_like(std)`"
        if kind == "multinomial":
            return f"`multinomial` returns integer indices: `{text}` gets no gradient through them; use a Gumbel-softmax / relaxed sample or `log_prob` (score function)"
        return f"`torch.{kind}` gives `{text}` a zero gradient; use a relaxed distribution (RelaxedBernoulli, Gumbel-softmax), a straight-through estimator or `log_prob`"


JAX_DISCRETE = {"jax.random.bernoulli": ("p", 1), "jax.random.categorical": ("logits", 1)}


class DiscreteSampleInLoss(_SamplingRule):
    code = "GS303"
    name = "discrete-sample-in-loss"
    framework = "any"
    summary = "A sample of a discrete distribution reaches the loss: its probabilities get no gradient"
    message = "a discrete sample carries no gradient to the distribution's probabilities"
    hint = "use a relaxed distribution (RelaxedBernoulli, RelaxedOneHotCategorical, Gumbel-softmax) or a score-function estimator (`log_prob`)"
    facts = ("pt09", "tf35", "jx41")
    triggers = (".sample(", "bernoulli(", "categorical(")
    doc = """
    ## What it does
    Flags a sample of a distribution without a reparameterized sampler (torch/pyro Bernoulli,
    Categorical, OneHotCategorical, Poisson, Binomial, Geometric, NegativeBinomial, Multinomial;
    TF Probability distributions whose reparameterization type is NOT_REPARAMETERIZED: Bernoulli,
    Categorical, OneHotCategorical, Poisson, Binomial and the other discrete ones;
    `jax.random.bernoulli` / `jax.random.categorical` of traced probabilities) whose parameters come
    from the graph, when the sample reaches the output or the loss other than through `log_prob`.

    ## Why it breaks gradients
    A discrete sample is a step function of the probabilities: no gradient passes through it.
    torch's `Bernoulli(p).sample()` has no `grad_fn` (`rsample` raises NotImplementedError, fact
    pt09); TF Probability's NOT_REPARAMETERIZED samples give `tape.gradient` None (tf35);
    `jax.random.bernoulli(key, p)` and `categorical(key, logits)` give silent zero gradients (jx41).
    The network that produces the probabilities learns nothing from this path.

    Not flagged: samples used through `log_prob` (REINFORCE, score-function estimators; Pyro's
    `pyro.sample` inside SVI, whose ELBO adds the score term, fact py42); straight-through
    estimators (`hard + soft - soft.detach()`); sampled actions in RL rollouts and policies;
    sampling at generation time; sampled indices used to index or embed.

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
        for call, func in _sample_calls(model):
            d = dists.distribution_of(model, func.value)
            if d is None or not d.discrete or d.cls.custom_sample:
                continue
            graph = _graph_params(model, d)
            if not graph:
                continue
            frameworks = ("torch",) if d.library in (dists.TORCH, dists.PYRO) else ("tensorflow", "jax")
            if self._reaches_loss(model, call, frameworks, index_valued=d.index_valued, discrete=True) is None:
                continue
            yield Report(func.attr, f"a sample of {d.display} carries no gradient to `{_text(model, graph[0])}`; use a relaxed "
                                    f"distribution (Gumbel-softmax) or a score-function estimator (`log_prob`)")
        for call, _fn in model.calls:
            spec = JAX_DISCRETE.get(model.callee(call) or "")
            if spec is None:
                continue
            keyword, position = spec
            positional = [a for a in call.args if a.keyword is None and a.star == ""]
            param = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == keyword), None)
            if param is None and len(positional) > position:
                param = positional[position].value
            if param is None or not dists.from_graph(model, param):
                continue
            name = (model.callee(call) or "").rsplit(".", 1)[-1]
            if self._reaches_loss(model, call, ("jax",), index_valued=name == "categorical", discrete=True) is None:
                continue
            yield Report(call, f"`jax.random.{name}` of `{_text(model, param)}` gives it a zero gradient; use a relaxed "
                               f"(Gumbel-softmax) sample or a score-function estimator")
