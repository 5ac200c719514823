"""Flax NNX value regression with a bootstrapped target: stop_gradient wraps the target built from the next state, the prediction keeps its gradient.

Source: https://github.com/openai/baselines/issues/105
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class ValueNet(nnx.Module):
    def __init__(self, din, rngs: nnx.Rngs):
        self.body = nnx.Linear(din, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.tanh(self.body(x)))[:, 0]


def td_target(model, rewards, next_obs, gamma=0.9):
    return jax.lax.stop_gradient(rewards + gamma * model(next_obs))


def loss_fn(model, obs, rewards, next_obs):
    target = td_target(model, rewards, next_obs)
    return jnp.mean((model(obs) - target) ** 2)


@nnx.jit
def train_step(model, optimizer, obs, rewards, next_obs):
    loss, grads = nnx.value_and_grad(loss_fn)(model, obs, rewards, next_obs)
    optimizer.update(model, grads)
    return loss, grads


if __name__ == "__main__":
    model = ValueNet(4, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    obs = jax.random.normal(k1, (8, 4))
    next_obs = jax.random.normal(k2, (8, 4))
    rewards = jnp.ones(8)
    kernel_before = model.out.kernel[...].copy()
    loss, grads = train_step(model, optimizer, obs, rewards, next_obs)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.any(model.out.kernel[...] != kernel_before))
