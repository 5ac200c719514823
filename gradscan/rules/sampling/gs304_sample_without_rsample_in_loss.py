from __future__ import annotations

from typing import Iterator

from gradscan.rules.base import Report, clip
from gradscan.rules.sampling.helpers import SamplingRule, graph_params, node_text, sample_calls
from gradscan.semantics import distributions as dists
from gradscan.semantics.model import FileModel


class SampleWithoutRsampleInLoss(SamplingRule):
    code = "GS304"
    name = "sample-without-rsample-in-loss"
    framework = "torch"
    summary = "A sample of a continuous distribution with no `rsample` (`MixtureSameFamily`, ...) used pathwise in a loss: no gradient can reach its parameters"
    message = "`.sample()` of a family with no rsample carries no gradient; train with `-log_prob(y)`"
    explanation = ("Without a reparameterized sampler the sample is drawn under no_grad: its parameters get no gradient "
                   "through it (the backward raises when it is the only path). Maximum likelihood, or a family with rsample, trains them.")
    hint = "use `-dist.log_prob(target).mean()` (maximum likelihood), or a family with `rsample`"
    facts = ("pt38",)
    triggers = ("sample",)
    doc = """
    ## What it does
    Flags `.sample()` of a continuous torch.distributions / Pyro distribution that has no
    reparameterized sampler (`has_rsample` is False: `MixtureSameFamily`, `VonMises`, ...)
    when the sample reaches a loss or a differentiable output pathwise (not only as the point a
    `log_prob` is evaluated at).

    ## Why it breaks gradients
    Without `rsample`, `.sample()` runs under `no_grad`: the sample has no `grad_fn`, so a loss
    built from it gives its parameters no gradient; when it is the only path, `backward()`
    raises "element 0 of tensors does not require grad" (fact pt38). Switching to `rsample()`
    is not possible: the family has none.

    ## Example
    ```python
    mix = MixtureSameFamily(Categorical(logits=pi), Normal(mu, sigma))
    loss = ((mix.sample() - y) ** 2).mean()
    ```

    ## Use instead
    ```python
    mix = MixtureSameFamily(Categorical(logits=pi), Normal(mu, sigma))
    loss = -mix.log_prob(y).mean()
    ```

    ## References
    - PyTorch docs: `torch.distributions.Distribution.has_rsample`, `MixtureSameFamily`
    """
    invalid = (
        """
        import torch.nn as nn
        from torch.distributions import Categorical, MixtureSameFamily, Normal

        class MDN(nn.Module):
            def __init__(self):
                super().__init__()
                self.pi = nn.Linear(4, 3)
                self.mu = nn.Linear(4, 3)

            def forward(self, x):
                mix = MixtureSameFamily(Categorical(logits=self.pi(x)), Normal(self.mu(x), 1.0))
                return mix.sample()  # error: GS304
        """,
    )
    valid = (
        """
        import torch.nn as nn
        from torch.distributions import Categorical, MixtureSameFamily, Normal

        class MDN(nn.Module):
            def __init__(self):
                super().__init__()
                self.pi = nn.Linear(4, 3)
                self.mu = nn.Linear(4, 3)

            def forward(self, x, y):
                mix = MixtureSameFamily(Categorical(logits=self.pi(x)), Normal(self.mu(x), 1.0))
                return -mix.log_prob(y).mean()
        """,
    )

    def check(self, model: FileModel) -> Iterator[Report]:
        for call, func in sample_calls(model):
            d = dists.distribution_of(model, func.value)
            if d is None or d.library not in (dists.TORCH, dists.PYRO) or d.reparameterized is not False:
                continue
            if d.cls.discrete or d.cls.custom_sample:
                continue  # discrete samples are GS303's
            graph = graph_params(model, d)
            if not graph or self._reaches_loss(model, call, ("torch",)) is None:
                continue
            yield Report(func.attr, f"`.sample()` of {d.cls.name} has no rsample: `{clip(node_text(model, graph[0]), 24)}` "
                                    "gets no gradient; use `-log_prob(y)`")
