from __future__ import annotations

from typing import Iterator

import libcst as cst

from gradscan.rules.base import Report
from gradscan.rules.sampling.helpers import SamplingRule, graph_params
from gradscan.semantics import distributions as dists
from gradscan.semantics import intent
from gradscan.semantics.contexts import in_no_grad_block
from gradscan.semantics.definitions import Definitions
from gradscan.semantics.flow import Trace
from gradscan.semantics.model import FileModel


class ScoreOfReparameterizedSample(SamplingRule):
    code = "GS305"
    name = "score-of-reparameterized-sample"
    framework = "any"
    summary = "A score-function (REINFORCE) loss takes `log_prob` of the distribution's own reparameterized sample: the location gets zero gradient"
    message = "`log_prob` of this distribution's own reparameterized sample: the score term cancels; score a detached sample"
    explanation = ("The sample is `loc + scale * eps` and still depends on the parameters, so `log_prob(sample)` is a "
                   "function of `eps` and the scale only: a REINFORCE loss built on it gives the location exactly zero "
                   "gradient. The score-function estimator needs the point held fixed.")
    hint = "draw with `.sample()` (torch, Pyro), or score `tf.stop_gradient(a)` / `a.detach()`"
    facts = ("pt53", "tf63")
    triggers = ("log_prob", ".prob(")
    doc = """
    ## What it does
    Flags `d.log_prob(a)` (or `d.prob(a)`) where `a` is a reparameterized sample of the same
    distribution object `d` (`a = d.rsample()` in torch or Pyro; `a = d.sample()` of a
    reparameterized TF Probability family, whose `sample` passes gradients), `d`'s parameters
    come from the graph, and the log-density is used as a score: it reaches the loss
    multiplied (or divided) by a weight that is not a constant coefficient (a return, a reward,
    an advantage), while the sample itself reaches the loss no other way (it goes to the
    environment, a reward function or a baseline detached, or is computed with under
    `no_grad`). A policy's `forward` returning the sample and its log-density
    (`return a, pi.log_prob(a)`) is followed into its callers in the file, where the weight is.

    ## Why it breaks gradients
    A reparameterized sample is `loc + scale * eps` and keeps its graph to `loc` and `scale`.
    The log-density at that point, `-((a - loc) / scale) ** 2 / 2 - log(scale) - c`, is then
    `-eps ** 2 / 2 - log(scale) - c`: the location cancels, and autograd gives the policy's mean
    head exactly zero gradient (facts pt53, tf63); the scale gets a gradient of the wrong
    estimator. The REINFORCE estimator `log_prob(a) * advantage` needs the point held fixed.

    Not flagged: the same `log_prob` of a reparameterized sample when the sample also reaches
    the loss pathwise (SAC's `alpha * log_prob(a) - q(obs, a)`, a VAE's ELBO
    `log p(x|z) + log p(z) - log q(z)`, a flow's reverse KL): the pathwise term carries the
    gradient, and the log-density is an entropy term; a log-density scaled by a constant
    coefficient only (`0.01 * log_prob(a)`, an entropy estimate); `log_prob` of a detached or
    stopped sample, of `.sample()` in torch and Pyro, or of a sample of another distribution
    object; log-densities computed under `no_grad`.

    ## Example
    ```python
    pi = Normal(mean_head(obs), log_std.exp())
    action = pi.rsample()
    loss = -(pi.log_prob(action) * advantage).mean()
    ```

    ## Use instead
    ```python
    pi = Normal(mean_head(obs), log_std.exp())
    action = pi.sample()          # TFP: tf.stop_gradient(pi.sample())
    loss = -(pi.log_prob(action) * advantage).mean()
    ```

    ## References
    - PyTorch issue 10943 ("Gaussian policy with zero gradient of mean head")
    - TensorFlow issue 7236 (log pdf of a reparameterized sample: zero gradient to the mean)
    """
    invalid = (
        """
        import torch
        import torch.nn as nn
        from torch.distributions import Normal

        class Actor(nn.Module):
            def __init__(self):
                super().__init__()
                self.mu = nn.Linear(4, 1)

            def forward(self, obs, advantage):
                pi = Normal(self.mu(obs), 1.0)
                action = pi.rsample()
                return -(pi.log_prob(action) * advantage).mean()  # error: GS305
        """,
    )
    valid = (
        """
        import torch
        import torch.nn as nn
        from torch.distributions import Normal

        class Actor(nn.Module):
            def __init__(self):
                super().__init__()
                self.mu = nn.Linear(4, 1)

            def forward(self, obs, advantage):
                pi = Normal(self.mu(obs), 1.0)
                action = pi.sample()
                return -(pi.log_prob(action) * advantage).mean()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, _fn in model.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in ("log_prob", "prob"):
                continue
            found = dists.sample_scored_by(model, call)
            if found is None:
                continue
            sample, d = found
            if not graph_params(model, d) or in_no_grad_block(model, call):
                continue
            script = model.context_of(call) is None
            # (past a root's return: `return a, d.log_prob(a)` weighted by its caller's advantage)
            trace = model.flow.reaches_output(call, module_level=True, past_roots=True)
            if trace is None or not self._trains(trace, script):
                continue
            if not _weighted(model, trace, call):
                continue  # an entropy estimate or a constant-coefficient term, not a score
            # The sample's own way to the loss, other than as this score's point: SAC's q(obs, a),
            # a decoder, a target density. Then the pathwise term carries the gradient.
            # A value computed under `no_grad` (a reward, an advantage) carries no path.
            if model.flow.reaches_output(sample, barrier=lambda n, c=call: n is c or in_no_grad_block(model, n),
                                         module_level=True, past_roots=True) is not None:
                continue
            sampler = sample.func.attr.value
            yield Report(func.attr, f"`{func.attr.value}` of {d.cls.name}'s own `.{sampler}()`: "
                                    "the loc gets zero gradient; score a detached point")

    @staticmethod
    def _trains(trace: Trace, script: bool) -> bool:
        if trace.sink == "loss":
            return True
        return not script and trace.root is not None and trace.root.context is not None


def _weighted(model: FileModel, trace: Trace, score: cst.Call) -> bool:
    """On its way to the loss the log-density is multiplied or divided by a value that is not a
    constant coefficient and does not derive from the log-density itself: `logp * advantage`,
    `logp * (returns - baseline).detach()`, `logp * tf.stop_gradient(reward)`."""
    for child, parent in intent.trace_steps(model, trace.path):
        if not (isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, (cst.Multiply, cst.Divide))):
            continue
        for other in intent.co_operands(model, parent, child):
            if _coefficient(model, other):
                continue
            if intent.contains(model, other, score):
                continue
            if model.flow.flows_into(score, lambda n, o=other: n is o or intent.contains(model, o, n), max_calls=1, module_level=True) is not None:
                continue  # `logp * logp.exp()`: a function of the log-density, not a weight
            return True
    return False


def _coefficient(model: FileModel, expr: cst.BaseExpression, depth: int = 0) -> bool:
    """A number, a hyperparameter (`self.alpha`, `cfg.beta`, a parameter defaulting to a
    number) or a name bound to one: a coefficient, not a per-sample weight."""
    if depth > 3:
        return False
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _coefficient(model, expr.expression, depth + 1)
    if isinstance(expr, cst.Attribute):
        return True  # `self.alpha`, `args.ent_coef`, `config.beta`
    if isinstance(expr, cst.Name):
        scope = model.enclosing_function(expr)
        bindings, _kind = model.get(Definitions).reaching(expr, scope)
        if bindings:
            return all(b.value is not None and b.index is None and _coefficient(model, b.value, depth + 1) for b in bindings)
        fn = scope
        while fn is not None:
            if expr.value in fn.params:
                return _numeric_default(fn, expr.value)
            fn = fn.parent
    return False


def _numeric_default(fn, name: str) -> bool:
    node = fn.node
    if not isinstance(node, cst.FunctionDef):
        return False
    params = node.params
    for p in (*params.params, *params.kwonly_params):
        if p.name.value == name:
            return p.default is not None and isinstance(p.default, (cst.Integer, cst.Float))
    return False
