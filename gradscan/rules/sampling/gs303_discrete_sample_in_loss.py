from __future__ import annotations

from typing import Iterator

from gradscan.rules.base import Report, clip
from gradscan.rules.sampling.helpers import SamplingRule, graph_params, node_text, sample_calls
from gradscan.semantics import distributions as dists
from gradscan.semantics.arguments import find_argument
from gradscan.semantics.model import FileModel

JAX_DISCRETE = {"jax.random.bernoulli": ("p", 1), "jax.random.categorical": ("logits", 1)}


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
        for call, func in sample_calls(model):
            d = dists.distribution_of(model, func.value)
            if d is None or not d.discrete or d.cls.custom_sample:
                continue
            graph = graph_params(model, d)
            if not graph:
                continue
            frameworks = ("torch",) if d.library in (dists.TORCH, dists.PYRO) else ("tensorflow", "jax")
            if self._reaches_loss(model, call, frameworks, index_valued=d.index_valued, discrete=True) is None:
                continue
            yield Report(func.attr, f"{clip(d.display, 40)} sample gives `{node_text(model, graph[0], 20)}` no gradient; "
                                    f"use a relaxation or `log_prob`")
        for call, _fn in model.calls:
            spec = JAX_DISCRETE.get(model.callee(call) or "")
            if spec is None:
                continue
            keyword, position = spec
            param = find_argument(call, position, keyword)
            if param is None or not model.sources.from_graph(param):
                continue
            name = (model.callee(call) or "").rsplit(".", 1)[-1]
            if self._reaches_loss(model, call, ("jax",), index_valued=name == "categorical", discrete=True) is None:
                continue
            yield Report(call, f"`jax.random.{name}` gives `{node_text(model, param, 24)}` a zero gradient; "
                               f"use a relaxation or `log_prob`")
