"""REINFORCE on a contextual bandit in plain JAX: actions are drawn with jax.random.categorical inside the loss, but the gradient flows through log_softmax gathered at those actions, weighted by a stop_gradient advantage.

Source: https://github.com/tensorflow/tensorflow/issues/9260
        https://github.com/jax-ml/jax/issues/17556
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def policy_logits(params, contexts):
    return jnp.tanh(contexts @ params["w1"]) @ params["w2"]


def reward_fn(contexts, actions):
    best = jnp.argmax(contexts[:, :3], axis=-1)
    return (actions == best).astype(jnp.float32)


def reinforce_loss(params, contexts, key):
    logits = policy_logits(params, contexts)
    actions = jax.random.categorical(key, logits, axis=-1)
    rewards = reward_fn(contexts, actions)
    advantage = jax.lax.stop_gradient(rewards - rewards.mean())
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[:, None], axis=-1)[:, 0]
    return -jnp.mean(advantage * logp), rewards.mean()


def run(params, contexts, key, steps=3):
    tx = optax.adam(0.05)
    opt_state = tx.init(params)
    grad_fn = jax.jit(jax.grad(reinforce_loss, has_aux=True))
    for _ in range(steps):
        key, sub = jax.random.split(key)
        grads, avg_reward = grad_fn(params, contexts, sub)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    return params, grads


if __name__ == "__main__":
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {"w1": jax.random.normal(k1, (4, 8)) * 0.5, "w2": jax.random.normal(k2, (8, 3)) * 0.5}
    contexts = jax.random.normal(k3, (64, 4))
    new_params, grads = run(params, contexts, k4)
    assert bool(jnp.any(grads["w1"] != 0)) and bool(jnp.any(grads["w2"] != 0))
    assert bool(jnp.any(new_params["w2"] != params["w2"]))
