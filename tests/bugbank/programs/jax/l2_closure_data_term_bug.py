"""Flat plain-JAX MLP script with an L2-regularised loss: the regulariser reads the argument p, but the data term calls the network with the global params, so the gradient is only the weight decay and the fit never improves.

Source: https://theneuralbase.com/jax/learn/intermediate/params-as-explicit-state/
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp

key = jax.random.PRNGKey(0)
k1, k2, kx = jax.random.split(key, 3)
params = {
    "hidden": {"w": jax.random.normal(k1, (2, 16)) * 0.5, "b": jnp.zeros(16)},
    "out": {"w": jax.random.normal(k2, (16, 1)) * 0.5, "b": jnp.zeros(1)},
}
X = jax.random.uniform(kx, (32, 2), minval=-1.0, maxval=1.0)
Y = jnp.sin(3.0 * X[:, :1]) * X[:, 1:]


def mlp(p, x):
    h = jnp.tanh(x @ p["hidden"]["w"] + p["hidden"]["b"])
    return h @ p["out"]["w"] + p["out"]["b"]


def objective(p, weight_decay=1e-3):
    fit = jnp.mean((mlp(params, X) - Y) ** 2)  # BUG
    l2 = sum(jnp.sum(w**2) for w in jax.tree_util.tree_leaves(p))
    return fit + weight_decay * l2


grad_objective = jax.jit(jax.grad(objective))

start = params
for step in range(3):
    grads = grad_objective(params)
    params = jax.tree_util.tree_map(lambda w, g: w - 0.1 * g, params, grads)

# the only gradient is 2 * 1e-3 * w: the data term never reached any weight
expected = jax.tree_util.tree_map(lambda w: 2e-3 * w, params)
actual = grad_objective(params)
assert all(bool(jnp.allclose(a, e, atol=1e-7)) for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)))
