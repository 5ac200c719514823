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
from gradscan.rules.sampling import (  # noqa: F401 (importing a rule module registers its rule)
    gs301_sample_instead_of_rsample,
    gs302_sampling_function_zero_grad,
    gs303_discrete_sample_in_loss,
    gs304_sample_without_rsample_in_loss,
    gs305_score_of_reparameterized_sample,
    gs306_pyro_module_not_registered,
    gs307_relaxed_sample_to_index,
)
