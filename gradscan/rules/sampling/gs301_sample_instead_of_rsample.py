from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from gradscan.rules.base import Report, clip
from gradscan.rules.sampling.helpers import SamplingRule, graph_params, node_text, returned_pathwise, rsample_method, sample_calls
from gradscan.semantics import distributions as dists
from gradscan.semantics.model import FileModel


class SampleInsteadOfRsample(SamplingRule):
    code = "GS301"
    name = "sample-instead-of-rsample"
    framework = "torch"
    summary = "`.sample()` of a reparameterizable torch distribution blocks gradients to its parameters: use `.rsample()`"
    message = "`.sample()` blocks the gradient to the distribution's parameters; use `.rsample()`"
    explanation = (
        "torch draws `.sample()` under no_grad: the parameters get no gradient through the sample (an error if "
        "it is the only path, zeros otherwise). `.rsample()` is reparameterized and passes gradients."
    )
    hint = "use `.rsample()` (the reparameterized sample), as `pyro.sample` and TF Probability do by themselves"
    fix_safety = "safe"  # only flagged where the family has rsample (reparameterized)
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
    inline, stored in a variable, returned by a method (`self.posterior(x).sample()`), by an
    encoder module or by a method of an object handed to the constructor
    (`self.policy.dist(obs).sample()`), or passed to a helper (`def draw(d): return d.sample()`
    called with `draw(Normal(mu, sigma))`). A `TransformedDistribution` whose transforms hold
    weights (a Pyro `TransformModule` such as `T.spline_coupling(2)`, a torch module) depends
    on them even when its base is a constant standard normal: a normalizing flow's `.sample()`
    in a reverse-KL loss is flagged.

    Also flagged, whatever the parameters and callers: `.sample()` whose value a distribution
    class's own reparameterized sampler returns (`rsample`, `rsample_with_z`,
    `rsample_and_log_prob` of a subclass of a torch or Pyro distribution, drawing from
    `super()`, from a reparameterized distribution it builds, or from `self.base_dist`): the
    method promises its callers a sample that passes gradients. A class whose base is defined
    in another file is such a subclass when it hands a torch or Pyro distribution to
    `super().__init__`.

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
    as the point a `log_prob` is evaluated at (a sample that parameterizes the likelihood,
    `Normal(dec(z), 1).log_prob(x)`, or is a loss's prediction, `bce(dec(z), x)`, is pathwise
    and flagged) or through a reward that weights the score (`log_prob(a) * reward(a)`,
    or an environment or unknown function; a function of the file that computes with tensors
    and is added to the loss, as a reverse-KL target density, is a path; a reward computed
    from the sample by tensor operations that weights its score, `-(r - b) * log_p` with
    `r = -(y - 3 * a) ** 2`, is REINFORCE too); a root returning the sample beside its score
    (`return a, d.log_prob(a)`) is judged at its callers in the file, where the reward
    weighting the returned score is computed (their uses under `no_grad` carry no path); sampling in generation, evaluation, rollout and data-collection code;
    priors and noise with constant parameters (`Normal(0, 1).sample()`); samples that are
    detached on purpose.

    These exemptions are decided by what the file does, not by names. A sample a root returns
    (a `forward` or an `act` that returns an action) is silent when every caller in the file
    takes it as data (stored in a buffer, given to `env.step`, scored by `log_prob`) and flagged
    when one caller carries it into a loss, whatever the function, class or variable is called
    (`act`, `Policy`, `action`); the name decides only when the file has no caller. A
    bootstrapped target (`r + gamma * q(next_obs, next_action)`) is silent when the loss
    compares it with a live prediction it does not flow into; a `next_z` the prediction is
    decoded from is flagged. A root's parameter is data or graph according to what its callers
    pass (`head(body(x))` makes `forward(self, x)`'s `x` a graph value); a data-like name
    (`x`, `obs`) decides only without a caller.

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
        for call, func in sample_calls(model):
            promised = rsample_method(model, call)
            if promised is not None:
                # Inside a distribution's own `rsample`: the method promises every caller a
                # reparameterized sample, whatever the parameters are and wherever it is used.
                family = self._contract_family(model, func.value, promised)
                if family is not None and returned_pathwise(model, call):
                    yield Report(func.attr, f"`{clip(promised.name, 24)}` returns `.sample()` of {clip(family, 24)}: no gradient; "
                                            f"use `.rsample()`", fix=(func.attr, "rsample", "Use `.rsample()`"))
                continue
            d = dists.distribution_of(model, func.value)
            if d is None or d.library not in (dists.TORCH, dists.PYRO) or d.reparameterized is not True or d.cls.custom_sample:
                continue
            graph = graph_params(model, d)
            if not graph:
                continue
            if self._reaches_loss(model, call, ("torch",)) is None:
                continue
            yield Report(func.attr, f"`.sample()` of {clip(d.display, 40)} gives `{node_text(model, graph[0], 24)}` no gradient; "
                                    f"use `.rsample()`", fix=(func.attr, "rsample", "Use `.rsample()`"))

    def _contract_family(self, model: FileModel, receiver, method) -> Optional[str]:
        """The reparameterized torch/Pyro family `receiver.sample()` draws from inside a
        distribution subclass's `rsample` method (`super()`, or a distribution it builds)."""
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Name) and receiver.func.value == "super" and not receiver.args:
            base = dists.base_distribution_class(model, method.cls)
            if base is not None and base.library in (dists.TORCH, dists.PYRO) and base.reparameterized is True:
                return base.name
            return None
        d = dists.distribution_of(model, receiver)
        if d is not None and d.library in (dists.TORCH, dists.PYRO) and d.reparameterized is True and not d.cls.custom_sample:
            return d.cls.name
        return None
