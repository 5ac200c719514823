"""Actor-critic in Flax with one params tree: stop_gradient is put on the policy logits instead of the value baseline, so the policy and entropy terms are constants and the actor head never learns.

Source: https://github.com/coreylynch/async-rl/issues/8
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax.training import train_state


class ActorCritic(nn.Module):
    n_actions: int = 3

    @nn.compact
    def __call__(self, obs):
        h = nn.tanh(nn.Dense(16, name="torso")(obs))
        logits = nn.Dense(self.n_actions, name="actor")(h)
        value = nn.Dense(1, name="critic")(h)[:, 0]
        return logits, value


@jax.jit
def train_step(state, obs, actions, returns):
    def loss_fn(params):
        logits, values = state.apply_fn({"params": params}, obs)
        # "don't let the actor's gradient flow through the critic"
        logits = jax.lax.stop_gradient(logits)  # BUG
        log_probs = jax.nn.log_softmax(logits)
        logp_a = jnp.take_along_axis(log_probs, actions[:, None], axis=-1)[:, 0]
        advantage = returns - values
        policy_loss = -jnp.mean(logp_a * advantage)
        value_loss = jnp.mean(advantage ** 2)
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1))
        loss = policy_loss + 0.5 * value_loss - 0.01 * entropy
        return loss, (policy_loss, value_loss)

    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), grads, loss


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    obs = jax.random.normal(key, (8, 4))
    actions = jnp.arange(8) % 3
    returns = jnp.linspace(-1.0, 1.0, 8)
    model = ActorCritic()
    params = model.init(key, obs)["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-2))
    new_state, grads, _ = train_step(state, obs, actions, returns)
    assert bool(jnp.all(grads["actor"]["kernel"] == 0))
    assert bool(jnp.all(new_state.params["actor"]["kernel"] == params["actor"]["kernel"]))
    assert bool(jnp.any(grads["critic"]["kernel"] != 0))
