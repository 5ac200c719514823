"""Loss assembled from a dict of named terms returned as aux; float() is applied to the terms only for the log, after the gradient.

Source: https://github.com/jax-ml/jax/issues/2783
Label: clean
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
    terms["l2"] = 1e-3 * sum(jnp.sum(p ** 2) for p in params.values())
    return terms


def total_loss(params, batch):
    terms = loss_terms(params, batch)
    return sum(terms.values()), terms


key = jax.random.PRNGKey(0)
k1, k2, k3 = jax.random.split(key, 3)
params = {"w1": jax.random.normal(k1, (3, 5)) * 0.3, "w2": jax.random.normal(k2, (5,)) * 0.3}
x = jax.random.normal(k3, (12, 3))
batch = (x, x[:, 0] - x[:, 1])

history = []
before = params["w1"]
for step in range(3):
    (loss, terms), grads = jax.value_and_grad(total_loss, has_aux=True)(params, batch)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    history.append({name: float(value) for name, value in terms.items()})

assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
assert bool(jnp.any(params["w1"] != before))
assert len(history) == 3
