"""BYOL-style learner class: the online network regresses the stop_gradient of an EMA target network's projection; the target moves by optax.incremental_update. The online network trains.

Source: https://github.com/google/flax/issues/1857
        https://optax.readthedocs.io/en/latest/api/apply_updates.html
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class Projector(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(4)(nn.gelu(nn.Dense(8)(x)))


class BYOLLearner:
    def __init__(self, key, sample, tau=0.99):
        self.net = Projector()
        self.online = self.net.init(key, sample)["params"]
        self.target = jax.tree_util.tree_map(jnp.copy, self.online)
        self.tx = optax.adam(1e-2)
        self.opt_state = self.tx.init(self.online)
        self.tau = tau

    def loss(self, online, target, views):
        a, b = views
        pred = self.net.apply({"params": online}, a)
        goal = jax.lax.stop_gradient(self.net.apply({"params": target}, b))
        pred = pred / jnp.linalg.norm(pred, axis=-1, keepdims=True)
        goal = goal / jnp.linalg.norm(goal, axis=-1, keepdims=True)
        return jnp.mean(jnp.sum((pred - goal) ** 2, axis=-1))

    def step(self, views):
        loss, grads = jax.value_and_grad(self.loss)(self.online, self.target, views)
        updates, self.opt_state = self.tx.update(grads, self.opt_state, self.online)
        self.online = optax.apply_updates(self.online, updates)
        self.target = optax.incremental_update(self.online, self.target, 1.0 - self.tau)
        return loss, grads


key = jax.random.PRNGKey(0)
x = jax.random.normal(key, (10, 5))
views = (x + 0.1 * jax.random.normal(jax.random.PRNGKey(1), x.shape), x)
learner = BYOLLearner(key, x)
start = learner.online
for _ in range(3):
    loss, grads = learner.step(views)
assert any(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), start, learner.online)
assert all(jax.tree_util.tree_leaves(moved))
