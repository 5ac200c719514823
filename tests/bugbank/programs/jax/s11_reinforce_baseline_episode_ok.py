"""REINFORCE on a bandit with a learned baseline: actions are sampled and turned into Python ints outside the gradient, the advantage is stop_gradient'ed, the policy trains.

Source: https://github.com/jax-ml/jax/issues/2783
        https://github.com/jax-ml/jax/issues/2025
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

REWARDS = jnp.array([0.1, 1.0, 0.3])


def policy_logits(params):
    return params["logits"]


def collect(params, key, n=16):
    actions = jax.random.categorical(key, policy_logits(params), shape=(n,))
    episode = []
    for a in actions:
        a = int(a)
        episode.append((a, float(REWARDS[a])))
    return episode


def pg_loss(params, actions, rewards):
    logp = jax.nn.log_softmax(policy_logits(params))[actions]
    advantage = jax.lax.stop_gradient(rewards - params["baseline"])
    policy_term = -jnp.mean(logp * advantage)
    baseline_term = jnp.mean((rewards - params["baseline"]) ** 2)
    return policy_term + 0.5 * baseline_term


params = {"logits": jnp.zeros(3), "baseline": jnp.array(0.0)}
tx = optax.adam(0.1)
opt_state = tx.init(params)
key = jax.random.PRNGKey(0)
for _ in range(20):
    key, sub = jax.random.split(key)
    episode = collect(params, sub)
    actions = jnp.array([a for a, _ in episode])
    rewards = jnp.array([r for _, r in episode])
    grads = jax.grad(pg_loss)(params, actions, rewards)
    updates, opt_state = tx.update(grads, opt_state)
    params = optax.apply_updates(params, updates)
assert bool(jnp.any(grads["logits"] != 0))
assert int(jnp.argmax(params["logits"])) == 1
