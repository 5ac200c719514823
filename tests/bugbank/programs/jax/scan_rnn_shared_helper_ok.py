"""Elman RNN regressor in plain JAX: the loss unrolls with jax.lax.scan and masks padded steps with jnp.where; the same rollout helper is called outside the gradient for evaluation, where NumPy and float() are fine.

Source: https://github.com/QuantEcon/lecture-jax/pull/253
        https://github.com/google/flax/issues/16
Label: clean
Family: jax
Frameworks: jax, optax
"""
import numpy as np
import jax
import jax.numpy as jnp
import optax


def rollout(params, xs):
    def cell(h, x_t):
        h = jnp.tanh(x_t @ params["wx"] + h @ params["wh"] + params["b"])
        return h, h @ params["wo"]

    h0 = jnp.zeros((xs.shape[1], params["wh"].shape[0]))
    _, ys = jax.lax.scan(cell, h0, xs)
    return ys[..., 0]


def masked_mse(params, xs, targets, mask):
    preds = rollout(params, xs)
    err = jnp.where(mask, (preds - targets) ** 2, 0.0)
    return err.sum() / jnp.maximum(mask.sum(), 1)


class Trainer:
    def __init__(self, params, lr=1e-2):
        self.params = params
        self.tx = optax.adam(lr)
        self.opt_state = self.tx.init(params)
        self._grad = jax.jit(jax.value_and_grad(masked_mse))

    def step(self, xs, targets, mask):
        loss, grads = self._grad(self.params, xs, targets, mask)
        updates, self.opt_state = self.tx.update(grads, self.opt_state)
        self.params = optax.apply_updates(self.params, updates)
        return float(loss), grads

    def evaluate(self, xs, targets):
        preds = np.asarray(rollout(self.params, xs))
        return float(np.mean((preds - np.asarray(targets)) ** 2))


if __name__ == "__main__":
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    params = {"wx": jax.random.normal(keys[0], (2, 8)) * 0.3, "wh": jax.random.normal(keys[1], (8, 8)) * 0.3,
              "b": jnp.zeros(8), "wo": jax.random.normal(keys[2], (8, 1)) * 0.3}
    xs = jax.random.normal(keys[3], (5, 4, 2))  # time, batch, features
    targets = jnp.cumsum(xs[..., 0], axis=0)
    mask = jnp.arange(5)[:, None] < jnp.array([5, 4, 3, 5])[None, :]
    trainer = Trainer(params)
    before = trainer.evaluate(xs, targets)
    loss, grads = trainer.step(xs, targets, mask)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.any(trainer.params["wh"] != params["wh"]))
    assert np.isfinite(before) and loss > 0
