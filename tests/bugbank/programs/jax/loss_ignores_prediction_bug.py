"""Binary classifier in plain JAX + optax: the cross-entropy is written with the labels where the predicted probability belongs, so the prediction never reaches the loss and the weights never change.

Source: https://github.com/jax-ml/jax/issues/2097
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

EPS = 1e-6


def init_params(key, n_in=2, n_hidden=4):
    k1, k2 = jax.random.split(key)
    return {"hidden": {"w": jax.random.normal(k1, (n_in, n_hidden)), "b": jnp.zeros(n_hidden)},
            "out": {"w": jax.random.normal(k2, (n_hidden, 1)), "b": jnp.zeros(1)}}


def predict_proba(params, x):
    h = jax.nn.relu(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return jax.nn.sigmoid(h @ params["out"]["w"] + params["out"]["b"])[:, 0]


def bce(params, x, y):
    p = predict_proba(params, x)  # BUG
    return -jnp.mean(y * jnp.log(y + EPS) + (1 - y) * jnp.log(1 - y + EPS))  # BUG


optimizer = optax.adam(0.01)


@jax.jit
def step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(bce)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


if __name__ == "__main__":
    kx, kp = jax.random.split(jax.random.PRNGKey(2))
    x = jax.random.normal(kx, (20, 2))
    y = (jnp.linalg.norm(x, axis=1) < 1.0).astype(jnp.float32)
    params = init_params(kp)
    opt_state = optimizer.init(params)
    start = params
    for epoch in range(3):
        params, opt_state, loss = step(params, opt_state, x, y)
    grads = jax.grad(bce)(params, x, y)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), start, params)
    assert all(jax.tree_util.tree_leaves(same))
