"""Loss assembled from a dict of named terms, one of them converted with float(): jax.grad raises at the first step.

Source: https://github.com/jax-ml/jax/issues/2783
        https://github.com/jax-ml/jax/issues/9085
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def loss_terms(params, batch):
    x, y = batch
    pred = jnp.tanh(x @ params["w1"]) @ params["w2"]
    terms = {}
    terms["mse"] = jnp.mean((pred - y) ** 2)
    terms["l2"] = 1e-3 * float(sum(jnp.sum(p ** 2) for p in params.values()))  # BUG
    return terms


def total_loss(params, batch):
    terms = loss_terms(params, batch)
    return sum(terms.values())


key = jax.random.PRNGKey(0)
k1, k2, k3 = jax.random.split(key, 3)
params = {"w1": jax.random.normal(k1, (3, 5)) * 0.3, "w2": jax.random.normal(k2, (5,)) * 0.3}
x = jax.random.normal(k3, (12, 3))
batch = (x, x[:, 0] - x[:, 1])

raised = False
try:
    grads = jax.grad(total_loss)(params, batch)
except jax.errors.ConcretizationTypeError:
    raised = True
assert raised, "float() of a traced value should raise under jax.grad"
