"""JAX prototype selector trained with jax.random.categorical: the sampled index carries no gradient back to the selector logits.

Source: https://github.com/jax-ml/jax/issues/17555
Label: buggy
Family: sampling
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init(key, d=4, k=5):
    k1, k2 = jax.random.split(key)
    return {"selector": jax.random.normal(k1, (d, k)) * 0.1, "protos": jax.random.normal(k2, (k, d))}


def forward(params, x, key):
    logits = x @ params["selector"]
    idx = jax.random.categorical(key, logits, axis=-1)  # BUG
    return params["protos"][idx]


def loss_fn(params, x, key):
    return jnp.mean((forward(params, x, key) - x) ** 2)


@jax.jit
def train_step(params, opt_state, x, key):
    grads = jax.grad(loss_fn)(params, x, key)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, grads


tx = optax.sgd(0.1)

if __name__ == "__main__":
    params = init(jax.random.PRNGKey(0))
    opt_state = tx.init(params)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
    params2, opt_state, grads = train_step(params, opt_state, x, jax.random.PRNGKey(2))
    assert float(jnp.abs(grads["selector"]).sum()) == 0.0
    assert float(jnp.abs(grads["protos"]).sum()) > 0.0
    assert bool(jnp.all(params2["selector"] == params["selector"]))
