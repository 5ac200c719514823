"""Truncated BPTT for a plain-JAX Elman RNN: the loss walks the sequence in chunks and wraps the hidden state handed to the next chunk in stop_gradient on purpose; every weight still gets its gradient inside each chunk.

Source: https://crackedaicode.com/problems/jax-scan-training-step
        https://crackedaicode.com/problems/jax-grad-of-pure-callback (stop_gradient: the value stays, the gradient stops)
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def rnn_chunk(params, h0, xs):
    def cell(h, x):
        h = jnp.tanh(h @ params["wh"] + x @ params["wx"] + params["b"])
        return h, h @ params["wo"]

    return jax.lax.scan(cell, h0, xs)


def truncated_loss(params, xs, ys, chunk=5):
    h = jnp.zeros(params["wh"].shape[0])
    total = 0.0
    for start in range(0, xs.shape[0], chunk):
        h, preds = rnn_chunk(params, h, xs[start:start + chunk])
        total = total + jnp.mean((preds - ys[start:start + chunk]) ** 2)
        # truncate: the next chunk starts from this state's value, not its history
        h = jax.lax.stop_gradient(h)
    return total


def train(params, xs, ys, steps=3, lr=0.05):
    tx = optax.adam(lr)
    opt_state = tx.init(params)
    grad_fn = jax.jit(jax.value_and_grad(truncated_loss))
    all_grads = []
    for _ in range(steps):
        loss, grads = grad_fn(params, xs, ys)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        all_grads.append(grads)
    return params, all_grads


if __name__ == "__main__":
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {
        "wh": jax.random.normal(k1, (6, 6)) * 0.3,
        "wx": jax.random.normal(k2, (2, 6)) * 0.3,
        "b": jnp.zeros(6),
        "wo": jax.random.normal(k3, (6, 1)) * 0.3,
    }
    xs = jax.random.normal(k4, (15, 2))
    ys = jnp.cumsum(xs[:, :1], axis=0) * 0.1
    new_params, all_grads = train(params, xs, ys)
    for grads in all_grads:
        assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert all(bool(jnp.any(a != b)) for a, b in zip(jax.tree_util.tree_leaves(new_params), jax.tree_util.tree_leaves(params)))
